package ratelimit

import (
	"context"
	"errors"
	"time"
)

// FailClosedRetryAfter is the RetryAfter of a request denied because the backend failed.
const FailClosedRetryAfter = time.Second

// WithFailurePolicy wraps l so that its errors never reach the caller: when l fails (Redis
// down, a timeout, a malformed limit), the error goes to onError (if not nil) and the
// request is either allowed (failOpen) or denied with RetryAfter FailClosedRetryAfter
// (fail-closed). The returned error is always nil, so the HTTP layer answers 429 or lets the
// request through, never 500.
//
// A fail-open result reports what a key at full capacity would answer (Remaining =
// Capacity-n). A fail-closed one reports Remaining 0 and ResetAfter FailClosedRetryAfter.
// Errors caused by the caller's own context being cancelled (the client went away) are not
// reported.
func WithFailurePolicy(l Limiter, failOpen bool, onError func(error)) Limiter {
	return &failurePolicy{next: l, failOpen: failOpen, onError: onError}
}

type failurePolicy struct {
	next     Limiter
	failOpen bool
	onError  func(error)
}

// Allow is AllowN with n = 1.
func (f *failurePolicy) Allow(ctx context.Context, key string, l Limit) (Result, error) {
	return f.AllowN(ctx, key, l, 1)
}

// AllowN asks the wrapped limiter and applies the failure policy if it fails.
func (f *failurePolicy) AllowN(ctx context.Context, key string, l Limit, n int) (Result, error) {
	res, err := f.next.AllowN(ctx, key, l, n)
	if err == nil {
		return res, nil
	}
	if f.onError != nil && !(errors.Is(err, context.Canceled) && ctx.Err() != nil) {
		f.onError(err)
	}
	if f.failOpen {
		increment := l.Interval() * time.Duration(n)
		return Result{
			Allowed:    true,
			Limit:      l.Capacity(),
			Remaining:  max(l.Capacity()-n, 0),
			ResetAfter: increment,
		}, nil
	}
	return Result{
		Limit:      l.Capacity(),
		RetryAfter: FailClosedRetryAfter,
		ResetAfter: FailClosedRetryAfter,
	}, nil
}
