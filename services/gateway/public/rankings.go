package public

import (
	"context"
	"net/http"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/gen/graphql/discoverygql/model"
	"github.com/mediamesh/mediamesh/gen/openapi/commonapi"
	"github.com/mediamesh/mediamesh/gen/openapi/discoveryapi"
)

// Resolvers of the engagement rankings and "more like this" (issue 15), over listTrending,
// listPopular, listSimilarPrograms and listSimilarEpisodes.

// rankingArgs maps the rankings' problem fields to the arguments of Query.trending and popular.
var rankingArgs = pageArgs.with(argNames{
	"query.type": "type", "query.window": "window", "query.period": "period",
	"query.language": "filter.language", "query.kind": "filter.kind", "query.category": "filter.categorySlug",
})

// similarArgs maps the similar lists' problem fields.
var similarArgs = argNames{"query.limit": "first", "path.programId": "id", "path.episodeId": "id"}

// defaultSimilarFirst is the similar lists' default `first`, as the SDL declares it.
const defaultSimilarFirst = 10

// Trending resolves Query.trending with listTrending.
func (q queryResolver) Trending(ctx context.Context, typeArg *model.ContentType, window *model.TrendingWindow, filter *model.RankingFilter, first *int, after *string) (*model.RankingConnection, error) {
	var params discoveryapi.ListTrendingParams
	if typeArg != nil && *typeArg == model.ContentTypeEpisode {
		params.Type = ptr(discoveryapi.ListTrendingParamsTypeEpisode)
	}
	if window != nil && *window == model.TrendingWindowHour {
		params.Window = ptr(discoveryapi.Hour)
	}
	if filter != nil {
		params.Language, params.Kind, params.Category = filter.Language, restKind(filter.Kind), filter.CategorySlug
	}
	return q.ranking(ctx, first, after, func(ctx context.Context, cursor *string, limit int) (*discoveryapi.RankedList, *http.Response, []byte, error) {
		params.Cursor, params.Limit = cursor, ptr(int32(limit))
		res, err := q.discovery.ListTrendingWithResponse(ctx, &params)
		if err != nil {
			return nil, nil, nil, err
		}
		return res.JSON200, res.HTTPResponse, res.Body, nil
	})
}

// Popular resolves Query.popular with listPopular.
func (q queryResolver) Popular(ctx context.Context, typeArg *model.ContentType, period *model.PopularPeriod, filter *model.RankingFilter, first *int, after *string) (*model.RankingConnection, error) {
	var params discoveryapi.ListPopularParams
	if typeArg != nil && *typeArg == model.ContentTypeEpisode {
		params.Type = ptr(discoveryapi.ListPopularParamsTypeEpisode)
	}
	if period != nil && *period == model.PopularPeriodAllTime {
		params.Period = ptr(discoveryapi.AllTime)
	}
	if filter != nil {
		params.Language, params.Kind, params.Category = filter.Language, restKind(filter.Kind), filter.CategorySlug
	}
	return q.ranking(ctx, first, after, func(ctx context.Context, cursor *string, limit int) (*discoveryapi.RankedList, *http.Response, []byte, error) {
		params.Cursor, params.Limit = cursor, ptr(int32(limit))
		res, err := q.discovery.ListPopularWithResponse(ctx, &params)
		if err != nil {
			return nil, nil, nil, err
		}
		return res.JSON200, res.HTTPResponse, res.Body, nil
	})
}

// rankingCall calls one REST ranking: its answer (nil unless 200) and the raw response.
type rankingCall func(ctx context.Context, cursor *string, limit int) (*discoveryapi.RankedList, *http.Response, []byte, error)

