package search

import (
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/gen/events/contentevents"
	"github.com/mediamesh/mediamesh/internal/cache"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
	"github.com/mediamesh/mediamesh/internal/eventbus"
)

// TestPublishedContentIsFound publishes an Arabic and an English program: the Arabic one is found
// with and without the article, diacritics and alef variants and by a typed prefix; the English
// one through stemming.
func TestPublishedContentIsFound(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		ar := programSnap(1, "برنامج الصّباح", "ar")
		ar.Summary = ptr("حوارات الصباح اليومية مع الضيوف")
		en := programSnap(1, "Deep Sea Explorers", "en")
		en.Summary = ptr("Exploring the oceans with divers")
		en.Tags = []string{"oceans", "science"}
		f.feed(publishedMsg(t, ar), publishedMsg(t, en))

		for _, q := range []string{"الصباح", "صباح", "الصّباح", "صَباحُ", "والصباح", "برنامج الصباح", "الصب", "الحوارات"} {
			f.wantFound([]string{"q", q}, ar.ID)
		}
		for _, q := range []string{"explore", "explorer", "exploring", "ocean", "Divers", "deep se"} {
			f.wantFound([]string{"q", q}, en.ID)
		}
		f.wantFound([]string{"q", "mountains"})

		h := f.hit(ar.ID, "q", "صباح")
		if h.Type != "program" || h.Title != ar.Title || h.Language != "ar" || h.Kind != "podcast" || !h.PublishedAt.Equal(base) {
			t.Errorf("hit %+v does not show the program", h)
		}
		if h.Snippet == nil || h.Score <= 0 {
			t.Errorf("hit of a text search without snippet or score: %+v", h)
		}
		if h.ThumbnailUrl != nil || h.ProgramId != nil || h.Category != nil {
			t.Errorf("hit %+v shows what the program does not have", h)
		}
	})
}

// TestDraftsAreNeverFound feeds drafts, scheduled and archived content: none is searchable.
func TestDraftsAreNeverFound(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		draft := programSnap(1, "Draft show", "en")
		draft.Status, draft.PublishedAt = contentevents.ContentStatusDraft, nil
		scheduled := programSnap(1, "Scheduled show", "en")
		scheduled.Status = contentevents.ContentStatusScheduled
		f.feed(createdMsg(t, draft), createdMsg(t, scheduled))
		draft.Version, draft.Title = 2, "Draft show renamed"
		scheduled.Version = 2
		f.feed(updatedMsg(t, draft, "title"), updatedMsg(t, scheduled, "scheduled_publish_at"))
		// An episode published under a draft program is stored, but not searchable.
		e := episodeSnap(draft.ID, 1, "Draft episode", "en", base)
		f.feed(publishedMsg(t, e))
		f.wantFound([]string{"q", "show"})
		f.wantFound([]string{"q", "draft"})
		f.wantFound([]string{"language", "en"})
		if got := f.suggest("q", "dra").Items; len(got) != 0 {
			t.Errorf("suggestions of drafts: %+v", got)
		}
	})
}

// TestUpdatesReindex updates published content: the new text is found, the old is not; an update
// to a status other than published removes it; an older snapshot changes nothing.
func TestUpdatesReindex(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		p := programSnap(1, "Morning coffee", "en")
		f.feed(publishedMsg(t, p))
		f.wantFound([]string{"q", "coffee"}, p.ID)

		p.Version, p.Title, p.Tags = 2, "Evening tea", []string{"drinks"}
		f.feed(updatedMsg(t, p, "tags", "title"))
		f.wantFound([]string{"q", "coffee"})
		f.wantFound([]string{"q", "tea"}, p.ID)
		f.wantFound([]string{"q", "drinks"}, p.ID)

		stale := p
		stale.Version, stale.Title = 1, "Stale title"
		f.feed(updatedMsg(t, stale, "title"), publishedMsg(t, stale))
		f.wantFound([]string{"q", "stale"})
		f.wantFound([]string{"q", "tea"}, p.ID)

		p.Version, p.Status = 3, contentevents.ContentStatusArchived
		f.feed(updatedMsg(t, p, "status"))
		f.wantFound([]string{"q", "tea"})

		// A published update of content the service never saw published makes it searchable.
		late := programSnap(4, "Late arrival", "en")
		f.feed(updatedMsg(t, late, "title"))
		f.wantFound([]string{"q", "arrival"}, late.ID)
	})
}

