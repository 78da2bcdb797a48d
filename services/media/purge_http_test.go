package media

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/gen/events/contentevents"
	"github.com/mediamesh/mediamesh/gen/openapi/mediaapi"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
	"github.com/mediamesh/mediamesh/internal/eventbus"
	"github.com/mediamesh/mediamesh/internal/outbox"
)

// attachedImage uploads an image attached to content of type typ and makes its thumbnails.
func (f *fixture) attachedImage(typ string, content uuid.UUID) mediaapi.Asset {
	f.t.Helper()
	a := f.uploadImage(jpegBytes(f.t, 700, 400), field("attach_content_type", typ), field("attach_content_id", content.String()))
	f.svc.thumbnails(context.Background())
	a, _ = f.get(a.Id)
	if len(a.Thumbnails) != 2 {
		f.t.Fatalf("thumbnails %+v", a.Thumbnails)
	}
	return a
}

func keysOf(a mediaapi.Asset) []string {
	keys := []string{a.StorageKey}
	for _, th := range a.Thumbnails {
		keys = append(keys, th.StorageKey)
	}
	return keys
}

func (f *fixture) handle(m eventbus.Message) {
	f.t.Helper()
	if err := f.svc.HandleEvent(context.Background(), m); err != nil {
		f.t.Fatalf("HandleEvent: %v", err)
	}
}

// TestContentPurgeOrphans applies content.deleted with the default policy: orphan, then reclaim.
func TestContentPurgeOrphans(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, Config{OrphanGrace: 2 * time.Hour}, Deps{})
		if got := f.svc.Topics(); len(got) != 1 || got[0] != contentevents.TopicContentEvents {
			t.Errorf("topics %v", got)
		}
		program, other := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
		a := f.attachedImage("program", program)
		b := f.attachedImage("program", program)
		c := f.attachedImage("program", other)
		d := f.attachedImage("episode", program) // same id, another kind of content
		before := map[uuid.UUID]int32{}
		for _, x := range []mediaapi.Asset{a, b, c, d} {
			before[x.Id] = x.Version
		}

		// A soft delete changes nothing: the content can be restored.
		f.handle(purged(t, "program", program, true))
		for id, v := range before {
			if now, _ := f.get(id); now.Version != v || now.AttachedTo == nil {
				t.Errorf("soft delete changed %s: %+v", id, now)
			}
		}
		// Other content events are ignored.
		f.handle(eventbus.Message{Topic: contentevents.TopicContentEvents, Value: []byte("x"), Headers: map[string]string{eventbus.HeaderEventType: contentevents.TypeContentPublished}})

		f.clock.advance(time.Minute)
		orphanedAt := f.clock.now()
		hard := purged(t, "program", program, false)
		f.handle(hard)
		for _, x := range []mediaapi.Asset{a, b} {
			now, _ := f.get(x.Id)
			if now.AttachedTo != nil || now.Version != x.Version+1 || !now.UpdatedAt.Equal(orphanedAt) {
				t.Errorf("orphan %s: %+v", x.Id, now)
			}
			if row := f.row(x.Id); row.OrphanedAt == nil || !row.OrphanedAt.Equal(orphanedAt) {
				t.Errorf("orphan %s: orphaned_at %v, want %s", x.Id, row.OrphanedAt, orphanedAt)
			}
			for _, k := range keysOf(x) {
				if _, ok := f.stored(k); !ok {
					t.Errorf("orphan's %s deleted before the grace period", k)
				}
			}
		}
		for _, x := range []mediaapi.Asset{c, d} {
			if now, _ := f.get(x.Id); now.AttachedTo == nil || now.Version != x.Version || f.row(x.Id).OrphanedAt != nil {
				t.Errorf("unrelated asset %s changed: %+v", x.Id, now)
			}
		}
		if len(f.deletions()) != 0 {
			t.Fatal("orphaning emitted events")
		}

		// Re-attaching b rescues it; a replayed purge does not detach it again (the inbox).
		f.do(http.MethodPatch, assetPath(b.Id), "editor", map[string]any{"attached_to": map[string]any{"content_type": "program", "content_id": program}}).must(t, http.StatusOK, nil)
		if f.row(b.Id).OrphanedAt != nil {
			t.Error("re-attaching kept orphaned_at")
		}
		f.handle(hard)
		if now, _ := f.get(b.Id); now.AttachedTo == nil || now.AttachedTo.ContentId != program {
			t.Errorf("a replayed event detached the asset again: %+v", now)
		}

		// Within the grace period the cleanup keeps the orphan; after it, reclaims it.
		f.clock.advance(2 * time.Hour)
		f.svc.cleanup(context.Background())
		f.get(a.Id)
		f.clock.advance(time.Second)
		f.svc.cleanup(context.Background())
		f.gone(a.Id)
		f.mustNotStore(keysOf(a)...)
		f.deletedOnce(a.Id, reasonOrphaned, nil, "", nil)
		for _, x := range []mediaapi.Asset{b, c, d} {
			f.get(x.Id)
			for _, k := range keysOf(x) {
				if _, ok := f.stored(k); !ok {
					t.Errorf("kept asset's %s deleted", k)
				}
			}
		}
		if n := len(f.deletions()); n != 1 {
			t.Errorf("%d events, want 1", n)
		}
	})
}

