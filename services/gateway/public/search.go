package public

import (
	"context"
	"slices"
	"strings"

	"github.com/99designs/gqlgen/graphql"

	"github.com/mediamesh/mediamesh/gen/graphql/discoverygql/model"
	"github.com/mediamesh/mediamesh/gen/openapi/commonapi"
	"github.com/mediamesh/mediamesh/gen/openapi/searchapi"
)

// Argument maps of the search operations' problem fields.
var (
	searchArgs = pageArgs.with(argNames{
		"query.q": "query", "query.type": "filter.contentType", "query.kind": "filter.kind",
		"query.category": "filter.categorySlug", "query.language": "filter.language",
		"query.duration_min": "filter.minDurationSeconds", "query.duration_max": "filter.maxDurationSeconds",
		"query.published_from": "filter.publishedAfter", "query.published_to": "filter.publishedBefore",
		"query.sort": "sort",
	})
	suggestArgs = argNames{"query.q": "query", "query.language": "language", "query.limit": "first"}
)

// facetNames are the REST facets behind the fields of SearchFacets.
var facetNames = map[string]searchapi.FacetName{
	"contentTypes": searchapi.Type, "kinds": searchapi.Kind, "languages": searchapi.Language, "categories": searchapi.Category,
}

// Search resolves Query.search with searchContent, asking only for the facets the query selects.
func (q queryResolver) Search(ctx context.Context, query *string, filter *model.SearchFilter, sort *model.SearchSort, first *int, after *string) (*model.SearchConnection, error) {
	n, err := pageSize(first)
	if err != nil {
		return nil, err
	}
	params, err := searchParams(query, filter, sort)
	if err != nil {
		return nil, err
	}
	if facets := selectedFacets(ctx); len(facets) > 0 {
		params.Facets = &facets
	}
	var facets *searchapi.SearchFacets // every page counts the same
	p, err := paginate(ctx, after, n, func(ctx context.Context, cursor *string, limit int) ([]searchapi.SearchHit, commonapi.PageInfo, error) {
		params.Cursor, params.Limit = cursor, ptr(int32(limit))
		res, err := q.search.SearchContentWithResponse(ctx, &params)
		if err != nil {
			return nil, commonapi.PageInfo{}, callFailed(ctx, q.log, serviceSearch, err)
		}
		if res.JSON200 == nil {
			return nil, commonapi.PageInfo{}, failure(ctx, q.log, serviceSearch, res.HTTPResponse, res.Body, searchArgs)
		}
		facets = res.JSON200.Facets
		return res.JSON200.Items, res.JSON200.Page, nil
	})
	if err != nil {
		return nil, err
	}
	conn := &model.SearchConnection{Edges: make([]*model.SearchEdge, len(p.items)), PageInfo: p.info, Facets: facetsModel(facets)}
	for i, h := range p.items {
		conn.Edges[i] = &model.SearchEdge{Cursor: p.cursors[i], Node: searchHitModel(h)}
	}
	return conn, nil
}

// searchParams maps the arguments of Query.search, but for the page and the facets.
func searchParams(query *string, filter *model.SearchFilter, sort *model.SearchSort) (searchapi.SearchContentParams, error) {
	params := searchapi.SearchContentParams{Q: query}
	if sort != nil {
		params.Sort = ptr(searchapi.SearchContentParamsSort(strings.ToLower(string(*sort))))
	}
	if filter == nil {
		return params, nil
	}
	if filter.ContentType != nil {
		params.Type = ptr(searchapi.HitType(strings.ToLower(string(*filter.ContentType))))
	}
	if filter.Kind != nil {
		params.Kind = ptr(searchapi.ProgramKind(strings.ToLower(string(*filter.Kind))))
	}
	params.Category, params.Language = filter.CategorySlug, filter.Language
	params.PublishedFrom, params.PublishedTo = filter.PublishedAfter, filter.PublishedBefore
	var err error
	if params.DurationMin, err = int32Arg("filter.minDurationSeconds", filter.MinDurationSeconds); err != nil {
		return params, err
	}
	params.DurationMax, err = int32Arg("filter.maxDurationSeconds", filter.MaxDurationSeconds)
	return params, err
}

