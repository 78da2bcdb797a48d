package public

import (
	"context"

	"github.com/mediamesh/mediamesh/gen/graphql/discoverygql/model"
	"github.com/mediamesh/mediamesh/gen/openapi/discoveryapi"
)

// maxCategories is the most categories listPublicCategories returns at once; Query.categories
// has no limit of its own and asks for them all.
const maxCategories = 500

// Categories resolves Query.categories with listPublicCategories.
func (q queryResolver) Categories(ctx context.Context, language *string) ([]*model.Category, error) {
	res, err := q.discovery.ListPublicCategoriesWithResponse(ctx, &discoveryapi.ListPublicCategoriesParams{Language: language, Limit: ptr(int32(maxCategories))})
	if err != nil {
		return nil, callFailed(ctx, q.log, serviceDiscovery, err)
	}
	if res.JSON200 == nil {
		return nil, failure(ctx, q.log, serviceDiscovery, res.HTTPResponse, res.Body, argNames{"query.language": "language"})
	}
	out := make([]*model.Category, len(res.JSON200.Items))
	for i, c := range res.JSON200.Items {
		out[i] = &model.Category{ID: c.Id.String(), Slug: c.Slug, Name: c.Name, ProgramCount: ptr(int(c.ProgramCount))}
	}
	return out, nil
}

// Languages resolves Query.languages with listPublicLanguages.
func (q queryResolver) Languages(ctx context.Context) ([]*model.Language, error) {
	res, err := q.discovery.ListPublicLanguagesWithResponse(ctx)
	if err != nil {
		return nil, callFailed(ctx, q.log, serviceDiscovery, err)
	}
	if res.JSON200 == nil {
		return nil, failure(ctx, q.log, serviceDiscovery, res.HTTPResponse, res.Body, nil)
	}
	out := make([]*model.Language, len(res.JSON200.Items))
	for i, l := range res.JSON200.Items {
		out[i] = &model.Language{Code: l.Code, Name: l.Name, ProgramCount: int(l.ProgramCount)}
	}
	return out, nil
}
