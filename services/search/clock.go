package search

import (
	"context"
	"fmt"
	"time"

	"github.com/mediamesh/mediamesh/ent/searchdb"
	"github.com/mediamesh/mediamesh/ent/searchdb/indexclock"
)

// clockName is the id of the one row of the index clock.
const clockName = "documents"

// tick takes the next version of index documents, in the transaction that c is bound to: the
// greater of one more than the last version taken and now in microseconds.
//
// Index documents need versions of their own: a document changes when its content does (whose
// version the snapshot carries) but also when its program or category does, and the index
// replaces a document only by a newer version. Every event applied takes one version for all the
// documents it writes, so a later event always wins. The row lock that the first statement takes
// holds until the transaction ends, so events are applied one at a time (SQLite serialises its
// transactions anyway): an event reads the storage only after the event before it committed.
//
// The time keeps versions growing when a transaction rolls back after its index write (the
// index is not part of the transaction): the next attempt, or the next event, takes a version
// above the one the index already saw. The clock survives Reset for the same reason.
func tick(ctx context.Context, c *searchdb.Client, now time.Time) (int64, error) {
	micros := now.UnixMicro()
	err := c.IndexClock.Create().SetID(clockName).SetVersion(micros).
		OnConflictColumns(indexclock.FieldID).AddVersion(1).
		Exec(ctx)
	if err != nil {
		return 0, fmt.Errorf("advance the index clock: %w", err)
	}
	clock, err := c.IndexClock.Get(ctx, clockName)
	if err != nil {
		return 0, fmt.Errorf("read the index clock: %w", err)
	}
	if clock.Version >= micros {
		return clock.Version, nil
	}
	if err := c.IndexClock.UpdateOneID(clockName).SetVersion(micros).Exec(ctx); err != nil {
		return 0, fmt.Errorf("set the index clock: %w", err)
	}
	return micros, nil
}
