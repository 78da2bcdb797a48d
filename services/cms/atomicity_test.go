package cms

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/gen/openapi/cmsapi"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
)

// exec runs statements on the test database.
func (f *fixture) exec(stmts ...string) {
	f.t.Helper()
	for _, s := range stmts {
		if _, err := f.db.ExecContext(context.Background(), s); err != nil {
			f.t.Fatalf("%s: %v", s, err)
		}
	}
}

// failAuditInserts makes every insert into audit_entries fail, after the entity and the outbox
// row of a change were written in its transaction; the returned function undoes it.
func (f *fixture) failAuditInserts() (undo func()) {
	if f.db.Dialect == database.SQLite {
		f.exec(`CREATE TRIGGER fail_audit BEFORE INSERT ON audit_entries BEGIN SELECT RAISE(ABORT, 'injected failure'); END`)
		return func() { f.exec(`DROP TRIGGER fail_audit`) }
	}
	f.exec(
		`CREATE FUNCTION fail_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$`,
		`CREATE TRIGGER fail_audit BEFORE INSERT ON audit_entries FOR EACH ROW EXECUTE FUNCTION fail_audit()`,
	)
	return func() { f.exec(`DROP TRIGGER fail_audit ON audit_entries`, `DROP FUNCTION fail_audit()`) }
}

// TestOutboxAtomicity injects a failure into the transaction of each kind of change, after the
// entity and outbox writes (a failing audit insert) and at the outbox write (a missing outbox
// table): the change does not commit and no event is left behind, and vice versa.
func TestOutboxAtomicity(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, Config{})
		p := f.createProgram("show", nil)
		e := f.createEpisode(p.Id, nil, 1, nil)
		scheduled := f.createProgram("scheduled", nil)
		f.do(http.MethodPost, programPath(scheduled.Id, "publish"), "editor", map[string]any{"publish_at": f.clock.now().Add(time.Minute)}).must(t, http.StatusOK, nil)
		deleted := f.createProgram("deleted", nil)
		if r := f.do(http.MethodDelete, programPath(deleted.Id), "editor", nil); r.code != http.StatusNoContent {
			t.Fatal(r.code)
		}
		f.clock.advance(time.Hour)

		type state struct{ programs, episodes, outbox, audit int }
		snapshot := func() state {
			return state{f.count("programs"), f.count("episodes"), f.count("outbox"), f.count("audit_entries")}
		}
		changes := []struct {
			name string
			do   func() *response
		}{
			{"create program", func() *response {
				return f.do(http.MethodPost, "/api/v1/cms/programs", "editor", map[string]any{"kind": "show", "title": "t", "slug": "new", "language": "en"})
			}},
			{"update program", func() *response {
				return f.do(http.MethodPatch, programPath(p.Id), "editor", map[string]any{"title": "changed"})
			}},
			{"publish program", func() *response { return f.do(http.MethodPost, programPath(p.Id, "publish"), "editor", nil) }},
			{"archive program", func() *response { return f.do(http.MethodPost, programPath(p.Id, "archive"), "editor", nil) }},
			{"delete program", func() *response { return f.do(http.MethodDelete, programPath(p.Id), "editor", nil) }},
			{"purge program", func() *response { return f.do(http.MethodPost, programPath(deleted.Id, "purge"), "admin", nil) }},
			{"create episode", func() *response {
				return f.do(http.MethodPost, programPath(p.Id, "episodes"), "editor", map[string]any{"episode_number": 2, "title": "t"})
			}},
			{"update episode", func() *response {
				return f.do(http.MethodPatch, episodePath(e.Id), "editor", map[string]any{"title": "changed"})
			}},
			{"publish episode", func() *response { return f.do(http.MethodPost, episodePath(e.Id, "publish"), "editor", nil) }},
			{"delete episode", func() *response { return f.do(http.MethodDelete, episodePath(e.Id), "editor", nil) }},
		}
		check := func(how string, inject func() func()) {
			for _, c := range changes {
				before := snapshot()
				var prog cmsapi.Program
				f.do(http.MethodGet, programPath(p.Id), "editor", nil).must(t, http.StatusOK, &prog)
				undo := inject()
				r := c.do()
				undo()
				if r.code != http.StatusInternalServerError {
					t.Fatalf("%s with %s: status %d, want 500: %s", c.name, how, r.code, r.body)
				}
				if after := snapshot(); after != before {
					t.Fatalf("%s with %s: rows %+v became %+v", c.name, how, before, after)
				}
				var now cmsapi.Program
				f.do(http.MethodGet, programPath(p.Id), "editor", nil).must(t, http.StatusOK, &now)
				if now.Version != prog.Version || now.Title != prog.Title || now.Status != prog.Status || (now.DeletedAt == nil) != (prog.DeletedAt == nil) {
					t.Fatalf("%s with %s changed the program: %+v", c.name, how, now)
				}
			}
			// The scheduler's changes too.
			before := snapshot()
			undo := inject()
			f.svc.tick(context.Background())
			undo()
			if after := snapshot(); after != before || f.programStatus(scheduled.Id) != "scheduled" {
				t.Fatalf("the scheduler with %s: rows %+v became %+v", how, before, after)
			}
		}
		check("a failing audit insert", f.failAuditInserts)
		check("no outbox table", func() func() {
			f.exec(`ALTER TABLE outbox RENAME TO outbox_gone`)
			return func() { f.exec(`ALTER TABLE outbox_gone RENAME TO outbox`) }
		})

		// Without the failure the same changes commit, each with its event.
		before := f.count("outbox")
		f.do(http.MethodPatch, programPath(p.Id), "editor", map[string]any{"title": "changed"}).must(t, http.StatusOK, nil)
		f.svc.tick(context.Background())
		if f.count("outbox") != before+2 || f.programStatus(scheduled.Id) != "published" {
			t.Fatal("the changes did not commit once the failure was gone")
		}
	})
}

// TestIfMatchRace sends concurrent updates with the same If-Match: exactly one wins, the others
// get 412, and exactly one event is written.
func TestIfMatchRace(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, Config{})
		p := f.createProgram("race", nil)
		const n = 8
		codes := make([]int, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				codes[i] = f.do(http.MethodPatch, programPath(p.Id), "editor", map[string]any{"title": fmt.Sprint("writer ", i)}, ifMatch(1)...).code
			})
		}
		close(start)
		wg.Wait()
		won := 0
		for _, c := range codes {
			switch c {
			case http.StatusOK:
				won++
			case http.StatusPreconditionFailed:
			default:
				t.Fatalf("status %d", c)
			}
		}
		if won != 1 {
			t.Fatalf("%d writers won, want 1 (%v)", won, codes)
		}
		var got cmsapi.Program
		f.do(http.MethodGet, programPath(p.Id), "editor", nil).must(t, http.StatusOK, &got)
		if got.Version != 2 || len(f.eventsOf(p.Id)) != 2 {
			t.Fatalf("version %d, %d events", got.Version, len(f.eventsOf(p.Id)))
		}

		// Unconditional writers all land (or are told to retry): every success is one version
		// and one event.
		for i := range n {
			wg.Go(func() {
				codes[i] = f.do(http.MethodPatch, programPath(p.Id), "editor", map[string]any{"summary": fmt.Sprint("writer ", i)}).code
			})
		}
		wg.Wait()
		won = 0
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
		if int(got.Version) != 2+won || len(f.eventsOf(p.Id)) != 2+won || won == 0 {
			t.Fatalf("%d writers won, version %d, %d events", won, got.Version, len(f.eventsOf(p.Id)))
		}
	})
}
