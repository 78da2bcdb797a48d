package search

import (
	"context"
	"fmt"
	"sort"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/ent/searchdb"
	"github.com/mediamesh/mediamesh/ent/searchdb/program"
	"github.com/mediamesh/mediamesh/ent/searchdb/schema"
	"github.com/mediamesh/mediamesh/gen/events/metadataevents"
)

// defaultLanguage is the language every category has a name in (metadata guarantees `en`).
const defaultLanguage = "en"

// categoryUpserted applies category.upserted: the category's slug and names are stored, unless
// the stored version is at least as new, and the published programs in the category and their
// episodes are indexed again with them.
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
	case searchdb.IsNotFound(err):
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
	return p.reindexCategory(ctx, id)
}

// categoryDeleted applies category.deleted: the category is forgotten, and the published
// programs that were in it and their episodes are indexed again without a category. Programs
// keep their category id; they show the category again once one with that id exists.
func (p *projection) categoryDeleted(ctx context.Context, aggregateID string) error {
	id, err := uuid.Parse(aggregateID)
	if err != nil {
		return fmt.Errorf("category id %q: %w", aggregateID, err)
	}
	if err := p.c.Category.DeleteOneID(id).Exec(ctx); err != nil {
		if searchdb.IsNotFound(err) {
			return nil // nothing indexed shows it
		}
		return fmt.Errorf("delete category %s: %w", id, err)
	}
	return p.reindexCategory(ctx, id)
}

// reindexCategory writes again the documents of the published programs in category id and of
// their episodes.
func (p *projection) reindexCategory(ctx context.Context, id uuid.UUID) error {
	programs, err := p.c.Program.Query().Where(program.CategoryID(id)).All(ctx)
	if err != nil {
		return fmt.Errorf("read the programs of category %s: %w", id, err)
	}
	return p.indexPrograms(ctx, programs, true)
}

// categoryName returns c's name in lang, falling back to English, then to the first name by
// language, then to the slug.
func categoryName(c *searchdb.Category, lang string) string {
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
