package search

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/ent/searchdb"
	"github.com/mediamesh/mediamesh/ent/searchdb/program"
	"github.com/mediamesh/mediamesh/ent/searchdb/schema"
	"github.com/mediamesh/mediamesh/gen/events/metadataevents"
	"github.com/mediamesh/mediamesh/internal/readmodel"
)

// CategoryUpserted applies category.upserted: the category's slug and names are stored, unless
// the stored version is at least as new, and the published programs in the category and their
// episodes are indexed again with them.
func (p *projection) CategoryUpserted(ctx context.Context, e *metadataevents.CategoryUpserted) error {
	id, stored, err := readmodel.UpsertCategory[schema.CategoryNameRecord](ctx, p.log, p.c, e)
	if err != nil || !stored {
		return err
	}
	return p.reindexCategory(ctx, id)
}

// CategoryDeleted applies category.deleted: the category is forgotten, and the published
// programs that were in it and their episodes are indexed again without a category. Programs
// keep their category id; they show the category again once one with that id exists.
func (p *projection) CategoryDeleted(ctx context.Context, aggregateID string) error {
	id, found, err := readmodel.DeleteCategory[schema.CategoryNameRecord](ctx, p.c, aggregateID)
	if err != nil || !found {
		return err // not found: nothing indexed shows it
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
	return readmodel.CategoryName(c.Names, c.Slug, lang)
}
