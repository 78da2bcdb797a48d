package cms

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/ent/cmsdb"
	"github.com/mediamesh/mediamesh/ent/cmsdb/episode"
	"github.com/mediamesh/mediamesh/ent/cmsdb/program"
	"github.com/mediamesh/mediamesh/gen/events/mediaevents"
	"github.com/mediamesh/mediamesh/gen/events/metadataevents"
	"github.com/mediamesh/mediamesh/internal/eventbus"
	"github.com/mediamesh/mediamesh/internal/inbox"
)

// Topics returns the topics the service consumes: media.events, for deleted assets, and
// metadata.events, for deleted categories.
func (s *Service) Topics() []string {
	return []string{mediaevents.TopicMediaEvents, metadataevents.TopicMetadataEvents}
}

// HandleEvent applies one message of Topics. An asset.deleted event drops the reference to the
// asset from every program (cover_asset_id) and episode (media_asset_id, thumbnail_asset_id) that
// has it, soft-deleted ones included, so that no reference dangles: each is an update by the
// system through the service's own update path, with a new version, its audit entry and its
// content.updated event (none for soft-deleted content, see record). All of it commits in one
// transaction with the inbox record of the event id, so a redelivered event changes nothing.
// Other event types are ignored; a message that cannot be decoded is an error (the subscriber
// retries, then dead-letters it).
//
// A category.deleted event drops the category from every program that still has it. The metadata
// service refuses to delete a category that content uses (it counts them from the content
// events), so this finds nothing unless a write set the category in the instant between that
// count and the delete; then the reference is cleared the same way, so that none dangles.
func (s *Service) HandleEvent(ctx context.Context, m eventbus.Message) error {
	eventType, err := eventbus.EventType(m, mediaevents.EventTypeForFingerprint, metadataevents.EventTypeForFingerprint)
	if err != nil {
		return fmt.Errorf("cms: %s message %q: %w", m.Topic, m.Key, err)
	}
	switch eventType {
	case mediaevents.TypeAssetDeleted:
	case metadataevents.TypeCategoryDeleted:
		return s.handleCategoryDeleted(ctx, m)
	default:
		s.log.DebugContext(ctx, "event ignored", "event_type", eventType, "topic", m.Topic, "key", m.Key)
		return nil
	}
	var e mediaevents.AssetDeleted
	if err := eventbus.Decode(m.Value, e.AvroSchema(), &e); err != nil {
		return fmt.Errorf("cms: %s event %s: %w", eventType, m.Headers[eventbus.HeaderEventID], err)
	}
	if e.EventID == "" {
		return fmt.Errorf("cms: %s event without event_id", eventType)
	}
	assetID, err := uuid.Parse(e.AggregateID)
	if err != nil {
		return fmt.Errorf("cms: %s event %s: aggregate_id: %w", eventType, e.EventID, err)
	}
	// A compare-and-swap that finds a row changed by a concurrent request rolls everything back,
	// the inbox record included; the event is then applied again from a fresh read.
	for attempt := 1; ; attempt++ {
		var dropped int
		applied, err := inbox.Apply(ctx, s.db, ConsumerGroup, e.EventID, func(tx *sql.Tx) error {
			var err error
			dropped, err = s.dropAsset(ctx, tx, assetID, s.clock())
			return err
		})
		switch {
		case err == nil:
			if applied && dropped > 0 {
				s.log.InfoContext(ctx, "deleted asset dropped from content", "asset", assetID, "content", dropped)
			}
			return nil
		case !errors.Is(err, errStale) || attempt == writeAttempts:
			return fmt.Errorf("cms: apply %s event %s: %w", eventType, e.EventID, err)
		}
	}
}

// handleCategoryDeleted applies a category.deleted event: see HandleEvent.
func (s *Service) handleCategoryDeleted(ctx context.Context, m eventbus.Message) error {
	var e metadataevents.CategoryDeleted
	if err := eventbus.Decode(m.Value, e.AvroSchema(), &e); err != nil {
		return fmt.Errorf("cms: category.deleted event %s: %w", m.Headers[eventbus.HeaderEventID], err)
	}
	if e.EventID == "" {
		return errors.New("cms: category.deleted event without event_id")
	}
	id, err := uuid.Parse(e.AggregateID)
	if err != nil {
		return fmt.Errorf("cms: category.deleted event %s: aggregate_id: %w", e.EventID, err)
	}
	for attempt := 1; ; attempt++ {
		var dropped int
		applied, err := inbox.Apply(ctx, s.db, ConsumerGroup, e.EventID, func(tx *sql.Tx) error {
			var err error
			dropped, err = s.dropCategory(ctx, tx, id, s.clock())
			return err
		})
		switch {
		case err == nil:
			if applied && dropped > 0 {
				s.log.WarnContext(ctx, "deleted category dropped from content that a write gave it while it was deleted", "category", id, "content", dropped)
			}
			return nil
		case !errors.Is(err, errStale) || attempt == writeAttempts:
			return fmt.Errorf("cms: apply category.deleted event %s: %w", e.EventID, err)
		}
	}
}

// dropCategory clears the category id from every program that has it within tx, as the system,
// and returns how many it changed.
func (s *Service) dropCategory(ctx context.Context, tx *sql.Tx, id uuid.UUID, now time.Time) (int, error) {
	c := cmsdb.NewClient(cmsdb.Driver(s.db.EntTx(tx)))
	programs, err := c.Program.Query().Where(program.CategoryID(id)).Order(program.ByID()).All(ctx)
	if err != nil {
		return 0, fmt.Errorf("read the programs in category %s: %w", id, err)
	}
	for _, cur := range programs {
		next := *cur
		next.CategoryID = nil
		if _, err := s.updateProgram(ctx, c, tx, systemActor, cur, &next, now); err != nil {
			return 0, fmt.Errorf("drop the category of program %s: %w", cur.ID, err)
		}
	}
	return len(programs), nil
}

// dropAsset clears every reference to the asset id within tx, as the system, and returns how many
// programs and episodes it changed.
func (s *Service) dropAsset(ctx context.Context, tx *sql.Tx, id uuid.UUID, now time.Time) (int, error) {
	c := cmsdb.NewClient(cmsdb.Driver(s.db.EntTx(tx)))
	programs, err := c.Program.Query().Where(program.CoverAssetID(id)).Order(program.ByID()).All(ctx)
	if err != nil {
		return 0, fmt.Errorf("read the programs with cover %s: %w", id, err)
	}
	for _, cur := range programs {
		next := *cur
		next.CoverAssetID = nil
		if _, err := s.updateProgram(ctx, c, tx, systemActor, cur, &next, now); err != nil {
			return 0, fmt.Errorf("drop the cover of program %s: %w", cur.ID, err)
		}
	}
	episodes, err := c.Episode.Query().Where(episode.Or(episode.MediaAssetID(id), episode.ThumbnailAssetID(id))).Order(episode.ByID()).All(ctx)
	if err != nil {
		return 0, fmt.Errorf("read the episodes with asset %s: %w", id, err)
	}
	for _, cur := range episodes {
		next := *cur
		if equalPtr(next.MediaAssetID, &id) {
			next.MediaAssetID = nil
		}
		if equalPtr(next.ThumbnailAssetID, &id) {
			next.ThumbnailAssetID = nil
		}
		if _, err := s.updateEpisode(ctx, c, tx, systemActor, cur, &next, now); err != nil {
			return 0, fmt.Errorf("drop asset %s from episode %s: %w", id, cur.ID, err)
		}
	}
	return len(programs) + len(episodes), nil
}
