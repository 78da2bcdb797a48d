package readmodel

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hamba/avro/v2"

	"github.com/mediamesh/mediamesh/gen/events/contentevents"
	"github.com/mediamesh/mediamesh/gen/events/mediaevents"
	"github.com/mediamesh/mediamesh/gen/events/metadataevents"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
	"github.com/mediamesh/mediamesh/internal/eventbus"
	"github.com/mediamesh/mediamesh/internal/inbox"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// recorder is an Applier that records the calls it gets.
type recorder struct {
	calls []string
	fail  string // an aggregate id whose change fails
}

func (r *recorder) Published(_ context.Context, e *contentevents.ContentPublished) error {
	return r.call("published " + e.AggregateID)
}
func (r *recorder) Updated(_ context.Context, e *contentevents.ContentUpdated) error {
	return r.call("updated " + e.AggregateID)
}
func (r *recorder) Removed(_ context.Context, aggregateType, aggregateID string, version int64, why Removal) error {
	return r.call(fmt.Sprintf("removed %s %s v%d why=%d", aggregateType, aggregateID, version, why))
}
func (r *recorder) CategoryUpserted(_ context.Context, e *metadataevents.CategoryUpserted) error {
	return r.call("category " + e.Slug)
}
func (r *recorder) CategoryDeleted(_ context.Context, aggregateID string) error {
	return r.call("category deleted " + aggregateID)
}
func (r *recorder) call(c string) error {
	if r.fail != "" && slices.Contains([]string{"published " + r.fail, "updated " + r.fail}, c) {
		return errors.New("apply failed")
	}
	r.calls = append(r.calls, c)
	return nil
}

func msg(t *testing.T, ev interface {
	EventType() string
	Topic() string
	MessageKey() string
	AvroSchema() avro.Schema
}) eventbus.Message {
	t.Helper()
	b, err := eventbus.Encode(ev.AvroSchema(), ev)
	if err != nil {
		t.Fatal(err)
	}
	return eventbus.Message{Topic: ev.Topic(), Key: ev.MessageKey(), Value: b}
}

var at = time.UnixMilli(1764000000000).UTC()

func published(id string) *contentevents.ContentPublished {
	return &contentevents.ContentPublished{EventID: uuid.NewString(), OccurredAt: at, AggregateID: id, AggregateType: contentevents.AggregateTypeProgram,
		PublishedAt: at, Snapshot: contentevents.ContentSnapshot{ID: id, Status: contentevents.ContentStatusPublished, Title: "T", Language: "en", Version: 1}}
}

