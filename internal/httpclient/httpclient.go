// Package httpclient is how every process reaches another service over HTTP: an http.RoundTripper for
// one downstream service that runs each request through failsafe-go policies (failsafehttp), in this
// order from the outside in:
//
//   - a bulkhead: at most Config.MaxConcurrent requests in flight to the downstream; one more fails at
//     once (no queueing) with a *RejectedError;
//   - a retry policy, only for idempotent methods (GET, HEAD, OPTIONS, PUT, DELETE) whose body is absent
//     or can be re-read (Request.GetBody), only after a connection error or a 502, 503 or 504: exponential
//     backoff with jitter, or the response's Retry-After when it has one (a Retry-After longer than
//     Config.MaxRetryAfter is not waited for: that response is returned as it is);
//   - a circuit breaker for the downstream: connection errors, timeouts and 5xx answers (but 501) are
//     failures, 4xx are not; it opens after Config.FailureThreshold consecutive failures, lets trial
//     requests through (half-open) after Config.BreakerDelay, and closes after Config.SuccessThreshold
//     consecutive successes. While it is open a request fails at once with a *RejectedError, without
//     reaching the network;
//   - a timeout per attempt (Config.Timeout), until the response headers arrive.
//
// Breaker transitions are logged (downstream, from, to) and exported as mediamesh_breaker_state and
// mediamesh_breaker_transitions_total.
package httpclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/bulkhead"
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/failsafe-go/failsafe-go/failsafehttp"
	"github.com/failsafe-go/failsafe-go/retrypolicy"
	"github.com/failsafe-go/failsafe-go/timeout"
	"github.com/prometheus/client_golang/prometheus"
)

// Config tunes the policies of one downstream. A zero field takes the default named in its comment.
type Config struct {
	// Timeout bounds one attempt, from sending the request (its body included) to receiving the
	// response headers; reading the response body is not bounded. Default 30s.
	Timeout time.Duration
	// MaxAttempts is the most attempts for one retryable request, the first included; 1 disables
	// retries. Default 3.
	MaxAttempts int
	// BackoffBase is the delay before the first retry; it doubles at each retry up to BackoffMax, and
	// each delay is jittered (a random value between half of it and all of it). Defaults 50ms and 1s.
	BackoffBase, BackoffMax time.Duration
	// MaxRetryAfter is the longest Retry-After that a retry waits for; a response asking for more is
	// returned to the caller instead of being retried. Default 2s.
	MaxRetryAfter time.Duration
	// FailureThreshold is the number of consecutive failures that opens the breaker. Default 5.
	FailureThreshold uint
	// BreakerDelay is how long the breaker stays open before letting trial requests through, so a
	// service that came back gets traffic again within about this long. Default 2s.
	BreakerDelay time.Duration
	// SuccessThreshold is the number of consecutive successful trial requests that closes a half-open
	// breaker (a failed one opens it again); it is also how many trials run at once. Default 2.
	SuccessThreshold uint
	// MaxConcurrent is the most requests in flight to the downstream (up to their response headers);
	// more fail at once. Default 256.
	MaxConcurrent uint
	// BulkheadRetryAfter is the Retry-After of a request refused because MaxConcurrent were in flight.
	// Default 1s.
	BulkheadRetryAfter time.Duration
	// Transport makes the attempts. Default: NewNetTransport().
	Transport http.RoundTripper
	// Registerer receives the breaker metrics; nil exports none. Several transports may share one
	// Registerer, even for the same downstream.
	Registerer prometheus.Registerer
	// Log receives the breaker transitions. Default slog.Default().
	Log *slog.Logger
}

