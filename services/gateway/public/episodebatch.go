package public

import (
	"context"
	"net/http"
	"sync"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/gen/openapi/discoveryapi"
)

// Bounds of listEpisodesOfPrograms: programs per call and episodes per program.
const (
	maxBatchPrograms = 100
	maxPerProgram    = 20
)

// batchEpisodesArgs maps listEpisodesOfPrograms' problem fields to Program.episodes' arguments.
var batchEpisodesArgs = argNames{"query.per_program": "first", "query.season_number": "season", "query.sort": "sort"}

// episodesKey is one Program.episodes first page: the program, and the kind of page.
type episodesKey struct {
	program uuid.UUID
	page    pageKind
}

// pageKind is the size, order and season of a first page of episodes, which the programs of one
// listEpisodesOfPrograms call share.
type pageKind struct {
	perProgram int
	sort       discoveryapi.ListEpisodesOfProgramsParamsSort
	season     int32
	hasSeason  bool
}

// fetchProgramEpisodes is the batching loader's fetch: one listEpisodesOfPrograms call for each
// kind of page and maxBatchPrograms programs, all at once. A program the answer leaves out is not
// published (a nil outcome); a failed call fails the loads of its programs.
func (r *resolver) fetchProgramEpisodes(ctx context.Context, keys []episodesKey) []outcome[*discoveryapi.ProgramEpisodes] {
	out := make([]outcome[*discoveryapi.ProgramEpisodes], len(keys))
	calls := map[pageKind][][]int{} // key indexes, per kind, per call
	for i, k := range keys {
		chunks := calls[k.page]
		if n := len(chunks); n == 0 || len(chunks[n-1]) == maxBatchPrograms {
			chunks = append(chunks, nil)
		}
		chunks[len(chunks)-1] = append(chunks[len(chunks)-1], i)
		calls[k.page] = chunks
	}
	var wg sync.WaitGroup
	for kind, chunks := range calls {
		for _, chunk := range chunks {
			wg.Go(func() { r.listEpisodesOfPrograms(ctx, kind, keys, chunk, out) })
		}
	}
	wg.Wait()
	return out
}

// listEpisodesOfPrograms answers the keys at indexes (all of kind) with one call, into out.
func (r *resolver) listEpisodesOfPrograms(ctx context.Context, kind pageKind, keys []episodesKey, indexes []int, out []outcome[*discoveryapi.ProgramEpisodes]) {
	params := discoveryapi.ListEpisodesOfProgramsParams{PerProgram: ptr(int32(kind.perProgram)), Sort: &kind.sort}
	if kind.hasSeason {
		params.SeasonNumber = &kind.season
	}
	for _, i := range indexes {
		params.ProgramId = append(params.ProgramId, keys[i].program)
	}
	var err error
	res, callErr := r.discovery.ListEpisodesOfProgramsWithResponse(ctx, &params)
	switch {
	case callErr != nil:
		err = callFailed(ctx, r.log, serviceDiscovery, callErr)
	case res.StatusCode() == http.StatusOK && res.JSON200 != nil:
		pages := make(map[uuid.UUID]*discoveryapi.ProgramEpisodes, len(res.JSON200.Items))
		for j := range res.JSON200.Items {
			pages[res.JSON200.Items[j].ProgramId] = &res.JSON200.Items[j]
		}
		for _, i := range indexes {
			out[i].val = pages[keys[i].program]
		}
		return
	default:
		err = failure(ctx, r.log, serviceDiscovery, res.HTTPResponse, res.Body, batchEpisodesArgs)
	}
	for _, i := range indexes {
		out[i].err = err
	}
}
