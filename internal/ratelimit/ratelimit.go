// Package ratelimit enforces the x-rate-limit policy that the contracts declare (see
// specs/README.md): a per-key GCRA (generic cell rate algorithm, the token bucket written
// as a single timestamp per key), with an in-process implementation (NewMemory) for the
// embedded mode and a Redis one (NewRedis, github.com/go-redis/redis_rate) shared by every
// process of a split deployment. Both answer the same Result for the same history.
//
// # Semantics of a Limit
//
// A Limit{Rate, Per, Burst} lets a key make Rate requests per Per on average and, on top
// of that steady pace, Burst requests more at once:
//
//   - the emission interval is Per/Rate: one unit of capacity comes back every Per/Rate;
//   - the capacity (Limit.Capacity) is Burst+1: a key that has been idle long enough may
//     make Burst+1 requests back to back, after which it gets one request per Per/Rate;
//   - Burst 0 therefore means no burst: capacity 1, requests strictly paced one per
//     Per/Rate. This is the meaning of nginx's limit_req burst (with nodelay) and of
//     throttled's MaxBurst, and it keeps the policy's wording "Rate per Per, with Burst
//     extra".
//
// For example, 60/min with burst 20 allows 21 requests at once and then one a second;
// over any window of length W a key gets at most Burst+1 + W*Rate/Per requests.
//
// # Results
//
// Result.Limit is the capacity, Result.Remaining how many more unit requests would be
// allowed right now, ResetAfter the time until the key is back to full capacity (Remaining
// == Limit) and, for a denied request, RetryAfter the time until the same request would be
// allowed. These map one to one onto the RateLimit-* and Retry-After headers (see Headers).
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/mediamesh/mediamesh/internal/policy"
)

// ErrInvalid is wrapped by the errors returned for a malformed Limit or request cost.
var ErrInvalid = errors.New("ratelimit: invalid limit")

// Bounds that keep the GCRA arithmetic well inside int64 nanoseconds and float64 seconds.
const (
	maxBurst     = 1 << 20
	maxTolerance = 100 * 365 * 24 * time.Hour // Capacity * Interval
)

// Limit is a GCRA limit: Rate events per Per on average, plus Burst events more at once.
// See the package documentation for the exact meaning.
type Limit struct {
	Rate  int           // events per Per; at least 1
	Per   time.Duration // the period Rate is counted over; positive
	Burst int           // events allowed at once on top of the steady pace; 0 or more
}

// FromPolicy returns the Limit an operation's x-rate-limit declares. The policy's Key (ip
// or user) is not part of the Limit: it decides which key the caller passes to Allow.
func FromPolicy(p *policy.RateLimit) (Limit, error) {
	if p == nil {
		return Limit{}, fmt.Errorf("%w: no rate limit policy", ErrInvalid)
	}
	l := Limit{Rate: p.Rate, Per: p.Per, Burst: p.Burst}
	if err := l.Validate(); err != nil {
		return Limit{}, err
	}
	return l, nil
}

// Validate reports whether l can be enforced.
func (l Limit) Validate() error {
	switch {
	case l.Rate < 1:
		return fmt.Errorf("%w: rate %d, want at least 1", ErrInvalid, l.Rate)
	case l.Per <= 0:
		return fmt.Errorf("%w: period %s, want a positive duration", ErrInvalid, l.Per)
	case l.Burst < 0 || l.Burst > maxBurst:
		return fmt.Errorf("%w: burst %d, want 0 to %d", ErrInvalid, l.Burst, maxBurst)
	}
	if float64(l.Per)/float64(l.Rate)*float64(l.Capacity()) > float64(maxTolerance) {
		return fmt.Errorf("%w: %s takes longer than %s to refill", ErrInvalid, l, maxTolerance)
	}
	return nil
}

// Capacity is the number of requests an idle key may make at once: Burst+1.
func (l Limit) Capacity() int { return l.Burst + 1 }

// Interval is the emission interval Per/Rate, rounded up to the nanosecond: the time it
// takes one unit of capacity to come back.
func (l Limit) Interval() time.Duration {
	if l.Rate < 1 {
		return 0
	}
	return time.Duration(math.Ceil(float64(l.Per) / float64(l.Rate)))
}

// String formats l as "60/1m0s burst 20".
func (l Limit) String() string {
	return fmt.Sprintf("%d/%s burst %d", l.Rate, l.Per, l.Burst)
}

// checkCost validates l and a request cost n, which must be between 1 and l.Capacity():
// a larger cost could never be allowed.
func checkCost(l Limit, n int) error {
	if err := l.Validate(); err != nil {
		return err
	}
	if n < 1 || n > l.Capacity() {
		return fmt.Errorf("%w: cost %d, want 1 to %d for %s", ErrInvalid, n, l.Capacity(), l)
	}
	return nil
}

// Result is the outcome of one Allow call.
type Result struct {
	Allowed bool
	// Limit is the capacity of the bucket, Limit.Capacity().
	Limit int
	// Remaining is how many more unit requests the key may make right now.
	Remaining int
	// RetryAfter is, for a denied request, how long until the same request would be
	// allowed; zero when Allowed.
	RetryAfter time.Duration
	// ResetAfter is how long until the key is back to full capacity (Remaining == Limit).
	ResetAfter time.Duration
}

// Limiter decides whether the request identified by key may proceed under l.
//
// Keys are opaque; callers should include what the limit applies to, for example
// "op:createContent:user:<id>", so that different operations keep separate buckets. The
// state of a key is a single timestamp, so using one key with two different Limits mixes
// their accounting.
type Limiter interface {
	// Allow is AllowN with n = 1.
	Allow(ctx context.Context, key string, l Limit) (Result, error)
	// AllowN reports whether n events may happen now, and records them if so. A denied
	// request consumes nothing. n must be between 1 and l.Capacity().
	AllowN(ctx context.Context, key string, l Limit, n int) (Result, error)
}
