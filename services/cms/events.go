package cms

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/ent/cmsdb"
	"github.com/mediamesh/mediamesh/ent/cmsdb/auditentry"
	"github.com/mediamesh/mediamesh/gen/events/contentevents"
	"github.com/mediamesh/mediamesh/internal/outbox"
	"github.com/mediamesh/mediamesh/internal/telemetry"
)

// record writes the content event and the audit entry of a change, in the change's transaction.
// before is nil for a creation, after nil for a purge.
//
// A change of content that was soft-deleted before it (the only one is dropping the reference to
// a deleted asset, see consumer.go; a purge has no after) gets its audit entry but no event: the
// consumers removed the content when it was deleted, and a snapshot, which says nothing of the
// deletion, would bring it back (its status is still the one it had before the delete).
func (s *Service) record(ctx context.Context, c *cmsdb.Client, tx *sql.Tx, a actor, action auditentry.Action, before, after *content, now time.Time) error {
	if before == nil || after == nil || !before.deleted {
		ev, err := contentEvent(ctx, a, action, before, after, now)
		if err != nil {
			return err
		}
		if err := outbox.Append(ctx, tx, s.db, ev, nil); err != nil {
			return fmt.Errorf("cms: write the %s event: %w", ev.EventType(), err)
		}
	}
	subject := after
	if subject == nil {
		subject = before
	}
	return writeAudit(ctx, c, a, subject.entity, []uuid.UUID{subject.id}, action, auditChanges(action, before, after), now)
}

// contentEvent returns the event of a change:
//   - created: content.created;
//   - updated, and scheduled (status scheduled): content.updated with the changed snapshot fields;
//   - published: content.published;
//   - unpublished and archived: content.unpublished when the content was public, else
//     content.updated (it was never visible, but its status changed);
//   - deleted: content.deleted soft; purged: content.deleted hard.
func contentEvent(ctx context.Context, a actor, action auditentry.Action, before, after *content, now time.Time) (outbox.Event, error) {
	subject := after
	if subject == nil {
		subject = before
	}
	h := header{eventID: uuid.Must(uuid.NewV7()).String(), at: now, aggregateID: subject.id.String(), aggregateType: string(subject.entity), traceID: telemetry.TraceID(ctx), actor: a.eventActor()}
	programID := uuidString(subject.programID)
	switch action {
	case auditentry.ActionCreated:
		return &contentevents.ContentCreated{EventID: h.eventID, OccurredAt: h.at, AggregateID: h.aggregateID, AggregateType: h.aggregateType, TraceID: h.traceID, ActorID: h.actor, Snapshot: after.snapshot}, nil
	case auditentry.ActionPublished:
		return &contentevents.ContentPublished{EventID: h.eventID, OccurredAt: h.at, AggregateID: h.aggregateID, AggregateType: h.aggregateType, TraceID: h.traceID, ActorID: h.actor, Snapshot: after.snapshot, PublishedAt: now}, nil
	case auditentry.ActionUnpublished, auditentry.ActionArchived:
		if before.status == statusPublished {
			return &contentevents.ContentUnpublished{EventID: h.eventID, OccurredAt: h.at, AggregateID: h.aggregateID, AggregateType: h.aggregateType, TraceID: h.traceID, ActorID: h.actor, ProgramID: programID, Version: int64(after.version)}, nil
		}
		return updated(h, before, after), nil
	case auditentry.ActionUpdated, auditentry.ActionScheduled:
		return updated(h, before, after), nil
	case auditentry.ActionDeleted:
		return &contentevents.ContentDeleted{EventID: h.eventID, OccurredAt: h.at, AggregateID: h.aggregateID, AggregateType: h.aggregateType, TraceID: h.traceID, ActorID: h.actor, ProgramID: programID, Soft: true, Version: int64(after.version)}, nil
	case auditentry.ActionPurged:
		// A purge does not change the row (it removes it); the event still carries a newer
		// version than the soft delete's, so consumers that compare versions apply it.
		return &contentevents.ContentDeleted{EventID: h.eventID, OccurredAt: h.at, AggregateID: h.aggregateID, AggregateType: h.aggregateType, TraceID: h.traceID, ActorID: h.actor, ProgramID: programID, Soft: false, Version: int64(before.version) + 1}, nil
	}
	return nil, fmt.Errorf("cms: no content event for the action %q", action)
}

// header holds the members every content event has.
type header struct {
	eventID       string
	at            time.Time
	aggregateID   string
	aggregateType string
	traceID       string
	actor         *string
}

func updated(h header, before, after *content) *contentevents.ContentUpdated {
	return &contentevents.ContentUpdated{EventID: h.eventID, OccurredAt: h.at, AggregateID: h.aggregateID, AggregateType: h.aggregateType, TraceID: h.traceID, ActorID: h.actor, Snapshot: after.snapshot, ChangedFields: changedFields(before.snapshot, after.snapshot)}
}

// changedFields names the snapshot fields that differ between two snapshots of the same content
// (the version always does and is not listed), sorted.
func changedFields(b, a contentevents.ContentSnapshot) []string {
	changed := []string{}
	add := func(name string, same bool) {
		if !same {
			changed = append(changed, name)
		}
	}
	add("category_id", equalPtr(b.CategoryID, a.CategoryID))
	add("cover_asset_id", equalPtr(b.CoverAssetID, a.CoverAssetID))
	add("duration_seconds", equalPtr(b.DurationSeconds, a.DurationSeconds))
	add("episode_number", equalPtr(b.EpisodeNumber, a.EpisodeNumber))
	add("extra", slices.Equal(b.Extra, a.Extra))
	add("kind", equalPtr(b.Kind, a.Kind))
	add("language", b.Language == a.Language)
	add("media_asset_id", equalPtr(b.MediaAssetID, a.MediaAssetID))
	add("program_id", equalPtr(b.ProgramID, a.ProgramID))
	add("published_at", equalTime(b.PublishedAt, a.PublishedAt))
	add("season_number", equalPtr(b.SeasonNumber, a.SeasonNumber))
	add("slug", equalPtr(b.Slug, a.Slug))
	add("status", b.Status == a.Status)
	add("summary", equalPtr(b.Summary, a.Summary))
	add("tags", slices.Equal(b.Tags, a.Tags))
	add("thumbnail_asset_id", equalPtr(b.ThumbnailAssetID, a.ThumbnailAssetID))
	add("title", b.Title == a.Title)
	return changed
}

func equalPtr[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func equalTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}
