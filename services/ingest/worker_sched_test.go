package ingest

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/ent/ingestdb"
	"github.com/mediamesh/mediamesh/ent/ingestdb/run"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
)

// TestNextRun proves the schedule: the interval spread by at most ±10% (the default jitter),
// doubled per failure and capped at a day.
func TestNextRun(t *testing.T) {
	s := &Service{cfg: Config{Jitter: 0.1}}
	from := epoch
	within := func(t *testing.T, got time.Time, d time.Duration, jitter float64) {
		t.Helper()
		lo, hi := from.Add(time.Duration(float64(d)*(1-jitter))), from.Add(time.Duration(float64(d)*(1+jitter)))
		if got.Before(lo) || got.After(hi) {
			t.Fatalf("next run %v is outside [%v, %v]", got.Sub(from), lo.Sub(from), hi.Sub(from))
		}
	}
	for _, c := range []struct {
		name     string
		interval int32
		failures int32
		want     time.Duration
	}{
		{"no failures", 3600, 0, time.Hour},
		{"one failure doubles", 3600, 1, 2 * time.Hour},
		{"two failures", 3600, 2, 4 * time.Hour},
		{"four failures", 3600, 4, 16 * time.Hour},
		{"five failures are capped", 3600, 5, 24 * time.Hour},
		{"many failures are capped", 300, 1000, 24 * time.Hour},
		{"short interval", 300, 3, 40 * time.Minute},
		{"a long interval without failures is not", 604800, 0, 7 * 24 * time.Hour},
	} {
		t.Run(c.name, func(t *testing.T) {
			var lo, hi time.Duration = 1 << 62, 0
			for range 2000 {
				got := s.nextRun(from, c.interval, c.failures)
				within(t, got, c.want, 0.1)
				lo, hi = min(lo, got.Sub(from)), max(hi, got.Sub(from))
			}
			// The spread is used: 2000 draws cover most of ±10%.
			if float64(hi-lo) < 0.15*float64(c.want) {
				t.Fatalf("next runs spread over %v only (%v to %v) for %v", hi-lo, lo, hi, c.want)
			}
		})
	}
	t.Run("configured jitter", func(t *testing.T) {
		s := &Service{cfg: Config{Jitter: 0.01}}
		for range 1000 {
			within(t, s.nextRun(from, 3600, 0), time.Hour, 0.01)
		}
	})
}

// queuedRuns counts the queued and running runs of a source.
func (f *fixture) queuedRuns(id uuid.UUID) int {
	f.t.Helper()
	n, err := f.svc.read.Run.Query().Where(run.SourceID(id), run.StatusIn(run.StatusQueued, run.StatusRunning)).Count(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	return n
}

// TestSchedule proves schedule queues one run for each due enabled source and moves its next run
// one interval (±jitter) on, and nothing otherwise.
func TestSchedule(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		due := f.createSource(rssSource("Due", "https://feeds.example.com/due.xml"))
		off := f.createSource(map[string]any{"name": "Off", "type": "rss", "url": "https://feeds.example.com/off.xml", "target": target(), "enabled": false})
		busy := f.createSource(rssSource("Busy", "https://feeds.example.com/busy.xml"))
		later := f.createSource(rssSource("Later", "https://feeds.example.com/later.xml"))
		queued := f.trigger(busy.Id, false)
		if err := f.svc.read.Source.UpdateOneID(later.Id).SetNextRunAt(epoch.Add(time.Minute)).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		// A disabled source with a due time (left by an old bug or an import) is still skipped.
		if err := f.svc.read.Source.UpdateOneID(off.Id).SetNextRunAt(epoch.Add(-time.Hour)).Exec(ctx); err != nil {
			t.Fatal(err)
		}

		f.svc.schedule(ctx)

		runs, err := f.svc.read.Run.Query().Where(run.SourceID(due.Id)).All(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(runs) != 1 || runs[0].Status != run.StatusQueued || runs[0].Trigger != run.TriggerSchedule || runs[0].FullRefresh || runs[0].TriggeredBy != nil {
			t.Fatalf("due source: runs %+v, want one queued scheduled run", runs)
		}
		if nr := f.source(due.Id).NextRunAt; nr == nil || nr.Before(epoch.Add(54*time.Minute)) || nr.After(epoch.Add(66*time.Minute)) {
			t.Errorf("due source: next run %v, want an hour (±10%%) after %v", nr, epoch)
		}
		if n := f.queuedRuns(off.Id); n != 0 {
			t.Errorf("disabled source: %d runs queued", n)
		}
		if n, _ := f.svc.read.Run.Query().Where(run.SourceID(busy.Id)).Count(ctx); n != 1 {
			t.Errorf("busy source: %d runs, want only the manual one", n)
		}
		if nr := f.source(busy.Id).NextRunAt; nr == nil || !nr.After(epoch) {
			t.Errorf("busy source: next run %v was not moved on", nr)
		}
		if n := f.queuedRuns(later.Id); n != 0 {
			t.Errorf("source not yet due: %d runs queued", n)
		}

		// Again at once: nothing is due any more.
		f.svc.schedule(ctx)
		if n, _ := f.svc.read.Run.Query().Count(ctx); n != 2 {
			t.Errorf("%d runs after a second schedule, want 2", n)
		}
		// A minute on, the later source is due; the queued manual run still blocks the busy one.
		f.clock.advance(time.Minute)
		f.svc.schedule(ctx)
		if n := f.queuedRuns(later.Id); n != 1 {
			t.Errorf("later source: %d runs queued, want 1", n)
		}
		if n := f.queuedRuns(busy.Id); n != 1 {
			t.Errorf("busy source: %d runs queued, want 1", n)
		}
		if r := f.getRun(queued.Id); r.Trigger != "manual" {
			t.Errorf("the manual run became %s", r.Trigger)
		}
	})
}

