package discovery

import (
	"context"
	"fmt"
	"sort"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/ent/discoverydb"
	"github.com/mediamesh/mediamesh/ent/discoverydb/category"
	"github.com/mediamesh/mediamesh/ent/discoverydb/schema"
	"github.com/mediamesh/mediamesh/gen/events/metadataevents"
)

// defaultLanguage is the language every category has a name in (metadata guarantees `en`).
const defaultLanguage = "en"

// categoryUpserted applies category.upserted: the category's slug and names, unless the stored
// version is at least as new.
func (p *projection) categoryUpserted(ctx context.Context, e *metadataevents.CategoryUpserted) error {
	id, err := uuid.Parse(e.AggregateID)
	if err != nil {
		return fmt.Errorf("category id %q: %w", e.AggregateID, err)
	}
	names := make([]schema.CategoryNameRecord, 0, len(e.Names))
	for lang, name := range e.Names {
		if name != "" {
			names = append(names, schema.CategoryNameRecord{Language: lang, Name: name})
		}
	}
	sort.Slice(names, func(i, j int) bool { return names[i].Language < names[j].Language })
	old, err := p.c.Category.Get(ctx, id)
	switch {
	case discoverydb.IsNotFound(err):
		err = p.c.Category.Create().SetID(id).SetSlug(e.Slug).SetNames(names).SetVersion(e.Version).Exec(ctx)
	case err != nil:
	case e.Version <= old.Version:
		p.log.DebugContext(ctx, "category event ignored", "id", id, "version", e.Version, "stored", old.Version)
		return nil
	default:
		err = p.c.Category.UpdateOneID(id).SetSlug(e.Slug).SetNames(names).SetVersion(e.Version).Exec(ctx)
	}
	if err != nil {
		return fmt.Errorf("store category %s: %w", id, err)
	}
	return nil
}

// categoryDeleted applies category.deleted. Programs keep their category id; they show no
// category until one with that id exists again.
func (p *projection) categoryDeleted(ctx context.Context, aggregateID string) error {
	id, err := uuid.Parse(aggregateID)
	if err != nil {
		return fmt.Errorf("category id %q: %w", aggregateID, err)
	}
	if err := p.c.Category.DeleteOneID(id).Exec(ctx); err != nil && !discoverydb.IsNotFound(err) {
		return fmt.Errorf("delete category %s: %w", id, err)
	}
	return nil
}

// categoryName returns c's name in lang, falling back to English, then to the first name by
// language, then to the slug.
func categoryName(c *discoverydb.Category, lang string) string {
	for _, want := range []string{lang, defaultLanguage} {
		for _, n := range c.Names {
			if n.Language == want {
				return n.Name
			}
		}
	}
	if len(c.Names) > 0 {
		return c.Names[0].Name
	}
	return c.Slug
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
