package inbox

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"

	"go.opentelemetry.io/otel/trace"

	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/eventbus"
)

// Event is a message of a run that a consumer applies, with its event type, id and what the
// consumer decoded of it.
type Event[C any] struct {
	Message   eventbus.Message
	EventType string
	ID        string
	Change    C
}

// Decoder is how a consumer reads the events it builds its state from.
type Decoder[C any] struct {
	Consumer string                                                  // the consumer group, for errors and logs
	Lookups  []func(fingerprint uint64) (string, bool)               // the event registries of its topics
	Decode   func(eventType string, payload []byte) (C, bool, error) // known false: a type it does not use
	ID       func(C) string                                          // the event id of a decoded event
}

// DecodeRun decodes a run of messages, leaving out (and logging at debug) the event types d does
// not use. A message whose type cannot be told, that does not decode or has no event id is an
// error: the subscriber then hands the run over one message at a time, retrying and finally
// dead-lettering that message alone.
func DecodeRun[C any](ctx context.Context, log *slog.Logger, d Decoder[C], msgs []eventbus.Message) ([]Event[C], error) {
	events := make([]Event[C], 0, len(msgs))
	for _, m := range msgs {
		eventType, err := eventbus.EventType(m, d.Lookups...)
		if err != nil {
			return nil, fmt.Errorf("%s: %s message %q: %w", d.Consumer, m.Topic, m.Key, err)
		}
		c, known, err := d.Decode(eventType, m.Value)
		if err != nil {
			return nil, fmt.Errorf("%s: %s event %s: %w", d.Consumer, eventType, m.Headers[eventbus.HeaderEventID], err)
		}
		if !known {
			log.DebugContext(ctx, "event ignored", "event_type", eventType, "topic", m.Topic, "key", m.Key)
			continue
		}
		id := d.ID(c)
		if id == "" {
			return nil, fmt.Errorf("%s: %s event without event_id", d.Consumer, eventType)
		}
		events = append(events, Event[C]{Message: m, EventType: eventType, ID: id, Change: c})
	}
	return events, nil
}

// ApplyRun applies events in tx, in order: each is recorded for consumer (RecordAll) and applied
// unless it was before. When the run came as a batch of several messages, each event is applied
// inside its message's own consumer span (eventbus.StartConsume), as a subscriber runs a message
// alone, so a trace reads the same either way. It returns how many events were applied.
func ApplyRun[C any](ctx context.Context, db *database.DB, tx *sql.Tx, consumer string, events []Event[C], batch bool, apply func(ctx context.Context, e Event[C]) error) (int, error) {
	applied := 0
	ids := make([]string, len(events))
	for i, e := range events {
		ids[i] = e.ID
	}
	fresh, err := RecordAll(ctx, db, tx, consumer, ids)
	if err != nil {
		return 0, fmt.Errorf("%s: record %d events: %w", consumer, len(ids), err)
	}
	for i, e := range events {
		if !fresh[i] {
			continue
		}
		if err := applyOne(ctx, consumer, e, batch, apply); err != nil {
			return applied, err
		}
		applied++
	}
	return applied, nil
}

func applyOne[C any](ctx context.Context, consumer string, e Event[C], batch bool, apply func(context.Context, Event[C]) error) error {
	if batch {
		var span trace.Span
		ctx, span = eventbus.StartConsume(ctx, consumer, e.Message)
		defer span.End()
	}
	return apply(ctx, e)
}
