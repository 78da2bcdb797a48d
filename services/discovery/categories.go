package discovery

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/ent/discoverydb"
	"github.com/mediamesh/mediamesh/ent/discoverydb/category"
	"github.com/mediamesh/mediamesh/ent/discoverydb/schema"
	"github.com/mediamesh/mediamesh/gen/events/metadataevents"
	"github.com/mediamesh/mediamesh/internal/readmodel"
)

// defaultLanguage is the language every category has a name in (metadata guarantees `en`).
const defaultLanguage = readmodel.DefaultLanguage

// CategoryUpserted applies category.upserted: the category's slug and names, unless the stored
// version is at least as new.
func (p *projection) CategoryUpserted(ctx context.Context, e *metadataevents.CategoryUpserted) error {
	_, _, err := readmodel.UpsertCategory[schema.CategoryNameRecord](ctx, p.log, p.c, e)
	return err
}

// CategoryDeleted applies category.deleted. Programs keep their category id; they show no
// category until one with that id exists again.
func (p *projection) CategoryDeleted(ctx context.Context, aggregateID string) error {
	_, _, err := readmodel.DeleteCategory[schema.CategoryNameRecord](ctx, p.c, aggregateID)
	return err
}

// categoryName returns c's name in lang, falling back to English, then to the first name by
// language, then to the slug.
func categoryName(c *discoverydb.Category, lang string) string {
	return readmodel.CategoryName(c.Names, c.Slug, lang)
}

// categoriesByID loads the categories with ids (one query), keyed by id.
func (s *Service) categoriesByID(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]*discoverydb.Category, error) {
	out := make(map[uuid.UUID]*discoverydb.Category, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.read.Category.Query().Where(category.IDIn(ids...)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("read categories: %w", err)
	}
	for _, c := range rows {
		out[c.ID] = c
	}
	return out, nil
}
