package search

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/ent/searchdb"
	"github.com/mediamesh/mediamesh/ent/searchdb/category"
	"github.com/mediamesh/mediamesh/ent/searchdb/episode"
	"github.com/mediamesh/mediamesh/services/search/index"
)

// idChunk bounds the ids of one IN list, well below the parameter limits of SQLite and
// PostgreSQL.
const idChunk = 500

// indexPrograms writes the documents of the stored (published) programs and, when withEpisodes,
// of their stored episodes.
func (p *projection) indexPrograms(ctx context.Context, programs []*searchdb.Program, withEpisodes bool) error {
	if len(programs) == 0 {
		return nil
	}
	cats, err := p.categories(ctx, programs)
	if err != nil {
		return err
	}
	docs := make([]index.Doc, 0, len(programs))
	byID := make(map[uuid.UUID]*searchdb.Program, len(programs))
	for _, pr := range programs {
		byID[pr.ID] = pr
		docs = append(docs, programDoc(pr, cats[ptrValue(pr.CategoryID)], p.version))
	}
	if withEpisodes {
		ids := make([]uuid.UUID, 0, len(programs))
		for _, pr := range programs {
			ids = append(ids, pr.ID)
		}
		for chunk := range slices.Chunk(ids, idChunk) {
			episodes, err := p.c.Episode.Query().Where(episode.ProgramIDIn(chunk...)).All(ctx)
			if err != nil {
				return fmt.Errorf("read the episodes of %d programs: %w", len(chunk), err)
			}
			for _, e := range episodes {
				pr := byID[e.ProgramID]
				docs = append(docs, episodeDoc(e, pr, cats[ptrValue(pr.CategoryID)], p.version))
			}
		}
	}
	return p.write(ctx, docs)
}

// indexEpisode writes the document of the stored episode e of the stored program prog.
func (p *projection) indexEpisode(ctx context.Context, e *searchdb.Episode, prog *searchdb.Program) error {
	cats, err := p.categories(ctx, []*searchdb.Program{prog})
	if err != nil {
		return err
	}
	return p.write(ctx, []index.Doc{episodeDoc(e, prog, cats[ptrValue(prog.CategoryID)], p.version)})
}

// categories loads the stored categories of programs, keyed by id.
func (p *projection) categories(ctx context.Context, programs []*searchdb.Program) (map[uuid.UUID]*searchdb.Category, error) {
	seen := map[uuid.UUID]bool{}
	var ids []uuid.UUID
	for _, pr := range programs {
		if pr.CategoryID != nil && !seen[*pr.CategoryID] {
			seen[*pr.CategoryID] = true
			ids = append(ids, *pr.CategoryID)
		}
	}
	out := make(map[uuid.UUID]*searchdb.Category, len(ids))
	for chunk := range slices.Chunk(ids, idChunk) {
		rows, err := p.c.Category.Query().Where(category.IDIn(chunk...)).All(ctx)
		if err != nil {
			return nil, fmt.Errorf("read categories: %w", err)
		}
		for _, c := range rows {
			out[c.ID] = c
		}
	}
	return out, nil
}

// write upserts docs into the index. A document the index refuses as invalid (content that
// passed the CMS but not the index's limits, which no retry can fix) is logged and kept out of
// the index, and so is any older version of it; the other documents are written.
func (p *projection) write(ctx context.Context, docs []index.Doc) error {
	if len(docs) == 0 {
		return nil
	}
	err := p.index.UpsertBatch(ctx, docs)
	if !errors.Is(err, index.ErrInvalidDocument) {
		if err != nil {
			return fmt.Errorf("index %d documents: %w", len(docs), err)
		}
		return nil
	}
	for _, d := range docs {
		err := p.index.Upsert(ctx, d)
		switch {
		case errors.Is(err, index.ErrInvalidDocument):
			p.log.WarnContext(ctx, "document left out of the index", "id", d.ID, "type", d.Type, "error", err)
			if err := p.index.Delete(ctx, d.ID); err != nil {
				return fmt.Errorf("remove invalid document %s: %w", d.ID, err)
			}
		case err != nil:
			return fmt.Errorf("index document %s: %w", d.ID, err)
		}
	}
	return nil
}

// programDoc returns the index document of a stored program in category cat (nil when it has
// none, or its category is not known).
func programDoc(pr *searchdb.Program, cat *searchdb.Category, version int64) index.Doc {
	d := index.Doc{
		ID: pr.ID.String(), Type: index.TypeProgram, Kind: string(pr.Kind),
		Title: pr.Title, Summary: ptrValue(pr.Summary), Tags: pr.Tags, Language: pr.Language,
		PublishedAt: pr.PublishedAt, Version: version,
	}
	setCategory(&d, cat)
	return d
}

// episodeDoc returns the index document of a stored episode of the stored program pr, whose
// category is cat: it carries the program's title and kind, and the category's name in the
// episode's language.
func episodeDoc(e *searchdb.Episode, pr *searchdb.Program, cat *searchdb.Category, version int64) index.Doc {
	d := index.Doc{
		ID: e.ID.String(), Type: index.TypeEpisode, ProgramID: pr.ID.String(), ProgramTitle: pr.Title,
		Kind: string(pr.Kind), Title: e.Title, Summary: ptrValue(e.Summary), Tags: e.Tags,
		Language: e.Language, DurationSeconds: int(ptrValue(e.DurationSeconds)),
		PublishedAt: e.PublishedAt, Version: version,
	}
	setCategory(&d, cat)
	return d
}

// setCategory fills the category of d from cat, with its name in d's language; nothing when
// cat is nil.
func setCategory(d *index.Doc, cat *searchdb.Category) {
	if cat == nil {
		return
	}
	d.CategoryID, d.CategorySlug, d.CategoryName = cat.ID.String(), cat.Slug, categoryName(cat, d.Language)
}
