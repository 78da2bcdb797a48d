package cms

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/gen/events/contentevents"
	"github.com/mediamesh/mediamesh/gen/events/mediaevents"
	"github.com/mediamesh/mediamesh/gen/events/metadataevents"
	"github.com/mediamesh/mediamesh/gen/openapi/cmsapi"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
	"github.com/mediamesh/mediamesh/internal/eventbus"
	"github.com/mediamesh/mediamesh/internal/outbox"
)

// assetDeleted is the message of an asset.deleted event of the asset as the media service's
// outbox relay publishes it.
func assetDeleted(t *testing.T, asset uuid.UUID) eventbus.Message {
	t.Helper()
	ev := &mediaevents.AssetDeleted{
		EventID: uuid.Must(uuid.NewV7()).String(), OccurredAt: time.Now().UTC().Truncate(time.Millisecond),
		AggregateID: asset.String(), Reason: mediaevents.DeletionReasonDeleted,
	}
	payload, err := outbox.Encode(ev)
	if err != nil {
		t.Fatal(err)
	}
	return outbox.Message(outbox.Record{
		EventID: ev.EventID, Topic: ev.Topic(), AggregateID: ev.MessageKey(), EventType: ev.EventType(),
		Payload: payload, Headers: map[string]string{}, OccurredAt: ev.OccurredAt,
	})
}

// snapshotAsset is the asset id field of a snapshot by its name.
func snapshotAsset(s contentevents.ContentSnapshot, field string) *string {
	switch field {
	case "cover_asset_id":
		return s.CoverAssetID
	case "thumbnail_asset_id":
		return s.ThumbnailAssetID
	case "media_asset_id":
		return s.MediaAssetID
	}
	panic("not an asset field: " + field)
}

