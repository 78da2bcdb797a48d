package inbox

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
)

// TestPrune: entries recorded before the cut go, of every consumer, in batches until none is
// left; later ones stay and still de-duplicate their events.
func TestPrune(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		if err := Migrate(ctx, db); err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		record := func(consumer, id string, at time.Time) {
			t.Helper()
			if _, err := db.ExecContext(ctx, db.Rebind(`INSERT INTO inbox (consumer, event_id, processed_at) VALUES (?, ?, ?)`), consumer, id, at.UnixMilli()); err != nil {
				t.Fatal(err)
			}
		}
		for i := range 7 {
			record("discovery", fmt.Sprintf("old-%d", i), now.Add(-9*24*time.Hour))
			record("search", fmt.Sprintf("old-%d", i), now.Add(-8*24*time.Hour))
		}
		record("discovery", "recent", now.Add(-time.Hour))
		n, err := Prune(ctx, db, now.Add(-7*24*time.Hour), 3, time.Millisecond)
		if err != nil || n != 14 {
			t.Fatalf("Prune = %d, %v; want 14", n, err)
		}
		var left int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM inbox`).Scan(&left); err != nil || left != 1 {
			t.Fatalf("entries left = %d, %v; want 1", left, err)
		}
		if applied, err := Apply(ctx, db, "discovery", "recent", nil); err != nil || applied {
			t.Fatalf("the kept entry no longer de-duplicates: applied=%v err=%v", applied, err)
		}
		if Pruning(db, 0) != nil {
			t.Fatal("a retention of 0 prunes")
		}
		if n, err := Pruning(db, 30*time.Minute)(ctx, now, 0, 0); err != nil || n != 1 {
			t.Fatalf("Pruning(30m) = %d, %v; want 1", n, err)
		}
	})
}
