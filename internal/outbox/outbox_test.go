package outbox_test

import (
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/mediamesh/mediamesh/gen/events/authevents"
	"github.com/mediamesh/mediamesh/gen/events/contentevents"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
	"github.com/mediamesh/mediamesh/internal/eventbus"
	"github.com/mediamesh/mediamesh/internal/outbox"
)

// The generated events are outbox events.
var (
	_ outbox.Event = (*contentevents.ContentCreated)(nil)
	_ outbox.Event = (*contentevents.ContentDeleted)(nil)
	_ outbox.Event = (*contentevents.ContentPublished)(nil)
	_ outbox.Event = (*contentevents.ContentUnpublished)(nil)
	_ outbox.Event = (*contentevents.ContentUpdated)(nil)
	_ outbox.Event = (*authevents.UserRegistered)(nil)
)

func uuid(n int) string { return fmt.Sprintf("0190a5c4-7b1e-7000-8000-%012x", n) }

func ptr[T any](v T) *T { return &v }

// created returns a ContentCreated event with every field set; times are whole milliseconds in
// UTC, as they come back from Avro.
func created(n int, aggregate string) *contentevents.ContentCreated {
	at := time.Date(2026, 4, 2, 10, 0, 0, 0, time.UTC).Add(time.Duration(n) * time.Millisecond)
	return &contentevents.ContentCreated{
		EventID:       uuid(n),
		OccurredAt:    at,
		AggregateID:   aggregate,
		AggregateType: contentevents.AggregateTypeEpisode,
		TraceID:       "4bf92f3577b34da6a3ce929d0e0e4736",
		ActorID:       ptr(uuid(9000)),
		Snapshot: contentevents.ContentSnapshot{
			ID:              aggregate,
			ProgramID:       ptr(uuid(9001)),
			Status:          contentevents.ContentStatusDraft,
			Title:           "الحلقة الأولى",
			Slug:            ptr("al-halqa-al-ula"),
			Language:        "ar",
			Tags:            []string{"history", "تاريخ"},
			Extra:           []contentevents.ExtraAttribute{},
			SeasonNumber:    ptr(1),
			EpisodeNumber:   ptr(n),
			DurationSeconds: ptr(1800),
			PublishedAt:     ptr(at.Add(time.Hour)),
			Version:         1,
		},
	}
}

func migrated(t *testing.T, db *database.DB) {
	t.Helper()
	if err := outbox.Migrate(t.Context(), db); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
}

