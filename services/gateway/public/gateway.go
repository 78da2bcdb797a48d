// Package public is the public discovery gateway (:8080): the bundled contract of the discovery,
// search and auth services enforced by the generic policy gateway, GraphQL at /graphql, and its docs.
package public

import (
	"net/http"

	"github.com/mediamesh/mediamesh/gen/graphql/discoverygql"
	"github.com/mediamesh/mediamesh/gen/openapi/bundle"
	"github.com/mediamesh/mediamesh/internal/gateway"
)

// Option configures the gateway beyond gateway.Config.
type Option func(*options)

type options struct{ introspection bool }

// WithoutIntrospection turns GraphQL introspection off (production: clients then need the SDL,
// which is published with the contracts).
func WithoutIntrospection() Option { return func(o *options) { o.introspection = false } }

// New returns the gateway's handler; cfg brings the upstreams, verifier, limiter and log. The
// GraphQL resolvers call the discovery and search upstreams of cfg.
func New(cfg gateway.Config, opts ...Option) (http.Handler, error) {
	o := options{introspection: true}
	for _, opt := range opts {
		opt(&o)
	}
	cfg.Name, cfg.Spec = "discovery-gateway", bundle.Discovery
	gw, err := gateway.New(cfg)
	if err != nil {
		return nil, err
	}
	r, err := newResolver(cfg.Upstreams, cfg.Log)
	if err != nil {
		return nil, err
	}
	mux := gateway.Mux(gw, bundle.Discovery, "MediaMesh Discovery Gateway API")
	schema := discoverygql.NewExecutableSchema(discoverygql.Config{}).Schema()
	mux.Handle("/graphql", newGraphQLGuard(gw, schema, graphqlCache{gw: gw, store: cfg.Cache, next: graphqlHandler(r, o.introspection)}))
	return mux, nil
}
