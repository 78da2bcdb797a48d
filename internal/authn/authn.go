// Package authn authenticates requests from their bearer token and authorizes them against the
// operation's policy. The gateways call it for every request and every service calls it again.
package authn

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/golang-jwt/jwt/v5"

	"github.com/mediamesh/mediamesh/internal/apierror"
	"github.com/mediamesh/mediamesh/internal/policy"
)

// Principal is an authenticated caller.
type Principal struct {
	Subject string   // user id
	Roles   []string // ADMIN, EDITOR, USER
}

// Has reports whether the principal holds role.
func (p *Principal) Has(role string) bool {
	for _, r := range p.Roles {
		if r == role {
			return true
		}
	}
	return false
}

// Verifier turns a bearer token into a principal, or fails.
type Verifier interface {
	Verify(ctx context.Context, token string) (*Principal, error)
}

type ctxKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// FromContext returns the principal of the request, if any.
func FromContext(ctx context.Context) (*Principal, bool) {
	p, ok := ctx.Value(ctxKey{}).(*Principal)
	return p, ok && p != nil
}

// BearerToken returns the token of an `Authorization: Bearer ...` header, or "".
func BearerToken(r *http.Request) string {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// Authorize authenticates r and checks it against op. It returns the principal (nil for an anonymous
// call to a public operation) or an *apierror.Error with status 401 or 403. A request that a
// gateway of this process authenticated already carries its principal: the token is not verified
// twice, the roles are checked again.
func Authorize(v Verifier, op *policy.Operation, r *http.Request) (*Principal, error) {
	if p, ok := FromContext(r.Context()); ok {
		if !op.Allows(p.Roles) {
			return nil, apierror.Forbidden("this operation needs one of the roles " + strings.Join(op.Roles, ", "))
		}
		return p, nil
	}
	token := BearerToken(r)
	if !op.Secured {
		if token == "" || v == nil {
			return nil, nil
		}
		p, err := v.Verify(r.Context(), token)
		if err != nil {
			return nil, nil // a bad token on a public operation is an anonymous call
		}
		return p, nil
	}
	if token == "" {
		return nil, apierror.Unauthorized("this operation needs a bearer token")
	}
	if v == nil {
		return nil, apierror.Unauthorized("no token verifier is configured in this process")
	}
	p, err := v.Verify(r.Context(), token)
	if err != nil {
		return nil, apierror.Unauthorized(tokenProblem(err))
	}
	if !op.Allows(p.Roles) {
		return nil, apierror.Forbidden("this operation needs one of the roles " + strings.Join(op.Roles, ", "))
	}
	return p, nil
}

// tokenProblem says why a token was refused in terms a client can act on, and nothing of the
// verifier's internals or of what the token claimed (its kid, say).
func tokenProblem(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return "the bearer token has expired; refresh it or log in again"
	case errors.Is(err, ErrRevoked):
		return "the bearer token was revoked; log in again"
	}
	return "the bearer token is not valid"
}