// ranking reads a page of a REST ranking as a connection.
func (q queryResolver) ranking(ctx context.Context, first *int, after *string, call rankingCall) (*model.RankingConnection, error) {
	n, err := pageSize(first)
	if err != nil {
		return nil, err
	}
	p, err := paginate(ctx, after, n, func(ctx context.Context, cursor *string, limit int) ([]discoveryapi.RankedItem, commonapi.PageInfo, error) {
		list, res, body, err := call(ctx, cursor, limit)
		if err != nil {
			return nil, commonapi.PageInfo{}, callFailed(ctx, q.log, serviceDiscovery, err)
		}
		if list == nil {
			return nil, commonapi.PageInfo{}, failure(ctx, q.log, serviceDiscovery, res, body, rankingArgs)
		}
		return list.Items, list.Page, nil
	})
	if err != nil {
		return nil, err
	}
	conn := &model.RankingConnection{Edges: make([]*model.RankingEdge, len(p.items)), PageInfo: p.info}
	for i, it := range p.items {
		node := &model.RankedItem{ContentType: model.ContentTypeProgram, Score: it.Score, Plays: int(it.Plays), Views: int(it.Views), Completes: int(it.Completes)}
		if it.Program != nil {
			node.Program = programModel(*it.Program)
		}
		if it.Episode != nil {
			node.ContentType, node.Episode = model.ContentTypeEpisode, episodeModel(*it.Episode, nil)
		}
		conn.Edges[i] = &model.RankingEdge{Cursor: p.cursors[i], Node: node}
	}
	return conn, nil
}

// similarFirst checks the similar lists' `first` (nil: the default).
func similarFirst(first *int) (int32, error) {
	if first == nil {
		return defaultSimilarFirst, nil
	}
	if *first < 1 || *first > 50 {
		return 0, badInput("first", "must be from 1 to 50")
	}
	return int32(*first), nil
}

// SimilarPrograms resolves Query.similarPrograms with listSimilarPrograms: empty when the program
// is not published.
func (q queryResolver) SimilarPrograms(ctx context.Context, id string, first *int) ([]*model.Program, error) {
	programID, err := uuid.Parse(id)
	if err != nil {
		return nil, badInput("id", "is not a UUID")
	}
	n, err := similarFirst(first)
	if err != nil {
		return nil, err
	}
	res, err := q.discovery.ListSimilarProgramsWithResponse(ctx, programID, &discoveryapi.ListSimilarProgramsParams{Limit: &n})
	if err != nil {
		return nil, callFailed(ctx, q.log, serviceDiscovery, err)
	}
	if res.StatusCode() == http.StatusNotFound {
		return []*model.Program{}, nil
	}
	if res.JSON200 == nil {
		return nil, failure(ctx, q.log, serviceDiscovery, res.HTTPResponse, res.Body, similarArgs)
	}
	out := make([]*model.Program, len(res.JSON200.Items))
	for i, p := range res.JSON200.Items {
		out[i] = programModel(p)
	}
	return out, nil
}

// SimilarEpisodes resolves Query.similarEpisodes with listSimilarEpisodes: empty when the episode
// is not published.
func (q queryResolver) SimilarEpisodes(ctx context.Context, id string, first *int) ([]*model.Episode, error) {
	episodeID, err := uuid.Parse(id)
	if err != nil {
		return nil, badInput("id", "is not a UUID")
	}
	n, err := similarFirst(first)
	if err != nil {
		return nil, err
	}
	res, err := q.discovery.ListSimilarEpisodesWithResponse(ctx, episodeID, &discoveryapi.ListSimilarEpisodesParams{Limit: &n})
	if err != nil {
		return nil, callFailed(ctx, q.log, serviceDiscovery, err)
	}
	if res.StatusCode() == http.StatusNotFound {
		return []*model.Episode{}, nil
	}
	if res.JSON200 == nil {
		return nil, failure(ctx, q.log, serviceDiscovery, res.HTTPResponse, res.Body, similarArgs)
	}
	out := make([]*model.Episode, len(res.JSON200.Items))
	for i, e := range res.JSON200.Items {
		out[i] = episodeModel(e, nil)
	}
	return out, nil
}