// TestScheduleConcurrent runs schedule on two services (two workers) at the same moment: every
// due source gets exactly one run.
func TestScheduleConcurrent(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		a, b := f.svc, f.service()
		var ids []uuid.UUID
		for i := range 8 {
			ids = append(ids, f.createSource(rssSource("S", "https://feeds.example.com/"+uuid.NewString()+"/"+string(rune('a'+i)))).Id)
		}
		for round := range 5 {
			start := make(chan struct{})
			var wg sync.WaitGroup
			for _, s := range []*Service{a, b, a, b} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					s.schedule(ctx)
				}()
			}
			close(start)
			wg.Wait()
			for _, id := range ids {
				if n := f.queuedRuns(id); n != 1 {
					t.Fatalf("round %d: source %s has %d queued runs, want 1", round, id, n)
				}
			}
			// Finish the runs and make every source due again.
			if _, err := f.svc.read.Run.Update().Where(run.StatusEQ(run.StatusQueued)).SetStatus(run.StatusSucceeded).Save(ctx); err != nil {
				t.Fatal(err)
			}
			f.clock.advance(2 * time.Hour)
		}
		if n, _ := f.svc.read.Run.Query().Count(ctx); n != 5*len(ids) {
			t.Fatalf("%d runs, want %d", n, 5*len(ids))
		}
	})
}

// TestScheduleStaleWorker has a worker schedule a source from a stale read of the due sources:
// another worker queued and finished its run meanwhile, and the compare-and-swap on the due time
// keeps the stale worker from queueing a second one.
func TestScheduleStaleWorker(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		a, b := f.svc, f.service()
		first := f.createSource(rssSource("First", "https://feeds.example.com/1.xml")).Id
		second := f.createSource(rssSource("Second", "https://feeds.example.com/2.xml")).Id

		// After a's first scheduling transaction commits (a has read both sources as due), worker b
		// schedules the other source and its run finishes at once, before a gets to it.
		var armed, fired atomic.Bool
		db.AfterCommit(func() {
			if !armed.Load() || !fired.CompareAndSwap(false, true) {
				return
			}
			b.schedule(ctx)
			if _, err := b.read.Run.Update().Where(run.StatusEQ(run.StatusQueued)).SetStatus(run.StatusSucceeded).Save(ctx); err != nil {
				t.Error(err)
			}
		})
		armed.Store(true)
		a.schedule(ctx)
		armed.Store(false)
		if !fired.Load() {
			t.Fatal("the other worker never ran")
		}
		for _, id := range []uuid.UUID{first, second} {
			if n, err := f.svc.read.Run.Query().Where(run.SourceID(id)).Count(ctx); err != nil || n != 1 {
				t.Errorf("source %s has %d runs, want 1 (%v)", id, n, err)
			}
		}
	})
}

