package readmodel

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/gen/events/metadataevents"
)

// categoryName is a category's name in one language as a read model stores it: the shape of each
// service's CategoryNameRecord (generated from its contract).
type categoryName interface {
	~struct {
		Language string `json:"language"`
		Name     string `json:"name"`
	}
}

// Categories is where a read model keeps the taxonomy: each category's slug, its names by
// language and the version of the newest category.upserted applied. Each service's ent client
// implements it, with its own type of names N.
type Categories[N categoryName] interface {
	// CategoryVersion returns the version of the stored category id; found is false when none is.
	CategoryVersion(ctx context.Context, id uuid.UUID) (version int64, found bool, err error)
	// PutCategory stores category id: a new row when create, else an update of the stored one.
	PutCategory(ctx context.Context, id uuid.UUID, slug string, names []N, version int64, create bool) error
	// DeleteCategory deletes category id; found is false when none was stored.
	DeleteCategory(ctx context.Context, id uuid.UUID) (found bool, err error)
}

// UpsertCategory applies category.upserted to c: the category's slug and its names (the empty ones
// left out, by language), unless the stored version is at least as new; stored says whether it
// was written.
func UpsertCategory[N categoryName](ctx context.Context, log *slog.Logger, c Categories[N], e *metadataevents.CategoryUpserted) (id uuid.UUID, stored bool, err error) {
	id, err = uuid.Parse(e.AggregateID)
	if err != nil {
		return id, false, fmt.Errorf("category id %q: %w", e.AggregateID, err)
	}
	names := make([]N, 0, len(e.Names))
	for _, lang := range slices.Sorted(maps.Keys(e.Names)) {
		if name := e.Names[lang]; name != "" {
			names = append(names, N{Language: lang, Name: name})
		}
	}
	old, found, err := c.CategoryVersion(ctx, id)
	if err == nil && found && e.Version <= old {
		log.DebugContext(ctx, "category event ignored", "id", id, "version", e.Version, "stored", old)
		return id, false, nil
	}
	if err == nil {
		err = c.PutCategory(ctx, id, e.Slug, names, e.Version, !found)
	}
	if err != nil {
		return id, false, fmt.Errorf("store category %s: %w", id, err)
	}
	return id, true, nil
}

// DeleteCategory applies category.deleted of the category aggregateID to c; found says whether it
// was stored. Programs keep their category id; they show the category again once one with that id
// exists.
func DeleteCategory[N categoryName](ctx context.Context, c Categories[N], aggregateID string) (id uuid.UUID, found bool, err error) {
	id, err = uuid.Parse(aggregateID)
	if err != nil {
		return id, false, fmt.Errorf("category id %q: %w", aggregateID, err)
	}
	if found, err = c.DeleteCategory(ctx, id); err != nil {
		return id, false, fmt.Errorf("delete category %s: %w", id, err)
	}
	return id, found, nil
}

// DefaultLanguage is the language every category has a name in (metadata guarantees `en`).
const DefaultLanguage = "en"

// nameRecord is the shape of categoryName.
type nameRecord = struct {
	Language string `json:"language"`
	Name     string `json:"name"`
}

// CategoryName returns a category's name in lang from its names, falling back to English, then to
// the first name by language, then to its slug.
func CategoryName[N categoryName](names []N, slug, lang string) string {
	for _, want := range []string{lang, DefaultLanguage} {
		for _, n := range names {
			if r := nameRecord(n); r.Language == want {
				return r.Name
			}
		}
	}
	if len(names) > 0 {
		return nameRecord(names[0]).Name
	}
	return slug
}
