package discovery

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/mediamesh/mediamesh/gen/events/authevents"
	"github.com/mediamesh/mediamesh/gen/events/contentevents"
	"github.com/mediamesh/mediamesh/gen/events/discoveryevents"
	"github.com/mediamesh/mediamesh/gen/events/mediaevents"
	"github.com/mediamesh/mediamesh/gen/events/metadataevents"
	"github.com/mediamesh/mediamesh/gen/events/searchevents"
	"github.com/mediamesh/mediamesh/internal/eventbus"
	"github.com/mediamesh/mediamesh/internal/inbox"
	"github.com/mediamesh/mediamesh/internal/outbox"
)

// change is a decoded event that affects the read model: its id, for the inbox, and its effect.
type change struct {
	eventID string
	apply   func(ctx context.Context, p *projection) error
}

// HandleEvent applies one message of Topics to the read model (see HandleBatch).
func (s *Service) HandleEvent(ctx context.Context, m eventbus.Message) error {
	return s.HandleBatch(ctx, []eventbus.Message{m})
}

// HandleBatch applies messages of Topics to the read model in one transaction, in order: all of
// them or, on an error, none (the subscriber then hands them over one by one). It is idempotent:
// an event id seen before changes nothing, and a snapshot not newer than the stored version is
// ignored. A message of an event type the read model does not use is ignored; one that cannot be
// decoded is an error (the subscriber retries, then dead-letters it).
func (s *Service) HandleBatch(ctx context.Context, msgs []eventbus.Message) error {
	events, err := inbox.DecodeRun(ctx, s.log, decoder, msgs)
	if err != nil || len(events) == 0 {
		return err
	}
	applied := 0
	var changed changes
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		changed = changes{}
		p := &projection{c: s.inTx(tx), titles: s.titles, log: s.log, changed: &changed, eng: &engagementRun{}}
		var err error
		applied, err = inbox.ApplyRun(ctx, s.db, tx, ConsumerGroup, events, len(msgs) > 1, func(ctx context.Context, e inbox.Event[change]) error {
			if err := e.Change.apply(ctx, p); err != nil {
				return fmt.Errorf("discovery: apply %s event %s: %w", e.EventType, e.ID, err)
			}
			switch e.Message.Topic {
			case contentevents.TopicContentEvents:
				changed.catalogue = true
			case metadataevents.TopicMetadataEvents, mediaevents.TopicMediaEvents: // categories and assets show anywhere
				changed.everything()
			case discoveryevents.TopicDiscoveryEvents:
				changed.rankings = true
			}
			switch e.EventType { // and an asset made private (assetUpdated)
			case contentevents.TypeContentUnpublished, contentevents.TypeContentDeleted, metadataevents.TypeCategoryDeleted,
				mediaevents.TypeAssetDeleted:
				changed.takedown = true
			}
			return nil
		})
		if err != nil {
			return err
		}
		if err := p.flushEngagement(ctx); err != nil {
			return err
		}
		if len(p.eng.popularity) == 0 {
			return nil
		}
		// Counting the same events again (a replay) emits the same events: the outbox keeps one.
		fresh, err := s.notInOutbox(ctx, tx, p.eng.popularity, popularityEventID)
		if err != nil {
			return err
		}
		return outbox.AppendAll(ctx, tx, s.db, fresh)
	})
	if err != nil {
		return err
	}
	if applied > 0 {
		s.invalidate(ctx, &changed)
	}
	return nil
}

// decoder reads the events of Topics.
var decoder = inbox.Decoder[change]{
	Consumer: ConsumerGroup,
	Lookups: []func(uint64) (string, bool){contentevents.EventTypeForFingerprint, metadataevents.EventTypeForFingerprint, mediaevents.EventTypeForFingerprint,
		discoveryevents.EventTypeForFingerprint, authevents.EventTypeForFingerprint, searchevents.EventTypeForFingerprint},
	Decode: decode,
	ID:     func(c change) string { return c.eventID },
}