// insertRun stores a run of source with the given status and lease.
func (f *fixture) insertRun(source uuid.UUID, status run.Status, lease *time.Time, started *time.Time) *ingestdb.Run {
	f.t.Helper()
	r, err := f.svc.read.Run.Create().SetSourceID(source).SetStatus(status).SetTrigger(run.TriggerSchedule).SetFullRefresh(false).
		SetNillableLeaseUntil(lease).SetNillableStartedAt(started).SetItemsSeen(0).SetItemsCreated(0).SetItemsUpdated(0).
		SetItemsSkipped(0).SetItemsFailed(0).SetErrors(nil).SetNotModified(false).SetCreatedAt(f.clock.now()).Save(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	return r
}

// TestClaim proves a queued run is claimed once, a running run is taken over only when its lease
// ran out, and finished runs never.
func TestClaim(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, func(c *setup) { c.Lease = 5 * time.Minute })
		ctx := context.Background()
		src := f.createSource(rssSource("Feed", "https://feeds.example.com/a.xml")).Id
		now := f.clock.now()

		// Nothing to claim.
		if r, err := f.svc.claim(ctx); err != nil || r != nil {
			t.Fatalf("claim on an empty queue: %v, %v", r, err)
		}
		// Finished runs and a running run with a live lease are left alone.
		f.insertRun(src, run.StatusSucceeded, nil, &now)
		f.insertRun(src, run.StatusFailed, nil, &now)
		live := f.insertRun(src, run.StatusRunning, ptr(now.Add(time.Second)), &now)
		if r, err := f.svc.claim(ctx); err != nil || r != nil {
			t.Fatalf("claimed %+v, %v; want nothing", r, err)
		}

		// A queued run is claimed: running, leased, started now.
		q := f.insertRun(src, run.StatusQueued, nil, nil)
		r, err := f.svc.claim(ctx)
		if err != nil || r == nil || r.ID != q.ID {
			t.Fatalf("claim = %+v, %v; want run %s", r, err, q.ID)
		}
		if r.Status != run.StatusRunning || r.LeaseUntil == nil || !r.LeaseUntil.Equal(now.Add(5*time.Minute)) || r.StartedAt == nil || !r.StartedAt.Equal(now) {
			t.Fatalf("claimed run: status %s lease %v started %v", r.Status, r.LeaseUntil, r.StartedAt)
		}
		if r, err := f.svc.claim(ctx); err != nil || r != nil {
			t.Fatalf("claimed %+v again", r)
		}

		// The live lease runs out: another worker takes the run over, keeping its start.
		f.clock.advance(2 * time.Second)
		other := f.service()
		r, err = other.claim(ctx)
		if err != nil || r == nil || r.ID != live.ID {
			t.Fatalf("takeover = %+v, %v; want run %s", r, err, live.ID)
		}
		if !r.LeaseUntil.Equal(now.Add(2*time.Second+5*time.Minute)) || !r.StartedAt.Equal(now) {
			t.Fatalf("taken over: lease %v started %v", r.LeaseUntil, r.StartedAt)
		}
		// The claimed queued run is still within its lease.
		if r, err := f.svc.claim(ctx); err != nil || r != nil {
			t.Fatalf("claimed %+v within its lease", r)
		}
		// Past both leases, both come back, oldest first.
		f.clock.advance(10 * time.Minute)
		var got []uuid.UUID
		for {
			r, err := f.svc.claim(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if r == nil {
				break
			}
			got = append(got, r.ID)
		}
		if len(got) != 2 {
			t.Fatalf("claimed %v after the leases ran out, want 2 runs", got)
		}
	})
}

// TestClaimConcurrent has three workers claim at the same moment, many times: each queued run,
// and each running run whose lease ran out, is claimed by exactly one of them.
func TestClaimConcurrent(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		src := f.createSource(rssSource("Feed", "https://feeds.example.com/a.xml")).Id
		workers := []*Service{f.svc, f.service(), f.service()}
		for round := range 20 {
			var q *ingestdb.Run
			if round%2 == 0 {
				q = f.insertRun(src, run.StatusQueued, nil, nil)
			} else { // a run whose worker died: its lease ran out
				q = f.insertRun(src, run.StatusRunning, ptr(f.clock.now().Add(-time.Second)), ptr(f.clock.now().Add(-time.Hour)))
			}
			start := make(chan struct{})
			var wg sync.WaitGroup
			claimed := make([]*ingestdb.Run, len(workers))
			errs := make([]error, len(workers))
			for i, w := range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					claimed[i], errs[i] = w.claim(ctx)
				}()
			}
			close(start)
			wg.Wait()
			n := 0
			for i := range workers {
				if errs[i] != nil {
					t.Fatalf("round %d: worker %d: %v", round, i, errs[i])
				}
				if claimed[i] != nil {
					n++
					if claimed[i].ID != q.ID {
						t.Fatalf("round %d: claimed %s, want %s", round, claimed[i].ID, q.ID)
					}
				}
			}
			if n != 1 {
				t.Fatalf("round %d: the run was claimed %d times", round, n)
			}
			if err := f.svc.read.Run.UpdateOneID(q.ID).SetStatus(run.StatusSucceeded).ClearLeaseUntil().Exec(ctx); err != nil {
				t.Fatal(err)
			}
		}
	})
}