func (c Config) withDefaults() Config {
	setDuration := func(d *time.Duration, def time.Duration) {
		if *d <= 0 {
			*d = def
		}
	}
	setDuration(&c.Timeout, 30*time.Second)
	setDuration(&c.BackoffBase, 50*time.Millisecond)
	setDuration(&c.BackoffMax, time.Second)
	setDuration(&c.MaxRetryAfter, 2*time.Second)
	setDuration(&c.BreakerDelay, DefaultBreakerDelay)
	setDuration(&c.BulkheadRetryAfter, time.Second)
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 3
	}
	if c.FailureThreshold == 0 {
		c.FailureThreshold = 5
	}
	if c.SuccessThreshold == 0 {
		c.SuccessThreshold = 2
	}
	if c.MaxConcurrent == 0 {
		c.MaxConcurrent = 256
	}
	if c.Transport == nil {
		c.Transport = NewNetTransport()
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	return c
}

// DefaultBreakerDelay is the BreakerDelay of a Config that sets none: a breaker half-opens within
// 2 s of the last refused request's window, where 10 s kept a recovered service idle (issue 19).
const DefaultBreakerDelay = 2 * time.Second

// NewNetTransport returns the http.Transport that reaches services directly (no proxy): a 2s dial
// timeout, keep-alive, and up to 64 idle connections per host.
func NewNetTransport() *http.Transport {
	return &http.Transport{
		Proxy:               nil, // services are reached directly
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
	}
}

// ErrBreakerOpen is the Reason of a *RejectedError refused by an open (or saturated half-open) breaker.
var ErrBreakerOpen = circuitbreaker.ErrOpen

// ErrBulkheadFull is the Reason of a *RejectedError refused because too many requests were in flight.
var ErrBulkheadFull = bulkhead.ErrFull

// RejectedError is returned, without any network traffic, for a request that the breaker or the
// bulkhead refused. RetryAfter says when to try again (at least one second).
type RejectedError struct {
	Downstream string
	Reason     error // ErrBreakerOpen or ErrBulkheadFull
	RetryAfter time.Duration
}

func (e *RejectedError) Error() string {
	return fmt.Sprintf("%s: %v, retry after %s", e.Downstream, e.Reason, e.RetryAfter)
}

// Unwrap returns the Reason, so errors.Is(err, ErrBreakerOpen) works.
func (e *RejectedError) Unwrap() error { return e.Reason }

// errBodyNotReplayable guards against a retry of a request whose body cannot be read again; the
// retry predicate never lets that happen.
var errBodyNotReplayable = errors.New("httpclient: request body cannot be replayed")

// BreakerState is the state of a circuit breaker, as exported by mediamesh_breaker_state.
type BreakerState int

// Breaker states, in the order of the mediamesh_breaker_state gauge.
const (
	BreakerClosed   BreakerState = 0
	BreakerHalfOpen BreakerState = 1
	BreakerOpen     BreakerState = 2
)

func (s BreakerState) String() string {
	switch s {
	case BreakerClosed:
		return "closed"
	case BreakerHalfOpen:
		return "half-open"
	case BreakerOpen:
		return "open"
	}
	return "unknown"
}

func stateOf(s circuitbreaker.State) BreakerState {
	switch s {
	case circuitbreaker.OpenState:
		return BreakerOpen
	case circuitbreaker.HalfOpenState:
		return BreakerHalfOpen
	}
	return BreakerClosed
}

// Transport is the resilient http.RoundTripper of one downstream. It is safe for concurrent use.
type Transport struct {
	downstream string
	cfg        Config
	breaker    circuitbreaker.CircuitBreaker[*http.Response]
	retrying   http.RoundTripper // bulkhead, retry, breaker, timeout
	once       http.RoundTripper // bulkhead, breaker, timeout
}

