// Package inbox makes event consumers idempotent: a consumer records each event id it applied in
// the same transaction as the effect, so a redelivered event (delivery is at least once) changes
// nothing, and a replay from the beginning rebuilds the same state.
package inbox

import (
	"context"
	"database/sql"
	"embed"
	"io/fs"
	"time"

	"github.com/mediamesh/mediamesh/internal/database"
)

// Component is the migration component of the inbox table in schema_migrations.
const Component = "inbox"

//go:embed migrations
var migrations embed.FS

// Migrations returns the inbox migrations (sqlite/ and postgres/), for database.DB.Migrate and
// database.DB.Pending with Component.
func Migrations() fs.FS {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil { // cannot happen: the directory is embedded
		panic(err)
	}
	return sub
}

// Migrate creates the inbox table.
func Migrate(ctx context.Context, db *database.DB) error {
	return db.Migrate(ctx, Component, Migrations())
}

// Apply runs effect in a transaction unless consumer already applied eventID. It reports whether
// the effect ran. If effect fails, nothing is recorded and the event will be applied again.
func Apply(ctx context.Context, db *database.DB, consumer, eventID string, effect func(tx *sql.Tx) error) (bool, error) {
	applied := false
	err := db.InTx(ctx, func(tx *sql.Tx) error {
		fresh, err := Record(ctx, db, tx, consumer, eventID)
		if err != nil || !fresh {
			return err
		}
		if err := effect(tx); err != nil {
			return err
		}
		applied = true
		return nil
	})
	return applied, err
}

// Record records in tx that consumer applied eventID, for a consumer that applies several events
// in one transaction. It reports false when the event was recorded before: its effect must not run
// again. Should the transaction roll back, nothing is recorded.
func Record(ctx context.Context, db *database.DB, tx *sql.Tx, consumer, eventID string) (bool, error) {
	res, err := tx.ExecContext(ctx, db.Rebind(`INSERT INTO inbox (consumer, event_id, processed_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`),
		consumer, eventID, time.Now().UnixMilli())
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// Forget removes a consumer's records, before a replay that rebuilds its read model from scratch.
func Forget(ctx context.Context, db *database.DB, consumer string) error {
	_, err := db.ExecContext(ctx, db.Rebind(`DELETE FROM inbox WHERE consumer = ?`), consumer)
	return err
}
