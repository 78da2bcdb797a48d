package search

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/internal/database/databasetest"
	"github.com/mediamesh/mediamesh/internal/testenv"
	"github.com/mediamesh/mediamesh/services/search/index"
)

// openSearchFaultPort is where the fault test's own OpenSearch node listens (transport: +100): the
// test stops and restarts it, so it must not be the node other tests share.
const openSearchFaultPort = "29200"

func openSearchScript(t *testing.T, home, script string) {
	t.Helper()
	cmd := exec.Command("bash", "../../tools/opensearch/"+script, home)
	cmd.Env = append(os.Environ(), "OPENSEARCH_PORT="+openSearchFaultPort)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
}

// TestOpenSearchOutage feeds publish events to the search service on OpenSearch, stops the node
// in the middle of the stream and starts it again: the consumer holds the events while the node is
// down, and afterwards every published program is found.
func TestOpenSearchOutage(t *testing.T) {
	home := testenv.Get(t, "MEDIAMESH_TEST_OPENSEARCH_FAULT_HOME", "an OpenSearch installation of the test's own (bash tools/opensearch/install.sh DIR)")
	openSearchScript(t, home, "start.sh")
	t.Cleanup(func() { openSearchScript(t, home, "stop.sh") })

	f := newFixture(t, databasetest.SQLite(t))
	ctx := t.Context()
	cfg := index.OpenSearchConfig{
		URLs: []string{"http://127.0.0.1:" + openSearchFaultPort}, Alias: fmt.Sprintf("mmfault-%d", time.Now().UnixNano()),
		Timeout: time.Minute, Log: slog.New(slog.DiscardHandler),
	}
	// The index is created with a generous time limit (a node that has just started, on a busy
	// machine, may take seconds to allocate it); the stream then runs with a short one.
	if _, err := index.NewOpenSearch(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	cfg.Timeout, cfg.BreakerDelay = 2*time.Second, time.Second
	ix, err := index.NewOpenSearch(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ix.Drop(context.Background()) })
	f.svc.index, f.index = ix, ix

	const total = 120
	var applied atomic.Int64
	done := make(chan error, 1)
	ids := make([]string, total)
	go func() {
		for i := range total {
			p := programSnap(1, fmt.Sprintf("Outage program %d", i), "en")
			ids[i] = p.ID
			if err := f.svc.HandleEvent(ctx, publishedMsg(t, p)); err != nil {
				done <- fmt.Errorf("event %d: %w", i, err)
				return
			}
			applied.Add(1)
			time.Sleep(5 * time.Millisecond)
		}
		done <- nil
	}()
	for applied.Load() < total/3 {
		time.Sleep(10 * time.Millisecond)
	}
	stopped := time.Now()
	openSearchScript(t, home, "stop.sh")
	atStop := applied.Load()
	time.Sleep(2 * time.Second) // events keep coming while the node is down
	if n := applied.Load(); n > atStop+1 {
		t.Errorf("%d events applied while the node was down", n-atStop)
	}
	openSearchScript(t, home, "start.sh")
	t.Logf("node down for %v; %d of %d events applied before the stop", time.Since(stopped).Round(time.Millisecond), atStop, total)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(3 * time.Minute):
		t.Fatalf("only %d of %d events applied 3 minutes after the restart", applied.Load(), total)
	}
	var found []index.Hit
	q := index.Query{Limit: index.MaxLimit}
	for {
		r, err := ix.Search(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		found = append(found, r.Hits...)
		if !r.HasMore {
			break
		}
		q.Cursor = r.NextCursor
	}
	seen := map[string]bool{}
	for _, h := range found {
		seen[h.ID] = true
	}
	for i, id := range ids {
		if !seen[id] {
			t.Errorf("program %d (%s) is not in the index after the restart", i, id)
		}
	}
	if len(found) != total {
		t.Errorf("the index holds %d documents, want %d", len(found), total)
	}
}
