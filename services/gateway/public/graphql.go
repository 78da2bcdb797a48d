package public

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/mediamesh/mediamesh/gen/graphql/discoverygql"
)

// Limits on one GraphQL operation: its cost (each field costs 1 unless configured) and how deep
// its selections nest. Persisted queries (APQ) are kept for the most recent apqEntries hashes.
const (
	maxComplexity = 50000 // field selections, each list's counted `first` times (see complexity.go)
	maxDepth      = 10
	apqEntries    = 1000
	// queryCacheEntries is how many parsed and validated documents are kept, by query text.
	queryCacheEntries = 1000
)

// graphqlHandler serves the discovery GraphQL API at /graphql (POST and GET), answered by r, with
// introspection when asked.
func graphqlHandler(r *resolver, introspection bool) http.Handler {
	srv := handler.New(discoverygql.NewExecutableSchema(discoverygql.Config{Resolvers: r, Complexity: complexity()}))
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	if introspection {
		srv.Use(extension.Introspection{})
	}
	srv.Use(extension.FixedComplexityLimit(maxComplexity))
	srv.Use(depthLimit{max: maxDepth})
	srv.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](apqEntries)})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](queryCacheEntries)) // parsed and validated once
	srv.SetErrorPresenter(presentError)
	srv.SetRecoverFunc(func(ctx context.Context, v any) error {
		r.log.ErrorContext(ctx, "graphql resolver panicked", "panic", v)
		return &gqlerror.Error{Message: "internal server error", Extensions: map[string]any{"code": codeInternal}}
	})
	return r.perRequest(srv)
}

// resolver answers the discovery schema from the discovery and search services' REST operations,
// through their generated clients (see upstreams). Every field maps one REST operation; the
// package's other files hold them by type.
type resolver struct {
	upstreams
	log       *slog.Logger
	batchWait time.Duration // how long the episodes loader waits at most for siblings to join
}

// newResolver returns the resolver of the gateway's upstreams.
func newResolver(handlers map[string]http.Handler, log *slog.Logger) (*resolver, error) {
	u, err := newUpstreams(handlers)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &resolver{upstreams: u, log: log, batchWait: batchWait}, nil
}

type (
	queryResolver     struct{ *resolver }
	programResolver   struct{ *resolver }
	episodeResolver   struct{ *resolver }
	searchHitResolver struct{ *resolver }
)

func (r *resolver) Episode() discoverygql.EpisodeResolver     { return episodeResolver{r} }
func (r *resolver) Mutation() discoverygql.MutationResolver   { return mutationResolver{r} }
func (r *resolver) Program() discoverygql.ProgramResolver     { return programResolver{r} }
func (r *resolver) Query() discoverygql.QueryResolver         { return queryResolver{r} }
func (r *resolver) SearchHit() discoverygql.SearchHitResolver { return searchHitResolver{r} }