// decode decodes payload as an event of eventType. known is false for the event types the read
// model does not use: content.created (drafts are never public) and types it does not know.
func decode(eventType string, payload []byte) (c change, known bool, err error) {
	switch eventType {
	case contentevents.TypeContentPublished:
		var e contentevents.ContentPublished
		err = outbox.Decode(payload, e.AvroSchema(), &e)
		c = change{e.EventID, func(ctx context.Context, p *projection) error { return p.published(ctx, &e) }}
	case contentevents.TypeContentUpdated:
		var e contentevents.ContentUpdated
		err = outbox.Decode(payload, e.AvroSchema(), &e)
		c = change{e.EventID, func(ctx context.Context, p *projection) error { return p.updated(ctx, &e) }}
	case contentevents.TypeContentUnpublished:
		var e contentevents.ContentUnpublished
		err = outbox.Decode(payload, e.AvroSchema(), &e)
		c = change{e.EventID, func(ctx context.Context, p *projection) error {
			return p.removed(ctx, e.AggregateType, e.AggregateID, e.Version, unpublished)
		}}
	case contentevents.TypeContentDeleted:
		var e contentevents.ContentDeleted
		err = outbox.Decode(payload, e.AvroSchema(), &e)
		c = change{e.EventID, func(ctx context.Context, p *projection) error {
			return p.removed(ctx, e.AggregateType, e.AggregateID, e.Version, deleted)
		}}
	case metadataevents.TypeCategoryUpserted:
		var e metadataevents.CategoryUpserted
		err = outbox.Decode(payload, e.AvroSchema(), &e)
		c = change{e.EventID, func(ctx context.Context, p *projection) error { return p.categoryUpserted(ctx, &e) }}
	case metadataevents.TypeCategoryDeleted:
		var e metadataevents.CategoryDeleted
		err = outbox.Decode(payload, e.AvroSchema(), &e)
		c = change{e.EventID, func(ctx context.Context, p *projection) error { return p.categoryDeleted(ctx, e.AggregateID) }}
	case mediaevents.TypeAssetUpdated:
		var e mediaevents.AssetUpdated
		err = outbox.Decode(payload, e.AvroSchema(), &e)
		c = change{e.EventID, func(ctx context.Context, p *projection) error { return p.assetUpdated(ctx, &e) }}
	case mediaevents.TypeAssetDeleted:
		var e mediaevents.AssetDeleted
		err = outbox.Decode(payload, e.AvroSchema(), &e)
		c = change{e.EventID, func(ctx context.Context, p *projection) error { return p.assetDeleted(ctx, e.AggregateID) }}
	case discoveryevents.TypeEngagementRecorded:
		var e discoveryevents.EngagementRecorded
		err = outbox.Decode(payload, e.AvroSchema(), &e)
		c = change{e.EventID, func(ctx context.Context, p *projection) error { return p.engagement(ctx, &e) }}
	case authevents.TypeUserTokensRevoked:
		var e authevents.UserTokensRevoked
		err = outbox.Decode(payload, e.AvroSchema(), &e)
		c = change{e.EventID, func(ctx context.Context, p *projection) error { return p.tokensRevoked(ctx, &e) }}
	default: // content.created and event types of other consumers
		return change{}, false, nil
	}
	if err != nil {
		return change{}, true, err
	}
	return c, true, nil
}

// Reset empties the read model and forgets which events it applied, before `mediamesh replay`
// applies every event again. The inbox goes first: should emptying the tables fail, the events
// are applied again over the old state, which the version checks make harmless.
func (s *Service) Reset(ctx context.Context) error {
	if err := inbox.Forget(ctx, s.db, ConsumerGroup); err != nil {
		return fmt.Errorf("discovery: reset: forget the inbox: %w", err)
	}
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		c := s.inTx(tx)
		for _, table := range []struct {
			name  string
			empty func(context.Context) (int, error)
		}{
			{"episodes", c.Episode.Delete().Exec},
			{"programs", c.Program.Delete().Exec},
			{"categories", c.Category.Delete().Exec},
			{"program counts", c.ProgramCount.Delete().Exec},
			{"tombstones", c.Tombstone.Delete().Exec},
			{"assets", c.Asset.Delete().Exec},
			{"engagement counts", c.ItemStat.Delete().Exec},
			{"positions", c.Watch.Delete().Exec}, // follows and erasures are not derived from events: they stay
		} {
			if _, err := table.empty(ctx); err != nil {
				return fmt.Errorf("empty %s: %w", table.name, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("discovery: reset: %w", err)
	}
	s.invalidate(ctx, &changes{all: true, takedown: true})
	return nil
}
