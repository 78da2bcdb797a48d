package inbox

import (
	"context"
	"fmt"
	"time"

	"github.com/mediamesh/mediamesh/internal/database"
)

// DefaultPruneBatch is how many entries one pruning statement deletes at most (see Prune).
const DefaultPruneBatch = 1000

// Prune deletes the entries of every consumer recorded before before, at most batch a statement
// (0: DefaultPruneBatch), statement after statement until none are left or ctx ends, pausing pause
// between statements so other writers get their turn. It returns how many it deleted.
//
// An entry guards against a redelivery of its event, which comes within minutes (an unacknowledged
// Kafka offset, a relay that published and did not mark the row sent), so a retention of days is
// ample. A replay starts with Forget and does not need them.
func Prune(ctx context.Context, db *database.DB, before time.Time, batch int, pause time.Duration) (int64, error) {
	if batch <= 0 {
		batch = DefaultPruneBatch
	}
	q := db.Rebind(`DELETE FROM inbox WHERE (consumer, event_id) IN
		(SELECT consumer, event_id FROM inbox WHERE processed_at < ? ORDER BY processed_at LIMIT ?)`)
	var total int64
	for {
		res, err := db.ExecContext(ctx, q, before.UnixMilli(), batch)
		if err != nil {
			return total, fmt.Errorf("inbox: prune: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("inbox: prune: %w", err)
		}
		total += n
		if n < int64(batch) {
			return total, nil
		}
		if pause > 0 {
			t := time.NewTimer(pause)
			select {
			case <-ctx.Done():
				t.Stop()
				return total, ctx.Err()
			case <-t.C:
			}
		} else if ctx.Err() != nil {
			return total, ctx.Err()
		}
	}
}

// Pruning returns the inbox's part of a pruning pass (outbox.Pruner's Inbox): it prunes the
// entries older than retention; a retention of 0 keeps them all.
func Pruning(db *database.DB, retention time.Duration) func(ctx context.Context, now time.Time, batch int, pause time.Duration) (int64, error) {
	if retention <= 0 {
		return nil
	}
	return func(ctx context.Context, now time.Time, batch int, pause time.Duration) (int64, error) {
		return Prune(ctx, db, now.Add(-retention), batch, pause)
	}
}