// TestAssetDeleted consumes asset.deleted: every reference to the asset is cleared as an update
// by the system, with a new version, its event and its audit entry; a redelivery changes nothing;
// an asset nobody references changes nothing.
func TestAssetDeleted(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, Config{})
		ctx := context.Background()
		if topics := f.svc.Topics(); !slices.Equal(topics, []string{mediaevents.TopicMediaEvents, metadataevents.TopicMetadataEvents}) {
			t.Fatalf("topics %v", topics)
		}
		other := uuid.MustParse("0193a4bd-6e7f-7091-8293-0d1e2f304152") // another image
		f.media.set(func(m *fakeMedia) { m.assets[other] = "image" })

		// coverAsset is the cover of p and of the soft-deleted (published) program gone, and the
		// thumbnail of e1 and of gone's episode; videoAsset is the media of e1 and e2.
		p := f.createProgram("show", map[string]any{"cover_asset_id": coverAsset})
		keep := f.createProgram("keep", map[string]any{"cover_asset_id": other})
		e1 := f.createEpisode(p.Id, nil, 1, map[string]any{"thumbnail_asset_id": coverAsset, "media_asset_id": videoAsset})
		e2 := f.createEpisode(p.Id, nil, 2, map[string]any{"media_asset_id": videoAsset, "thumbnail_asset_id": other})
		gone := f.createProgram("gone", map[string]any{"cover_asset_id": coverAsset})
		goneEp := f.createEpisode(gone.Id, nil, 1, map[string]any{"thumbnail_asset_id": coverAsset})
		f.do(http.MethodPost, programPath(gone.Id, "publish"), "editor", nil).must(t, http.StatusOK, nil)
		f.do(http.MethodPost, episodePath(goneEp.Id, "publish"), "editor", nil).must(t, http.StatusOK, nil)
		if r := f.do(http.MethodDelete, programPath(gone.Id), "editor", nil); r.code != http.StatusNoContent {
			t.Fatal(r.code)
		}

		getProgram := func(id uuid.UUID) cmsapi.Program {
			t.Helper()
			var got cmsapi.Program
			f.do(http.MethodGet, programPath(id), "editor", nil).must(t, http.StatusOK, &got)
			return got
		}
		getEpisode := func(id uuid.UUID) cmsapi.Episode {
			t.Helper()
			var got cmsapi.Episode
			f.do(http.MethodGet, episodePath(id), "editor", nil).must(t, http.StatusOK, &got)
			return got
		}
		type counts struct{ outbox, audit, inbox int }
		state := func() counts { return counts{f.count("outbox"), f.count("audit_entries"), f.count("inbox")} }
		handle := func(m eventbus.Message) {
			t.Helper()
			if err := f.svc.HandleEvent(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
		// checkDropped checks that the latest change of id is the system's update that dropped
		// field, at version: its content.updated event (unless the content is soft-deleted) and
		// its audit entry.
		checkDropped := func(id uuid.UUID, version int32, field string, asset uuid.UUID, event bool) {
			t.Helper()
			evs := f.eventsOf(id)
			last := evs[len(evs)-1]
			if u, ok := last.value.(*contentevents.ContentUpdated); ok == event {
				if event && (u.ActorID != nil || u.Snapshot.Version != int64(version) || !slices.Equal(u.ChangedFields, []string{field}) || snapshotAsset(u.Snapshot, field) != nil) {
					t.Errorf("%s: event %+v", id, u)
				}
			} else {
				t.Errorf("%s: last event %s v%d, content.updated wanted: %v", id, last.typ, versionOf(last.value), event)
			}
			entries := f.audit(id)
			a := entries[0]
			if a.Action != "updated" || a.ActorId != uuid.Nil || len(a.ActorRoles) != 0 || a.RequestId != nil ||
				len(a.Changes) != 1 || a.Changes[0].Field != field || a.Changes[0].Before == nil || *a.Changes[0].Before != asset.String() || a.Changes[0].After != nil {
				t.Errorf("%s: audit entry %+v", id, a)
			}
		}

		// An asset nobody references changes nothing (the inbox records the event).
		before := state()
		handle(assetDeleted(t, uuid.Must(uuid.NewV7())))
		if got, want := state(), (counts{before.outbox, before.audit, before.inbox + 1}); got != want {
			t.Fatalf("an unreferenced asset: %+v, want %+v", got, want)
		}
		before = state()

		// The cover and thumbnails that were coverAsset.
		pv, e1v, e2v, keepv := getProgram(p.Id).Version, getEpisode(e1.Id).Version, getEpisode(e2.Id).Version, getProgram(keep.Id).Version
		gonev, goneEpv := getProgram(gone.Id).Version, getEpisode(goneEp.Id).Version
		m := assetDeleted(t, coverAsset)
		handle(m)
		after := state()
		if after.outbox != before.outbox+2 || after.audit != before.audit+4 || after.inbox != before.inbox+1 {
			t.Fatalf("%+v after %+v: want 2 events (p, e1) and 4 audit entries (p, e1, gone, its episode)", after, before)
		}
		if got := getProgram(p.Id); got.CoverAssetId != nil || got.Version != pv+1 || got.UpdatedBy != uuid.Nil || got.Title != p.Title {
			t.Fatalf("program %+v", got)
		}
		checkDropped(p.Id, pv+1, "cover_asset_id", coverAsset, true)
		if got := getEpisode(e1.Id); got.ThumbnailAssetId != nil || got.MediaAssetId == nil || *got.MediaAssetId != videoAsset || got.Version != e1v+1 {
			t.Fatalf("episode 1 %+v", got)
		}
		checkDropped(e1.Id, e1v+1, "thumbnail_asset_id", coverAsset, true)
		if got := getEpisode(e2.Id); got.Version != e2v || *got.ThumbnailAssetId != other {
			t.Fatalf("episode 2 changed: %+v", got)
		}
		if got := getProgram(keep.Id); got.Version != keepv || *got.CoverAssetId != other {
			t.Fatalf("another program changed: %+v", got)
		}
		// Soft-deleted content drops the reference too, without an event that would bring it
		// back to the read models.
		if got := getProgram(gone.Id); got.CoverAssetId != nil || got.Version != gonev+1 || got.DeletedAt == nil || got.Status != "published" {
			t.Fatalf("deleted program %+v", got)
		}
		checkDropped(gone.Id, gonev+1, "cover_asset_id", coverAsset, false)
		if got := getEpisode(goneEp.Id); got.ThumbnailAssetId != nil || got.Version != goneEpv+1 || got.DeletedAt == nil {
			t.Fatalf("deleted episode %+v", got)
		}
		checkDropped(goneEp.Id, goneEpv+1, "thumbnail_asset_id", coverAsset, false)

		// The same event again changes nothing.
		handle(m)
		if got := state(); got != after {
			t.Fatalf("a redelivery changed %+v to %+v", after, got)
		}
		if got := getProgram(p.Id); got.Version != pv+1 {
			t.Fatalf("a redelivery changed the program: %+v", got)
		}

		// The media of e1 and e2.
		handle(assetDeleted(t, videoAsset))
		if got := state(); got.outbox != after.outbox+2 || got.audit != after.audit+2 || got.inbox != after.inbox+1 {
			t.Fatalf("%+v after %+v", got, after)
		}
		if got := getEpisode(e1.Id); got.MediaAssetId != nil || got.ThumbnailAssetId != nil || got.Version != e1v+2 {
			t.Fatalf("episode 1 %+v", got)
		}
		checkDropped(e1.Id, e1v+2, "media_asset_id", videoAsset, true)
		if got := getEpisode(e2.Id); got.MediaAssetId != nil || *got.ThumbnailAssetId != other || got.Version != e2v+1 {
			t.Fatalf("episode 2 %+v", got)
		}
		checkDropped(e2.Id, e2v+1, "media_asset_id", videoAsset, true)

		// One event clears both fields of an episode that has the asset twice.
		f.media.set(func(m *fakeMedia) { m.assets[other] = "video" })
		f.do(http.MethodPatch, episodePath(e2.Id), "editor", map[string]any{"media_asset_id": other}).must(t, http.StatusOK, nil)
		handle(assetDeleted(t, other))
		if got := getEpisode(e2.Id); got.MediaAssetId != nil || got.ThumbnailAssetId != nil || got.Version != e2v+3 {
			t.Fatalf("episode 2 %+v", got)
		}
		if a := f.audit(e2.Id)[0]; len(a.Changes) != 2 {
			t.Fatalf("audit entry %+v", a)
		}
		evs := f.eventsOf(e2.Id)
		if u := evs[len(evs)-1].value.(*contentevents.ContentUpdated); !slices.Equal(u.ChangedFields, []string{"media_asset_id", "thumbnail_asset_id"}) ||
			u.Snapshot.MediaAssetID != nil || u.Snapshot.ThumbnailAssetID != nil {
			t.Fatalf("event %+v", u)
		}
		if got := getProgram(keep.Id); got.CoverAssetId != nil || got.Version != keepv+1 {
			t.Fatalf("program %+v", got)
		}
	})
}

