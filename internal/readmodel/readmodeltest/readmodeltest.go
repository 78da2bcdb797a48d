// Package readmodeltest builds the events the read models consume, as the bus carries them, for
// the tests and benchmarks of the services that keep one (discovery, search).
package readmodeltest

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/gen/events/contentevents"
	"github.com/mediamesh/mediamesh/gen/events/metadataevents"
	"github.com/mediamesh/mediamesh/internal/eventbus"
	"github.com/mediamesh/mediamesh/internal/outbox"
)

// Base is when the test content happens: events occur at Base (an update an hour later), and
// published_at values are offsets from it.
var Base = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// NewID returns a fresh id, as the CMS makes them.
func NewID() string { return uuid.Must(uuid.NewV7()).String() }

// Message encodes ev as the bus carries it, with eventID in its headers.
func Message(t testing.TB, ev outbox.Event, eventID string) eventbus.Message {
	t.Helper()
	payload, err := outbox.Encode(ev)
	if err != nil {
		t.Fatal(err)
	}
	return eventbus.Message{
		Topic: ev.Topic(), Key: ev.MessageKey(), Value: payload,
		Headers: map[string]string{eventbus.HeaderEventType: ev.EventType(), eventbus.HeaderEventID: eventID},
	}
}

// AggregateType is the aggregate type of snapshot s: an episode when it names a program.
func AggregateType(s contentevents.ContentSnapshot) string {
	if s.ProgramID != nil {
		return contentevents.AggregateTypeEpisode
	}
	return contentevents.AggregateTypeProgram
}

// Created is content.created of s.
func Created(t testing.TB, s contentevents.ContentSnapshot) eventbus.Message {
	id := NewID()
	return Message(t, &contentevents.ContentCreated{
		EventID: id, OccurredAt: Base, AggregateID: s.ID, AggregateType: AggregateType(s), Snapshot: s,
	}, id)
}

// Published is content.published of s, published at its published_at (Base without one).
func Published(t testing.TB, s contentevents.ContentSnapshot) eventbus.Message {
	id := NewID()
	at := Base
	if s.PublishedAt != nil {
		at = *s.PublishedAt
	}
	return Message(t, &contentevents.ContentPublished{
		EventID: id, OccurredAt: Base, AggregateID: s.ID, AggregateType: AggregateType(s),
		Snapshot: s, PublishedAt: at,
	}, id)
}

// Updated is content.updated of s, an hour after Base, naming the changed fields.
func Updated(t testing.TB, s contentevents.ContentSnapshot, changed ...string) eventbus.Message {
	id := NewID()
	return Message(t, &contentevents.ContentUpdated{
		EventID: id, OccurredAt: Base.Add(time.Hour), AggregateID: s.ID, AggregateType: AggregateType(s),
		Snapshot: s, ChangedFields: changed,
	}, id)
}

// Unpublished is content.unpublished of s at version.
func Unpublished(t testing.TB, s contentevents.ContentSnapshot, version int64) eventbus.Message {
	id := NewID()
	return Message(t, &contentevents.ContentUnpublished{
		EventID: id, OccurredAt: Base, AggregateID: s.ID, AggregateType: AggregateType(s),
		ProgramID: s.ProgramID, Version: version,
	}, id)
}

// Deleted is content.deleted (soft) of s at version.
func Deleted(t testing.TB, s contentevents.ContentSnapshot, version int64) eventbus.Message {
	id := NewID()
	return Message(t, &contentevents.ContentDeleted{
		EventID: id, OccurredAt: Base, AggregateID: s.ID, AggregateType: AggregateType(s),
		ProgramID: s.ProgramID, Soft: true, Version: version,
	}, id)
}

// CategoryUpserted is category.upserted of category id.
func CategoryUpserted(t testing.TB, id, slug string, version int64, names map[string]string) eventbus.Message {
	eid := NewID()
	return Message(t, &metadataevents.CategoryUpserted{
		EventID: eid, OccurredAt: Base, AggregateID: id, Slug: slug, Names: names, Version: version,
	}, eid)
}

// CategoryDeleted is category.deleted of category id.
func CategoryDeleted(t testing.TB, id string) eventbus.Message {
	eid := NewID()
	return Message(t, &metadataevents.CategoryDeleted{EventID: eid, OccurredAt: Base, AggregateID: id}, eid)
}

// BenchmarkApply measures a read model's consumer as `all` mode runs it: b.N runs of 256
// content.published events (a program from program(), then episodes of it from episode(programID,
// n)), each handed to handle (the service's HandleBatch) in one call. It reports events/s.
func BenchmarkApply(b *testing.B, handle func(context.Context, []eventbus.Message) error,
	program func() contentevents.ContentSnapshot, episode func(programID string, n int) contentevents.ContentSnapshot) {
	const run = 256
	runs := make([][]eventbus.Message, b.N)
	for i := range runs {
		p := program()
		msgs := []eventbus.Message{Published(b, p)}
		for n := 1; len(msgs) < run; n++ {
			msgs = append(msgs, Published(b, episode(p.ID, n)))
		}
		runs[i] = msgs
	}
	ctx := context.Background()
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		if err := handle(ctx, runs[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*run)/time.Since(start).Seconds(), "events/s")
}
