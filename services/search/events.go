package search

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/mediamesh/mediamesh/ent/searchdb"
	"github.com/mediamesh/mediamesh/gen/events/contentevents"
	"github.com/mediamesh/mediamesh/gen/events/discoveryevents"
	"github.com/mediamesh/mediamesh/gen/events/metadataevents"
	"github.com/mediamesh/mediamesh/gen/events/searchevents"
	"github.com/mediamesh/mediamesh/internal/eventbus"
	"github.com/mediamesh/mediamesh/internal/inbox"
	"github.com/mediamesh/mediamesh/internal/readmodel"
	"github.com/mediamesh/mediamesh/internal/telemetry"
	"github.com/mediamesh/mediamesh/services/search/index"
)

// HandleEvent applies one message of Topics to the storage and the index (see HandleBatch).
func (s *Service) HandleEvent(ctx context.Context, m eventbus.Message) error {
	return s.HandleBatch(ctx, []eventbus.Message{m})
}

// HandleBatch applies messages of Topics to the storage in one transaction and to the index in
// one batch, in order: all of them or, on an error, none (the subscriber then hands them over one
// by one). It is idempotent: an event id seen before changes nothing, and a snapshot not newer
// than the stored version is ignored. A message of an event type the index does not use is
// ignored; one that cannot be decoded or applied is an error (the subscriber retries, then
// dead-letters it). While the index is unavailable (a remote engine down: index.ErrUnavailable)
// it tries again, backing off up to unavailableBackoffMax, until it succeeds or ctx ends: the
// messages wait for the engine instead of going to the dead letters, and are applied when it is
// back.
func (s *Service) HandleBatch(ctx context.Context, msgs []eventbus.Message) error {
	delay := unavailableBackoffMin
	for attempt := 1; ; attempt++ {
		err := s.handleBatch(ctx, msgs)
		if !errors.Is(err, index.ErrUnavailable) {
			if attempt > 1 && err == nil {
				s.log.InfoContext(ctx, "search index available again; events applied", "attempts", attempt)
			}
			return err
		}
		if attempt == 1 || attempt%20 == 0 {
			s.log.WarnContext(ctx, "search index unavailable; holding the events until it is back", "attempts", attempt, "error", err)
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(delay):
		}
		delay = min(2*delay, unavailableBackoffMax)
	}
}

// The backoff of HandleBatch while the index is unavailable.
var (
	unavailableBackoffMin = 100 * time.Millisecond
	unavailableBackoffMax = 5 * time.Second
)

// handleBatch is one attempt of HandleBatch (readmodel.Handle).
func (s *Service) handleBatch(ctx context.Context, msgs []eventbus.Message) error {
	return readmodel.Handle(ctx, s.log, s.db, decoder, msgs, func(tx *sql.Tx) readmodel.Run[*projection] {
		return &run{s: s, tx: tx, w: &pending{index: s.index, log: s.log}, programs: map[uuid.UUID]*searchdb.Program{}}
	})
}

// run is the service's work on one run of messages (readmodel.Run): the storage in its
// transaction, the index writes it collects (w), written when the events are applied.
type run struct {
	s  *Service
	tx *sql.Tx
	w  *pending
	// first and last are the index versions the run took: the clock's for its first event, one
	// more for each event after it (see begin); 0 before the first.
	first, last int64
	// programs are the program rows the run's events read or wrote, by id (nil: none stored), so
	// that the episodes of a run do not read their program once each.
	programs map[uuid.UUID]*searchdb.Program
}

// Apply applies event e (applyOne).
func (r *run) Apply(ctx context.Context, e inbox.Event[readmodel.Change[*projection]]) error {
	return r.s.applyOne(ctx, r, e)
}

// begin starts applying an event of the run: the first takes the next index version from the
// clock, which also waits for any other run being applied to commit (see clock.go); each later
// one takes one more, so a later event always wins, and Finish moves the clock to the last.
func (r *run) begin(ctx context.Context) (*projection, error) {
	if r.first == 0 {
		v, err := tick(ctx, r.s.db, r.tx, time.Now())
		if err != nil {
			return nil, err
		}
		r.first, r.last = v, v
	} else {
		r.last++
	}
	return &projection{c: r.s.inTx(r.tx), index: r.w, log: r.s.log, version: r.last, programs: r.programs}, nil
}

// Finish moves the index clock to the last version the run took and writes the run's documents
// to the index.
func (r *run) Finish(ctx context.Context, applied int) error {
	if r.last > r.first {
		if err := advanceClock(ctx, r.s.db, r.tx, r.last); err != nil {
			return err
		}
	}
	if err := r.w.flush(ctx); err != nil {
		return fmt.Errorf("search: index %d events: %w", applied, err)
	}
	return nil
}