// TestUnpublishAndDeleteRemove unpublishes and deletes programs and episodes.
func TestUnpublishAndDeleteRemove(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		a := programSnap(1, "Alpha show", "en")
		b := programSnap(1, "Beta show", "en")
		e1 := episodeSnap(a.ID, 1, "Alpha show pilot", "en", base.Add(time.Hour))
		e2 := episodeSnap(a.ID, 1, "Alpha show finale", "en", base.Add(2*time.Hour))
		f.feed(publishedMsg(t, a), publishedMsg(t, b), publishedMsg(t, e1), publishedMsg(t, e2))
		f.wantFound([]string{"q", "show"}, a.ID, b.ID, e1.ID, e2.ID)

		f.feed(unpublishedMsg(t, e1, 2))
		f.wantFound([]string{"q", "show"}, a.ID, b.ID, e2.ID)
		f.feed(deletedMsg(t, b, 2))
		f.wantFound([]string{"q", "show"}, a.ID, e2.ID)
		// An older snapshot does not bring removed content back.
		f.feed(publishedMsg(t, e1), publishedMsg(t, b))
		f.wantFound([]string{"q", "show"}, a.ID, e2.ID)
		// A newer one does.
		e1.Version = 3
		f.feed(publishedMsg(t, e1))
		f.wantFound([]string{"q", "show"}, a.ID, e1.ID, e2.ID)

		// Deleting a program removes its episodes, which do not come back with a new program.
		f.feed(deletedMsg(t, a, 2))
		f.wantFound([]string{"q", "show"})
		a.Version = 3
		f.feed(publishedMsg(t, a))
		f.wantFound([]string{"q", "show"}, a.ID)
	})
}

// TestEpisodesFollowTheirProgram publishes an episode before its program: it is found only while
// the program is published, and carries the program's title and kind.
func TestEpisodesFollowTheirProgram(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		p := programSnap(1, "Night sky", "en")
		p.Kind = ptr(contentevents.ContentKindDocumentary)
		e := episodeSnap(p.ID, 1, "Saturn rings", "en", base.Add(time.Hour))
		f.feed(publishedMsg(t, e))
		f.wantFound([]string{"q", "saturn"})

		f.feed(publishedMsg(t, p))
		f.wantFound([]string{"q", "saturn"}, e.ID)
		h := f.hit(e.ID, "q", "saturn")
		if h.Type != "episode" || h.ProgramId == nil || h.ProgramId.String() != p.ID || h.ProgramTitle == nil ||
			*h.ProgramTitle != "Night sky" || h.Kind != "documentary" || h.DurationSeconds == nil || *h.DurationSeconds != 1800 {
			t.Errorf("episode hit %+v does not carry its program", h)
		}

		// A program's new title and kind reach its episodes.
		p.Version, p.Title, p.Kind = 2, "Night sky live", ptr(contentevents.ContentKindShow)
		f.feed(updatedMsg(t, p, "kind", "title"))
		h = f.hit(e.ID, "q", "saturn")
		if *h.ProgramTitle != "Night sky live" || h.Kind != "show" {
			t.Errorf("episode hit %+v after its program changed", h)
		}
		f.wantFound([]string{"kind", "show"}, p.ID, e.ID)

		f.feed(unpublishedMsg(t, p, 3))
		f.wantFound([]string{"q", "saturn"})
		f.wantFound([]string{"q", "night"})
		// The episode stayed stored: it comes back with its program, and its updates while
		// the program was away are kept.
		e.Version, e.Title = 2, "Saturn rings revisited"
		f.feed(updatedMsg(t, e, "title"))
		f.wantFound([]string{"q", "revisited"})
		p.Version = 4
		f.feed(publishedMsg(t, p))
		f.wantFound([]string{"q", "saturn"}, e.ID)
		f.wantFound([]string{"q", "revisited"}, e.ID)
	})
}

