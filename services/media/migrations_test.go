package media

import (
	"testing"

	"github.com/mediamesh/mediamesh/ent/mediadb/migrate"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
)

// TestMigrationsMatchEntSchema proves the versioned migrations build exactly the tables the ent
// schema (generated from the contract) describes, on SQLite and PostgreSQL.
func TestMigrationsMatchEntSchema(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		if err := db.Migrate(t.Context(), Migrations.Component, Migrations.FS); err != nil {
			t.Fatal(err)
		}
		databasetest.AssertEntSchema(t, db, migrate.Tables)
	})
}