func appendInTx(t *testing.T, db *database.DB, evs ...outbox.Event) {
	t.Helper()
	err := db.InTx(t.Context(), func(tx *sql.Tx) error {
		for _, ev := range evs {
			if err := outbox.Append(t.Context(), tx, db, ev, map[string]string{"trace_id": "t-" + ev.MessageKey()}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("append: %v", err)
	}
}

func unsent(t *testing.T, db *database.DB) []outbox.Record {
	t.Helper()
	recs, err := outbox.Unsent(t.Context(), db, 100)
	if err != nil {
		t.Fatalf("Unsent: %v", err)
	}
	return recs
}

func backlog(t *testing.T, db *database.DB) int64 {
	t.Helper()
	n, err := outbox.Backlog(t.Context(), db)
	if err != nil {
		t.Fatalf("Backlog: %v", err)
	}
	return n
}

func TestMigrations(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		p, err := outbox.Pending(t.Context(), db)
		if err != nil || !slices.Equal(p, []string{"0001_create_outbox.sql"}) {
			t.Fatalf("Pending before = %v, %v", p, err)
		}
		migrated(t, db)
		migrated(t, db) // idempotent
		if p, err := outbox.Pending(t.Context(), db); err != nil || len(p) != 0 {
			t.Fatalf("Pending after = %v, %v", p, err)
		}
	})
}

func TestRoundTrip(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		migrated(t, db)
		ev := created(1, uuid(100))
		before := time.Now().UTC().Add(-time.Second)
		err := db.InTx(t.Context(), func(tx *sql.Tx) error {
			return outbox.Append(t.Context(), tx, db, ev, map[string]string{
				"trace_id":    ev.TraceID,
				"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		recs := unsent(t, db)
		if len(recs) != 1 {
			t.Fatalf("%d unsent records, want 1", len(recs))
		}
		r := recs[0]
		if r.EventID != ev.EventID || r.Topic != contentevents.TopicContentEvents || r.AggregateID != ev.AggregateID ||
			r.EventType != contentevents.TypeContentCreated || !r.OccurredAt.Equal(ev.OccurredAt) ||
			r.Attempts != 0 || r.LastError != "" || r.CreatedAt.Before(before) || r.OccurredAt.Location() != time.UTC {
			t.Fatalf("record %+v", r)
		}
		if r.Headers["trace_id"] != ev.TraceID || r.Headers["traceparent"] == "" || len(r.Headers) != 2 {
			t.Fatalf("headers %v", r.Headers)
		}

		// The payload names its schema by fingerprint; the registry resolves it.
		fp, _, err := eventbus.ParseSingleObject(r.Payload)
		if err != nil {
			t.Fatal(err)
		}
		if fp != contentevents.FingerprintContentCreated {
			t.Fatalf("fingerprint %016x, want %016x", fp, contentevents.FingerprintContentCreated)
		}
		eventType, ok := contentevents.EventTypeForFingerprint(fp)
		if !ok || eventType != r.EventType {
			t.Fatalf("EventTypeForFingerprint = %q, %v", eventType, ok)
		}
		schema, _ := contentevents.SchemaFor(eventType)
		v, _ := contentevents.New(eventType)
		if err := eventbus.Decode(r.Payload, schema, v); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(v, ev) {
			t.Fatalf("decoded\n%+v\nwant\n%+v", v, ev)
		}
	})
}

func TestAppendIsTransactional(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		migrated(t, db)
		boom := errors.New("the change failed")
		err := db.InTx(t.Context(), func(tx *sql.Tx) error {
			if err := outbox.Append(t.Context(), tx, db, created(1, uuid(100)), nil); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("InTx = %v", err)
		}
		if n := backlog(t, db); n != 0 {
			t.Fatalf("backlog %d after rollback, want 0", n)
		}

		appendInTx(t, db, created(2, uuid(100)))
		if n := backlog(t, db); n != 1 {
			t.Fatalf("backlog %d after commit, want 1", n)
		}

		// The same event twice is refused (event_id is unique), and the whole transaction with it.
		err = db.InTx(t.Context(), func(tx *sql.Tx) error {
			if err := outbox.Append(t.Context(), tx, db, created(3, uuid(100)), nil); err != nil {
				return err
			}
			return outbox.Append(t.Context(), tx, db, created(2, uuid(100)), nil)
		})
		if err == nil || !strings.Contains(err.Error(), uuid(2)) {
			t.Fatalf("duplicate event_id: %v", err)
		}
		if n := backlog(t, db); n != 1 {
			t.Fatalf("backlog %d, want 1", n)
		}
	})
}

func TestOrderAndRelayBookkeeping(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := t.Context()
		migrated(t, db)
		// Several transactions, several aggregates, several event types.
		a, b := uuid(100), uuid(200)
		appendInTx(t, db, created(1, a), created(2, b))
		appendInTx(t, db, &contentevents.ContentPublished{
			EventID: uuid(3), OccurredAt: time.UnixMilli(1775124000003).UTC(), AggregateID: a,
			AggregateType: contentevents.AggregateTypeEpisode, Snapshot: created(3, a).Snapshot,
			PublishedAt: time.UnixMilli(1775124000003).UTC(),
		})
		appendInTx(t, db, &contentevents.ContentDeleted{
			EventID: uuid(4), OccurredAt: time.UnixMilli(1775124000004).UTC(), AggregateID: b,
			AggregateType: contentevents.AggregateTypeProgram, Soft: true, Version: 2,
		})
		appendInTx(t, db, &authevents.UserRegistered{
			EventID: uuid(5), OccurredAt: time.UnixMilli(1775124000005).UTC(), AggregateID: uuid(300),
			UserID: uuid(300), Email: "editor@example.org", Roles: []string{"EDITOR"}, Source: "admin",
		})

		recs := unsent(t, db)
		var ids []string
		for i, r := range recs {
			ids = append(ids, r.EventID)
			if i > 0 && r.ID <= recs[i-1].ID {
				t.Fatalf("ids not ascending: %d after %d", r.ID, recs[i-1].ID)
			}
		}
		if want := []string{uuid(1), uuid(2), uuid(3), uuid(4), uuid(5)}; !slices.Equal(ids, want) {
			t.Fatalf("event order %v, want %v", ids, want)
		}
		if recs[4].Topic != authevents.TopicAuthEvents || recs[4].EventType != authevents.TypeUserRegistered {
			t.Fatalf("auth record %+v", recs[4])
		}
		if got, err := outbox.Unsent(ctx, db, 2); err != nil || len(got) != 2 || got[1].EventID != uuid(2) {
			t.Fatalf("Unsent(2) = %d records, %v", len(got), err)
		}
		if _, err := outbox.Unsent(ctx, db, 0); err == nil {
			t.Fatal("Unsent(0) accepted")
		}

		// A failure keeps the row unsent and in place.
		if err := outbox.MarkFailed(ctx, db, recs[0].ID, errors.New("broker down\x00 \xff")); err != nil {
			t.Fatal(err)
		}
		if err := outbox.MarkFailed(ctx, db, recs[0].ID, errors.New(strings.Repeat("é", 2000))); err != nil {
			t.Fatal(err)
		}
		after := unsent(t, db)
		if after[0].ID != recs[0].ID || after[0].Attempts != 2 || len(after[0].LastError) > 1024 || !strings.HasPrefix(after[0].LastError, "é") {
			t.Fatalf("after MarkFailed: %+v", after[0])
		}

		if err := outbox.MarkSent(ctx, db, recs[0].ID, recs[1].ID, recs[3].ID); err != nil {
			t.Fatal(err)
		}
		if err := outbox.MarkSent(ctx, db); err != nil {
			t.Fatal(err)
		}
		if n := backlog(t, db); n != 2 {
			t.Fatalf("backlog %d, want 2", n)
		}
		left := unsent(t, db)
		if len(left) != 2 || left[0].EventID != uuid(3) || left[1].EventID != uuid(5) {
			t.Fatalf("unsent after MarkSent: %v", left)
		}
		// A sent row cannot be marked failed or sent again.
		if err := outbox.MarkFailed(ctx, db, recs[0].ID, errors.New("late")); err != nil {
			t.Fatal(err)
		}
		var attempts int
		var lastError sql.NullString
		if err := db.QueryRowContext(ctx, db.Rebind(`SELECT attempts, last_error FROM outbox WHERE id = ?`), recs[0].ID).Scan(&attempts, &lastError); err != nil {
			t.Fatal(err)
		}
		if attempts != 3 || strings.Contains(lastError.String, "late") {
			t.Fatalf("sent row changed: attempts %d, last_error %q", attempts, lastError.String)
		}

		// Purge removes sent rows only.
		n, err := outbox.PurgeSent(ctx, db, time.Now().Add(-time.Hour))
		if err != nil || n != 0 {
			t.Fatalf("PurgeSent(an hour ago) = %d, %v", n, err)
		}
		n, err = outbox.PurgeSent(ctx, db, time.Now().Add(time.Minute))
		if err != nil || n != 3 {
			t.Fatalf("PurgeSent(now) = %d, %v; want 3", n, err)
		}
		if n := backlog(t, db); n != 2 {
			t.Fatalf("backlog %d after purge, want 2", n)
		}
	})
}

