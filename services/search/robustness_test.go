package search

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	entsql "entgo.io/ent/dialect/sql"
	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/ent/searchdb"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
	"github.com/mediamesh/mediamesh/internal/eventbus"
	"github.com/mediamesh/mediamesh/services/search/index"
)

// failingIndex is an index whose next writes fail while failures is above zero.
type failingIndex struct {
	index.Index
	failures atomic.Int32
}

var errIndexDown = errors.New("index unavailable")

func (f *failingIndex) fail() error {
	if f.failures.Add(-1) >= 0 {
		return errIndexDown
	}
	return nil
}

func (f *failingIndex) UpsertBatch(ctx context.Context, docs []index.Doc) error {
	if err := f.fail(); err != nil {
		return err
	}
	return f.Index.UpsertBatch(ctx, docs)
}

func (f *failingIndex) DeleteProgram(ctx context.Context, id string) error {
	if err := f.fail(); err != nil {
		return err
	}
	return f.Index.DeleteProgram(ctx, id)
}

// TestIndexFailureRollsBack fails the index write of an event: the event fails, its storage
// change rolls back and the inbox does not record it, so its redelivery applies it.
func TestIndexFailureRollsBack(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		flaky := &failingIndex{Index: f.index}
		svc, err := New(Config{}, Deps{DB: db, Index: flaky})
		if err != nil {
			t.Fatal(err)
		}
		f.svc = svc
		p := programSnap(1, "Flaky signal", "en")
		e := episodeSnap(p.ID, 1, "Flaky episode", "en", base.Add(time.Hour))
		f.feed(publishedMsg(t, e))

		publish := publishedMsg(t, p)
		flaky.failures.Store(1)
		if err := svc.HandleEvent(t.Context(), publish); !errors.Is(err, errIndexDown) {
			t.Fatalf("HandleEvent with the index down: %v", err)
		}
		stored := searchdb.NewClient(searchdb.Driver(entsql.OpenDB(db.EntDialect(), db.DB)))
		if _, err := stored.Program.Get(t.Context(), uuid.MustParse(p.ID)); !searchdb.IsNotFound(err) {
			t.Errorf("program stored although its indexing failed: %v", err)
		}
		f.wantFound([]string{"q", "flaky"})
		f.feed(publish) // redelivered
		f.wantFound([]string{"q", "flaky"}, p.ID, e.ID)

		unpublish := unpublishedMsg(t, p, 2)
		flaky.failures.Store(1)
		if err := svc.HandleEvent(t.Context(), unpublish); !errors.Is(err, errIndexDown) {
			t.Fatalf("HandleEvent with the index down: %v", err)
		}
		f.wantFound([]string{"q", "flaky"}, p.ID, e.ID)
		f.feed(unpublish)
		f.wantFound([]string{"q", "flaky"})
	})
}

// TestInvalidDocumentsAreLeftOut publishes content the index refuses (a blank title passes the
// storage's limits but not the index's): the event succeeds, the document stays out of the index
// and the other documents of the event are written.
func TestInvalidDocumentsAreLeftOut(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		p := programSnap(1, "Blank episode show", "en")
		e := episodeSnap(p.ID, 1, "   ", "en", base.Add(time.Hour))
		good := episodeSnap(p.ID, 1, "Good episode", "en", base.Add(2*time.Hour))
		f.feed(publishedMsg(t, e), publishedMsg(t, good), publishedMsg(t, p))
		f.wantFound([]string{"type", "episode"}, good.ID)
		f.wantFound([]string{"q", "blank"}, p.ID)
		e.Version, e.Title = 2, "Fixed episode"
		f.feed(updatedMsg(t, e, "title"))
		f.wantFound([]string{"type", "episode"}, e.ID, good.ID)
	})
}

// TestClock checks that index versions always grow: by one within a microsecond, to the current
// time when it is ahead, and by one when the clock went back.
func TestClock(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		newFixture(t, db) // migrates db
		now := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
		var got []int64
		for _, at := range []time.Time{now, now, now.Add(time.Second), now.Add(-time.Hour)} {
			err := db.InTx(t.Context(), func(tx *sql.Tx) error {
				v, err := tick(t.Context(), db, tx, at)
				got = append(got, v)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		us := now.UnixMicro()
		want := []int64{us, us + 1, us + 1_000_000, us + 1_000_001}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("versions %v, want %v", got, want)
			}
		}
	})
}

// TestConcurrentEvents applies the events of many aggregates at once, each aggregate's in order
// (as partitions deliver them): programs change title while their category is renamed and their
// episodes are published. Every document ends up with the newest program title and category name.
func TestConcurrentEvents(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		cat := newID()
		const programs, updates = 6, 3
		var streams [][]eventbus.Message
		var ids []string
		for i := range programs {
			p := programSnap(1, fmt.Sprintf("Channel %d", i), "en")
			p.CategoryID = &cat
			stream := []eventbus.Message{publishedMsg(t, p)}
			for v := 2; v <= updates+1; v++ {
				p.Version, p.Title = int64(v), fmt.Sprintf("Channel %d v%d", i, v)
				stream = append(stream, updatedMsg(t, p, "title"))
			}
			e := episodeSnap(p.ID, 1, fmt.Sprintf("Channel %d episode", i), "en", base.Add(time.Hour))
			streams = append(streams, stream, []eventbus.Message{publishedMsg(t, e)})
			ids = append(ids, p.ID, e.ID)
		}
		var renames []eventbus.Message
		for v := int64(1); v <= 4; v++ {
			renames = append(renames, categoryUpsertedMsg(t, cat, fmt.Sprintf("cat-v%d", v), v, map[string]string{"en": fmt.Sprintf("Category v%d", v)}))
		}
		streams = append(streams, renames)

		var wg sync.WaitGroup
		errs := make(chan error, len(streams))
		for _, stream := range streams {
			wg.Go(func() {
				for _, m := range stream {
					if err := f.svc.HandleEvent(t.Context(), m); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		f.wantFound([]string{"category", "cat-v4"}, ids...)
		for _, h := range f.search("category", "cat-v4", "limit", "100").Items {
			title := h.Title
			if h.ProgramTitle != nil {
				title = *h.ProgramTitle
			}
			if !strings.HasSuffix(title, fmt.Sprintf("v%d", updates+1)) || h.Category == nil || h.Category.Name != "Category v4" {
				t.Errorf("hit %s: program title %q, category %+v", h.Id, title, h.Category)
			}
		}
	})
}
