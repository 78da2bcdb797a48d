// Package redisclient is how a process reaches Redis (rate limits, idempotency records, the gateway
// cache): a go-redis client whose every command is bounded by a tight timeout and passes a circuit
// breaker (failsafe-go). Redis is a fast path, never a reason for a request to wait: a command that
// takes longer than Config.Timeout (tens of milliseconds) fails, and after Config.FailureThreshold
// consecutive failures the breaker opens and commands fail at once with ErrOpen, without touching
// the network, until it lets a trial command through after Config.BreakerDelay. Callers then do
// without Redis: the gateways serve uncached and rate-limit in process (see ratelimit.WithFallback).
//
// Answers of the server (redis.Nil, a script error, WRONGTYPE) are not failures: only the network,
// timeouts and a server that cannot answer (LOADING, BUSY) are.
package redisclient

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/redis/go-redis/v9"
)

// ErrOpen is the error of a command refused because the breaker is open: Redis failed recently.
var ErrOpen = errors.New("redis: circuit breaker open")

// Config tunes the client. A zero field takes the default named in its comment.
type Config struct {
	URL string // redis://host:port/db or rediss://...
	// Timeout bounds dialing, each read and write, and the wait for a pooled connection. Default 50ms.
	Timeout time.Duration
	// FailureThreshold is the number of consecutive failed commands that opens the breaker. Default 3.
	FailureThreshold uint
	// BreakerDelay is how long the breaker stays open before a trial command goes through. Default 1s.
	BreakerDelay time.Duration
	// Log receives the breaker's transitions. Default slog.Default().
	Log *slog.Logger
}

// Client is a go-redis client behind the timeouts and the breaker.
type Client struct {
	*redis.Client
	breaker circuitbreaker.CircuitBreaker[any]

	mu       sync.Mutex
	openedAt time.Time // when the breaker last opened from closed; zero while closed
}

// New returns a client for cfg.URL. It connects lazily.
func New(cfg Config) (*Client, error) {
	opts, err := redis.ParseURL(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("redis.url: %w", err)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 50 * time.Millisecond
	}
	if cfg.FailureThreshold == 0 {
		cfg.FailureThreshold = 3
	}
	if cfg.BreakerDelay <= 0 {
		cfg.BreakerDelay = time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	// Without a bounded pool wait a hung Redis holds every connection and the next command waits
	// ReadTimeout + 1s for one (go-redis's default PoolTimeout): the second per request of issue 19.
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout, opts.PoolTimeout = cfg.Timeout, cfg.Timeout, cfg.Timeout, cfg.Timeout
	opts.MaxRetries, opts.DialerRetries = -1, 1 // the breaker decides, commands are not retried
	c := &Client{Client: redis.NewClient(opts)}
	log := cfg.Log.With("dependency", "redis")
	c.breaker = circuitbreaker.NewBuilder[any]().
		HandleIf(func(_ any, err error) bool { return isFailure(err) }).
		WithFailureThreshold(cfg.FailureThreshold).
		WithDelay(cfg.BreakerDelay).
		WithSuccessThreshold(1).
		OnOpen(func(circuitbreaker.StateChangedEvent) {
			c.mu.Lock()
			first := c.openedAt.IsZero()
			if first {
				c.openedAt = time.Now()
			}
			c.mu.Unlock()
			if first { // a failed trial reopens it: the outage goes on, no new line
				log.Warn("redis unavailable: skipping the cache and rate-limiting in process", "retry_in", cfg.BreakerDelay)
			}
		}).
		OnClose(func(circuitbreaker.StateChangedEvent) {
			c.mu.Lock()
			down := time.Since(c.openedAt)
			c.openedAt = time.Time{}
			c.mu.Unlock()
			log.Info("redis recovered", "outage", down.Round(time.Millisecond))
		}).
		Build()
	c.AddHook(breakerHook{c.breaker})
	return c, nil
}

// Open reports whether the breaker refuses commands (Redis failed recently).
func (c *Client) Open() bool { return c.breaker.IsOpen() }

// Check is the readiness check of Redis: an error while the breaker is open, else a PING.
func (c *Client) Check(ctx context.Context) error {
	if c.breaker.IsOpen() {
		return fmt.Errorf("%w (next trial in %s)", ErrOpen, c.breaker.RemainingDelay().Round(time.Millisecond))
	}
	return c.Ping(ctx).Err()
}

// isFailure reports whether a command's error says that Redis is unusable (so it counts against
// the breaker): network errors and timeouts, and a server that cannot answer yet; not its answers
// (nil, a script or type error), nor the caller's own cancellation.
func isFailure(err error) bool {
	if err == nil || errors.Is(err, redis.Nil) || errors.Is(err, context.Canceled) {
		return false
	}
	var re redis.Error
	if errors.As(err, &re) {
		msg := re.Error()
		return strings.HasPrefix(msg, "LOADING") || strings.HasPrefix(msg, "BUSY") || strings.HasPrefix(msg, "MASTERDOWN") || strings.HasPrefix(msg, "CLUSTERDOWN")
	}
	return true
}

// breakerHook passes every command and pipeline through the breaker.
type breakerHook struct {
	cb circuitbreaker.CircuitBreaker[any]
}

func (h breakerHook) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) { return next(ctx, network, addr) }
}

// guardedKey marks the context of a command that holds a permit: the commands go-redis runs inside
// it (HELLO on a new connection) go through the hook too and must not ask for another one, which a
// half-open breaker with its one trial permit would refuse.
type guardedKey struct{}

func (h breakerHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if ctx.Value(guardedKey{}) != nil {
			return next(ctx, cmd)
		}
		ctx = context.WithValue(ctx, guardedKey{}, true)
		if !h.cb.TryAcquirePermit() {
			cmd.SetErr(ErrOpen)
			return ErrOpen
		}
		err := next(ctx, cmd)
		h.cb.RecordError(err)
		return err
	}
}

func (h breakerHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if ctx.Value(guardedKey{}) != nil {
			return next(ctx, cmds)
		}
		ctx = context.WithValue(ctx, guardedKey{}, true)
		if !h.cb.TryAcquirePermit() {
			for _, cmd := range cmds {
				cmd.SetErr(ErrOpen)
			}
			return ErrOpen
		}
		err := next(ctx, cmds)
		h.cb.RecordError(err)
		return err
	}
}
