package public

import (
	"context"
	"net/http"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/gen/graphql/discoverygql/model"
	"github.com/mediamesh/mediamesh/gen/openapi/commonapi"
	"github.com/mediamesh/mediamesh/gen/openapi/discoveryapi"
)

// Argument maps of the episode lists' problem fields.
var (
	latestEpisodesArgs  = pageArgs.with(argNames{"query.language": "language", "query.kind": "kind", "query.category": "categorySlug"})
	programEpisodesArgs = pageArgs.with(argNames{"query.season_number": "season", "query.sort": "sort"})
)

// Episode resolves Query.episode with getPublicEpisode: null when it is not published.
func (q queryResolver) Episode(ctx context.Context, id string) (*model.Episode, error) {
	if _, err := uuid.Parse(id); err != nil {
		return nil, badInput("id", "is not a UUID")
	}
	return loadersFrom(ctx).episodes.load(ctx, id, 1)
}

// LatestEpisodes resolves Query.latestEpisodes with listLatestEpisodes.
func (q queryResolver) LatestEpisodes(ctx context.Context, first *int, after *string, language *string, kind *model.ProgramKind, categorySlug *string) (*model.EpisodeConnection, error) {
	n, err := pageSize(first)
	if err != nil {
		return nil, err
	}
	params := discoveryapi.ListLatestEpisodesParams{Language: language, Kind: restKind(kind), Category: categorySlug}
	p, err := paginate(ctx, after, n, func(ctx context.Context, cursor *string, limit int) ([]discoveryapi.PublicEpisode, commonapi.PageInfo, error) {
		params.Cursor, params.Limit = cursor, ptr(int32(limit))
		res, err := q.discovery.ListLatestEpisodesWithResponse(ctx, &params)
		if err != nil {
			return nil, commonapi.PageInfo{}, callFailed(ctx, q.log, serviceDiscovery, err)
		}
		if res.JSON200 == nil {
			return nil, commonapi.PageInfo{}, failure(ctx, q.log, serviceDiscovery, res.HTTPResponse, res.Body, latestEpisodesArgs)
		}
		return res.JSON200.Items, res.JSON200.Page, nil
	})
	if err != nil {
		return nil, err
	}
	return episodeConnection(p, nil), nil
}

// Episodes resolves Program.episodes. First pages of up to maxPerProgram episodes go through the
// request's batching loader (listEpisodesOfPrograms, one call for many programs); other pages
// call listPublicEpisodes. A program that left the read model meanwhile has no episodes.
func (p programResolver) Episodes(ctx context.Context, obj *model.Program, first *int, after *string, season *int, sort *model.EpisodeSort) (*model.EpisodeConnection, error) {
	n, err := pageSize(first)
	if err != nil {
		return nil, err
	}
	seasonNumber, err := int32Arg("season", season)
	if err != nil {
		return nil, err
	}
	id, err := uuid.Parse(obj.ID)
	if err != nil {
		return nil, &apiError{code: codeInternal, message: "program " + obj.ID + " has no UUID"}
	}
	order := restEpisodeSort(model.EpisodeSortEpisodeNumber)
	if sort != nil {
		order = restEpisodeSort(*sort)
	}
	if after == nil && n <= maxPerProgram {
		key := episodesKey{program: id, page: pageKind{perProgram: n, sort: order}}
		if seasonNumber != nil {
			key.page.season, key.page.hasSeason = *seasonNumber, true
		}
		got, err := loadersFrom(ctx).programEpisodes.load(ctx, key, siblings(ctx))
		if err != nil {
			return nil, err
		}
		var rest discoveryapi.ProgramEpisodes // absent: the program is no longer published
		if got != nil {
			rest = *got
		}
		return episodeConnection(restPage(position{}, rest.Episodes, commonapi.PageInfo{HasMore: rest.HasMore, NextCursor: rest.NextCursor}), obj), nil
	}
	sortParam := discoveryapi.ListPublicEpisodesParamsSort(order)
	params := discoveryapi.ListPublicEpisodesParams{SeasonNumber: seasonNumber, Sort: &sortParam}
	page, err := paginate(ctx, after, n, func(ctx context.Context, cursor *string, limit int) ([]discoveryapi.PublicEpisode, commonapi.PageInfo, error) {
		params.Cursor, params.Limit = cursor, ptr(int32(limit))
		res, err := p.discovery.ListPublicEpisodesWithResponse(ctx, id, &params)
		if err != nil {
			return nil, commonapi.PageInfo{}, callFailed(ctx, p.log, serviceDiscovery, err)
		}
		if res.StatusCode() == http.StatusNotFound {
			return nil, commonapi.PageInfo{}, nil
		}
		if res.JSON200 == nil {
			return nil, commonapi.PageInfo{}, failure(ctx, p.log, serviceDiscovery, res.HTTPResponse, res.Body, programEpisodesArgs)
		}
		return res.JSON200.Items, res.JSON200.Page, nil
	})
	if err != nil {
		return nil, err
	}
	return episodeConnection(page, obj), nil
}