// TestHandleEventInput ignores events of other types and refuses messages it cannot decode,
// changing nothing.
func TestHandleEventInput(t *testing.T) {
	f := newFixture(t, databasetest.SQLite(t), Config{})
	ctx := context.Background()
	p := f.createProgram("show", map[string]any{"cover_asset_id": coverAsset})
	other := assetDeleted(t, coverAsset)
	other.Headers[eventbus.HeaderEventType] = "asset.updated"
	if err := f.svc.HandleEvent(ctx, other); err != nil {
		t.Fatalf("another event type: %v", err)
	}
	for name, corrupt := range map[string]func(b []byte){
		"not single-object": func(b []byte) { b[0] = 0 },
		"another schema":    func(b []byte) { b[2] ^= 0xff },
	} {
		garbage := assetDeleted(t, coverAsset)
		corrupt(garbage.Value)
		if err := f.svc.HandleEvent(ctx, garbage); err == nil {
			t.Fatalf("%s: accepted", name)
		}
	}
	badID := &mediaevents.AssetDeleted{EventID: uuid.Must(uuid.NewV7()).String(), OccurredAt: time.Now(), AggregateID: "not-a-uuid", Reason: "deleted"}
	payload, err := outbox.Encode(badID)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.HandleEvent(ctx, eventbus.Message{Topic: mediaevents.TopicMediaEvents, Value: payload, Headers: map[string]string{}}); err == nil {
		t.Fatal("an event without an asset id was accepted")
	}
	var got cmsapi.Program
	f.do(http.MethodGet, programPath(p.Id), "editor", nil).must(t, http.StatusOK, &got)
	if got.Version != 1 || got.CoverAssetId == nil || f.count("inbox") != 0 {
		t.Fatalf("program %+v, %d inbox rows", got, f.count("inbox"))
	}
}

