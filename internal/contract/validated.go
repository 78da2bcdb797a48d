package contract

import "context"

type validatedKey struct{}

// WithValidated returns ctx marking its request as validated against operation opID by a gateway
// of this process (Validate), so that the service it hands the request to in process need not
// validate it again. A context value never crosses the network: a service reached over HTTP, or
// directly, validates every request itself.
func WithValidated(ctx context.Context, opID string) context.Context {
	return context.WithValue(ctx, validatedKey{}, opID)
}

// Validated reports whether ctx's request was validated against operation opID (WithValidated).
func Validated(ctx context.Context, opID string) bool {
	id, ok := ctx.Value(validatedKey{}).(string)
	return ok && id == opID
}
