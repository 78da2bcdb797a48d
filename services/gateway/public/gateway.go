// Package public is the public discovery gateway (:8080): the bundled contract of the discovery,
// search and auth services enforced by the generic policy gateway, GraphQL at /graphql, and its docs.
package public

import (
	"log/slog"
	"net/http"

	"github.com/mediamesh/mediamesh/gen/openapi/bundle"
	"github.com/mediamesh/mediamesh/internal/authn"
	"github.com/mediamesh/mediamesh/internal/gateway"
	"github.com/mediamesh/mediamesh/internal/ratelimit"
)

// Deps are the gateway's dependencies: one upstream per fronted service.
type Deps struct {
	Upstreams map[string]http.Handler
	Verifier  authn.Verifier
	Limiter   ratelimit.Limiter
	Log       *slog.Logger
}

// New returns the gateway's handler.
func New(d Deps) (http.Handler, error) {
	gw, err := gateway.New(gateway.Config{Name: "discovery-gateway", Spec: bundle.Discovery, Upstreams: d.Upstreams, Verifier: d.Verifier, Limiter: d.Limiter, Log: d.Log})
	if err != nil {
		return nil, err
	}
	mux := gateway.Mux(gw, bundle.Discovery, "MediaMesh Discovery Gateway API")
	mux.Handle("/graphql", graphqlHandler(resolver{}))
	return mux, nil
}
