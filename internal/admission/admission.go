// Package admission lets a handler that admitted a request into a bounded section (such as the
// public gateway's engagement bulkhead) give its slot back early, from further down the same
// process: a service that has done the CPU work of a request and now only waits (for the database's
// writer, say) calls Release, so the next request can start while it waits.
package admission

import (
	"context"
	"sync"
)

type releaseKey struct{}

// WithRelease returns ctx carrying release, which Release calls at most once.
func WithRelease(ctx context.Context, release func()) context.Context {
	return context.WithValue(ctx, releaseKey{}, sync.OnceFunc(release))
}

// Release gives back the slot ctx's request holds, if it holds one; calling it again, or on a
// context without one, does nothing.
func Release(ctx context.Context) {
	if f, ok := ctx.Value(releaseKey{}).(func()); ok {
		f()
	}
}
