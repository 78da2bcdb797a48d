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
	"github.com/mediamesh/mediamesh/internal/readmodel"
)

// HandleBatch applies messages of Topics to the read model in one transaction, in order
// (readmodel.Handle): all of them or, on an error, none. It is idempotent: an event id seen before
// changes nothing, and a snapshot not newer than the stored version is ignored. A message of an
// event type the read model does not use is ignored; one that cannot be decoded is an error (the
// subscriber retries, then dead-letters it).
func (s *Service) HandleBatch(ctx context.Context, msgs []eventbus.Message) error {
	return readmodel.Handle(ctx, s.log, s.db, decoder, msgs, func(tx *sql.Tx) readmodel.Run[*projection] {
		r := &run{s: s, tx: tx}
		r.p = &projection{c: s.inTx(tx), titles: s.titles, log: s.log, changed: &r.changed, eng: &engagementRun{}}
		return r
	})
}

// HandleEvent applies one message of Topics to the read model (see HandleBatch).
func (s *Service) HandleEvent(ctx context.Context, m eventbus.Message) error {
	return s.HandleBatch(ctx, []eventbus.Message{m})
}

// run is the read model's work on one run of messages (readmodel.Run): its projection and what
// the applied events changed, for the cache.
type run struct {
	s       *Service
	tx      *sql.Tx
	p       *projection
	changed changes
}

// Apply applies event e and notes what it changed.
func (r *run) Apply(ctx context.Context, e inbox.Event[readmodel.Change[*projection]]) error {
	if err := e.Change.Apply(ctx, r.p); err != nil {
		return fmt.Errorf("discovery: apply %s event %s: %w", e.EventType, e.ID, err)
	}
	switch e.Message.Topic {
	case contentevents.TopicContentEvents:
		r.changed.catalogue = true
	case metadataevents.TopicMetadataEvents, mediaevents.TopicMediaEvents: // categories and assets show anywhere
		r.changed.everything()
	case discoveryevents.TopicDiscoveryEvents:
		r.changed.rankings = true
	}
	return nil
}

// Finish writes the engagement counted in the run and emits the popularity changes it made.
func (r *run) Finish(ctx context.Context, _ int) error {
	if err := r.p.flushEngagement(ctx); err != nil {
		return err
	}
	if len(r.p.eng.popularity) == 0 {
		return nil
	}
	// Counting the same events again (a replay) emits the same events: the outbox keeps one.
	fresh, err := r.s.notInOutbox(ctx, r.tx, r.p.eng.popularity, popularityEventID)
	if err != nil {
		return err
	}
	return outbox.AppendAll(ctx, r.tx, r.s.db, fresh)
}

// Invalidate makes the cached answers that showed what changed stale; takedown adds the events that
// take content out of public view to an asset made private (assetUpdated).
func (r *run) Invalidate(ctx context.Context, takedown bool) {
	r.changed.takedown = r.changed.takedown || takedown
	r.s.invalidate(ctx, &r.changed)
}

// decoder reads the events of Topics: the content and category events every read model uses, and
// the asset, engagement and account events of discovery's own.
var decoder = readmodel.Decoder[*projection](ConsumerGroup,
	[]func(uint64) (string, bool){contentevents.EventTypeForFingerprint, metadataevents.EventTypeForFingerprint, mediaevents.EventTypeForFingerprint,
		discoveryevents.EventTypeForFingerprint, authevents.EventTypeForFingerprint, searchevents.EventTypeForFingerprint},
	decode)

// decode decodes payload as an event of eventType that only discovery uses. known is false for
// the event types the read model does not use.
func decode(eventType string, payload []byte) (readmodel.Change[*projection], bool, error) {
	type change = readmodel.Change[*projection]
	switch eventType {
	case mediaevents.TypeAssetUpdated:
		return readmodel.DecodeEvent(payload, func(e *mediaevents.AssetUpdated) change {
			return change{EventID: e.EventID, Apply: func(ctx context.Context, p *projection) error { return p.assetUpdated(ctx, e) }}
		})
	case mediaevents.TypeAssetDeleted:
		return readmodel.DecodeEvent(payload, func(e *mediaevents.AssetDeleted) change {
			return change{EventID: e.EventID, Apply: func(ctx context.Context, p *projection) error { return p.assetDeleted(ctx, e.AggregateID) }}
		})
	case discoveryevents.TypeEngagementRecorded:
		return readmodel.DecodeEvent(payload, func(e *discoveryevents.EngagementRecorded) change {
			return change{EventID: e.EventID, Apply: func(ctx context.Context, p *projection) error { return p.engagement(ctx, e) }}
		})
	case authevents.TypeUserTokensRevoked:
		return readmodel.DecodeEvent(payload, func(e *authevents.UserTokensRevoked) change {
			return change{EventID: e.EventID, Apply: func(ctx context.Context, p *projection) error { return p.tokensRevoked(ctx, e) }}
		})
	}
	return change{}, false, nil // event types of other consumers
}

// Reset empties the read model and forgets which events it applied, before `mediamesh replay`
// applies every event again (readmodel.Reset). Follows and erasures are not derived from events:
// they stay.
func (s *Service) Reset(ctx context.Context) error {
	err := readmodel.Reset(ctx, s.db, ConsumerGroup, func(tx *sql.Tx) []readmodel.Table {
		c := s.inTx(tx)
		return append(readmodel.ContentTables(c.Episode.Delete().Exec, c.Program.Delete().Exec, c.Category.Delete().Exec, c.Tombstone.Delete().Exec),
			readmodel.Table{Name: "program counts", Empty: c.ProgramCount.Delete().Exec},
			readmodel.Table{Name: "assets", Empty: c.Asset.Delete().Exec},
			readmodel.Table{Name: "engagement counts", Empty: c.ItemStat.Delete().Exec},
			readmodel.Table{Name: "positions", Empty: c.Watch.Delete().Exec})
	})
	if err != nil {
		return fmt.Errorf("discovery: reset: %w", err)
	}
	s.invalidate(ctx, &changes{all: true, takedown: true})
	return nil
}
