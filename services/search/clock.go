package search

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/mediamesh/mediamesh/ent/searchdb/indexclock"
	"github.com/mediamesh/mediamesh/internal/database"
)

// clockName is the id of the one row of the index clock.
const clockName = "documents"

// tick takes the next version of index documents, in transaction tx: the
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
func tick(ctx context.Context, db *database.DB, tx *sql.Tx, now time.Time) (int64, error) {
	// One statement: the upsert locks the row and answers the version it wrote.
	greatest := "max" // SQLite's scalar max
	if db.Dialect == database.Postgres {
		greatest = "GREATEST"
	}
	q := db.Rebind("INSERT INTO " + indexclock.Table + " (" + indexclock.FieldID + ", " + indexclock.FieldVersion + ") VALUES (?, ?) " +
		"ON CONFLICT (" + indexclock.FieldID + ") DO UPDATE SET " + indexclock.FieldVersion + " = " + greatest +
		"(" + indexclock.Table + "." + indexclock.FieldVersion + " + 1, excluded." + indexclock.FieldVersion + ") RETURNING " + indexclock.FieldVersion)
	var version int64
	if err := tx.QueryRowContext(ctx, q, clockName, now.UnixMicro()).Scan(&version); err != nil {
		return 0, fmt.Errorf("advance the index clock: %w", err)
	}
	return version, nil
}

// advanceClock sets the index clock to version in tx unless it is already there: a run whose
// events took versions beyond the one tick gave its first (see run.begin) leaves the clock at the
// last, so the next run starts above it.
func advanceClock(ctx context.Context, db *database.DB, tx *sql.Tx, version int64) error {
	q := db.Rebind("UPDATE " + indexclock.Table + " SET " + indexclock.FieldVersion + " = ? WHERE " +
		indexclock.FieldID + " = ? AND " + indexclock.FieldVersion + " < ?")
	if _, err := tx.ExecContext(ctx, q, version, clockName, version); err != nil {
		return fmt.Errorf("advance the index clock: %w", err)
	}
	return nil
}
