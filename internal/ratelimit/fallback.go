package ratelimit

import (
	"context"
	"errors"
)

// WithFallback wraps primary (the Redis limiter, shared by every process) so that a limit never
// vanishes with it: when primary fails (Redis down, hung, or its breaker open) the request is
// decided by fallback (an in-process Memory limiter) under the same key and Limit, so each process
// enforces the limit on its own until Redis is back. Login and refresh stay limited; nothing fails
// open. onError, when not nil, is told of each failure of primary (not the caller's own
// cancellation). Errors of a malformed Limit or cost (ErrInvalid) are returned as they are.
//
// While the fallback decides, a client spread over n gateway processes may get up to n times the
// limit; once primary answers again its own buckets decide (the fallback's are not carried over).
func WithFallback(primary, fallback Limiter, onError func(error)) Limiter {
	return &withFallback{primary: primary, fallback: fallback, onError: onError}
}

type withFallback struct {
	primary, fallback Limiter
	onError           func(error)
}

// Allow is AllowN with n = 1.
func (f *withFallback) Allow(ctx context.Context, key string, l Limit) (Result, error) {
	return f.AllowN(ctx, key, l, 1)
}

// AllowN asks primary, and fallback when primary fails.
func (f *withFallback) AllowN(ctx context.Context, key string, l Limit, n int) (Result, error) {
	res, err := f.primary.AllowN(ctx, key, l, n)
	if err == nil || errors.Is(err, ErrInvalid) {
		return res, err
	}
	if f.onError != nil && !(errors.Is(err, context.Canceled) && ctx.Err() != nil) {
		f.onError(err)
	}
	return f.fallback.AllowN(context.WithoutCancel(ctx), key, l, n)
}
