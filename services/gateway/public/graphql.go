package public

import (
	"context"
	"net/http"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/mediamesh/mediamesh/gen/graphql/discoverygql"
	"github.com/mediamesh/mediamesh/gen/graphql/discoverygql/model"
)

// Limits on one GraphQL operation: its cost (each field costs 1 unless configured) and how deep
// its selections nest. Persisted queries (APQ) are kept for the most recent apqEntries hashes.
const (
	maxComplexity = 1000
	maxDepth      = 10
	apqEntries    = 1000
)

// graphqlHandler serves the discovery GraphQL API at /graphql (POST and GET).
func graphqlHandler(r discoverygql.ResolverRoot) http.Handler {
	srv := handler.New(discoverygql.NewExecutableSchema(discoverygql.Config{Resolvers: r}))
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	srv.Use(extension.Introspection{})
	srv.Use(extension.FixedComplexityLimit(maxComplexity))
	srv.Use(depthLimit{max: maxDepth})
	srv.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](apqEntries)})
	srv.SetRecoverFunc(func(ctx context.Context, v any) error {
		return &gqlerror.Error{Message: "internal server error", Extensions: map[string]any{"code": "INTERNAL"}}
	})
	return srv
}

// resolver answers the discovery schema. The discovery and search read models land with their own
// issue; until then every field reports NOT_IMPLEMENTED in the GraphQL errors list.
type resolver struct{}

type (
	queryResolver     struct{}
	programResolver   struct{}
	episodeResolver   struct{}
	searchHitResolver struct{}
)

func (resolver) Episode() discoverygql.EpisodeResolver     { return episodeResolver{} }
func (resolver) Program() discoverygql.ProgramResolver     { return programResolver{} }
func (resolver) Query() discoverygql.QueryResolver         { return queryResolver{} }
func (resolver) SearchHit() discoverygql.SearchHitResolver { return searchHitResolver{} }

func notImplemented(ctx context.Context) error {
	field := "field"
	if fc := graphql.GetFieldContext(ctx); fc != nil {
		field = fc.Field.Name
	}
	return &gqlerror.Error{
		Message:    field + " is part of the v1 schema but is not implemented in this release",
		Extensions: map[string]any{"code": "NOT_IMPLEMENTED"},
	}
}

func (queryResolver) Program(ctx context.Context, _ string) (*model.Program, error) {
	return nil, notImplemented(ctx)
}

func (queryResolver) Programs(ctx context.Context, _ *int, _ *string, _ *model.ProgramFilter, _ *model.ProgramSort) (*model.ProgramConnection, error) {
	return nil, notImplemented(ctx)
}

func (queryResolver) Episode(ctx context.Context, _ string) (*model.Episode, error) {
	return nil, notImplemented(ctx)
}

func (queryResolver) LatestEpisodes(ctx context.Context, _ *int, _ *string, _ *string, _ *model.ProgramKind, _ *string) (*model.EpisodeConnection, error) {
	return nil, notImplemented(ctx)
}

func (queryResolver) Categories(ctx context.Context, _ *string) ([]*model.Category, error) {
	return nil, notImplemented(ctx)
}

func (queryResolver) Languages(ctx context.Context) ([]*model.Language, error) {
	return nil, notImplemented(ctx)
}

func (queryResolver) Search(ctx context.Context, _ *string, _ *model.SearchFilter, _ *model.SearchSort, _ *int, _ *string) (*model.SearchConnection, error) {
	return nil, notImplemented(ctx)
}

func (queryResolver) Suggest(ctx context.Context, _ string, _ *string, _ *int) ([]*model.Suggestion, error) {
	return nil, notImplemented(ctx)
}

func (programResolver) Category(ctx context.Context, _ *model.Program) (*model.Category, error) {
	return nil, notImplemented(ctx)
}

func (programResolver) Episodes(ctx context.Context, _ *model.Program, _ *int, _ *string, _ *int, _ *model.EpisodeSort) (*model.EpisodeConnection, error) {
	return nil, notImplemented(ctx)
}

func (searchHitResolver) Content(ctx context.Context, _ *model.SearchHit) (model.SearchResult, error) {
	return nil, notImplemented(ctx)
}

func (episodeResolver) Program(ctx context.Context, _ *model.Episode) (*model.Program, error) {
	return nil, notImplemented(ctx)
}
