package discovery

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/ent/discoverydb"
	"github.com/mediamesh/mediamesh/ent/discoverydb/episode"
	"github.com/mediamesh/mediamesh/ent/discoverydb/program"
	"github.com/mediamesh/mediamesh/gen/events/contentevents"
	"github.com/mediamesh/mediamesh/internal/readmodel"
)

// projection applies events to the read model inside one transaction (c is bound to it).
type projection struct {
	c       *discoverydb.Client
	titles  *titleCollator
	log     *slog.Logger
	changed *changes       // what the applied events changed, for the cache
	eng     *engagementRun // the engagement events of the run, written together at its end
}

// Published applies content.published: the snapshot is stored (an episode even while its program
// is not published; it stays invisible until the program is).
func (p *projection) Published(ctx context.Context, e *contentevents.ContentPublished) error {
	at := e.PublishedAt
	if at.IsZero() {
		at = e.OccurredAt
	}
	return p.upsert(ctx, e.AggregateType, &e.Snapshot, at, e.OccurredAt, true)
}

// Updated applies content.updated: a published item of the read model takes the new snapshot,
// one whose status is no longer published leaves it. Items not in the read model stay out.
func (p *projection) Updated(ctx context.Context, e *contentevents.ContentUpdated) error {
	if e.Snapshot.Status != contentevents.ContentStatusPublished {
		return p.Removed(ctx, e.AggregateType, e.Snapshot.ID, e.Snapshot.Version, readmodel.LeftPublished)
	}
	return p.upsert(ctx, e.AggregateType, &e.Snapshot, e.OccurredAt, e.OccurredAt, false)
}

// upsert stores snap unless a version at least as new is stored (or was removed); insert says
// whether an item not in the read model is added. publishedAt stands in for a snapshot without
// published_at; occurredAt is when the change happened.
func (p *projection) upsert(ctx context.Context, aggregateType string, snap *contentevents.ContentSnapshot, publishedAt, occurredAt time.Time, insert bool) error {
	id, err := uuid.Parse(snap.ID)
	if err != nil {
		return fmt.Errorf("snapshot id %q: %w", snap.ID, err)
	}
	switch aggregateType {
	case contentevents.AggregateTypeProgram:
		return p.upsertProgram(ctx, id, snap, publishedAt, occurredAt, insert)
	case contentevents.AggregateTypeEpisode:
		return p.upsertEpisode(ctx, id, snap, publishedAt, insert)
	}
	return fmt.Errorf("unknown aggregate type %q", aggregateType)
}

func (p *projection) upsertProgram(ctx context.Context, id uuid.UUID, snap *contentevents.ContentSnapshot, publishedAt, occurredAt time.Time, insert bool) error {
	old, err := p.c.Program.Get(ctx, id)
	item := readmodel.Item{Kind: "program", ID: id, Row: old.StoredVersion(), ReadErr: discoverydb.MaskNotFound(err)}
	if newer, err := readmodel.Newer(ctx, p.log, p.c, item, "snapshot", snap.Version, insert); err != nil || !newer {
		return err
	}
	if snap.Kind == nil || snap.Slug == nil {
		return fmt.Errorf("program snapshot %s has no kind or slug", id)
	}
	categoryID, err := readmodel.OptionalID(snap.CategoryID)
	if err != nil {
		return fmt.Errorf("program %s: category_id: %w", id, err)
	}
	coverID, err := readmodel.OptionalID(snap.CoverAssetID)
	if err != nil {
		return fmt.Errorf("program %s: cover_asset_id: %w", id, err)
	}
	publishedAt = readmodel.PublishedAt(snap.PublishedAt, old.StoredPublishedAt(), publishedAt)
	tags := snap.Tags
	if tags == nil {
		tags = []string{}
	}
	var saved *discoverydb.Program
	if old == nil {
		saved, err = p.c.Program.Create().SetID(id).
			SetKind(program.Kind(*snap.Kind)).SetTitle(snap.Title).SetTitleKey(p.titles.key(snap.Language, snap.Title)).
			SetSlug(*snap.Slug).SetNillableSummary(snap.Summary).SetLanguage(snap.Language).SetNillableCategoryID(categoryID).
			SetNillableCoverAssetID(coverID).
			SetTags(tags).SetTagKeys(tagKeys(tags)).SetPublishedAt(utc(publishedAt)).SetUpdatedAt(utc(occurredAt)).
			SetVersion(snap.Version).Save(ctx)
		if err == nil {
			err = p.c.Unbury(ctx, id)
		}
		if err == nil {
			err = p.countEpisodes(ctx, id)
		}
	} else {
		saved, err = p.c.Program.UpdateOneID(id).
			SetKind(program.Kind(*snap.Kind)).SetTitle(snap.Title).SetTitleKey(p.titles.key(snap.Language, snap.Title)).
			SetSlug(*snap.Slug).SetLanguage(snap.Language).
			SetTags(tags).SetTagKeys(tagKeys(tags)).SetPublishedAt(utc(publishedAt)).SetUpdatedAt(utc(occurredAt)).
			SetVersion(snap.Version).
			SetOrClearSummary(snap.Summary).SetOrClearCategoryID(categoryID).SetOrClearCoverAssetID(coverID).Save(ctx)
		if err == nil && saved.EpisodeCount == nil { // a row from before the column
			err = p.countEpisodes(ctx, id)
		}
	}
	if err != nil {
		return fmt.Errorf("store program %s: %w", id, err)
	}
	p.changed.everything() // its episodes' pages show the program too
	return p.recount(ctx, old, saved)
}