func TestMarkSentManyIDs(t *testing.T) {
	db := databasetest.SQLite(t)
	migrated(t, db)
	var evs []outbox.Event
	for i := range 1203 {
		evs = append(evs, created(i, uuid(100)))
	}
	appendInTx(t, db, evs...)
	recs, err := outbox.Unsent(t.Context(), db, 5000)
	if err != nil || len(recs) != len(evs) {
		t.Fatalf("Unsent = %d, %v", len(recs), err)
	}
	var ids []int64
	for _, r := range recs[:1202] {
		ids = append(ids, r.ID)
	}
	if err := outbox.MarkSent(t.Context(), db, ids...); err != nil {
		t.Fatal(err)
	}
	if n := backlog(t, db); n != 1 {
		t.Fatalf("backlog %d, want 1", n)
	}
}

// badEvent lets a test break one part of an otherwise valid event.
type badEvent struct {
	*contentevents.ContentCreated
	eventType, topic string
	schema           avro.Schema
}

func (e badEvent) EventType() string       { return e.eventType }
func (e badEvent) Topic() string           { return e.topic }
func (e badEvent) AvroSchema() avro.Schema { return e.schema }

func TestAppendRejects(t *testing.T) {
	db := databasetest.SQLite(t)
	migrated(t, db)
	schema := (&contentevents.ContentCreated{}).AvroSchema()
	noID := created(1, uuid(100))
	noID.EventID = ""
	noTime := created(2, uuid(100))
	noTime.OccurredAt = time.Time{}
	noKey := created(3, "")
	noKey.Snapshot.ID = uuid(100)
	otherSchema := avro.MustParse(`{"type":"record","name":"Other","fields":[{"name":"aggregate_id","type":"string"}]}`)
	cases := []struct {
		name string
		ev   outbox.Event
		want string
	}{
		{"no event id", noID, "no event_id"},
		{"no occurred_at", noTime, "no occurred_at"},
		{"no key", noKey, "no aggregate id"},
		{"no topic", badEvent{created(4, uuid(100)), contentevents.TypeContentCreated, "", schema}, "no event type or topic"},
		{"schema without envelope", badEvent{created(5, uuid(100)), "x.y", "x", otherSchema}, "no event_id"},
		{"nil event", nil, "needs"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := db.InTx(t.Context(), func(tx *sql.Tx) error { return outbox.Append(t.Context(), tx, db, c.ev, nil) })
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Append = %v, want an error containing %q", err, c.want)
			}
		})
	}
	if n := backlog(t, db); n != 0 {
		t.Fatalf("backlog %d, want 0", n)
	}
}

