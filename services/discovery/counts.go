package discovery

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/ent/discoverydb"
	"github.com/mediamesh/mediamesh/ent/discoverydb/programcount"
)

// The program counts per category and per language (listPublicCategories, listPublicLanguages)
// are counters kept in the transaction of every program change, so those lists never count the
// programs table. They are keyed by category id, not by the categories table: a program may name
// a category whose category.upserted event has not arrived yet.

// recount moves the counts from old to updated, either of which may be nil (a program that
// enters or leaves the read model).
func (p *projection) recount(ctx context.Context, old, updated *discoverydb.Program) error {
	var oldLang, newLang string
	var oldCat, newCat *uuid.UUID
	if old != nil {
		oldLang, oldCat = old.Language, old.CategoryID
	}
	if updated != nil {
		newLang, newCat = updated.Language, updated.CategoryID
	}
	if oldLang != newLang {
		if err := p.count(ctx, programcount.DimensionLanguage, oldLang, -1); err != nil {
			return err
		}
		if err := p.count(ctx, programcount.DimensionLanguage, newLang, 1); err != nil {
			return err
		}
	}
	if idKey(oldCat) != idKey(newCat) {
		if err := p.count(ctx, programcount.DimensionCategory, idKey(oldCat), -1); err != nil {
			return err
		}
		if err := p.count(ctx, programcount.DimensionCategory, idKey(newCat), 1); err != nil {
			return err
		}
	}
	return nil
}

// count adds delta to the count of key in dimension; an empty key (no language or no category)
// is not counted.
func (p *projection) count(ctx context.Context, dim programcount.Dimension, key string, delta int32) error {
	if key == "" {
		return nil
	}
	var err error
	if delta > 0 {
		err = p.c.ProgramCount.Create().SetDimension(dim).SetKey(key).SetProgramCount(delta).
			OnConflictColumns(programcount.FieldDimension, programcount.FieldKey).AddProgramCount(delta).Exec(ctx)
	} else {
		err = p.c.ProgramCount.Update().Where(programcount.DimensionEQ(dim), programcount.Key(key)).AddProgramCount(delta).Exec(ctx)
	}
	if err != nil {
		return fmt.Errorf("count programs of %s %s: %w", dim, key, err)
	}
	return nil
}

// idKey is the count key of an optional category id.
func idKey(id *uuid.UUID) string {
	if id == nil {
		return ""
	}
	return id.String()
}