// New returns the Transport for downstream (a service name, used in logs and metric labels).
func New(downstream string, cfg Config) (*Transport, error) {
	cfg = cfg.withDefaults()
	t := &Transport{downstream: downstream, cfg: cfg}
	var metrics *breakerMetrics
	if cfg.Registerer != nil {
		var err error
		if metrics, err = registerBreakerMetrics(cfg.Registerer); err != nil {
			return nil, fmt.Errorf("httpclient %s: %w", downstream, err)
		}
	}

	t.breaker = circuitbreaker.NewBuilder[*http.Response]().
		HandleIf(isBreakerFailure).
		WithFailureThreshold(cfg.FailureThreshold).
		WithSuccessThreshold(cfg.SuccessThreshold).
		WithDelay(cfg.BreakerDelay).
		OnStateChanged(func(e circuitbreaker.StateChangedEvent) {
			from, to := stateOf(e.OldState), stateOf(e.NewState)
			level := slog.LevelInfo
			if to == BreakerOpen {
				level = slog.LevelWarn
			}
			cfg.Log.Log(context.Background(), level, "circuit breaker transition",
				"downstream", downstream, "from", from.String(), "to", to.String())
			if metrics != nil {
				metrics.transitions.WithLabelValues(downstream, to.String()).Inc()
			}
		}).
		Build()
	if metrics != nil {
		metrics.add(downstream, t.BreakerState)
	}

	bh := bulkhead.NewBuilder[*http.Response](cfg.MaxConcurrent).Build() // no wait: full fails at once
	rp := retrypolicy.NewBuilder[*http.Response]().
		HandleIf(isRetryable).
		AbortIf(func(resp *http.Response, _ error) bool {
			d, ok := retryAfter(resp)
			return ok && d > cfg.MaxRetryAfter
		}).
		WithMaxAttempts(cfg.MaxAttempts).
		WithDelayFunc(t.retryDelay).
		ReturnLastFailure().
		OnRetryScheduled(func(e failsafe.ExecutionScheduledEvent[*http.Response]) {
			discard(e.LastResult()) // free the connection of the answer we will not return
		}).
		Build()
	to := timeout.New[*http.Response](cfg.Timeout)

	inner := bodyRestorer{next: cfg.Transport}
	t.retrying = failsafehttp.NewRoundTripper(inner, bh, rp, t.breaker, to)
	t.once = failsafehttp.NewRoundTripper(inner, bh, t.breaker, to)
	return t, nil
}

// Client returns an *http.Client that uses t (and so does a generated client given it as its doer).
func (t *Transport) Client() *http.Client { return &http.Client{Transport: t} }

// Downstream returns the service name t was made for.
func (t *Transport) Downstream() string { return t.downstream }

// BreakerState returns the state of the downstream's circuit breaker. An open breaker whose delay has
// passed still reads open until the next request moves it to half-open.
func (t *Transport) BreakerState() BreakerState { return stateOf(t.breaker.State()) }

// RoundTrip sends req through the policies. A request refused by the breaker or the bulkhead fails
// with a *RejectedError; any other error is the last attempt's.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	rt := t.once
	if isIdempotent(req.Method) && (req.Body == nil || req.Body == http.NoBody || req.GetBody != nil) {
		rt = t.retrying
	}
	// failsafehttp buffers any body it is given, to replay it; bodyRestorer hands the body to the
	// attempt instead, so a large body streams and is never replayed unless GetBody can re-read it.
	body := &bodySource{body: req.Body, getBody: req.GetBody}
	out := req.WithContext(context.WithValue(req.Context(), bodyKey{}, body))
	out.Body = nil
	resp, err := rt.RoundTrip(out)
	body.closeUnused()
	if err != nil {
		return nil, t.reject(err)
	}
	return resp, nil
}

// reject turns a refusal of the breaker or the bulkhead into a *RejectedError.
func (t *Transport) reject(err error) error {
	switch {
	case errors.Is(err, circuitbreaker.ErrOpen):
		wait := (t.breaker.RemainingDelay() + time.Second - 1).Truncate(time.Second) // whole seconds, rounded up
		return &RejectedError{Downstream: t.downstream, Reason: ErrBreakerOpen, RetryAfter: max(time.Second, wait)}
	case errors.Is(err, bulkhead.ErrFull):
		return &RejectedError{Downstream: t.downstream, Reason: ErrBulkheadFull, RetryAfter: max(time.Second, t.cfg.BulkheadRetryAfter)}
	}
	return err
}