func TestDecoder(t *testing.T) {
	ctx := t.Context()
	id := uuid.NewString()
	var more []string
	d := Decoder[*recorder]("test", []func(uint64) (string, bool){contentevents.EventTypeForFingerprint, metadataevents.EventTypeForFingerprint, mediaevents.EventTypeForFingerprint},
		func(eventType string, payload []byte) (Change[*recorder], bool, error) {
			more = append(more, eventType)
			return Change[*recorder]{}, false, nil
		})
	msgs := []eventbus.Message{
		msg(t, published(id)),
		msg(t, &contentevents.ContentUnpublished{EventID: uuid.NewString(), OccurredAt: at, AggregateID: id, AggregateType: contentevents.AggregateTypeEpisode, Version: 4}),
		msg(t, &contentevents.ContentDeleted{EventID: uuid.NewString(), OccurredAt: at, AggregateID: id, AggregateType: contentevents.AggregateTypeProgram, Version: 5}),
		msg(t, &metadataevents.CategoryUpserted{EventID: uuid.NewString(), OccurredAt: at, AggregateID: id, Slug: "news", Names: map[string]string{"en": "News"}, Version: 1}),
		msg(t, &metadataevents.CategoryDeleted{EventID: uuid.NewString(), OccurredAt: at, AggregateID: id}),
		msg(t, &contentevents.ContentCreated{EventID: uuid.NewString(), OccurredAt: at, AggregateID: id, AggregateType: contentevents.AggregateTypeProgram,
			Snapshot: contentevents.ContentSnapshot{ID: id, Status: contentevents.ContentStatusDraft, Title: "T", Language: "en", Version: 1}}),
		msg(t, &mediaevents.AssetDeleted{EventID: uuid.NewString(), OccurredAt: at, AggregateID: id, Reason: mediaevents.DeletionReasonDeleted}),
	}
	events, err := inbox.DecodeRun(ctx, quiet, d, msgs)
	if err != nil {
		t.Fatal(err)
	}
	r := &recorder{}
	for _, e := range events {
		if e.ID == "" {
			t.Errorf("%s decoded without its event id", e.EventType)
		}
		if err := e.Change.Apply(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"published " + id, "removed episode " + id + " v4 why=0", "removed program " + id + " v5 why=1", "category news", "category deleted " + id}
	if !slices.Equal(r.calls, want) {
		t.Errorf("applied %q, want %q", r.calls, want)
	}
	if want := []string{contentevents.TypeContentCreated, mediaevents.TypeAssetDeleted}; !slices.Equal(more, want) {
		t.Errorf("other event types went to more: %q, want %q", more, want)
	}
	// A payload that does not decode is an error.
	bad := eventbus.Message{Topic: contentevents.TopicContentEvents, Headers: map[string]string{eventbus.HeaderEventType: contentevents.TypeContentPublished}, Value: []byte{0xC3, 0x01, 1}}
	if _, err := inbox.DecodeRun(ctx, quiet, d, []eventbus.Message{bad}); err == nil {
		t.Error("an undecodable content.published was accepted")
	}
}

func TestTakedown(t *testing.T) {
	for eventType, want := range map[string]bool{
		contentevents.TypeContentUnpublished: true, contentevents.TypeContentDeleted: true, metadataevents.TypeCategoryDeleted: true,
		mediaevents.TypeAssetDeleted: true, contentevents.TypeContentPublished: false, contentevents.TypeContentUpdated: false,
		metadataevents.TypeCategoryUpserted: false, mediaevents.TypeAssetUpdated: false,
	} {
		if got := Takedown(eventType); got != want {
			t.Errorf("Takedown(%s) = %v, want %v", eventType, got, want)
		}
	}
}

func TestOptionalID(t *testing.T) {
	if id, err := OptionalID(nil); id != nil || err != nil {
		t.Errorf("OptionalID(nil) = %v, %v", id, err)
	}
	s := uuid.NewString()
	if id, err := OptionalID(&s); err != nil || id.String() != s {
		t.Errorf("OptionalID(%s) = %v, %v", s, id, err)
	}
	bad := "not-a-uuid"
	if _, err := OptionalID(&bad); err == nil {
		t.Error("OptionalID accepted a bad id")
	}
}

// tombstones is Tombstones in memory.
type tombstones map[uuid.UUID]int64

func (t tombstones) TombstoneVersion(_ context.Context, id uuid.UUID) (int64, error) {
	return t[id], nil
}
func (t tombstones) Bury(_ context.Context, id uuid.UUID, v int64) error { t[id] = v; return nil }
func (t tombstones) Unbury(_ context.Context, id uuid.UUID) error        { delete(t, id); return nil }

func TestStored(t *testing.T) {
	ctx := t.Context()
	ts := tombstones{}
	id := uuid.New()
	row := int64(7)
	for _, c := range []struct {
		row  *int64
		bury int64
		want int64
	}{{nil, 0, 0}, {nil, 3, 3}, {&row, 3, 7}} {
		if c.bury > 0 {
			ts.Bury(ctx, id, c.bury)
		}
		if got, err := Stored(ctx, ts, id, c.row); err != nil || got != c.want {
			t.Errorf("Stored(row %v, tombstone %d) = %d, %v; want %d", c.row, c.bury, got, err, c.want)
		}
	}
}

type name struct {
	Language string `json:"language"`
	Name     string `json:"name"`
}

type category struct {
	slug    string
	names   []name
	version int64
}

// categories is Categories in memory.
type categories map[uuid.UUID]*category

func (c categories) CategoryVersion(_ context.Context, id uuid.UUID) (int64, bool, error) {
	if cat, ok := c[id]; ok {
		return cat.version, true, nil
	}
	return 0, false, nil
}
func (c categories) PutCategory(_ context.Context, id uuid.UUID, slug string, names []name, version int64, create bool) error {
	if _, ok := c[id]; ok == create {
		return fmt.Errorf("put category %s: create %v, stored %v", id, create, ok)
	}
	c[id] = &category{slug, names, version}
	return nil
}
func (c categories) DeleteCategory(_ context.Context, id uuid.UUID) (bool, error) {
	_, ok := c[id]
	delete(c, id)
	return ok, nil
}

func TestCategories(t *testing.T) {
	ctx := t.Context()
	cs := categories{}
	id := uuid.New()
	upsert := func(slug string, version int64, names map[string]string) bool {
		t.Helper()
		got, stored, err := UpsertCategory[name](ctx, quiet, cs, &metadataevents.CategoryUpserted{AggregateID: id.String(), Slug: slug, Names: names, Version: version})
		if err != nil || got != id {
			t.Fatalf("UpsertCategory = %s, %v", got, err)
		}
		return stored
	}
	if !upsert("news", 2, map[string]string{"fr": "Infos", "en": "News", "ar": "", "de": "Nachrichten"}) {
		t.Fatal("a new category was not stored")
	}
	if want := []name{{"de", "Nachrichten"}, {"en", "News"}, {"fr", "Infos"}}; !slices.Equal(cs[id].names, want) {
		t.Errorf("names %v, want %v (empty ones left out, by language)", cs[id].names, want)
	}
	if upsert("old", 2, nil) || upsert("older", 1, nil) || cs[id].slug != "news" {
		t.Error("a version not newer than the stored one was applied")
	}
	if !upsert("world", 3, map[string]string{"en": "World"}) || cs[id].slug != "world" {
		t.Error("a newer version was not applied")
	}
	if got := CategoryName(cs[id].names, cs[id].slug, "fr"); got != "World" {
		t.Errorf("CategoryName in a language it lacks = %q, want the English name", got)
	}
	if _, found, err := DeleteCategory[name](ctx, cs, id.String()); err != nil || !found {
		t.Errorf("DeleteCategory = %v, %v", found, err)
	}
	if _, found, err := DeleteCategory[name](ctx, cs, id.String()); err != nil || found {
		t.Errorf("DeleteCategory of a deleted category = %v, %v", found, err)
	}
	if _, _, err := UpsertCategory[name](ctx, quiet, cs, &metadataevents.CategoryUpserted{AggregateID: "nope"}); err == nil {
		t.Error("a bad category id was accepted")
	}
}

func TestCategoryName(t *testing.T) {
	names := []name{{"de", "Nachrichten"}, {"en", "News"}}
	for lang, want := range map[string]string{"de": "Nachrichten", "en": "News", "ja": "News"} {
		if got := CategoryName(names, "news", lang); got != want {
			t.Errorf("CategoryName(%s) = %q, want %q", lang, got, want)
		}
	}
	if got := CategoryName(names[:1], "news", "ja"); got != "Nachrichten" {
		t.Errorf("without English: %q, want the first name", got)
	}
	if got := CategoryName([]name(nil), "news", "ja"); got != "news" {
		t.Errorf("without names: %q, want the slug", got)
	}
}

// run is a Run that counts what it applies in a table of the transaction.
type run struct {
	tx          *sql.Tx
	r           *recorder
	finished    *int
	invalidated *[]bool
}

func (r *run) Apply(ctx context.Context, e inbox.Event[Change[*recorder]]) error {
	if err := e.Change.Apply(ctx, r.r); err != nil {
		return err
	}
	_, err := r.tx.ExecContext(ctx, `INSERT INTO applied (event_id) VALUES ('`+e.ID+`')`)
	return err
}
func (r *run) Finish(context.Context, int) error { *r.finished++; return nil }
func (r *run) Invalidate(_ context.Context, takedown bool) {
	*r.invalidated = append(*r.invalidated, takedown)
}

func TestHandle(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := t.Context()
		if err := inbox.Migrate(ctx, db); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, `CREATE TABLE applied (event_id TEXT NOT NULL)`); err != nil {
			t.Fatal(err)
		}
		count := func() (n int) {
			if err := db.QueryRowContext(ctx, `SELECT count(*) FROM applied`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		d := Decoder[*recorder]("readmodel-test", []func(uint64) (string, bool){contentevents.EventTypeForFingerprint}, nil)
		rec := &recorder{}
		finished, invalidated := 0, []bool(nil)
		handle := func(msgs ...eventbus.Message) error {
			return Handle(ctx, quiet, db, d, msgs, func(tx *sql.Tx) Run[*recorder] {
				rec.calls = nil
				return &run{tx: tx, r: rec, finished: &finished, invalidated: &invalidated}
			})
		}
		a, b := uuid.NewString(), uuid.NewString()
		pa, pb := msg(t, published(a)), msg(t, published(b))
		unpub := msg(t, &contentevents.ContentUnpublished{EventID: uuid.NewString(), OccurredAt: at, AggregateID: a, AggregateType: contentevents.AggregateTypeProgram, Version: 2})

		// A run with an event that fails changes nothing and invalidates nothing.
		rec.fail = b
		if err := handle(pa, pb); err == nil {
			t.Fatal("a run with a failing event succeeded")
		}
		if n := count(); n != 0 || len(invalidated) != 0 {
			t.Fatalf("a failed run left %d rows and %d invalidations", n, len(invalidated))
		}
		rec.fail = ""
		if err := handle(pa, pb); err != nil {
			t.Fatal(err)
		}
		if n := count(); n != 2 || finished != 1 || !slices.Equal(invalidated, []bool{false}) {
			t.Fatalf("after a run: %d rows, finished %d, invalidated %v; want 2, 1, [false]", n, finished, invalidated)
		}
		// Delivered again: nothing applied, nothing invalidated (Finish still runs in the transaction).
		if err := handle(pa, pb); err != nil {
			t.Fatal(err)
		}
		if n := count(); n != 2 || len(invalidated) != 1 {
			t.Fatalf("a redelivered run applied again: %d rows, invalidations %v", n, invalidated)
		}
		// A takedown is reported to Invalidate.
		if err := handle(unpub); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(invalidated, []bool{false, true}) {
			t.Fatalf("invalidations %v, want the unpublishing run to be a takedown", invalidated)
		}
		// Types the read model does not use are left out without a transaction.
		other := eventbus.Message{Topic: contentevents.TopicContentEvents, Headers: map[string]string{eventbus.HeaderEventType: "ingest.completed"}}
		if err := handle(other); err != nil || finished != 3 {
			t.Fatalf("an unused event type: %v, finished %d", err, finished)
		}
	})
}

