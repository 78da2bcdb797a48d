package cms

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/gen/events/contentevents"
	"github.com/mediamesh/mediamesh/gen/openapi/cmsapi"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
)

// run starts svc.Run and returns a function that stops it and checks that it returned nil.
func run(t *testing.T, svc *Service) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run returned %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Error("Run did not return after its context ended")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// eventually waits until cond holds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (f *fixture) programStatus(id uuid.UUID) cmsapi.PublicationStatus {
	var p cmsapi.Program
	f.do(http.MethodGet, programPath(id), "editor", nil).must(f.t, http.StatusOK, &p)
	return p.Status
}

func (f *fixture) episodeStatus(id uuid.UUID) cmsapi.PublicationStatus {
	var e cmsapi.Episode
	f.do(http.MethodGet, episodePath(id), "editor", nil).must(f.t, http.StatusOK, &e)
	return e.Status
}

// TestScheduledPublishByRun schedules a program and an episode and lets Run publish each when
// the (controlled) clock reaches its time.
func TestScheduledPublishByRun(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, Config{SchedulerInterval: 5 * time.Millisecond})
		p := f.createProgram("show", nil)
		e := f.createEpisode(p.Id, nil, 1, nil)
		now := f.clock.now()
		f.do(http.MethodPost, programPath(p.Id, "publish"), "editor", map[string]any{"publish_at": now.Add(time.Hour)}).must(t, http.StatusOK, nil)
		f.do(http.MethodPost, episodePath(e.Id, "publish"), "editor", map[string]any{"publish_at": now.Add(2 * time.Hour)}).must(t, http.StatusOK, nil)
		stop := run(t, f.svc)

		time.Sleep(50 * time.Millisecond)
		if s := f.programStatus(p.Id); s != "scheduled" {
			t.Fatalf("published before its time: %s", s)
		}
		f.clock.advance(90 * time.Minute)
		eventually(t, "the program is published", func() bool { return f.programStatus(p.Id) == "published" })
		if s := f.episodeStatus(e.Id); s != "scheduled" {
			t.Fatalf("episode published before its time: %s", s)
		}
		f.clock.advance(time.Hour)
		eventually(t, "the episode is published", func() bool { return f.episodeStatus(e.Id) == "published" })
		stop()

		for _, id := range []uuid.UUID{p.Id, e.Id} {
			evs := f.eventsOf(id)
			last, ok := evs[len(evs)-1].value.(*contentevents.ContentPublished)
			if !ok || last.ActorID != nil || last.Snapshot.Version != 3 || last.Snapshot.Status != "published" {
				t.Fatalf("last event of %s: %+v", id, evs[len(evs)-1].value)
			}
			entry := f.audit(id)[0]
			if entry.Action != "published" || entry.ActorId != uuid.Nil || len(entry.ActorRoles) != 0 || entry.RequestId != nil {
				t.Fatalf("audit entry of the scheduled publication: %+v", entry)
			}
		}
	})
}

// TestSchedulerRace runs the scheduler of two services on one database at once: every due item
// is published exactly once.
func TestSchedulerRace(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, Config{SchedulerInterval: time.Millisecond})
		second, err := New(Config{SchedulerInterval: time.Millisecond}, Deps{DB: db, Metadata: f.meta, Media: f.media, Log: slog.New(slog.DiscardHandler), Now: f.clock.now})
		if err != nil {
			t.Fatal(err)
		}
		var ids []uuid.UUID
		at := f.clock.now().Add(time.Minute)
		for i := range 30 {
			p := f.createProgram(fmt.Sprintf("p%d", i), nil)
			f.do(http.MethodPost, programPath(p.Id, "publish"), "editor", map[string]any{"publish_at": at}).must(t, http.StatusOK, nil)
			ids = append(ids, p.Id)
		}
		stop1, stop2 := run(t, f.svc), run(t, second)
		f.clock.advance(2 * time.Minute)
		eventually(t, "every program is published", func() bool {
			var l cmsapi.ProgramList
			f.do(http.MethodGet, "/api/v1/cms/programs?status=published&limit=100", "editor", nil).must(t, http.StatusOK, &l)
			return len(l.Items) == len(ids)
		})
		stop1()
		stop2()
		published := map[string]int{}
		for _, e := range f.events() {
			if e.typ == contentevents.TypeContentPublished {
				published[e.aggregate]++
			}
		}
		for _, id := range ids {
			if published[id.String()] != 1 {
				t.Errorf("program %s published %d times", id, published[id.String()])
			}
		}
	})
}