// retryDelay waits what the response's Retry-After asks, else an exponential backoff with jitter.
func (t *Transport) retryDelay(exec failsafe.ExecutionAttempt[*http.Response]) time.Duration {
	if d, ok := retryAfter(exec.LastResult()); ok {
		return d
	}
	d := t.cfg.BackoffBase
	for i := 1; i < exec.Attempts() && d < t.cfg.BackoffMax; i++ {
		d *= 2
	}
	d = min(d, t.cfg.BackoffMax)
	return d/2 + rand.N(d/2+1) // "equal jitter": between half and all of the backoff
}

// isIdempotent reports whether a request with method may be sent twice.
func isIdempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// isRetryable reports whether an attempt's outcome is worth another attempt: a connection error
// or a 502, 503 or 504.
func isRetryable(resp *http.Response, err error) bool {
	if err != nil {
		return isConnectionError(err)
	}
	switch resp.StatusCode {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// isConnectionError reports whether err comes from the network: the downstream could not be reached
// or dropped the connection. Timeouts of the policy, cancellations, refusals of the breaker or the
// bulkhead and TLS or URL errors are not.
func isConnectionError(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, timeout.ErrExceeded) ||
		errors.Is(err, circuitbreaker.ErrOpen) || errors.Is(err, bulkhead.ErrFull) || errors.Is(err, errBodyNotReplayable) {
		return false
	}
	var opErr *net.OpError
	var dnsErr *net.DNSError
	return errors.As(err, &opErr) || errors.As(err, &dnsErr) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// isBreakerFailure reports whether an attempt's outcome counts against the downstream: any error but
// the caller's cancellation, or a 5xx answer other than 501 (an operation not implemented yet is not
// a sick service).
func isBreakerFailure(resp *http.Response, err error) bool {
	if err != nil {
		return !errors.Is(err, context.Canceled)
	}
	return resp != nil && resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented
}

// retryAfter reads the Retry-After of a retryable response, in seconds or as an HTTP date.
func retryAfter(resp *http.Response) (time.Duration, bool) {
	if resp == nil || !isRetryable(resp, nil) {
		return 0, false
	}
	v := resp.Header.Get("Retry-After")
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(v); err == nil {
		if s < 0 {
			return 0, false
		}
		return time.Duration(s) * time.Second, true
	}
	if at, err := http.ParseTime(v); err == nil {
		return max(0, time.Until(at)), true
	}
	return 0, false
}

// discard drains a little of resp's body, so its connection can be reused, and closes it.
func discard(resp *http.Response) {
	if resp == nil || resp.Body == nil {
		return
	}
	_, _ = io.CopyN(io.Discard, resp.Body, 4<<10)
	_ = resp.Body.Close()
}

type bodyKey struct{}

// bodySource hands a request's body to its attempts: the body itself to the first, GetBody's copy to
// the others.
type bodySource struct {
	mu      sync.Mutex
	body    io.ReadCloser
	getBody func() (io.ReadCloser, error)
	used    bool
}

func (s *bodySource) next() (io.ReadCloser, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.body == nil || s.body == http.NoBody {
		return s.body, nil
	}
	if !s.used {
		s.used = true
		return s.body, nil
	}
	if s.getBody == nil {
		return nil, errBodyNotReplayable
	}
	return s.getBody()
}

// closeUnused closes the body when no attempt took it (the request was refused), as a RoundTripper must.
func (s *bodySource) closeUnused() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.used && s.body != nil {
		s.used = true
		_ = s.body.Close()
	}
}

// bodyRestorer is the transport under failsafehttp: it gives each attempt its body back.
type bodyRestorer struct{ next http.RoundTripper }

func (b bodyRestorer) RoundTrip(req *http.Request) (*http.Response, error) {
	src, ok := req.Context().Value(bodyKey{}).(*bodySource)
	if !ok {
		return b.next.RoundTrip(req)
	}
	body, err := src.next()
	if err != nil {
		return nil, err
	}
	out := req.WithContext(req.Context()) // a shallow copy: attempts must not share a Body
	out.Body = body
	return b.next.RoundTrip(out)
}
