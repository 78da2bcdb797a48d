package database_test

import (
	"context"
	"sync"
	"testing"

	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
)

// TestPostgresPoolKeepsIdleConnections: bursts of concurrent statements reuse the pool's
// connections instead of closing all but two after each burst and opening new ones (a server
// backend and an authentication each) for the next.
func TestPostgresPoolKeepsIdleConnections(t *testing.T) {
	db := databasetest.Postgres(t)
	if got := db.Stats().MaxOpenConnections; got != 0 {
		t.Fatalf("max open connections %d, want no cap by default", got)
	}
	ctx := context.Background()
	for range 5 {
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				if _, err := db.ExecContext(ctx, "SELECT pg_sleep(0.02)"); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	st := db.Stats()
	if st.MaxIdleClosed != 0 || st.OpenConnections > database.DefaultPool.IdleConns {
		t.Fatalf("pool closed %d idle connections and holds %d: connections were not reused", st.MaxIdleClosed, st.OpenConnections)
	}

	db.SetPool(database.Pool{MaxConns: 3, IdleConns: 3})
	if got := db.Stats().MaxOpenConnections; got != 3 {
		t.Fatalf("max open connections %d after SetPool, want 3", got)
	}
}