// TestPurgeAfter lets Run purge content soft-deleted longer than Config.PurgeAfter: a program
// takes its episodes with it; the audit trail stays.
func TestPurgeAfter(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, Config{SchedulerInterval: 5 * time.Millisecond, PurgeAfter: 24 * time.Hour})
		p := f.createProgram("gone", nil)
		e1 := f.createEpisode(p.Id, nil, 1, nil)
		e2 := f.createEpisode(p.Id, nil, 2, nil)
		keep := f.createProgram("kept", nil)
		lone := f.createEpisode(keep.Id, nil, 1, nil)
		live := f.createEpisode(keep.Id, nil, 2, nil)
		for _, path := range []string{programPath(p.Id), episodePath(lone.Id)} {
			if r := f.do(http.MethodDelete, path, "editor", nil); r.code != http.StatusNoContent {
				t.Fatal(r.code)
			}
		}
		stop := run(t, f.svc)
		f.clock.advance(23 * time.Hour)
		time.Sleep(50 * time.Millisecond)
		f.do(http.MethodGet, programPath(p.Id), "editor", nil).must(t, http.StatusOK, nil)
		f.clock.advance(2 * time.Hour)
		eventually(t, "the program is purged", func() bool { return f.do(http.MethodGet, programPath(p.Id), "editor", nil).code == http.StatusNotFound })
		eventually(t, "the episode is purged", func() bool {
			return f.do(http.MethodGet, episodePath(lone.Id), "editor", nil).code == http.StatusNotFound
		})
		stop()
		for _, id := range []uuid.UUID{e1.Id, e2.Id} {
			f.do(http.MethodGet, episodePath(id), "editor", nil).fails(t, http.StatusNotFound, "")
		}
		f.do(http.MethodGet, programPath(keep.Id), "editor", nil).must(t, http.StatusOK, nil)
		f.do(http.MethodGet, episodePath(live.Id), "editor", nil).must(t, http.StatusOK, nil)
		for _, id := range []uuid.UUID{p.Id, e1.Id, lone.Id} {
			entry := f.audit(id)[0]
			if entry.Action != "purged" || entry.ActorId != uuid.Nil {
				t.Fatalf("audit of %s: %+v", id, entry)
			}
		}
		for _, id := range []uuid.UUID{p.Id, lone.Id} {
			evs := f.eventsOf(id)
			d, ok := evs[len(evs)-1].value.(*contentevents.ContentDeleted)
			if !ok || d.Soft || d.ActorID != nil {
				t.Fatalf("purge event of %s: %+v", id, evs[len(evs)-1].value)
			}
		}
	})
}

// TestNew refuses missing dependencies and negative durations.
func TestNew(t *testing.T) {
	db := databasetest.SQLite(t)
	meta, media := &fakeMetadata{}, newFakeMedia()
	for _, c := range []struct {
		cfg  Config
		deps Deps
	}{
		{Config{}, Deps{Metadata: meta, Media: media}},
		{Config{}, Deps{DB: db, Media: media}},
		{Config{}, Deps{DB: db, Metadata: meta}},
		{Config{SchedulerInterval: -1}, Deps{DB: db, Metadata: meta, Media: media}},
		{Config{PurgeAfter: -1}, Deps{DB: db, Metadata: meta, Media: media}},
	} {
		if _, err := New(c.cfg, c.deps); err == nil {
			t.Errorf("New(%+v, %+v) accepted", c.cfg, c.deps)
		}
	}
	s, err := New(Config{}, Deps{DB: db, Metadata: meta, Media: media})
	if err != nil || s.cfg.SchedulerInterval != time.Second {
		t.Fatalf("defaults: %v %v", err, s.cfg)
	}
}
