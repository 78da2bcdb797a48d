package ingest

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/ent/ingestdb/run"
	"github.com/mediamesh/mediamesh/gen/openapi/ingestapi"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
	"github.com/mediamesh/mediamesh/services/ingest/feed/feedtest"
)

// TestTriggerRace triggers runs of the same sources concurrently: each source gets exactly one
// queued run and the other triggers a 409, on PostgreSQL too (the source row is locked first).
func TestTriggerRace(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		for i := 0; i < 10; i++ {
			tgt := target()
			src := f.createSource(map[string]any{"name": "race", "type": "rss", "url": "https://feeds.example.com/" + string(rune('a'+i)) + ".xml", "enabled": false, "target": tgt})
			var wg sync.WaitGroup
			codes := make([]int, 4)
			for j := range codes {
				wg.Add(1)
				go func() {
					defer wg.Done()
					codes[j] = f.do("POST", "/api/v1/ingest/sources/"+src.Id.String()+"/runs", "editor", map[string]any{}).code
				}()
			}
			wg.Wait()
			accepted := 0
			for _, c := range codes {
				switch c {
				case 202:
					accepted++
				case 409:
				default:
					t.Fatalf("trigger answered %d", c)
				}
			}
			if accepted != 1 || f.queuedRuns(src.Id) != 1 {
				t.Fatalf("source %d: %d triggers accepted, %d runs queued; want 1 and 1", i, accepted, f.queuedRuns(src.Id))
			}
		}
	})
}

// TestRunOfDeletedSource: a run whose source was deleted meanwhile is dropped, not left running.
func TestRunOfDeletedSource(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		src := f.createSource(map[string]any{"name": "gone", "type": "rss", "url": "https://feeds.example.com/gone.xml", "enabled": false, "target": target()})
		queued := f.trigger(src.Id, false)
		r, err := f.svc.claim(context.Background())
		if err != nil || r == nil || r.ID != queued.Id {
			t.Fatalf("claim: %v %v", r, err)
		}
		if _, err := f.svc.read.Source.Delete().Exec(context.Background()); err != nil { // as a racing delete would
			t.Fatal(err)
		}
		f.svc.execute(context.Background(), r)
		if n, err := f.svc.read.Run.Query().Where(run.ID(r.ID)).Count(context.Background()); err != nil || n != 0 {
			t.Fatalf("the run of a deleted source: %d rows, %v", n, err)
		}
	})
}

// TestDeletedTargetProgram: a source whose target program was soft-deleted in the CMS fails its run
// with a clear message instead of trying episode numbers.
func TestDeletedTargetProgram(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		srv := feedtest.FeedServer(t)
		prog := f.cms.addProgram("Deleted")
		f.cms.mu.Lock()
		now := time.Now().UTC()
		f.cms.programs[prog].DeletedAt = &now
		f.cms.mu.Unlock()
		tgt := target()
		tgt["program_id"] = prog.String()
		src := f.createSource(map[string]any{"name": "Sabah", "type": "rss", "url": srv.URL + "/podcast.xml", "target": tgt})
		r := f.runOnce(f.trigger(src.Id, false).Id)
		if r.Status != ingestapi.Failed || r.Message == nil || !strings.Contains(*r.Message, "was deleted in the CMS") {
			t.Fatalf("run: %s %v", r.Status, r.Message)
		}
		if f.cms.episodeCreates != 0 {
			t.Fatalf("%d episode creates for a deleted program", f.cms.episodeCreates)
		}
	})
}
