package ratelimit

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"
)

// closedAddr returns a loopback address on which nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// TestFallbackRedisDown: with Redis unreachable the limit is enforced by the in-process limiter,
// never dropped (issue 19: with redis.fail_open every limit, login included, was off).
func TestFallbackRedisDown(t *testing.T) {
	l := Limit{Rate: 10, Per: time.Minute, Burst: 4}
	var reported []error
	lim := WithFallback(NewRedis(downClient(t)), NewMemory(), func(err error) { reported = append(reported, err) })
	ctx := context.Background()
	for i := 0; i < l.Capacity(); i++ {
		if r, err := lim.Allow(ctx, "login", l); err != nil || !r.Allowed || r.Remaining != l.Capacity()-1-i {
			t.Fatalf("attempt %d: %+v, %v; want allowed by the local limiter", i+1, r, err)
		}
	}
	r, err := lim.Allow(ctx, "login", l)
	if err != nil || r.Allowed || r.RetryAfter <= 0 {
		t.Fatalf("attempt %d: %+v, %v; want denied with a RetryAfter", l.Capacity()+1, r, err)
	}
	if len(reported) != l.Capacity()+1 || reported[0] == nil {
		t.Fatalf("onError got %d errors, want one per call", len(reported))
	}
}

// stub is a Limiter that answers with fixed values.
type stub struct {
	res Result
	err error
}

func (s stub) Allow(ctx context.Context, key string, l Limit) (Result, error) {
	return s.AllowN(ctx, key, l, 1)
}

func (s stub) AllowN(context.Context, string, Limit, int) (Result, error) { return s.res, s.err }

func TestFallback(t *testing.T) {
	l := Limit{Rate: 1, Per: time.Second, Burst: 2}
	ctx := context.Background()

	t.Run("passes results through", func(t *testing.T) {
		want := Result{Allowed: false, Limit: 3, RetryAfter: 400 * time.Millisecond, ResetAfter: 3 * time.Second}
		called := false
		r, err := WithFallback(stub{res: want}, stub{err: errors.New("not asked")}, func(error) { called = true }).Allow(ctx, "k", l)
		if err != nil || r != want || called {
			t.Fatalf("got %+v, %v, onError called %v; want %+v, no error, not called", r, err, called, want)
		}
	})

	t.Run("invalid limits are the caller's error", func(t *testing.T) {
		_, err := WithFallback(NewMemory(), NewMemory(), nil).Allow(ctx, "k", Limit{})
		if !errors.Is(err, ErrInvalid) {
			t.Fatalf("got %v, want ErrInvalid", err)
		}
	})

	t.Run("caller cancellation is not reported, still decided", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		called := false
		lim := WithFallback(stub{err: context.Canceled}, NewMemory(), func(error) { called = true })
		r, err := lim.Allow(cctx, "k", l)
		if err != nil || !r.Allowed || called {
			t.Fatalf("got %+v, %v, onError called %v; want allowed by the fallback, not reported", r, err, called)
		}
	})

	t.Run("timeouts are reported", func(t *testing.T) {
		var got error
		lim := WithFallback(stub{err: context.DeadlineExceeded}, NewMemory(), func(err error) { got = err })
		if r, err := lim.Allow(ctx, "k", l); err != nil || !r.Allowed || !errors.Is(got, context.DeadlineExceeded) {
			t.Fatalf("got %+v, %v, reported %v; want allowed and the timeout reported", r, err, got)
		}
	})
}