// TestCategories gives content a category before and after the category is known, renames it
// and deletes it: documents carry its slug and its name in their language (English otherwise).
func TestCategories(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		cat := newID()
		ar := programSnap(1, "نشرة الأخبار", "ar")
		ar.CategoryID = &cat
		fr := programSnap(1, "Le journal", "fr")
		fr.CategoryID = &cat
		e := episodeSnap(ar.ID, 1, "Morning bulletin", "en", base.Add(time.Hour))
		f.feed(publishedMsg(t, ar), publishedMsg(t, fr), publishedMsg(t, e))
		if h := f.hit(ar.ID, "language", "ar"); h.Category != nil {
			t.Errorf("category of an unknown category: %+v", h.Category)
		}

		f.feed(categoryUpsertedMsg(t, cat, "news", 1, map[string]string{"en": "News", "ar": "أخبار"}))
		f.wantFound([]string{"category", "news"}, ar.ID, fr.ID, e.ID)
		names := map[string]string{ar.ID: "أخبار", fr.ID: "News", e.ID: "News"}
		for id, want := range names {
			h := f.hit(id, "category", "news")
			if h.Category == nil || h.Category.Id.String() != cat || h.Category.Slug != "news" || h.Category.Name != want {
				t.Errorf("category of %s: %+v, want news %q", id, h.Category, want)
			}
		}

		f.feed(categoryUpsertedMsg(t, cat, "current-affairs", 2, map[string]string{"en": "Current affairs", "ar": "شؤون الساعة"}))
		f.wantFound([]string{"category", "news"})
		f.wantFound([]string{"category", "current-affairs"}, ar.ID, fr.ID, e.ID)
		if h := f.hit(ar.ID, "category", "current-affairs"); h.Category.Name != "شؤون الساعة" {
			t.Errorf("renamed category: %+v", h.Category)
		}
		if h := f.hit(e.ID, "category", "current-affairs"); h.Category.Name != "Current affairs" {
			t.Errorf("renamed category of an episode: %+v", h.Category)
		}
		// An older category event changes nothing.
		f.feed(categoryUpsertedMsg(t, cat, "old", 1, map[string]string{"en": "Old"}))
		f.wantFound([]string{"category", "old"})
		var res = f.search("type", "program", "facets", "category")
		if got := *res.Facets.Category; len(got) != 1 || got[0].Value != "current-affairs" || got[0].Count != 2 {
			t.Errorf("category facet %+v", got)
		}

		// A program that moves to another category leaves the old one.
		other := newID()
		f.feed(categoryUpsertedMsg(t, other, "culture", 1, map[string]string{"en": "Culture"}))
		fr.Version, fr.CategoryID = 2, &other
		f.feed(updatedMsg(t, fr, "category_id"))
		f.wantFound([]string{"category", "current-affairs"}, ar.ID, e.ID)
		f.wantFound([]string{"category", "culture"}, fr.ID)

		f.feed(categoryDeletedMsg(t, cat))
		f.wantFound([]string{"category", "current-affairs"})
		if h := f.hit(ar.ID, "language", "ar"); h.Category != nil {
			t.Errorf("category after its deletion: %+v", h.Category)
		}
		f.feed(categoryDeletedMsg(t, cat)) // already gone
	})
}

// TestDuplicatesAndInvalidation feeds every event twice: the second delivery changes nothing and
// does not invalidate the cache; every applied event does.
func TestDuplicatesAndInvalidation(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		p := programSnap(1, "Twice told tales", "en")
		pub := publishedMsg(t, p)
		f.feed(pub)
		if n := f.cache.count(cacheNamespace); n != 1 {
			t.Errorf("%d invalidations after one event", n)
		}
		p.Version, p.Title = 2, "Once told tales"
		upd := updatedMsg(t, p, "title")
		f.feed(upd, pub, upd)
		f.wantFound([]string{"q", "once"}, p.ID)
		f.wantFound([]string{"q", "twice"})
		if n := f.cache.count(cacheNamespace); n != 2 {
			t.Errorf("%d invalidations after two events and two duplicates", n)
		}
		if n := f.cache.count(cache.Takedowns); n != 0 {
			t.Errorf("%d invalidations of the last good answers without a takedown", n)
		}
		// The removal applies once: a duplicate of the publication after it changes nothing.
		f.feed(unpublishedMsg(t, p, 3), pub)
		f.wantFound([]string{"q", "tales"})
		if n := f.cache.count(cache.Takedowns); n != 1 {
			t.Errorf("%d invalidations of the last good answers after a takedown, want 1", n)
		}
		// Event types the index does not use are ignored.
		f.feed(eventbus.Message{Topic: "content.events", Headers: map[string]string{eventbus.HeaderEventType: "ingest.completed"}})
	})
}

// TestUndecodableEvents are errors, for the subscriber to retry and dead-letter.
func TestUndecodableEvents(t *testing.T) {
	f := newFixture(t, databasetest.SQLite(t))
	for name, m := range map[string]eventbus.Message{
		"empty":   {Topic: "content.events", Headers: map[string]string{eventbus.HeaderEventType: contentevents.TypeContentPublished}},
		"garbage": {Topic: "content.events", Value: []byte("not avro")},
		"bad id": func() eventbus.Message {
			s := programSnap(1, "Bad", "en")
			s.ID = "not-a-uuid"
			return publishedMsg(t, s)
		}(),
	} {
		if err := f.svc.HandleEvent(t.Context(), m); err == nil {
			t.Errorf("%s: HandleEvent accepted it", name)
		}
	}
}