// selectedFacets returns the REST facets whose lists the query selects under search's facets.
func selectedFacets(ctx context.Context) []searchapi.FacetName {
	oc := graphql.GetOperationContext(ctx)
	var out []searchapi.FacetName
	for _, f := range graphql.CollectFieldsCtx(ctx, []string{"SearchConnection"}) {
		if f.Name != "facets" {
			continue
		}
		for _, list := range graphql.CollectFields(oc, f.Selections, []string{"SearchFacets"}) {
			if name, ok := facetNames[list.Name]; ok && !slices.Contains(out, name) {
				out = append(out, name)
			}
		}
	}
	slices.Sort(out) // one spelling per set, for the caches
	return out
}

// facetsModel maps the REST facet counts; lists the search did not count are empty.
func facetsModel(f *searchapi.SearchFacets) *model.SearchFacets {
	out := &model.SearchFacets{ContentTypes: []*model.ContentTypeCount{}, Kinds: []*model.ProgramKindCount{}, Languages: []*model.FacetCount{}, Categories: []*model.FacetCount{}}
	if f == nil {
		return out
	}
	for _, b := range deref(f.Type) {
		out.ContentTypes = append(out.ContentTypes, &model.ContentTypeCount{Value: model.ContentType(strings.ToUpper(b.Value)), Count: int(b.Count)})
	}
	for _, b := range deref(f.Kind) {
		out.Kinds = append(out.Kinds, &model.ProgramKindCount{Value: model.ProgramKind(strings.ToUpper(b.Value)), Count: int(b.Count)})
	}
	for _, b := range deref(f.Language) {
		out.Languages = append(out.Languages, &model.FacetCount{Value: b.Value, Count: int(b.Count)})
	}
	for _, b := range deref(f.Category) {
		out.Categories = append(out.Categories, &model.FacetCount{Value: b.Value, Count: int(b.Count)})
	}
	return out
}

// searchHitModel maps a REST hit to GraphQL; its content is loaded when asked for.
func searchHitModel(h searchapi.SearchHit) *model.SearchHit {
	return &model.SearchHit{
		ID:              h.Id.String(),
		ContentType:     model.ContentType(strings.ToUpper(string(h.Type))),
		Title:           h.Title,
		Snippet:         h.Snippet,
		Language:        h.Language,
		Kind:            model.ProgramKind(strings.ToUpper(string(h.Kind))),
		DurationSeconds: intPtr(h.DurationSeconds),
		ThumbnailURL:    h.ThumbnailUrl,
		PublishedAt:     h.PublishedAt,
		Score:           h.Score,
	}
}

// Content resolves SearchHit.content: the program or episode by id (getPublicProgram or
// getPublicEpisode, memoized per request). One that is no longer published is NOT_FOUND.
func (s searchHitResolver) Content(ctx context.Context, obj *model.SearchHit) (model.SearchResult, error) {
	if obj.Content != nil {
		return obj.Content, nil
	}
	ls, want := loadersFrom(ctx), siblings(ctx)
	gone := &apiError{code: codeNotFound, message: strings.ToLower(string(obj.ContentType)) + " " + obj.ID + " is no longer published"}
	if obj.ContentType == model.ContentTypeProgram {
		p, err := ls.programs.load(ctx, obj.ID, want)
		if err == nil && p == nil {
			err = gone
		}
		if err != nil {
			return nil, err
		}
		return p, nil
	}
	e, err := ls.episodes.load(ctx, obj.ID, want)
	if err == nil && e == nil {
		err = gone
	}
	if err != nil {
		return nil, err
	}
	return e, nil
}

// Suggest resolves Query.suggest with suggestContent.
func (q queryResolver) Suggest(ctx context.Context, query string, language *string, first *int) ([]*model.Suggestion, error) {
	limit, err := int32Arg("first", first)
	if err != nil {
		return nil, err
	}
	res, err := q.search.SuggestContentWithResponse(ctx, &searchapi.SuggestContentParams{Q: query, Language: language, Limit: limit})
	if err != nil {
		return nil, callFailed(ctx, q.log, serviceSearch, err)
	}
	if res.JSON200 == nil {
		return nil, failure(ctx, q.log, serviceSearch, res.HTTPResponse, res.Body, suggestArgs)
	}
	out := make([]*model.Suggestion, len(res.JSON200.Items))
	for i, s := range res.JSON200.Items {
		out[i] = &model.Suggestion{Text: s.Text, ContentType: model.ContentType(strings.ToUpper(string(s.Type))), ID: s.Id.String()}
	}
	return out, nil
}

// deref is the list p points to, or none.
func deref[T any](p *[]T) []T {
	if p == nil {
		return nil
	}
	return *p
}
