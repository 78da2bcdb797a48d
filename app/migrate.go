package app

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"github.com/mediamesh/mediamesh/internal/database"
)

// databaseURL is the database of service name: its configured URL, or SQLite under data_dir.
func (c *Config) databaseURL(name string) string {
	if url := c.Services.Endpoint(name).DatabaseURL; url != "" {
		return url
	}
	return "sqlite:" + filepath.Join(c.DataDir, name+".db")
}

// Migrate applies the pending migrations of every database that cfg's target uses (its services'
// and those whose outboxes it relays), reports each migration it applied to out, and returns. It is
// `mediamesh migrate`: how production applies migrations before starting processes with
// migrate_on_start off. Concurrent runs are safe (see database.DB.Migrate).
func Migrate(ctx context.Context, cfg Config, out io.Writer) error {
	plan, err := cfg.Plan()
	if err != nil {
		return err
	}
	for _, name := range append(append([]string{}, plan.InProcess...), plan.Relays...) {
		if len(migrations(name, database.SQLite)) == 0 {
			continue // no database
		}
		if err := migrateDatabase(ctx, cfg.databaseURL(name), name, out); err != nil {
			return err
		}
	}
	return nil
}

func migrateDatabase(ctx context.Context, url, name string, out io.Writer) error {
	db, err := database.Open(ctx, url)
	if err != nil {
		return fmt.Errorf("%s database: %w", name, err)
	}
	defer db.Close()
	for _, m := range migrations(name, db.Dialect) {
		pending, err := db.Pending(ctx, m.Component, m.FS)
		if err != nil {
			return fmt.Errorf("%s database, %s migrations: %w", name, m.Component, err)
		}
		if err := db.Migrate(ctx, m.Component, m.FS); err != nil {
			return fmt.Errorf("%s database, %s migrations: %w", name, m.Component, err)
		}
		for _, f := range pending {
			fmt.Fprintf(out, "%s database: applied %s/%s\n", name, m.Component, f)
		}
	}
	fmt.Fprintf(out, "%s database: up to date\n", name)
	return nil
}
