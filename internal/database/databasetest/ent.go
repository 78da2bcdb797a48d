package databasetest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ariga.io/atlas/sql/migrate"
	entsql "entgo.io/ent/dialect/sql"
	"entgo.io/ent/dialect/sql/schema"

	"github.com/mediamesh/mediamesh/internal/database"
)

// AssertEntSchema fails the test when the tables of db, as its migrations left them, differ from
// the ent schema tables: it asks Atlas (through ent) for the statements that would bring db to the
// ent schema and reports them. A contract change to x-ent annotations without a new migration
// (`make migration`) fails here, on each dialect.
func AssertEntSchema(t testing.TB, db *database.DB, tables []*schema.Table) {
	t.Helper()
	dir := t.TempDir()
	local, err := migrate.NewLocalDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := schema.NewMigrate(entsql.OpenDB(db.EntDialect(), db.DB),
		schema.WithDir(local),
		schema.WithMigrationMode(schema.ModeInspect),
		schema.WithDropColumn(true),
		schema.WithDropIndex(true),
		schema.WithErrNoPlan(true),
	)
	if err != nil {
		t.Fatal(err)
	}
	err = m.NamedDiff(t.Context(), "drift", tables...)
	if errors.Is(err, migrate.ErrNoPlan) {
		return
	}
	if err != nil {
		t.Fatalf("compare the migrated %s database with the ent schema: %v", db.Dialect, err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.sql"))
	var stmts []string
	for _, f := range files {
		b, _ := os.ReadFile(f)
		stmts = append(stmts, string(b))
	}
	t.Fatalf("the %s migrations do not produce the ent schema; add a migration (make migration SERVICE=... NAME=...). Missing:\n%s", db.Dialect, strings.Join(stmts, "\n"))
}
