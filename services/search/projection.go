package search

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/ent/searchdb"
	"github.com/mediamesh/mediamesh/ent/searchdb/episode"
	"github.com/mediamesh/mediamesh/ent/searchdb/program"
	"github.com/mediamesh/mediamesh/gen/events/contentevents"
	"github.com/mediamesh/mediamesh/internal/readmodel"
)

// projection applies one event to the storage (c is bound to the event's transaction) and to the
// index, whose documents it writes with version when the transaction commits.
type projection struct {
	c       *searchdb.Client
	index   *pending
	log     *slog.Logger
	version int64
	// programs, when not nil, are the program rows already read or written in the transaction
	// (nil: none stored), shared by the events of a run (see run).
	programs map[uuid.UUID]*searchdb.Program
}

// program returns the stored program id, or nil when none is stored.
func (p *projection) program(ctx context.Context, id uuid.UUID) (*searchdb.Program, error) {
	if prog, ok := p.programs[id]; ok {
		return prog, nil
	}
	prog, err := p.c.Program.Get(ctx, id)
	if searchdb.IsNotFound(err) {
		prog, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	p.remember(id, prog)
	return prog, nil
}

// remember notes what is stored of program id in the run (nil: nothing).
func (p *projection) remember(id uuid.UUID, prog *searchdb.Program) {
	if p.programs != nil {
		p.programs[id] = prog
	}
}

// Published applies content.published: the snapshot is stored, and indexed (an episode only
// while its program is published).
func (p *projection) Published(ctx context.Context, e *contentevents.ContentPublished) error {
	at := e.PublishedAt
	if at.IsZero() {
		at = e.OccurredAt
	}
	return p.snapshot(ctx, e.AggregateType, &e.Snapshot, at)
}

// Updated applies content.updated: published content is stored and indexed again; content whose
// status is no longer published leaves the storage and the index.
func (p *projection) Updated(ctx context.Context, e *contentevents.ContentUpdated) error {
	return p.snapshot(ctx, e.AggregateType, &e.Snapshot, e.OccurredAt)
}

// snapshot applies a snapshot of content: stored and indexed while its status is published,
// removed (if it was stored) otherwise. publishedAt stands in for a snapshot without published_at
// that was never stored.
func (p *projection) snapshot(ctx context.Context, aggregateType string, snap *contentevents.ContentSnapshot, publishedAt time.Time) error {
	if snap.Status != contentevents.ContentStatusPublished {
		return p.Removed(ctx, aggregateType, snap.ID, snap.Version, readmodel.LeftPublished)
	}
	id, err := uuid.Parse(snap.ID)
	if err != nil {
		return fmt.Errorf("snapshot id %q: %w", snap.ID, err)
	}
	switch aggregateType {
	case contentevents.AggregateTypeProgram:
		return p.upsertProgram(ctx, id, snap, publishedAt)
	case contentevents.AggregateTypeEpisode:
		return p.upsertEpisode(ctx, id, snap, publishedAt)
	}
	return fmt.Errorf("unknown aggregate type %q", aggregateType)
}

// upsertProgram stores a published program snapshot unless a version at least as new is stored
// (or was removed), then indexes the program, and its published episodes when the program was
// not published before or changed what its episodes show.
func (p *projection) upsertProgram(ctx context.Context, id uuid.UUID, snap *contentevents.ContentSnapshot, publishedAt time.Time) error {
	old, err := p.c.Program.Get(ctx, id)
	item := readmodel.Item{Kind: "program", ID: id, Row: old.StoredVersion(), ReadErr: searchdb.MaskNotFound(err)}
	if newer, err := readmodel.Newer(ctx, p.log, p.c, item, "snapshot", snap.Version, true); err != nil || !newer {
		return err
	}
	if snap.Kind == nil {
		return fmt.Errorf("program snapshot %s has no kind", id)
	}
	categoryID, err := readmodel.OptionalID(snap.CategoryID)
	if err != nil {
		return fmt.Errorf("program %s: category_id: %w", id, err)
	}
	publishedAt = readmodel.PublishedAt(snap.PublishedAt, old.StoredPublishedAt(), publishedAt)
	var saved *searchdb.Program
	if old == nil {
		saved, err = p.c.Program.Create().SetID(id).
			SetKind(program.Kind(*snap.Kind)).SetTitle(snap.Title).SetNillableSummary(snap.Summary).
			SetLanguage(snap.Language).SetNillableCategoryID(categoryID).SetTags(tags(snap.Tags)).
			SetPublishedAt(utc(publishedAt)).SetVersion(snap.Version).Save(ctx)
		if err == nil {
			err = p.c.Unbury(ctx, id)
		}
	} else {
		saved, err = p.c.Program.UpdateOneID(id).
			SetKind(program.Kind(*snap.Kind)).SetTitle(snap.Title).SetLanguage(snap.Language).
			SetTags(tags(snap.Tags)).SetPublishedAt(utc(publishedAt)).SetVersion(snap.Version).
			SetOrClearSummary(snap.Summary).SetOrClearCategoryID(categoryID).Save(ctx)
	}
	if err != nil {
		return fmt.Errorf("store program %s: %w", id, err)
	}
	p.remember(id, saved)
	return p.indexPrograms(ctx, []*searchdb.Program{saved}, old == nil || episodesShowChange(old, saved))
}

// episodesShowChange reports whether a program changed what the documents of its episodes show
// of it: its title, kind or category.
func episodesShowChange(old, saved *searchdb.Program) bool {
	return old.Title != saved.Title || old.Kind != saved.Kind || !sameID(old.CategoryID, saved.CategoryID)
}

// upsertEpisode stores a published episode snapshot unless a version at least as new is stored
// (or was removed), then indexes it if its program is published.
func (p *projection) upsertEpisode(ctx context.Context, id uuid.UUID, snap *contentevents.ContentSnapshot, publishedAt time.Time) error {
	old, err := p.c.Episode.Get(ctx, id)
	item := readmodel.Item{Kind: "episode", ID: id, Row: old.StoredVersion(), ReadErr: searchdb.MaskNotFound(err)}
	if newer, err := readmodel.Newer(ctx, p.log, p.c, item, "snapshot", snap.Version, true); err != nil || !newer {
		return err
	}
	if snap.ProgramID == nil {
		return fmt.Errorf("episode snapshot %s has no program_id", id)
	}
	programID, err := uuid.Parse(*snap.ProgramID)
	if err != nil {
		return fmt.Errorf("episode %s: program_id %q: %w", id, *snap.ProgramID, err)
	}
	publishedAt = readmodel.PublishedAt(snap.PublishedAt, old.StoredPublishedAt(), publishedAt)
	var duration *int32
	if snap.DurationSeconds != nil {
		d := int32(*snap.DurationSeconds)
		duration = &d
	}
	var saved *searchdb.Episode
	if old == nil {
		saved, err = p.c.Episode.Create().SetID(id).SetProgramID(programID).
			SetTitle(snap.Title).SetNillableSummary(snap.Summary).SetLanguage(snap.Language).
			SetTags(tags(snap.Tags)).SetNillableDurationSeconds(duration).
			SetPublishedAt(utc(publishedAt)).SetVersion(snap.Version).Save(ctx)
		if err == nil {
			err = p.c.Unbury(ctx, id)
		}
	} else {
		saved, err = p.c.Episode.UpdateOneID(id).SetProgramID(programID).
			SetTitle(snap.Title).SetLanguage(snap.Language).SetTags(tags(snap.Tags)).
			SetPublishedAt(utc(publishedAt)).SetVersion(snap.Version).
			SetOrClearSummary(snap.Summary).SetOrClearDurationSeconds(duration).Save(ctx)
	}
	if err != nil {
		return fmt.Errorf("store episode %s: %w", id, err)
	}
	prog, err := p.program(ctx, programID)
	if err != nil {
		return fmt.Errorf("read program %s of episode %s: %w", programID, id, err)
	}
	if prog == nil {
		// Not searchable until its program is published. Should it have moved from a published
		// program, the document of its old place goes.
		if err := p.index.Delete(ctx, id.String()); err != nil {
			return fmt.Errorf("episode %s: %w", id, err)
		}
		return nil
	}
	return p.indexEpisode(ctx, saved, prog)
}

// Removed takes a program or episode out of the storage and the index at version
// (content.unpublished, content.deleted, or a snapshot that left the published status) and
// leaves a tombstone, so that an older snapshot cannot bring it back. A program's episodes leave
// the index with it; those of an unpublished program stay stored (they come back with the
// program), those of a deleted program go, since the CMS does not promise one event per episode.
func (p *projection) Removed(ctx context.Context, aggregateType, aggregateID string, version int64, why readmodel.Removal) error {
	id, err := uuid.Parse(aggregateID)
	if err != nil {
		return fmt.Errorf("aggregate id %q: %w", aggregateID, err)
	}
	var row *int64
	switch aggregateType {
	case contentevents.AggregateTypeProgram:
		row, err = readmodel.RowVersion(p.c.Program.Query().Where(program.ID(id)).Select(program.FieldVersion).Only(ctx))
	case contentevents.AggregateTypeEpisode:
		row, err = readmodel.RowVersion(p.c.Episode.Query().Where(episode.ID(id)).Select(episode.FieldVersion).Only(ctx))
	default:
		return fmt.Errorf("unknown aggregate type %q", aggregateType)
	}
	item := readmodel.Item{Kind: aggregateType, ID: id, Row: row, ReadErr: searchdb.MaskNotFound(err)}
	if newer, err := readmodel.Newer(ctx, p.log, p.c, item, "removal", version, why != readmodel.LeftPublished); err != nil || !newer {
		return err
	}
	if aggregateType == contentevents.AggregateTypeProgram {
		err = p.removeProgram(ctx, id, row != nil, why == readmodel.Deleted)
	} else {
		err = p.removeEpisode(ctx, id, row != nil)
	}
	if err != nil {
		return err
	}
	if err := p.c.Bury(ctx, id, version); err != nil {
		return fmt.Errorf("remove %s %s: %w", aggregateType, id, err)
	}
	return nil
}

// removeProgram deletes the stored program id (if stored) and, when withEpisodes, its stored
// episodes; the program and all its episodes leave the index.
func (p *projection) removeProgram(ctx context.Context, id uuid.UUID, stored, withEpisodes bool) error {
	if stored {
		if err := p.c.Program.DeleteOneID(id).Exec(ctx); err != nil {
			return fmt.Errorf("remove program %s: %w", id, err)
		}
	}
	p.remember(id, nil)
	if withEpisodes {
		if _, err := p.c.Episode.Delete().Where(episode.ProgramID(id)).Exec(ctx); err != nil {
			return fmt.Errorf("remove the episodes of program %s: %w", id, err)
		}
	}
	if err := p.index.DeleteProgram(ctx, id.String()); err != nil {
		return fmt.Errorf("remove program %s: %w", id, err)
	}
	return nil
}

// removeEpisode deletes the stored episode id (if stored) and its document.
func (p *projection) removeEpisode(ctx context.Context, id uuid.UUID, stored bool) error {
	if stored {
		if err := p.c.Episode.DeleteOneID(id).Exec(ctx); err != nil {
			return fmt.Errorf("remove episode %s: %w", id, err)
		}
	}
	if err := p.index.Delete(ctx, id.String()); err != nil {
		return fmt.Errorf("remove episode %s: %w", id, err)
	}
	return nil
}

// sameID reports whether two optional ids are equal.
func sameID(a, b *uuid.UUID) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}

// ptrValue returns *v, or the zero value for nil.
func ptrValue[T any](v *T) T {
	var zero T
	if v == nil {
		return zero
	}
	return *v
}

// tags returns the tags of a snapshot as stored: never nil, without empty or repeated tags.
func tags(in []string) []string {
	out := make([]string, 0, len(in))
	for _, t := range in {
		if t != "" && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

// utc returns t in UTC at microsecond precision, the precision of PostgreSQL timestamps, so a
// time reads back as it was written on every dialect.
func utc(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }
