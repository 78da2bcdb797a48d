package ratelimit

import (
	"context"
	"errors"
	"net"
	"net/http"
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

func TestFailurePolicyRedisDown(t *testing.T) {
	l := Limit{Rate: 10, Per: time.Minute, Burst: 4}
	for _, tc := range []struct {
		name     string
		failOpen bool
		want     Result
		retry    string
	}{
		{"fail-open", true, Result{Allowed: true, Limit: 5, Remaining: 4, ResetAfter: 6 * time.Second}, ""},
		{"fail-closed", false, Result{Allowed: false, Limit: 5, RetryAfter: time.Second, ResetAfter: time.Second}, "1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var reported []error
			lim := WithFailurePolicy(NewRedis(downClient(t)), tc.failOpen, func(err error) { reported = append(reported, err) })
			r, err := lim.Allow(context.Background(), "k", l)
			if err != nil {
				t.Fatalf("Allow returned error %v; the failure policy must absorb it", err)
			}
			if r != tc.want {
				t.Fatalf("Allow = %+v, want %+v", r, tc.want)
			}
			if len(reported) != 1 || reported[0] == nil {
				t.Fatalf("onError got %v, want one error", reported)
			}
			h := http.Header{}
			Headers(h, r)
			if got := h.Get("Retry-After"); got != tc.retry {
				t.Fatalf("Retry-After = %q, want %q", got, tc.retry)
			}
		})
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

func TestFailurePolicy(t *testing.T) {
	l := Limit{Rate: 1, Per: time.Second, Burst: 2}
	ctx := context.Background()

	t.Run("passes results through", func(t *testing.T) {
		want := Result{Allowed: false, Limit: 3, RetryAfter: 400 * time.Millisecond, ResetAfter: 3 * time.Second}
		called := false
		r, err := WithFailurePolicy(stub{res: want}, true, func(error) { called = true }).Allow(ctx, "k", l)
		if err != nil || r != want || called {
			t.Fatalf("got %+v, %v, onError called %v; want %+v, no error, not called", r, err, called, want)
		}
	})

	t.Run("AllowN fail-open", func(t *testing.T) {
		r, err := WithFailurePolicy(stub{err: errors.New("down")}, true, nil).AllowN(ctx, "k", l, 2)
		want := Result{Allowed: true, Limit: 3, Remaining: 1, ResetAfter: 2 * time.Second}
		if err != nil || r != want {
			t.Fatalf("got %+v, %v; want %+v", r, err, want)
		}
	})

	t.Run("caller cancellation is not reported", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		called := false
		lim := WithFailurePolicy(stub{err: context.Canceled}, false, func(error) { called = true })
		r, err := lim.Allow(cctx, "k", l)
		if err != nil || r.Allowed || called {
			t.Fatalf("got %+v, %v, onError called %v; want denied, no error, not called", r, err, called)
		}
	})

	t.Run("timeouts are reported", func(t *testing.T) {
		var got error
		lim := WithFailurePolicy(stub{err: context.DeadlineExceeded}, true, func(err error) { got = err })
		if r, err := lim.Allow(ctx, "k", l); err != nil || !r.Allowed || !errors.Is(got, context.DeadlineExceeded) {
			t.Fatalf("got %+v, %v, reported %v; want allowed and the timeout reported", r, err, got)
		}
	})
}
