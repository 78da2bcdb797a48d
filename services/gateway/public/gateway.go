// Package public is the public discovery gateway (:8080): the bundled contract of the discovery,
// search and auth services enforced by the generic policy gateway, GraphQL at /graphql (with GraphiQL
// for browsers), and its docs.
package public

import (
	"net/http"

	"github.com/mediamesh/mediamesh/gen/graphql/discoverygql"
	"github.com/mediamesh/mediamesh/gen/openapi/bundle"
	"github.com/mediamesh/mediamesh/internal/gateway"
	"github.com/mediamesh/mediamesh/internal/graphiql"
)

// Option configures the gateway beyond gateway.Config.
type Option func(*options)

type options struct {
	introspection, playground bool
	eventConcurrency          int // recordEngagement's bulkhead (bulkhead.go)
}

// WithEventConcurrency sets how many engagement posts the gateway works on at once (default
// EventConcurrency()); the others wait (see bulkhead.go).
func WithEventConcurrency(n int) Option { return func(o *options) { o.eventConcurrency = n } }

// WithoutIntrospection turns GraphQL introspection off (production: clients then need the SDL,
// which is published with the contracts).
func WithoutIntrospection() Option { return func(o *options) { o.introspection = false } }

// WithoutPlayground turns GraphiQL off: a browser that opens /graphql gets what any other GET
// without a query gets.
func WithoutPlayground() Option { return func(o *options) { o.playground = false } }

// playgroundQuery fills GraphiQL's editor on a first visit.
const playgroundQuery = `# The MediaMesh discovery API. Run a query with Ctrl-Enter; the docs pane describes every field.
query LatestPrograms {
  programs(first: 5) {
    edges {
      node { id title language episodeCount category { name } }
    }
    pageInfo { hasNextPage endCursor }
  }
}
`

// New returns the gateway's handler; cfg brings the upstreams, verifier, limiter and log. The
// GraphQL resolvers call the discovery and search upstreams of cfg.
func New(cfg gateway.Config, opts ...Option) (http.Handler, error) {
	o := options{introspection: true, playground: true, eventConcurrency: EventConcurrency()}
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
	var versions []gateway.SpecVersion // the docs' version picker
	for _, v := range bundle.DiscoveryVersions {
		versions = append(versions, gateway.SpecVersion{Name: v.Name, Spec: v.Spec})
	}
	mux := gateway.Mux(gw, bundle.Discovery, "MediaMesh Discovery Gateway API", versions...)
	mux.Handle(eventsPath, newBulkhead(gw, o.eventConcurrency, EventQueue, EventQueueWait))
	schema := discoverygql.NewExecutableSchema(discoverygql.Config{}).Schema()
	var api http.Handler = newGraphQLGuard(gw, schema, graphqlCache{gw: gw, store: cfg.Cache, next: graphqlHandler(r, o.introspection)})
	if o.playground {
		pg := graphiql.New(graphiql.Config{Endpoint: "/graphql", Title: "MediaMesh Discovery GraphQL", DefaultQuery: playgroundQuery, Introspection: o.introspection})
		api = pg.Page(api)
		mux.Handle("GET "+graphiql.AssetsPath("/graphql"), pg.Assets())
	}
	mux.Handle("/graphql", api)
	return mux, nil
}
