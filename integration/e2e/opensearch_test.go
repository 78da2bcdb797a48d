package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/app"
	"github.com/mediamesh/mediamesh/internal/testenv"
	"github.com/mediamesh/mediamesh/services/search/index"
)

// TestContentLifecycleOpenSearch runs the lifecycle against `--target=all` with the search index in
// OpenSearch (publish -> searchable, unpublish -> gone within 1 s at p99, republish, delete).
func TestContentLifecycleOpenSearch(t *testing.T) {
	nodes := strings.Split(testenv.Get(t, "MEDIAMESH_TEST_OPENSEARCH_URL", "an OpenSearch node (bash tools/opensearch/start.sh; e.g. http://127.0.0.1:9200)"), ",")
	cfg := app.Default()
	cfg.Gateway.DiscoveryAddr, cfg.Gateway.CMSAddr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.Auth.AdminPassword = "lifecycle admin password"
	cfg.Gateway.RateLimits = false // the test polls the public side every 5ms
	cfg.Search.Engine = app.SearchEngineOpenSearch
	cfg.Search.OpenSearch.URLs = nodes
	cfg.Search.OpenSearch.Index = fmt.Sprintf("mmtest-lifecycle-%d", time.Now().UnixNano())
	t.Cleanup(func() {
		ctx := context.Background()
		if ix, err := index.NewOpenSearch(ctx, index.OpenSearchConfig{URLs: nodes, Alias: cfg.Search.OpenSearch.Index}); err == nil {
			_ = ix.Drop(ctx)
		}
	})
	urls, _, _ := start(t, cfg)
	a := &api{t: t, cms: urls["cms gateway"], disc: urls["discovery gateway"], unique: fmt.Sprint(time.Now().UnixNano())}
	a.token = login(t, a.cms, "admin@mediamesh.local", "lifecycle admin password")
	lifecycle(t, a)
	checkRemovalLag(t, a.removalLag)
}
