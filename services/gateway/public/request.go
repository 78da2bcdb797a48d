package public

import (
	"context"
	"net/http"
	"time"

	"github.com/mediamesh/mediamesh/gen/graphql/discoverygql/model"
	"github.com/mediamesh/mediamesh/gen/openapi/discoveryapi"
	"github.com/mediamesh/mediamesh/internal/httpserver"
)

// batchWait is how long the episodes loader waits for more programs when gqlgen has not yet
// asked for all the siblings it expects (see siblings); usually it has, and nothing waits.
const batchWait = 2 * time.Millisecond

// loaders are the per-request loaders: one request's loads are batched and memoized together,
// and never shared with another request (whose caller may differ).
type loaders struct {
	programEpisodes *loader[episodesKey, *discoveryapi.ProgramEpisodes] // batched: listEpisodesOfPrograms
	programs        *loader[string, *model.Program]                     // by id: getPublicProgram
	episodes        *loader[string, *model.Episode]                     // by id: getPublicEpisode
}

type loadersKey struct{}

// perRequest gives each GraphQL request its forwarded caller headers and its loaders, and names
// its operation "graphql" in the request log and metrics (before an in-process service, which
// shares the request's log line, names it after the first REST operation it serves).
func (r *resolver) perRequest(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		httpserver.SetOperation(req.Context(), "graphql")
		ctx := withCaller(req.Context(), req)
		ls := &loaders{
			programEpisodes: newLoader(ctx, r.log, r.batchWait, maxBatchPrograms, r.fetchProgramEpisodes),
			programs:        newLoader(ctx, r.log, 0, 1, r.fetchPrograms),
			episodes:        newLoader(ctx, r.log, 0, 1, r.fetchEpisodes),
		}
		next.ServeHTTP(w, req.WithContext(context.WithValue(ctx, loadersKey{}, ls)))
	})
}

// loadersFrom returns the request's loaders.
func loadersFrom(ctx context.Context) *loaders {
	return ctx.Value(loadersKey{}).(*loaders)
}
