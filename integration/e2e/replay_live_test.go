package e2e

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/app"
	"github.com/mediamesh/mediamesh/internal/testenv"
	"github.com/mediamesh/mediamesh/services/search/index"
)

// TestReplayOpenSearchWhileLive runs `mediamesh replay --target=search` on OpenSearch while the
// platform it rebuilds keeps running and an editor keeps publishing (issue 18): every program
// published before, during and after the rebuild is found by search once the alias has moved to
// the new index, including those the live consumer applied after the replay had read the log.
func TestReplayOpenSearchWhileLive(t *testing.T) {
	nodes := strings.Split(testenv.Get(t, "MEDIAMESH_TEST_OPENSEARCH_URL", "an OpenSearch node (bash tools/opensearch/start.sh; e.g. http://127.0.0.1:9200)"), ",")
	cfg := app.Default()
	cfg.Gateway.DiscoveryAddr, cfg.Gateway.CMSAddr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.Auth.AdminPassword = "replay live admin password"
	cfg.Gateway.RateLimits = false
	cfg.Gateway.Cache = false // every search reads the index
	cfg.Search.Engine = app.SearchEngineOpenSearch
	cfg.Search.OpenSearch.URLs = nodes
	cfg.Search.OpenSearch.Index = fmt.Sprintf("mmtest-replay-live-%d", time.Now().UnixNano())
	t.Cleanup(func() {
		ctx := context.Background()
		if ix, err := index.NewOpenSearch(ctx, index.OpenSearchConfig{URLs: nodes, Alias: cfg.Search.OpenSearch.Index}); err == nil {
			_ = ix.Drop(ctx)
		}
	})
	urls, _, _ := start(t, cfg)
	a := &api{t: t, cms: urls["cms gateway"], disc: urls["discovery gateway"]}
	a.token = login(t, a.cms, "admin@mediamesh.local", "replay live admin password")
	stamp := time.Now().UnixNano()
	publish := func(i int) string {
		var p struct{ ID string }
		a.do("POST", "/api/v1/cms/programs", fmt.Sprintf(`{"kind":"podcast","title":"Harbour log %d","slug":"live-%d-%d","language":"en"}`, i, stamp, i), 201, &p)
		a.do("POST", "/api/v1/cms/programs/"+p.ID+"/publish", "", 200, nil)
		return p.ID
	}
	var mu sync.Mutex
	var published []string
	for i := range 5 {
		published = append(published, publish(i))
	}
	a.await("/api/v1/discovery/search?q=harbour&limit=100", 200, published[4])

	// The editor goes on publishing, one program every 50 ms, while the replay runs.
	stop := make(chan struct{})
	writer := make(chan struct{})
	go func() {
		defer close(writer)
		for i := 5; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			id := publish(i)
			mu.Lock()
			published = append(published, id)
			mu.Unlock()
		}
	}()
	var out bytes.Buffer
	err := app.Replay(context.Background(), cfg, quiet, &out)
	time.Sleep(300 * time.Millisecond) // and a little after the swap
	close(stop)
	<-writer
	if err != nil {
		t.Fatalf("replay: %v\n%s", err, out.String())
	}
	mu.Lock()
	all := append([]string(nil), published...)
	mu.Unlock()
	t.Logf("%d programs published, %d of them during the replay", len(all), len(all)-5)
	for _, id := range all {
		a.await("/api/v1/discovery/search?q=harbour&limit=100", 200, id)
	}
}
