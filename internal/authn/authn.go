// Package authn authenticates requests from their bearer token and authorizes them against the
// operation's policy. The gateways call it for every request and every service calls it again.
package authn

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"

	"github.com/golang-jwt/jwt/v5"

	"github.com/mediamesh/mediamesh/internal/apierror"
	"github.com/mediamesh/mediamesh/internal/policy"
)

// Principal is an authenticated caller.
type Principal struct {
	Subject string   // user id (an API key's owner)
	Roles   []string // ADMIN, EDITOR, USER
	Scopes  []string // what the caller may do (policy.RoleScopes; an API key's own subset)
	KeyID   string   // the API key the caller authenticated with; empty for a user's token
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

// KeyVerifier is a Verifier that also accepts API keys (TokenVerifier with WithAPIKeys). client
// is the address of the request's client, which the key's allowed ranges are checked against and
// its last use is recorded with.
type KeyVerifier interface {
	VerifyKey(ctx context.Context, key, client string) (*Principal, error)
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

type clientKey struct{}

// WithClient returns ctx carrying addr as the address of the request's client (httpserver finds it).
func WithClient(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, clientKey{}, addr)
}

// ClientFrom returns the address of the request's client (see WithClient), "" when unknown.
func ClientFrom(ctx context.Context) string {
	addr, _ := ctx.Value(clientKey{}).(string)
	return addr
}

// BearerToken returns the token of an `Authorization: Bearer ...` header, or "".
func BearerToken(r *http.Request) string {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// APIKey returns the API key of an `Authorization: ApiKey ...` or an `X-API-Key` header, or "".
func APIKey(r *http.Request) string {
	if scheme, key, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "ApiKey") {
		return strings.TrimSpace(key)
	}
	return strings.TrimSpace(r.Header.Get("X-API-Key"))
}

// Authorize authenticates r and checks it against op. It returns the principal (nil for an anonymous
// call to a public operation) or an *apierror.Error with status 401 or 403. A request that a
// gateway of this process authenticated already carries its principal: the token is not verified
// twice, the roles and scopes are checked again. A caller is authenticated by a bearer token or by
// an API key (when v is a KeyVerifier); an API key on a public operation is not looked at.
func Authorize(v Verifier, op *policy.Operation, r *http.Request) (*Principal, error) {
	if p, ok := FromContext(r.Context()); ok {
		return permit(op, p)
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
	key := ""
	if token == "" {
		key = APIKey(r)
	}
	if token == "" && key == "" {
		return nil, apierror.Unauthorized("this operation needs a bearer token or an API key")
	}
	if v == nil {
		return nil, apierror.Unauthorized("no token verifier is configured in this process")
	}
	var p *Principal
	var err error
	if key != "" {
		kv, ok := v.(KeyVerifier)
		if !ok {
			return nil, apierror.Unauthorized("API keys are not accepted here; send a bearer token")
		}
		p, err = kv.VerifyKey(r.Context(), key, clientOf(r))
	} else {
		p, err = v.Verify(r.Context(), token)
	}
	if err != nil {
		var problem *apierror.Error
		if errors.As(err, &problem) {
			return nil, problem
		}
		return nil, apierror.Unauthorized(tokenProblem(err))
	}
	return permit(op, p)
}

// clientOf is the request's client: the one the server found, else the direct peer.
func clientOf(r *http.Request) string {
	if a := ClientFrom(r.Context()); a != "" {
		return a
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

// permit checks the principal's roles and scopes against the operation: p, or 403 naming what is
// missing.
func permit(op *policy.Operation, p *Principal) (*Principal, error) {
	if !op.Allows(p.Roles) {
		return nil, apierror.Forbidden("this operation needs one of the roles " + strings.Join(op.Roles, ", "))
	}
	if !op.Permits(p.Scopes) {
		return nil, apierror.Forbidden("this operation needs the scopes " + strings.Join(op.Scopes, ", "))
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
	case errors.Is(err, ErrKeyInvalid):
		return "the API key is not valid: unknown, expired, revoked, or not allowed from this address"
	}
	return "the bearer token is not valid"
}
