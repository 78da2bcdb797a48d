package inbox

import (
	"context"
	"database/sql"
	"errors"
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

// TestRecordAll: ids recorded before, and repeats within the call, are not fresh; across chunks too.
func TestRecordAll(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		if err := Migrate(ctx, db); err != nil {
			t.Fatal(err)
		}
		if _, err := Apply(ctx, db, "c", "seen", func(*sql.Tx) error { return nil }); err != nil {
			t.Fatal(err)
		}
		ids := []string{"a", "seen", "b", "a"}
		for i := range 2 * recordChunk {
			ids = append(ids, fmt.Sprintf("x%d", i%(recordChunk+10))) // repeats across the chunk boundary
		}
		var fresh []bool
		err := db.InTx(ctx, func(tx *sql.Tx) error {
			var err error
			fresh, err = RecordAll(ctx, db, tx, "c", ids)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{"seen": true}
		for i, id := range ids {
			if want := !seen[id]; fresh[i] != want {
				t.Fatalf("fresh[%d] (%s) = %v, want %v", i, id, fresh[i], want)
			}
			seen[id] = true
		}
		// Another consumer's records are apart; a rolled back transaction records nothing.
		_ = db.InTx(ctx, func(tx *sql.Tx) error {
			if fresh, err := RecordAll(ctx, db, tx, "other", []string{"a"}); err != nil || !fresh[0] {
				t.Fatalf("another consumer: %v %v", fresh, err)
			}
			return errors.New("roll back")
		})
		if applied, err := Apply(ctx, db, "other", "a", func(*sql.Tx) error { return nil }); err != nil || !applied {
			t.Fatalf("after a rollback: applied=%v err=%v", applied, err)
		}
	})
}
