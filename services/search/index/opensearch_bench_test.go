package index

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/internal/testenv"
)

// benchOpenSearch returns an OpenSearch index behind a new alias, dropped when b ends; it skips
// without MEDIAMESH_TEST_OPENSEARCH_URL.
func benchOpenSearch(b *testing.B, refresh string) *OpenSearch {
	raw := testenv.Get(b, "MEDIAMESH_TEST_OPENSEARCH_URL", "an OpenSearch node (bash tools/opensearch/start.sh)")
	var r [6]byte
	_, _ = rand.Read(r[:])
	ix, err := NewOpenSearch(b.Context(), OpenSearchConfig{URLs: strings.Split(raw, ","), Alias: "mmbench-" + hex.EncodeToString(r[:]), Refresh: refresh})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = ix.Drop(context.Background()) })
	return ix
}

// BenchmarkSearchOpenSearch is BenchmarkSearch on OpenSearch (MEDIAMESH_TEST_OPENSEARCH_URL):
// the same 100,000 episodes (10,000 with -short) indexed in batches of 5,000, each bulk request
// refreshed (refresh=true, what the service does) or not (refresh=false, one refresh at the end),
// then the same varied searches one at a time; parallel then runs them from
// MEDIAMESH_BENCH_CLIENTS (8) goroutines over the refresh=false index and reports q/s.
func BenchmarkSearchOpenSearch(b *testing.B) {
	var loadedIx *OpenSearch
	for _, refresh := range []string{"true", "false"} {
		ix := benchOpenSearch(b, refresh) // dropped when the whole benchmark ends
		b.Run("refresh="+refresh, func(b *testing.B) {
			loaded := loadBench(b, ix)
			if refresh == "false" {
				start := time.Now()
				if err := ix.do(b.Context(), "POST", osRequest{path: "/" + ix.alias + "/_refresh"}, nil); err != nil {
					b.Fatal(err)
				}
				loaded += time.Since(start)
				loadedIx = ix
			}
			runSearches(b, ix, loaded)
		})
	}
	b.Run("parallel", func(b *testing.B) {
		if loadedIx == nil {
			b.Skip("no index")
		}
		runParallelSearches(b, loadedIx)
	})
}

// runParallelSearches runs the varied searches from several clients and reports q/s and the
// latency percentiles.
func runParallelSearches(b *testing.B, ix Index) {
	clients := 8
	if v := os.Getenv("MEDIAMESH_BENCH_CLIENTS"); v != "" {
		if _, err := fmt.Sscan(v, &clients); err != nil {
			b.Fatal(err)
		}
	}
	qs := benchQueries()
	var mu sync.Mutex
	var lat []time.Duration
	b.SetParallelism(max(1, clients/max(1, runtime.GOMAXPROCS(0))))
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		i := 0
		for pb.Next() {
			q := qs[i%len(qs)]
			i++
			t := time.Now()
			if _, err := ix.Search(b.Context(), q); err != nil {
				b.Error(err)
				return
			}
			mine = append(mine, time.Since(t))
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	took := time.Since(start)
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(len(lat))/took.Seconds(), "q/s")
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
}
