package discovery

import (
	"context"
	"fmt"

	"entgo.io/ent/dialect/sql"
	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/ent/discoverydb"
	"github.com/mediamesh/mediamesh/ent/discoverydb/programcount"
	"github.com/mediamesh/mediamesh/gen/openapi/discoveryapi"
	"github.com/mediamesh/mediamesh/internal/language"
)

// Sizes of the taxonomy lists, as the contract declares them.
const (
	defaultTaxonomySize = 100 // TaxonomyLimit default
	maxTaxonomySize     = 500 // TaxonomyLimit maximum
	maxLanguages        = 200 // PublicLanguageList maxItems
)

// ListPublicCategories implements discoveryapi.StrictServerInterface: the categories holding at
// least one published program, most programs first, named in the requested language.
func (s *Service) ListPublicCategories(ctx context.Context, req discoveryapi.ListPublicCategoriesRequestObject) (discoveryapi.ListPublicCategoriesResponseObject, error) {
	lang := defaultLanguage
	if req.Params.Language != nil {
		lang = *req.Params.Language
	}
	limit := pageSize(req.Params.Limit, defaultTaxonomySize, maxTaxonomySize)
	items := []discoveryapi.PublicCategory{}
	// A counted category whose category.upserted has not arrived (or that was deleted) cannot be
	// shown; read on past it in count order until the list is full.
	var after *discoverydb.ProgramCount
	for len(items) < limit {
		counts, err := s.programCounts(ctx, programcount.DimensionCategory, after, limit-len(items))
		if err != nil {
			return nil, err
		}
		if len(counts) == 0 {
			break
		}
		after = counts[len(counts)-1]
		ids := make([]uuid.UUID, 0, len(counts))
		for _, c := range counts {
			if id, err := uuid.Parse(c.Key); err == nil {
				ids = append(ids, id)
			}
		}
		categories, err := s.categoriesByID(ctx, ids)
		if err != nil {
			return nil, err
		}
		for _, c := range counts {
			id, _ := uuid.Parse(c.Key)
			if cat, ok := categories[id]; ok {
				items = append(items, discoveryapi.PublicCategory{Id: cat.ID, Slug: cat.Slug, Name: categoryName(cat, lang), ProgramCount: c.ProgramCount})
			}
		}
	}
	return discoveryapi.ListPublicCategories200JSONResponse{Items: items}, nil
}

// ListPublicLanguages implements discoveryapi.StrictServerInterface: the languages of the
// published programs, most programs first, each named in itself.
func (s *Service) ListPublicLanguages(ctx context.Context, _ discoveryapi.ListPublicLanguagesRequestObject) (discoveryapi.ListPublicLanguagesResponseObject, error) {
	counts, err := s.programCounts(ctx, programcount.DimensionLanguage, nil, maxLanguages)
	if err != nil {
		return nil, err
	}
	items := make([]discoveryapi.PublicLanguage, len(counts))
	for i, c := range counts {
		name := c.Key // a code this platform has no CLDR name for is shown as itself
		if info, err := language.Lookup(c.Key); err == nil {
			name = info.NativeName
		}
		items[i] = discoveryapi.PublicLanguage{Code: c.Key, Name: name, ProgramCount: c.ProgramCount}
	}
	return discoveryapi.ListPublicLanguages200JSONResponse{Items: items}, nil
}

// programCounts returns up to n non-zero counts of dimension, most programs first (ties by key),
// after the given one.
func (s *Service) programCounts(ctx context.Context, dim programcount.Dimension, after *discoverydb.ProgramCount, n int) ([]*discoverydb.ProgramCount, error) {
	q := s.read.ProgramCount.Query().
		Where(programcount.DimensionEQ(dim), programcount.ProgramCountGT(0)).
		Order(programcount.ByProgramCount(sql.OrderDesc()), programcount.ByKey())
	if after != nil {
		q.Where(programcount.Or(
			programcount.ProgramCountLT(after.ProgramCount),
			programcount.And(programcount.ProgramCount(after.ProgramCount), programcount.KeyGT(after.Key)),
		))
	}
	counts, err := q.Limit(n).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("read %s program counts: %w", dim, err)
	}
	return counts, nil
}