func TestEncoding(t *testing.T) {
	// The fingerprints agree with the generated registries.
	for _, reg := range []struct {
		schemas map[string]avro.Schema
		lookup  func(uint64) (string, bool)
	}{
		{contentevents.Schemas(), contentevents.EventTypeForFingerprint},
		{authevents.Schemas(), authevents.EventTypeForFingerprint},
	} {
		for _, eventType := range slices.Sorted(maps.Keys(reg.schemas)) {
			fp, err := eventbus.Fingerprint(reg.schemas[eventType])
			if err != nil {
				t.Fatal(err)
			}
			if got, ok := reg.lookup(fp); !ok || got != eventType {
				t.Errorf("%s: fingerprint %016x resolves to %q, %v", eventType, fp, got, ok)
			}
		}
	}

	ev := created(1, uuid(100))
	data, err := outbox.Encode(ev)
	if err != nil {
		t.Fatal(err)
	}
	if data[0] != 0xC3 || data[1] != 0x01 {
		t.Fatalf("marker % X", data[:2])
	}
	// Little-endian: the fingerprint's low byte comes first.
	fp := contentevents.FingerprintContentCreated
	if data[2] != byte(fp&0xff) || data[9] != byte(fp>>56) {
		t.Fatalf("header % X", data[:10])
	}
	body, err := avro.Marshal(ev.AvroSchema(), ev)
	if err != nil {
		t.Fatal(err)
	}
	if _, got, err := eventbus.ParseSingleObject(data); err != nil || !slices.Equal(got, body) {
		t.Fatalf("body differs from avro.Marshal (%v)", err)
	}

	// Decoding refuses a payload of another schema and malformed payloads.
	deleted, _ := contentevents.SchemaFor(contentevents.TypeContentDeleted)
	if err := eventbus.Decode(data, deleted, new(contentevents.ContentDeleted)); err == nil || !strings.Contains(err.Error(), "written with schema") {
		t.Fatalf("Decode with the wrong schema = %v", err)
	}
	for _, bad := range [][]byte{nil, {0xC3, 0x01, 1, 2}, append([]byte{0xC3, 0x02}, data[2:]...)} {
		if _, _, err := eventbus.ParseSingleObject(bad); err == nil {
			t.Errorf("ParseSingleObject(% X) accepted", bad)
		}
	}
	if err := eventbus.Decode(data[:12], ev.AvroSchema(), new(contentevents.ContentCreated)); err == nil {
		t.Error("Decode of a truncated body accepted")
	}
}
