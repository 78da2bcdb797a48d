package public

import (
	"context"
	"math"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/gen/graphql/discoverygql/model"
	"github.com/mediamesh/mediamesh/gen/openapi/commonapi"
	"github.com/mediamesh/mediamesh/gen/openapi/discoveryapi"
)

// programsArgs maps listPublicPrograms' problem fields to the arguments of Query.programs.
var programsArgs = pageArgs.with(argNames{
	"query.kind": "filter.kind", "query.category": "filter.categorySlug", "query.language": "filter.language",
	"query.tag": "filter.tag", "query.sort": "sort",
})

// Programs resolves Query.programs with listPublicPrograms.
func (q queryResolver) Programs(ctx context.Context, first *int, after *string, filter *model.ProgramFilter, sort *model.ProgramSort) (*model.ProgramConnection, error) {
	n, err := pageSize(first)
	if err != nil {
		return nil, err
	}
	var params discoveryapi.ListPublicProgramsParams
	if filter != nil {
		params.Kind = restKind(filter.Kind)
		params.Category, params.Language, params.Tag = filter.CategorySlug, filter.Language, filter.Tag
	}
	if sort != nil {
		s := discoveryapi.ListPublicProgramsParamsSort(strings.ToLower(string(*sort)))
		params.Sort = &s
	}
	p, err := paginate(ctx, after, n, func(ctx context.Context, cursor *string, limit int) ([]discoveryapi.PublicProgram, commonapi.PageInfo, error) {
		params.Cursor, params.Limit = cursor, ptr(int32(limit))
		res, err := q.discovery.ListPublicProgramsWithResponse(ctx, &params)
		if err != nil {
			return nil, commonapi.PageInfo{}, callFailed(ctx, q.log, serviceDiscovery, err)
		}
		if res.JSON200 == nil {
			return nil, commonapi.PageInfo{}, failure(ctx, q.log, serviceDiscovery, res.HTTPResponse, res.Body, programsArgs)
		}
		return res.JSON200.Items, res.JSON200.Page, nil
	})
	if err != nil {
		return nil, err
	}
	conn := &model.ProgramConnection{Edges: make([]*model.ProgramEdge, len(p.items)), PageInfo: p.info}
	for i, it := range p.items {
		conn.Edges[i] = &model.ProgramEdge{Cursor: p.cursors[i], Node: programModel(it)}
	}
	return conn, nil
}

// Program resolves Query.program with getPublicProgram: null when it is not published.
func (q queryResolver) Program(ctx context.Context, id string) (*model.Program, error) {
	if _, err := uuid.Parse(id); err != nil {
		return nil, badInput("id", "is not a UUID")
	}
	return loadersFrom(ctx).programs.load(ctx, id, 1)
}

// Category resolves Program.category: the REST program embeds it (absent when uncategorised).
func (programResolver) Category(_ context.Context, obj *model.Program) (*model.Category, error) {
	return obj.Category, nil
}

// Program resolves Episode.program: the parent program when the episode was listed under it,
// else getPublicProgram, memoized per request.
func (e episodeResolver) Program(ctx context.Context, obj *model.Episode) (*model.Program, error) {
	if obj.Program != nil {
		return obj.Program, nil
	}
	p, err := loadersFrom(ctx).programs.load(ctx, obj.ProgramID, siblings(ctx))
	if err == nil && p == nil {
		err = &apiError{code: codeNotFound, message: "program " + obj.ProgramID + " is no longer published"}
	}
	return p, err
}

// fetchPrograms is the programs loader's fetch: getPublicProgram of each id (nil when it is not
// published). The discovery API has no batch read of programs; the loader still saves repeated ones.
func (r *resolver) fetchPrograms(ctx context.Context, ids []string) []outcome[*model.Program] {
	out := make([]outcome[*model.Program], len(ids))
	for i, id := range ids {
		out[i].val, out[i].err = r.getProgram(ctx, id)
	}
	return out
}

// getProgram returns the published program id, or nil.
func (r *resolver) getProgram(ctx context.Context, id string) (*model.Program, error) {
	uid, err := uuid.Parse(id)
	if err != nil {
		return nil, badInput("id", "is not a UUID")
	}
	res, err := r.discovery.GetPublicProgramWithResponse(ctx, uid)
	if err != nil {
		return nil, callFailed(ctx, r.log, serviceDiscovery, err)
	}
	if res.StatusCode() == http.StatusNotFound {
		return nil, nil
	}
	if res.JSON200 == nil {
		return nil, failure(ctx, r.log, serviceDiscovery, res.HTTPResponse, res.Body, argNames{"path.programId": "id"})
	}
	return programModel(*res.JSON200), nil
}

// programModel maps a REST program to GraphQL.
func programModel(p discoveryapi.PublicProgram) *model.Program {
	out := &model.Program{
		ID:           p.Id.String(),
		Kind:         model.ProgramKind(strings.ToUpper(string(p.Kind))),
		Title:        p.Title,
		Slug:         p.Slug,
		Summary:      p.Summary,
		Language:     p.Language,
		Tags:         p.Tags,
		CoverURL:     p.CoverUrl,
		EpisodeCount: int(p.EpisodeCount),
		PublishedAt:  p.PublishedAt,
		UpdatedAt:    p.UpdatedAt,
	}
	if out.Tags == nil {
		out.Tags = []string{}
	}
	if c := p.Category; c != nil {
		out.Category = &model.Category{ID: c.Id.String(), Slug: c.Slug, Name: c.Name}
	}
	return out
}

// restKind maps a GraphQL program kind to REST.
func restKind(k *model.ProgramKind) *discoveryapi.ProgramKind {
	if k == nil {
		return nil
	}
	return ptr(discoveryapi.ProgramKind(strings.ToLower(string(*k))))
}

// int32Arg converts the integer argument name, which GraphQL bounds to 32 bits but gqlgen's Int
// does not; the service checks the contract's bounds.
func int32Arg(name string, v *int) (*int32, error) {
	if v == nil {
		return nil, nil
	}
	if *v < math.MinInt32 || *v > math.MaxInt32 {
		return nil, badInput(name, "is not a 32-bit integer")
	}
	return ptr(int32(*v)), nil
}

// intPtr widens an optional REST integer.
func intPtr(v *int32) *int {
	if v == nil {
		return nil
	}
	return ptr(int(*v))
}

func ptr[T any](v T) *T { return &v }