// TestAssetDeletedAtomicity: when a write of the change fails, neither the content, nor the
// events, nor the inbox record commit, so the redelivered event applies in full; concurrent
// updates of the same content lose nothing.
func TestAssetDeletedAtomicity(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, Config{})
		ctx := context.Background()
		p := f.createProgram("show", map[string]any{"cover_asset_id": coverAsset})
		e := f.createEpisode(p.Id, nil, 1, map[string]any{"thumbnail_asset_id": coverAsset})
		m := assetDeleted(t, coverAsset)
		type counts struct{ outbox, audit, inbox int }
		state := func() counts { return counts{f.count("outbox"), f.count("audit_entries"), f.count("inbox")} }
		before := state()
		undo := f.failAuditInserts()
		err := f.svc.HandleEvent(ctx, m)
		undo()
		if err == nil {
			t.Fatal("the event applied despite a failing audit insert")
		}
		var got cmsapi.Program
		if f.do(http.MethodGet, programPath(p.Id), "editor", nil).must(t, http.StatusOK, &got); got.CoverAssetId == nil || got.Version != 1 || state() != before {
			t.Fatalf("a failed event left %+v, rows %+v after %+v", got, state(), before)
		}
		if err := f.svc.HandleEvent(ctx, m); err != nil {
			t.Fatal(err)
		}
		var ep cmsapi.Episode
		f.do(http.MethodGet, episodePath(e.Id), "editor", nil).must(t, http.StatusOK, &ep)
		if f.do(http.MethodGet, programPath(p.Id), "editor", nil).must(t, http.StatusOK, &got); got.CoverAssetId != nil || ep.ThumbnailAssetId != nil {
			t.Fatalf("the redelivered event left %+v, %+v", got, ep)
		}

		// Editors and the event at once: every change is one version and one event.
		f.do(http.MethodPatch, programPath(p.Id), "editor", map[string]any{"cover_asset_id": thumbAsset}).must(t, http.StatusOK, &got)
		start := got.Version
		const n = 6
		codes := make([]int, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				codes[i] = f.do(http.MethodPatch, programPath(p.Id), "editor", map[string]any{"summary": fmt.Sprint("writer ", i)}).code
			})
		}
		wg.Go(func() {
			m := assetDeleted(t, thumbAsset)
			var err error
			for range 5 { // as the subscriber retries
				if err = f.svc.HandleEvent(ctx, m); err == nil {
					return
				}
			}
			t.Error(err)
		})
		wg.Wait()
		won := 0
		for _, c := range codes {
			switch c {
			case http.StatusOK:
				won++
			case http.StatusConflict:
			default:
				t.Fatalf("status %d", c)
			}
		}
		f.do(http.MethodGet, programPath(p.Id), "editor", nil).must(t, http.StatusOK, &got)
		if got.CoverAssetId != nil || int(got.Version) != int(start)+won+1 || len(f.eventsOf(p.Id)) != int(got.Version) {
			t.Fatalf("%d writers won: %+v with %d events", won, got, len(f.eventsOf(p.Id)))
		}
	})
}

// categoryDeleted is the message of a category.deleted event as the metadata service's outbox
// relay publishes it.
func categoryDeleted(t *testing.T, category uuid.UUID) eventbus.Message {
	t.Helper()
	ev := &metadataevents.CategoryDeleted{
		EventID: uuid.Must(uuid.NewV7()).String(), OccurredAt: time.Now().UTC().Truncate(time.Millisecond), AggregateID: category.String(),
	}
	payload, err := outbox.Encode(ev)
	if err != nil {
		t.Fatal(err)
	}
	return outbox.Message(outbox.Record{
		EventID: ev.EventID, Topic: ev.Topic(), AggregateID: ev.MessageKey(), EventType: ev.EventType(),
		Payload: payload, Headers: map[string]string{}, OccurredAt: ev.OccurredAt,
	})
}

// TestCategoryDeleted consumes category.deleted: a program that still has the category (a write
// set it in the instant the metadata service deleted it) loses it as an update by the system, with
// its event and audit entry, soft-deleted ones too (audit only); a redelivery changes nothing.
func TestCategoryDeleted(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, Config{})
		ctx := context.Background()
		p := f.createProgram("in-category", map[string]any{"category_id": f.cat.String()})
		gone := f.createProgram("gone-in-category", map[string]any{"category_id": f.cat.String()})
		other := f.createProgram("no-category", nil)
		if r := f.do(http.MethodDelete, programPath(gone.Id), "editor", nil); r.code != http.StatusNoContent {
			t.Fatal(r.code)
		}
		m := categoryDeleted(t, f.cat)
		before := f.count("audit_entries")
		for range 2 {
			if err := f.svc.HandleEvent(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
		if n := f.count("audit_entries"); n != before+2 {
			t.Fatalf("%d audit entries, want %d", n, before+2)
		}
		for _, id := range []uuid.UUID{p.Id, gone.Id, other.Id} {
			var got cmsapi.Program
			f.do(http.MethodGet, programPath(id), "editor", nil).must(t, http.StatusOK, &got)
			if got.CategoryId != nil {
				t.Fatalf("%s still has category %s", id, got.CategoryId)
			}
		}
		evs := f.eventsOf(p.Id)
		u, ok := evs[len(evs)-1].value.(*contentevents.ContentUpdated)
		if !ok || u.ActorID != nil || u.Snapshot.CategoryID != nil || !slices.Equal(u.ChangedFields, []string{"category_id"}) {
			t.Fatalf("last event of %s: %+v", p.Id, evs[len(evs)-1])
		}
		if a := f.audit(p.Id)[0]; a.Action != "updated" || a.ActorId != uuid.Nil || len(a.Changes) != 1 || a.Changes[0].Field != "category_id" {
			t.Fatalf("audit %+v", a)
		}
	})
}