// Invalidate makes the cached search answers stale (and, after a takedown, the last good ones).
func (r *run) Invalidate(ctx context.Context, takedown bool) { r.s.invalidate(ctx, takedown) }

// decoder reads the events of Topics: the content and category events every read model uses, and
// popularity.changed.
var decoder = readmodel.Decoder[*projection](ConsumerGroup,
	[]func(uint64) (string, bool){contentevents.EventTypeForFingerprint, metadataevents.EventTypeForFingerprint,
		discoveryevents.EventTypeForFingerprint, searchevents.EventTypeForFingerprint},
	func(eventType string, payload []byte) (readmodel.Change[*projection], bool, error) {
		if eventType != discoveryevents.TypePopularityChanged {
			return readmodel.Change[*projection]{}, false, nil // event types of other consumers
		}
		return readmodel.DecodeEvent(payload, func(e *discoveryevents.PopularityChanged) readmodel.Change[*projection] {
			return readmodel.Change[*projection]{EventID: e.EventID, Apply: func(ctx context.Context, p *projection) error {
				return p.popularityChanged(ctx, e)
			}}
		})
	})

// applyOne applies event e in tx, inside a span of the trace of the request that caused it (a
// child of ctx's consumer span), so a trace shows a change from the CMS request to the search index.
func (s *Service) applyOne(ctx context.Context, r *run, e inbox.Event[readmodel.Change[*projection]]) error {
	ctx, span := telemetry.Tracer().Start(ctx, "search index", trace.WithAttributes(
		attribute.String("mediamesh.event_type", e.EventType), attribute.String("mediamesh.aggregate_id", e.Message.Key)))
	defer span.End()
	p, err := r.begin(ctx)
	if err == nil {
		err = e.Change.Apply(ctx, p)
	}
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
		return fmt.Errorf("search: apply %s event %s: %w", e.EventType, e.ID, err)
	}
	return nil
}

// Reset empties the storage and the index and forgets which events the service applied, before
// `mediamesh replay` applies every event again. The inbox goes first, then the storage, then the
// index: should a later step fail, the replay applies every event again over what is left, which
// the version checks make harmless (documents written by the replay carry newer versions than any
// left in the index, since the clock survives Reset).
func (s *Service) Reset(ctx context.Context) error {
	if err := s.resetStorage(ctx); err != nil {
		return err
	}
	if err := s.index.Reset(ctx); err != nil {
		return fmt.Errorf("search: reset: %w", err)
	}
	s.invalidate(ctx, true)
	return nil
}

// BeginRebuild starts a rebuild (`mediamesh replay`) that never leaves searches on an empty index:
// it forgets the inbox and empties the storage as Reset does, but when the index can be rebuilt
// beside itself (index.Rebuilder: OpenSearch, whose alias goes on serving the old index) the
// service writes to a new index from then on instead of emptying the serving one. commit makes
// the new index the serving one at once (and drops the old), abort drops the new one. An index
// that cannot be rebuilt beside itself is emptied as Reset does, and commit and abort do nothing
// more.
func (s *Service) BeginRebuild(ctx context.Context) (commit, abort func(context.Context) error, err error) {
	none := func(context.Context) error { return nil }
	r, ok := s.index.(index.Rebuilder)
	if !ok {
		return none, none, s.Reset(ctx)
	}
	// The new index first: from when BeginRebuild returns, a consumer still running elsewhere writes
	// what it applies to the new index too. Only then the inbox is forgotten: an event that consumer
	// applies afterwards is recorded in the inbox again, so the replay skips it, and it must already
	// be in the new index.
	rb, err := r.BeginRebuild(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("search: rebuild: %w", err)
	}
	if err := s.resetStorage(ctx); err != nil {
		_ = rb.Abort(context.WithoutCancel(ctx))
		return nil, nil, err
	}
	s.index = rb
	commit = func(ctx context.Context) error {
		if err := rb.Commit(ctx); err != nil {
			return fmt.Errorf("search: rebuild: %w", err)
		}
		s.index = r
		s.invalidate(ctx, true)
		return nil
	}
	abort = func(ctx context.Context) error {
		s.index = r
		return rb.Abort(ctx)
	}
	return commit, abort, nil
}

// resetStorage forgets the inbox and empties the storage: Reset without the index.
func (s *Service) resetStorage(ctx context.Context) error {
	err := readmodel.Reset(ctx, s.db, ConsumerGroup, func(tx *sql.Tx) []readmodel.Table {
		c := s.inTx(tx)
		return append(readmodel.ContentTables(c.Episode.Delete().Exec, c.Program.Delete().Exec, c.Category.Delete().Exec, c.Tombstone.Delete().Exec),
			readmodel.Table{Name: "popularity", Empty: c.Popularity.Delete().Exec})
	})
	if err != nil {
		return fmt.Errorf("search: reset: %w", err)
	}
	return nil
}