func (p *projection) upsertEpisode(ctx context.Context, id uuid.UUID, snap *contentevents.ContentSnapshot, publishedAt time.Time, insert bool) error {
	old, err := p.c.Episode.Get(ctx, id)
	item := readmodel.Item{Kind: "episode", ID: id, Row: old.StoredVersion(), ReadErr: discoverydb.MaskNotFound(err)}
	if newer, err := readmodel.Newer(ctx, p.log, p.c, item, "snapshot", snap.Version, insert); err != nil || !newer {
		return err
	}
	if snap.ProgramID == nil || snap.EpisodeNumber == nil {
		return fmt.Errorf("episode snapshot %s has no program_id or episode_number", id)
	}
	programID, err := uuid.Parse(*snap.ProgramID)
	if err != nil {
		return fmt.Errorf("episode %s: program_id %q: %w", id, *snap.ProgramID, err)
	}
	thumbnailID, err := readmodel.OptionalID(snap.ThumbnailAssetID)
	if err != nil {
		return fmt.Errorf("episode %s: thumbnail_asset_id: %w", id, err)
	}
	mediaID, err := readmodel.OptionalID(snap.MediaAssetID)
	if err != nil {
		return fmt.Errorf("episode %s: media_asset_id: %w", id, err)
	}
	publishedAt = readmodel.PublishedAt(snap.PublishedAt, old.StoredPublishedAt(), publishedAt)
	season, seasonKey := (*int32)(nil), int32(0)
	if snap.SeasonNumber != nil {
		n := int32(*snap.SeasonNumber)
		season, seasonKey = &n, n
	}
	duration := (*int32)(nil)
	if snap.DurationSeconds != nil {
		d := int32(*snap.DurationSeconds)
		duration = &d
	}
	if old == nil {
		err = p.c.Episode.Create().SetID(id).SetProgramID(programID).
			SetNillableSeasonNumber(season).SetSeasonKey(seasonKey).SetEpisodeNumber(int32(*snap.EpisodeNumber)).
			SetTitle(snap.Title).SetNillableSummary(snap.Summary).SetLanguage(snap.Language).
			SetNillableDurationSeconds(duration).SetNillableThumbnailAssetID(thumbnailID).SetNillableMediaAssetID(mediaID).
			SetPublishedAt(utc(publishedAt)).SetVersion(snap.Version).Exec(ctx)
		if err == nil {
			err = p.c.Unbury(ctx, id)
		}
		if err == nil {
			err = p.addEpisodes(ctx, programID, 1)
		}
	} else {
		err = p.c.Episode.UpdateOneID(id).SetProgramID(programID).
			SetSeasonKey(seasonKey).SetEpisodeNumber(int32(*snap.EpisodeNumber)).
			SetTitle(snap.Title).SetLanguage(snap.Language).SetPublishedAt(utc(publishedAt)).SetVersion(snap.Version).
			SetOrClearSeasonNumber(season).SetOrClearSummary(snap.Summary).SetOrClearDurationSeconds(duration).SetOrClearThumbnailAssetID(thumbnailID).SetOrClearMediaAssetID(mediaID).Exec(ctx)
		if err == nil && old.ProgramID != programID {
			if err = p.addEpisodes(ctx, old.ProgramID, -1); err == nil {
				err = p.addEpisodes(ctx, programID, 1)
			}
		}
	}
	if err != nil {
		return fmt.Errorf("store episode %s: %w", id, err)
	}
	p.changed.episode(id, programID)
	if old != nil {
		p.changed.episode(id, old.ProgramID)
	}
	return nil
}

