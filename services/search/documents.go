package search

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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

// write upserts docs into the index (when the event's transaction commits; see pending).
func (p *projection) write(ctx context.Context, docs []index.Doc) error {
	if len(docs) == 0 {
		return nil
	}
	if err := p.withPopularity(ctx, docs); err != nil {
		return err
	}
	return p.index.UpsertBatch(ctx, docs)
}

// writeDocs upserts docs into idx. A document the index refuses as invalid (content that passed
// the CMS but not the index's limits, which no retry can fix) is logged and kept out of the index,
// and so is any older version of it; the other documents are written.
func writeDocs(ctx context.Context, idx index.Index, log *slog.Logger, docs []index.Doc) error {
	err := idx.UpsertBatch(ctx, docs)
	if !errors.Is(err, index.ErrInvalidDocument) {
		if err != nil {
			return fmt.Errorf("index %d documents: %w", len(docs), err)
		}
		return nil
	}
	for _, d := range docs {
		err := idx.Upsert(ctx, d)
		switch {
		case errors.Is(err, index.ErrInvalidDocument):
			log.WarnContext(ctx, "document left out of the index", "id", d.ID, "type", d.Type, "error", err)
			if err := idx.Delete(ctx, d.ID); err != nil {
				return fmt.Errorf("remove invalid document %s: %w", d.ID, err)
			}
		case err != nil:
			return fmt.Errorf("index document %s: %w", d.ID, err)
		}
	}
	return nil
}

// pending holds the index writes of the events applied in one transaction, in order, and makes
// them when flushed, just before the commit: consecutive upserts as one batch, so a run of events
// costs one index batch instead of one per event. (The index is not part of the transaction; its
// versions make a write that outlives a rollback harmless, see tick.)
type pending struct {
	index index.Index
	log   *slog.Logger
	ops   []indexOp
}

// indexOp is one pending index write: docs to upsert, or a document (episode) or a program with
// its episodes to delete.
type indexOp struct {
	docs    []index.Doc
	episode string
	program string
}

// UpsertBatch queues docs; it never fails (flush reports what the index says).
func (w *pending) UpsertBatch(_ context.Context, docs []index.Doc) error {
	if n := len(w.ops); n > 0 && w.ops[n-1].docs != nil {
		w.ops[n-1].docs = append(w.ops[n-1].docs, docs...)
		return nil
	}
	w.ops = append(w.ops, indexOp{docs: slices.Clone(docs)})
	return nil
}

// Delete queues the removal of document id.
func (w *pending) Delete(_ context.Context, id string) error {
	w.ops = append(w.ops, indexOp{episode: id})
	return nil
}

// DeleteProgram queues the removal of program id and its episodes.
func (w *pending) DeleteProgram(_ context.Context, id string) error {
	w.ops = append(w.ops, indexOp{program: id})
	return nil
}

// flush makes the queued writes in order.
func (w *pending) flush(ctx context.Context) error {
	for _, op := range w.ops {
		var err error
		switch {
		case op.docs != nil:
			err = writeDocs(ctx, w.index, w.log, op.docs)
		case op.program != "":
			if err = w.index.DeleteProgram(ctx, op.program); err != nil {
				err = fmt.Errorf("remove program %s: %w", op.program, err)
			}
		default:
			if err = w.index.Delete(ctx, op.episode); err != nil {
				err = fmt.Errorf("remove document %s: %w", op.episode, err)
			}
		}
		if err != nil {
			return err
		}
	}
	w.ops = w.ops[:0]
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