// TestContentPurgeDeletes applies content.deleted with the delete policy.
func TestContentPurgeDeletes(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, Config{OnContentPurge: OnPurgeDelete}, Deps{})
		episode, other := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
		a := f.attachedImage("episode", episode)
		b := f.attachedImage("episode", episode)
		c := f.attachedImage("episode", other)
		loose := f.uploadImage(jpegBytes(t, 10, 10))

		f.handle(purged(t, "episode", episode, true))
		f.get(a.Id)
		f.get(b.Id)
		if len(f.deletions()) != 0 {
			t.Fatal("a soft delete emitted events")
		}

		hard := purged(t, "episode", episode, false)
		f.handle(hard)
		for _, x := range []mediaapi.Asset{a, b} {
			f.gone(x.Id)
			f.mustNotStore(keysOf(x)...)
			f.deletedOnce(x.Id, reasonContentPurged, nil, "episode", &episode)
		}
		f.get(c.Id)
		f.get(loose.Id)
		for _, k := range append(keysOf(c), loose.StorageKey) {
			if _, ok := f.stored(k); !ok {
				t.Errorf("unrelated %s deleted", k)
			}
		}

		// Replaying the event, even after a new asset is attached to the same id, is a no-op.
		late := f.attachedImage("episode", episode)
		f.handle(hard)
		f.handle(hard)
		f.get(late.Id)
		if n := len(f.deletions()); n != 2 {
			t.Errorf("%d events after replays, want 2", n)
		}
		// A purge of the program with the same id does not touch the episode's asset.
		f.handle(purged(t, "program", episode, false))
		f.get(late.Id)
	})
}

// TestHandleEventMalformed checks that undecodable content.deleted events are errors (so the bus
// retries or dead-letters them) and change nothing.
func TestHandleEventMalformed(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, Config{OnContentPurge: OnPurgeDelete}, Deps{})
		a := f.uploadImage(jpegBytes(t, 10, 10))
		bad := purged(t, "program", uuid.Must(uuid.NewV7()), false)
		bad.Value = append([]byte(nil), bad.Value[:12]...)
		if err := f.svc.HandleEvent(context.Background(), bad); err == nil {
			t.Error("a truncated event was accepted")
		}
		// A wrong aggregate id.
		ev := &contentevents.ContentDeleted{EventID: uuid.NewString(), OccurredAt: testStart, AggregateID: "nope", AggregateType: "program"}
		payload, err := outbox.Encode(ev)
		if err != nil {
			t.Fatal(err)
		}
		m := outbox.Message(outbox.Record{EventID: ev.EventID, Topic: ev.Topic(), AggregateID: "nope", EventType: ev.EventType(), Payload: payload, Headers: map[string]string{}})
		if err := f.svc.HandleEvent(context.Background(), m); err == nil {
			t.Error("an event with a malformed aggregate id was accepted")
		}
		// Without the event_type header the type comes from the payload's fingerprint.
		program := uuid.Must(uuid.NewV7())
		owned := f.attachedImage("program", program)
		noHeader := purged(t, "program", program, false)
		delete(noHeader.Headers, eventbus.HeaderEventType)
		f.handle(noHeader)
		f.gone(owned.Id)
		f.get(a.Id)
	})
}