// cacheLog is a Cache that records the namespaces it invalidates and fails on one.
type cacheLog struct {
	got  []string
	fail string
}

func (c *cacheLog) Invalidate(_ context.Context, ns string) error {
	if ns == c.fail {
		return errors.New("cache down")
	}
	c.got = append(c.got, ns)
	return nil
}

func TestInvalidate(t *testing.T) {
	c := &cacheLog{fail: "b"}
	Invalidate(t.Context(), quiet, c, "test", "a", "b", "c")
	if !slices.Equal(c.got, []string{"a"}) {
		t.Errorf("invalidated %q, want a failure to end it after a", c.got)
	}
	Invalidate(t.Context(), quiet, nil, "test", "a") // no cache: nothing to do
}

func TestReset(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := t.Context()
		if err := inbox.Migrate(ctx, db); err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{`CREATE TABLE rows (n INTEGER NOT NULL)`, `INSERT INTO rows (n) VALUES (1), (2)`} {
			if _, err := db.ExecContext(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := inbox.Apply(ctx, db, "reset-test", "e1", func(*sql.Tx) error { return nil }); err != nil {
			t.Fatal(err)
		}
		empty := func(tx *sql.Tx) []Table {
			return []Table{{Name: "rows", Empty: func(ctx context.Context) (int, error) {
				r, err := tx.ExecContext(ctx, `DELETE FROM rows`)
				if err != nil {
					return 0, err
				}
				n, err := r.RowsAffected()
				return int(n), err
			}}}
		}
		if err := Reset(ctx, db, "reset-test", empty); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM rows`).Scan(&n); err != nil || n != 0 {
			t.Fatalf("%d rows left (%v)", n, err)
		}
		if fresh, err := inbox.Apply(ctx, db, "reset-test", "e1", func(*sql.Tx) error { return nil }); err != nil || !fresh {
			t.Fatalf("after Reset the inbox still knows e1 (fresh %v, %v)", fresh, err)
		}
		failing := func(*sql.Tx) []Table {
			return []Table{{Name: "broken", Empty: func(context.Context) (int, error) { return 0, errors.New("boom") }}}
		}
		if err := Reset(ctx, db, "reset-test", failing); err == nil || err.Error() != "empty broken: boom" {
			t.Fatalf("Reset with a failing table = %v", err)
		}
	})
}

func TestNewer(t *testing.T) {
	ctx := t.Context()
	id := uuid.New()
	ts := tombstones{id: 5}
	row := int64(3)
	for _, c := range []struct {
		name    string
		item    Item
		version int64
		insert  bool
		want    bool
	}{
		{"older than the tombstone", Item{Kind: "program", ID: id}, 5, true, false},
		{"newer than the tombstone", Item{Kind: "program", ID: id}, 6, true, true},
		{"newer, but no row and no insert", Item{Kind: "program", ID: id}, 6, false, false},
		{"the row wins over the tombstone", Item{Kind: "episode", ID: id, Row: &row}, 4, false, true},
		{"not newer than the row", Item{Kind: "episode", ID: id, Row: &row}, 3, true, false},
	} {
		if got, err := Newer(ctx, quiet, ts, c.item, "snapshot", c.version, c.insert); err != nil || got != c.want {
			t.Errorf("%s: Newer = %v, %v; want %v", c.name, got, err, c.want)
		}
	}
	_, err := Newer(ctx, quiet, ts, Item{Kind: "episode", ID: id, ReadErr: errors.New("db down")}, "removal", 9, true)
	if err == nil || err.Error() != "read episode "+id.String()+": db down" {
		t.Errorf("a read error = %v", err)
	}
}

func TestPublishedAt(t *testing.T) {
	snap, stored, fallback := at.Add(time.Hour), at.Add(2*time.Hour), at
	for _, c := range []struct {
		snap, stored *time.Time
		want         time.Time
	}{{&snap, &stored, snap}, {nil, &stored, stored}, {nil, nil, fallback}} {
		if got := PublishedAt(c.snap, c.stored, fallback); !got.Equal(c.want) {
			t.Errorf("PublishedAt(%v, %v) = %v, want %v", c.snap, c.stored, got, c.want)
		}
	}
}