// TestBatchesApplyInOrderAllOrNothing applies runs of events as the subscribers hand them over:
// in order, with one cache invalidation per run; a run with an event that cannot be applied
// changes nothing (the subscriber then applies its events one by one); a run delivered again
// changes nothing.
func TestBatchesApplyInOrderAllOrNothing(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		ctx := t.Context()
		p := programSnap(1, "Harbour lights", "en")
		e1 := episodeSnap(p.ID, 1, "Lighthouse keepers", "en", base)
		e2 := episodeSnap(p.ID, 1, "Fishing fleets", "en", base)
		renamed := p
		renamed.Version, renamed.Title = 2, "Harbour evenings"
		run := []eventbus.Message{publishedMsg(t, p), publishedMsg(t, e1), publishedMsg(t, e2), updatedMsg(t, renamed, "title"), unpublishedMsg(t, e2, 2)}
		before := f.cache.count(cacheNamespace)
		if err := f.svc.HandleBatch(ctx, run); err != nil {
			t.Fatal(err)
		}
		if n := f.cache.count(cacheNamespace) - before; n != 1 {
			t.Errorf("a run invalidated the cache %d times, want once", n)
		}
		f.wantFound([]string{"q", "evenings"}, p.ID)
		f.wantFound([]string{"q", "lights"}) // no word one edit away either, so no typo correction finds it
		f.wantFound([]string{"q", "lighthouse"}, e1.ID)
		f.wantFound([]string{"q", "fishing"})
		if got := f.hit(e1.ID, "q", "lighthouse"); got.ProgramTitle == nil || *got.ProgramTitle != "Harbour evenings" {
			t.Errorf("episode hit %+v does not carry the renamed program's title", got)
		}

		e3 := episodeSnap(p.ID, 1, "Net menders", "en", base)
		broken := episodeSnap(p.ID, 1, "Broken record", "en", base)
		broken.ID = "not-a-uuid"
		redo := publishedMsg(t, e3)
		if err := f.svc.HandleBatch(ctx, []eventbus.Message{redo, publishedMsg(t, broken)}); err == nil {
			t.Fatal("a run with an event that cannot be applied succeeded")
		}
		f.wantFound([]string{"q", "menders"})
		if err := f.svc.HandleBatch(ctx, []eventbus.Message{redo}); err != nil { // not recorded as applied
			t.Fatal(err)
		}
		f.wantFound([]string{"q", "menders"}, e3.ID)

		before = f.cache.count(cacheNamespace)
		if err := f.svc.HandleBatch(ctx, append(run, redo)); err != nil {
			t.Fatal(err)
		}
		if n := f.cache.count(cacheNamespace) - before; n != 0 {
			t.Errorf("a run delivered again invalidated the cache %d times", n)
		}
		f.wantFound([]string{"q", "fishing"})
		f.wantFound([]string{"q", "evenings"}, p.ID)
	})
}

// TestRunsShareProgramsAndVersions: the events of one run read each program once and take
// consecutive index versions from one tick of the clock, which the run leaves at its last version;
// a program written or removed earlier in the run is what its later episodes see.
func TestRunsShareProgramsAndVersions(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		ctx := t.Context()
		clock := func() int64 {
			var v int64
			if err := db.QueryRowContext(ctx, `SELECT version FROM index_clocks`).Scan(&v); err != nil {
				t.Fatal(err)
			}
			return v
		}
		p := programSnap(1, "Harbour lights", "en")
		renamed := p
		renamed.Version, renamed.Title = 2, "Harbour evenings"
		e1 := episodeSnap(p.ID, 1, "Lighthouse keepers", "en", base)
		gone := programSnap(1, "Quiet coast", "en")
		e2 := episodeSnap(gone.ID, 1, "Seal colonies", "en", base)
		if err := f.svc.HandleBatch(ctx, []eventbus.Message{publishedMsg(t, p)}); err != nil {
			t.Fatal(err)
		}
		before := clock()
		run := []eventbus.Message{updatedMsg(t, renamed, "title"), publishedMsg(t, e1),
			publishedMsg(t, gone), unpublishedMsg(t, gone, 2), publishedMsg(t, e2)}
		if err := f.svc.HandleBatch(ctx, run); err != nil {
			t.Fatal(err)
		}
		if after := clock(); after < before+int64(len(run)) {
			t.Errorf("clock %d after a run of %d events from %d: want at least %d", after, len(run), before, before+int64(len(run)))
		}
		if got := f.hit(e1.ID, "q", "lighthouse"); got.ProgramTitle == nil || *got.ProgramTitle != "Harbour evenings" {
			t.Errorf("an episode after its program's rename in the same run shows %v", got.ProgramTitle)
		}
		f.wantFound([]string{"q", "seal"}) // its program was unpublished earlier in the run

		// The next run's versions are above the last one: its rename wins.
		again := renamed
		again.Version, again.Title = 3, "Harbour mornings"
		if err := f.svc.HandleBatch(ctx, []eventbus.Message{updatedMsg(t, again, "title")}); err != nil {
			t.Fatal(err)
		}
		f.wantFound([]string{"q", "mornings"}, p.ID)
		if got := f.hit(e1.ID, "q", "lighthouse"); got.ProgramTitle == nil || *got.ProgramTitle != "Harbour mornings" {
			t.Errorf("after the next run's rename the episode shows %v", got.ProgramTitle)
		}
	})
}