// restEpisodeSort maps a GraphQL episode order to the REST sort of the episode lists.
func restEpisodeSort(s model.EpisodeSort) discoveryapi.ListEpisodesOfProgramsParamsSort {
	switch s {
	case model.EpisodeSortEpisodeNumberDesc:
		return discoveryapi.ListEpisodesOfProgramsParamsSortMinusEpisodeNumber
	case model.EpisodeSortLatest:
		return discoveryapi.ListEpisodesOfProgramsParamsSortLatest
	}
	return discoveryapi.ListEpisodesOfProgramsParamsSortEpisodeNumber
}

// fetchEpisodes is the episodes loader's fetch: getPublicEpisode of each id (nil when it is not
// published).
func (r *resolver) fetchEpisodes(ctx context.Context, ids []string) []outcome[*model.Episode] {
	out := make([]outcome[*model.Episode], len(ids))
	for i, id := range ids {
		out[i].val, out[i].err = r.getEpisode(ctx, id)
	}
	return out
}

// getEpisode returns the published episode id, or nil.
func (r *resolver) getEpisode(ctx context.Context, id string) (*model.Episode, error) {
	uid, err := uuid.Parse(id)
	if err != nil {
		return nil, badInput("id", "is not a UUID")
	}
	res, err := r.discovery.GetPublicEpisodeWithResponse(ctx, uid)
	if err != nil {
		return nil, callFailed(ctx, r.log, serviceDiscovery, err)
	}
	if res.StatusCode() == http.StatusNotFound {
		return nil, nil
	}
	if res.JSON200 == nil {
		return nil, failure(ctx, r.log, serviceDiscovery, res.HTTPResponse, res.Body, argNames{"path.episodeId": "id"})
	}
	return episodeModel(*res.JSON200, nil), nil
}

// episodeConnection maps a page of REST episodes to GraphQL; program, when known, is their program.
func episodeConnection(p page[discoveryapi.PublicEpisode], program *model.Program) *model.EpisodeConnection {
	conn := &model.EpisodeConnection{Edges: make([]*model.EpisodeEdge, len(p.items)), PageInfo: p.info}
	for i, e := range p.items {
		conn.Edges[i] = &model.EpisodeEdge{Cursor: p.cursors[i], Node: episodeModel(e, program)}
	}
	return conn
}

// episodeModel maps a REST episode to GraphQL; program, when known, is its program.
func episodeModel(e discoveryapi.PublicEpisode, program *model.Program) *model.Episode {
	return &model.Episode{
		ID:              e.Id.String(),
		Title:           e.Title,
		Summary:         e.Summary,
		Language:        e.Language,
		SeasonNumber:    intPtr(e.SeasonNumber),
		EpisodeNumber:   int(e.EpisodeNumber),
		DurationSeconds: intPtr(e.DurationSeconds),
		MediaURL:        e.MediaUrl,
		ThumbnailURL:    e.ThumbnailUrl,
		PublishedAt:     e.PublishedAt,
		Program:         program,
		ProgramID:       e.ProgramId.String(),
	}
}