// countEpisodes sets the episode count of the stored program id from the stored episodes.
func (p *projection) countEpisodes(ctx context.Context, id uuid.UUID) error {
	n, err := p.c.Episode.Query().Where(episode.ProgramID(id)).Count(ctx)
	if err != nil {
		return fmt.Errorf("count the episodes of program %s: %w", id, err)
	}
	return p.c.Program.UpdateOneID(id).SetEpisodeCount(int32(n)).Exec(ctx)
}

// addEpisodes adds delta to the episode count of program id, when it is stored and counted.
func (p *projection) addEpisodes(ctx context.Context, id uuid.UUID, delta int32) error {
	err := p.c.Program.Update().Where(program.ID(id), program.EpisodeCountNotNil()).AddEpisodeCount(delta).Exec(ctx)
	if err != nil {
		return fmt.Errorf("count the episodes of program %s: %w", id, err)
	}
	return nil
}

// Removed takes a program or episode out of the read model at version (content.unpublished,
// content.deleted, or an update that left the published status) and leaves a tombstone, so an
// older snapshot cannot bring it back. The episodes of an unpublished program stay stored but
// invisible (they come back with the program); those of a deleted program go, since the CMS does
// not promise one event per episode.
func (p *projection) Removed(ctx context.Context, aggregateType, aggregateID string, version int64, why readmodel.Removal) error {
	id, err := uuid.Parse(aggregateID)
	if err != nil {
		return fmt.Errorf("aggregate id %q: %w", aggregateID, err)
	}
	var (
		oldProgram *discoverydb.Program
		oldEpisode *discoverydb.Episode
		row        *int64
	)
	switch aggregateType {
	case contentevents.AggregateTypeProgram:
		oldProgram, err = p.c.Program.Get(ctx, id)
		row = oldProgram.StoredVersion()
	case contentevents.AggregateTypeEpisode:
		oldEpisode, err = p.c.Episode.Query().Where(episode.ID(id)).Select(episode.FieldVersion, episode.FieldProgramID).Only(ctx)
		row = oldEpisode.StoredVersion()
	default:
		return fmt.Errorf("unknown aggregate type %q", aggregateType)
	}
	item := readmodel.Item{Kind: aggregateType, ID: id, Row: row, ReadErr: discoverydb.MaskNotFound(err)}
	if newer, err := readmodel.Newer(ctx, p.log, p.c, item, "removal", version, why != readmodel.LeftPublished); err != nil || !newer {
		return err
	}
	if aggregateType == contentevents.AggregateTypeProgram {
		p.changed.everything()
	} else if oldEpisode != nil {
		p.changed.episode(id, oldEpisode.ProgramID)
	}
	switch {
	case oldProgram != nil:
		if err := p.c.Program.DeleteOneID(id).Exec(ctx); err != nil {
			return fmt.Errorf("remove program %s: %w", id, err)
		}
		if err := p.recount(ctx, oldProgram, nil); err != nil {
			return err
		}
	case oldEpisode != nil:
		if err := p.c.Episode.DeleteOneID(id).Exec(ctx); err != nil {
			return fmt.Errorf("remove episode %s: %w", id, err)
		}
		if err := p.addEpisodes(ctx, oldEpisode.ProgramID, -1); err != nil {
			return err
		}
	}
	if err := p.c.Bury(ctx, id, version); err != nil {
		return fmt.Errorf("remove %s %s: %w", aggregateType, id, err)
	}
	if why == readmodel.Deleted && aggregateType == contentevents.AggregateTypeProgram {
		if _, err := p.c.Episode.Delete().Where(episode.ProgramID(id)).Exec(ctx); err != nil {
			return fmt.Errorf("remove the episodes of program %s: %w", id, err)
		}
	}
	return nil
}

// utc returns t in UTC at microsecond precision, the precision of PostgreSQL timestamps, so a
// time reads back as it was written on every dialect.
func utc(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }
