package discovery

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/gen/events/contentevents"
	"github.com/mediamesh/mediamesh/gen/events/mediaevents"
	"github.com/mediamesh/mediamesh/gen/openapi/discoveryapi"
	"github.com/mediamesh/mediamesh/internal/cache"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
	"github.com/mediamesh/mediamesh/internal/eventbus"
)

func TestProgramLifecycle(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		id := newID()
		path := "/api/v1/discovery/programs/" + id

		draft := programSnap(id, 1, "Morning Show", "en")
		draft.Status, draft.PublishedAt = contentevents.ContentStatusDraft, nil
		created := message(t, &contentevents.ContentCreated{EventID: newID(), OccurredAt: base, AggregateID: id,
			AggregateType: contentevents.AggregateTypeProgram, Snapshot: draft}, newID())
		draft.Version = 2
		f.feed(created, updatedMsg(t, draft, "title")) // drafts never reach the read model
		f.wantStatus(path, http.StatusNotFound)

		p := programSnap(id, 3, "Morning Show", "en")
		p.Summary, p.Tags = ptr("Daily news."), []string{"News", "morning"}
		f.feed(publishedMsg(t, p))
		var got discoveryapi.PublicProgram
		f.getJSON(path, &got)
		if got.Title != "Morning Show" || got.Slug != *p.Slug || got.Kind != discoveryapi.Podcast || got.Language != "en" ||
			*got.Summary != "Daily news." || !slices.Equal(got.Tags, []string{"News", "morning"}) || got.EpisodeCount != 0 ||
			!got.PublishedAt.Equal(base) || got.CoverUrl != nil || got.Category != nil {
			t.Fatalf("published program %+v", got)
		}
		if etag := f.record(path).Header().Get("ETag"); etag == "" {
			t.Fatal("no ETag on getPublicProgram")
		}

		// An update of a published program changes it; updated_at is when it happened.
		p.Version, p.Title, p.Summary = 4, "The Morning Show", nil
		f.feed(updatedMsg(t, p, "summary", "title"))
		f.getJSON(path, &got)
		if got.Title != "The Morning Show" || got.Summary != nil || !got.UpdatedAt.Equal(base.Add(time.Hour)) {
			t.Fatalf("updated program %+v", got)
		}

		// An update to another status takes it out; republishing brings it back.
		archived := p
		archived.Version, archived.Status = 5, contentevents.ContentStatusArchived
		f.feed(updatedMsg(t, archived, "status"))
		f.wantStatus(path, http.StatusNotFound)
		p.Version = 6
		f.feed(publishedMsg(t, p))
		f.wantStatus(path, http.StatusOK)

		f.feed(unpublishedMsg(t, p, 7))
		f.wantStatus(path, http.StatusNotFound)
		var list programList
		f.getJSON("/api/v1/discovery/programs", &list)
		if len(list.Items) != 0 {
			t.Fatalf("unpublished program listed: %v", list.ids())
		}
		// An update of an item not in the read model does not add it.
		p.Version = 8
		f.feed(updatedMsg(t, p, "title"))
		f.wantStatus(path, http.StatusNotFound)
		p.Version = 9
		f.feed(publishedMsg(t, p), deletedMsg(t, p, 10))
		f.wantStatus(path, http.StatusNotFound)
	})
}

func TestEpisodeVisibility(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		progID, epID := newID(), newID()
		prog := programSnap(progID, 1, "Deep Sea", "en")
		ep := episodeSnap(epID, progID, 1, ptr(1), 1, base.Add(time.Hour))
		epPath := "/api/v1/discovery/episodes/" + epID

		// Published before its program: stored, not visible.
		f.feed(publishedMsg(t, ep))
		f.wantStatus(epPath, http.StatusNotFound)
		f.wantStatus("/api/v1/discovery/programs/"+progID+"/episodes", http.StatusNotFound)
		var latest episodeList
		f.getJSON("/api/v1/discovery/latest", &latest)
		if len(latest.Items) != 0 {
			t.Fatalf("episode of an unpublished program in latest: %v", latest.ids())
		}

		f.feed(publishedMsg(t, prog))
		var got discoveryapi.PublicEpisode
		f.getJSON(epPath, &got)
		if got.ProgramTitle != "Deep Sea" || got.EpisodeNumber != 1 || *got.SeasonNumber != 1 || *got.DurationSeconds != 1800 || got.MediaUrl != nil || got.ThumbnailUrl != nil {
			t.Fatalf("episode %+v", got)
		}
		var p discoveryapi.PublicProgram
		f.getJSON("/api/v1/discovery/programs/"+progID, &p)
		if p.EpisodeCount != 1 {
			t.Fatalf("episode_count %d, want 1", p.EpisodeCount)
		}

		// Updating the episode; an update to draft removes it, and the count follows.
		ep.Version, ep.Title = 2, "Vents"
		f.feed(updatedMsg(t, ep, "title"))
		f.getJSON(epPath, &got)
		if got.Title != "Vents" {
			t.Fatalf("updated episode %+v", got)
		}
		ep2 := episodeSnap(newID(), progID, 1, nil, 2, base.Add(2*time.Hour))
		f.feed(publishedMsg(t, ep2))
		f.getJSON("/api/v1/discovery/programs/"+progID, &p)
		if p.EpisodeCount != 2 {
			t.Fatalf("episode_count %d, want 2", p.EpisodeCount)
		}
		ep2.Version, ep2.Status = 2, contentevents.ContentStatusDraft
		f.feed(updatedMsg(t, ep2, "status"))
		f.getJSON("/api/v1/discovery/programs/"+progID, &p)
		if p.EpisodeCount != 1 {
			t.Fatalf("episode_count %d after the episode went back to draft, want 1", p.EpisodeCount)
		}

		// Unpublishing the program hides its episodes; republishing shows them again.
		f.feed(unpublishedMsg(t, prog, 2))
		f.wantStatus(epPath, http.StatusNotFound)
		prog.Version = 3
		f.feed(publishedMsg(t, prog))
		f.wantStatus(epPath, http.StatusOK)

		// Unpublishing the episode removes it.
		f.feed(unpublishedMsg(t, ep, 3))
		f.wantStatus(epPath, http.StatusNotFound)
		ep.Version = 4
		f.feed(publishedMsg(t, ep))
		f.wantStatus(epPath, http.StatusOK)

		// Deleting the program removes its episodes: they stay gone if it is published again.
		f.feed(deletedMsg(t, prog, 4))
		f.wantStatus(epPath, http.StatusNotFound)
		prog.Version = 5
		f.feed(publishedMsg(t, prog))
		f.wantStatus(epPath, http.StatusNotFound)
		f.getJSON("/api/v1/discovery/programs/"+progID, &p)
		if p.EpisodeCount != 0 {
			t.Fatalf("episode_count %d after the program was deleted, want 0", p.EpisodeCount)
		}
		// Deleting an episode.
		ep3 := episodeSnap(newID(), progID, 1, nil, 3, base)
		f.feed(publishedMsg(t, ep3))
		f.wantStatus("/api/v1/discovery/episodes/"+ep3.ID, http.StatusOK)
		f.feed(deletedMsg(t, ep3, 2))
		f.wantStatus("/api/v1/discovery/episodes/"+ep3.ID, http.StatusNotFound)
	})
}

func TestStaleAndDuplicateEvents(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		id := newID()
		path := "/api/v1/discovery/programs/" + id
		p := programSnap(id, 1, "A", "en")
		pub := publishedMsg(t, p)
		f.feed(pub, pub) // the same event twice

		p.Version, p.Title = 3, "C"
		newer := updatedMsg(t, p, "title")
		p.Version, p.Title = 2, "B"
		older := updatedMsg(t, p, "title")
		f.feed(newer, older, newer)
		var got discoveryapi.PublicProgram
		f.getJSON(path, &got)
		if got.Title != "C" {
			t.Fatalf("title %q after a stale update, want C", got.Title)
		}
		var langs discoveryapi.PublicLanguageList
		f.getJSON("/api/v1/discovery/languages", &langs)
		if len(langs.Items) != 1 || langs.Items[0].ProgramCount != 1 {
			t.Fatalf("a duplicate publish counted twice: %+v", langs.Items)
		}

		// After removal, neither the redelivered publish nor an older snapshot brings it back.
		f.feed(unpublishedMsg(t, p, 4), pub)
		p.Version = 4
		f.feed(publishedMsg(t, p))
		f.wantStatus(path, http.StatusNotFound)
		stale := unpublishedMsg(t, p, 4)
		p.Version = 5
		f.feed(publishedMsg(t, p), stale) // a removal not newer than the stored version is ignored
		f.wantStatus(path, http.StatusOK)
		f.getJSON("/api/v1/discovery/languages", &langs)
		if len(langs.Items) != 1 || langs.Items[0].ProgramCount != 1 {
			t.Fatalf("languages %+v, want en once", langs.Items)
		}
	})
}

func TestHandleEventMessages(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		ctx := t.Context()
		// Event types the read model does not use are ignored.
		other := eventbus.Message{Topic: "auth.events", Value: []byte("whatever"), Headers: map[string]string{eventbus.HeaderEventType: "user.registered"}}
		if err := f.svc.HandleEvent(ctx, other); err != nil {
			t.Fatalf("unknown event type: %v", err)
		}
		// A corrupt message of a known type is an error (the bus retries, then dead-letters it).
		good := publishedMsg(t, programSnap(newID(), 1, "T", "en"))
		for name, value := range map[string][]byte{
			"empty":     nil,
			"truncated": good.Value[:len(good.Value)/2],
			"not avro":  []byte("{\"event_id\":\"x\"}"),
		} {
			m := good
			m.Value = value
			if err := f.svc.HandleEvent(ctx, m); err == nil {
				t.Errorf("%s payload accepted", name)
			}
		}
		// A payload of another event type than its header says.
		m := good
		m.Headers = map[string]string{eventbus.HeaderEventType: contentevents.TypeContentDeleted}
		if err := f.svc.HandleEvent(ctx, m); err == nil {
			t.Error("payload of another schema accepted")
		}
		// Without the event type header, the schema fingerprint names the type.
		m = good
		m.Headers = nil
		if err := f.svc.HandleEvent(ctx, m); err != nil {
			t.Fatal(err)
		}
		var list programList
		f.getJSON("/api/v1/discovery/programs", &list)
		if len(list.Items) != 1 {
			t.Fatalf("programs %v, want the one published without headers", list.ids())
		}
		// A snapshot the contract cannot represent is refused.
		bad := programSnap(newID(), 1, "T", "en")
		bad.Slug = nil
		if err := f.svc.HandleEvent(ctx, publishedMsg(t, bad)); err == nil {
			t.Error("program without slug accepted")
		}
		bad = episodeSnap(newID(), newID(), 1, nil, 1, base)
		bad.EpisodeNumber = nil
		if err := f.svc.HandleEvent(ctx, publishedMsg(t, bad)); err == nil {
			t.Error("episode without number accepted")
		}
	})
}

// TestEpisodeCountsKept follows a program's kept episode count through the changes that move it,
// against the count of its stored episodes; a row from before the count was kept (NULL) is counted
// when read and gets its count at its next change.
func TestEpisodeCountsKept(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		ctx := t.Context()
		progID, otherID := newID(), newID()
		count := func(step string, want int) {
			t.Helper()
			var p discoveryapi.PublicProgram
			f.getJSON("/api/v1/discovery/programs/"+progID, &p)
			var list programList
			f.getJSON("/api/v1/discovery/programs?limit=100", &list)
			inList := -1
			for _, it := range list.Items {
				if it.ID == progID {
					inList = it.EpisodeCount
				}
			}
			if p.EpisodeCount != int32(want) || inList != want {
				t.Fatalf("%s: episode_count %d (list %d), want %d", step, p.EpisodeCount, inList, want)
			}
		}
		// Episodes published before their program are counted when it arrives.
		e1 := episodeSnap(newID(), progID, 1, nil, 1, base)
		e2 := episodeSnap(newID(), progID, 1, nil, 2, base)
		f.feed(publishedMsg(t, e1), publishedMsg(t, e2))
		prog := programSnap(progID, 1, "Counted", "en")
		f.feed(publishedMsg(t, prog), publishedMsg(t, programSnap(otherID, 1, "Other", "en")))
		count("program after its episodes", 2)
		e3 := episodeSnap(newID(), progID, 1, nil, 3, base)
		f.feed(publishedMsg(t, e3))
		count("a third episode", 3)
		f.feed(unpublishedMsg(t, e2, 2))
		count("an episode unpublished", 2)
		f.feed(deletedMsg(t, e3, 2))
		count("an episode deleted", 1)
		moved := e1
		moved.Version, moved.ProgramID = 2, &otherID
		f.feed(updatedMsg(t, moved, "program_id"))
		count("an episode moved to another program", 0)
		e2.Version = 3
		f.feed(publishedMsg(t, e2))
		count("an episode published again", 1)
		f.feed(unpublishedMsg(t, prog, 2))
		prog.Version = 3
		f.feed(publishedMsg(t, prog))
		count("the program unpublished and published again", 1)

		// A row written before the count was kept.
		if _, err := db.ExecContext(ctx, `UPDATE programs SET episode_count = NULL`); err != nil {
			t.Fatal(err)
		}
		count("a row without a kept count", 1)
		prog.Version, prog.Title = 4, "Counted again"
		f.feed(updatedMsg(t, prog, "title"))
		var kept sql.NullInt64
		if err := db.QueryRowContext(ctx, db.Rebind(`SELECT episode_count FROM programs WHERE id = ?`), progID).Scan(&kept); err != nil {
			t.Fatal(err)
		}
		if !kept.Valid || kept.Int64 != 1 {
			t.Fatalf("after its next change the row keeps %v, want 1", kept)
		}
	})
}

// recordingCache records the namespaces invalidated.
type recordingCache struct{ got []string }

func (c *recordingCache) Invalidate(_ context.Context, ns string) error {
	c.got = append(c.got, ns)
	return nil
}

// TestInvalidationByScope: a change of an episode invalidates the lists, its program and itself
// (the x-cache scopes), not every cached response; a program, category or asset change invalidates
// everything.
func TestInvalidationByScope(t *testing.T) {
	db := databasetest.SQLite(t)
	newFixture(t, db) // migrates db
	rc := &recordingCache{}
	svc, err := New(Config{}, Deps{DB: db, Log: slog.New(slog.DiscardHandler), Cache: rc})
	if err != nil {
		t.Fatal(err)
	}
	feed := func(m eventbus.Message) []string {
		t.Helper()
		rc.got = nil
		if err := svc.HandleEvent(t.Context(), m); err != nil {
			t.Fatal(err)
		}
		slices.Sort(rc.got)
		return rc.got
	}
	progID, other := newID(), newID()
	if got := feed(publishedMsg(t, programSnap(progID, 1, "Scoped", "en"))); fmt.Sprint(got) != "[discovery]" {
		t.Errorf("a program published invalidated %v, want everything", got)
	}
	e := episodeSnap(newID(), progID, 1, nil, 1, base)
	want := []string{
		cache.Scope("discovery", "episode", e.ID), cache.Scope("discovery", "lists", ""),
		cache.Scope("discovery", "program", progID), cache.Scope("discovery", "rankings", ""), // the rankings show episodes
	}
	slices.Sort(want)
	if got := feed(publishedMsg(t, e)); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("an episode published invalidated %v, want %v", got, want)
	}
	e.Version, e.ProgramID = 2, &other
	want = append(want, cache.Scope("discovery", "program", other))
	slices.Sort(want)
	if got := feed(updatedMsg(t, e, "program_id")); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("an episode moved invalidated %v, want %v (both programs)", got, want)
	}
	if got := feed(unpublishedMsg(t, e, 3)); !slices.Contains(got, cache.Scope("discovery", "program", other)) || slices.Contains(got, "discovery") ||
		!slices.Contains(got, cache.Takedowns) {
		t.Errorf("an episode unpublished invalidated %v, want its scopes and the last good answers (a takedown)", got)
	}
	if got := feed(categoryUpsertedMsg(t, newID(), "news", 1, map[string]string{"en": "News"})); fmt.Sprint(got) != "[discovery]" {
		t.Errorf("a category change invalidated %v, want everything", got)
	}
	// An asset: made public, changed while public, made private; only the last is a takedown.
	asset := newID()
	for i, step := range []struct {
		public, takedown bool
	}{{true, false}, {true, false}, {false, true}} {
		got := feed(assetUpdatedMsg(t, asset, int64(i+1), mediaevents.AssetKindImage, step.public))
		if slices.Contains(got, cache.Takedowns) != step.takedown {
			t.Errorf("asset update %d (public %v) invalidated %v; a takedown: %v", i+1, step.public, got, step.takedown)
		}
	}
}
