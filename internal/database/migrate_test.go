package database_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
)

// migrations returns a migrations fs.FS with the same files for both dialects. The files depend
// on each other (a table, then a column, then rows), so applying them out of order fails.
func migrations() fstest.MapFS {
	files := map[string]string{
		"0001_create_notes.sql":   "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);\n",
		"0002_add_note_title.sql": "ALTER TABLE notes ADD COLUMN title TEXT NOT NULL DEFAULT '';\n",
		"0010_seed_notes.sql": "-- two statements in one file\n" +
			"INSERT INTO notes (id, body, title) VALUES (1, 'first?', 'one');\n" +
			"INSERT INTO notes (id, body, title) VALUES (2, 'second', 'two');\n",
	}
	fsys := fstest.MapFS{"README.md": {Data: []byte("not a migration")}}
	for _, dialect := range []string{"sqlite", "postgres"} {
		for name, body := range files {
			fsys[dialect+"/"+name] = &fstest.MapFile{Data: []byte(body)}
		}
		fsys[dialect+"/notes.txt"] = &fstest.MapFile{Data: []byte("ignored")}
	}
	return fsys
}

// withFile returns a copy of fsys with the file of both dialects set (or removed when body is
// empty).
func withFile(fsys fstest.MapFS, name, body string) fstest.MapFS {
	c := maps.Clone(fsys)
	for _, dialect := range []string{"sqlite", "postgres"} {
		if body == "" {
			delete(c, dialect+"/"+name)
		} else {
			c[dialect+"/"+name] = &fstest.MapFile{Data: []byte(body)}
		}
	}
	return c
}

type migrationRow struct {
	Version   int64
	Name      string
	Checksum  string
	AppliedAt time.Time
}

func appliedRows(t *testing.T, db *database.DB, component string) []migrationRow {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), db.Rebind(`SELECT version, name, checksum, applied_at FROM schema_migrations WHERE component = ? ORDER BY version`), component)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []migrationRow
	for rows.Next() {
		var r migrationRow
		if err := rows.Scan(&r.Version, &r.Name, &r.Checksum, &r.AppliedAt); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func pending(t *testing.T, db *database.DB, component string, fsys fstest.MapFS) []string {
	t.Helper()
	names, err := db.Pending(t.Context(), component, fsys)
	if err != nil {
		t.Fatalf("Pending: %v", err)
	}
	return names
}

func TestMigrate(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := t.Context()
		fsys := migrations()
		all := []string{"0001_create_notes.sql", "0002_add_note_title.sql", "0010_seed_notes.sql"}

		// Pending on a fresh database lists everything and creates nothing.
		if got := pending(t, db, "notes", fsys); !slices.Equal(got, all) {
			t.Fatalf("pending before migrating = %v, want %v", got, all)
		}
		var tables int
		q := `SELECT COUNT(*) FROM sqlite_master WHERE name = 'schema_migrations'`
		if db.Dialect == database.Postgres {
			q = `SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'schema_migrations'`
		}
		if err := db.QueryRowContext(ctx, q).Scan(&tables); err != nil || tables != 0 {
			t.Fatalf("Pending created schema_migrations (%d, %v)", tables, err)
		}

		// Apply in order.
		before := time.Now().Add(-time.Second)
		if err := db.Migrate(ctx, "notes", fsys); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		var n int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM notes WHERE title <> ''`).Scan(&n); err != nil || n != 2 {
			t.Fatalf("notes after migrating: %d, %v", n, err)
		}
		rows := appliedRows(t, db, "notes")
		if len(rows) != 3 {
			t.Fatalf("schema_migrations has %d rows, want 3", len(rows))
		}
		for i, r := range rows {
			sum := sha256.Sum256(fsys[string(db.Dialect)+"/"+all[i]].Data)
			if r.Name != all[i] || r.Checksum != hex.EncodeToString(sum[:]) || r.AppliedAt.Before(before) {
				t.Errorf("row %d = %+v", i, r)
			}
		}
		if got := []int64{rows[0].Version, rows[1].Version, rows[2].Version}; !slices.Equal(got, []int64{1, 2, 10}) {
			t.Errorf("versions %v", got)
		}
		if got := pending(t, db, "notes", fsys); len(got) != 0 {
			t.Fatalf("pending after migrating = %v", got)
		}

		// Running again changes nothing.
		if err := db.Migrate(ctx, "notes", fsys); err != nil {
			t.Fatalf("second Migrate: %v", err)
		}
		if got := appliedRows(t, db, "notes"); !slices.Equal(got, rows) {
			t.Fatalf("second Migrate changed schema_migrations: %+v", got)
		}

		// A new file is pending, then applied.
		next := withFile(fsys, "0011_index_titles.sql", "CREATE INDEX notes_title_idx ON notes (title);")
		if got := pending(t, db, "notes", next); !slices.Equal(got, []string{"0011_index_titles.sql"}) {
			t.Fatalf("pending with a new file = %v", got)
		}
		if err := db.Migrate(ctx, "notes", next); err != nil {
			t.Fatalf("Migrate a new file: %v", err)
		}
		if got := appliedRows(t, db, "notes"); len(got) != 4 {
			t.Fatalf("%d applied, want 4", len(got))
		}

		// Components are independent: another one can use the same versions.
		other := fstest.MapFS{
			"migrations/sqlite/0001_create_other.sql":   {Data: []byte("CREATE TABLE other (id INTEGER PRIMARY KEY);")},
			"migrations/postgres/0001_create_other.sql": {Data: []byte("CREATE TABLE other (id BIGINT PRIMARY KEY);")},
		}
		if err := db.Migrate(ctx, "other", other); err != nil {
			t.Fatalf("Migrate other component (migrations/ prefix): %v", err)
		}
		if got := appliedRows(t, db, "other"); len(got) != 1 || got[0].Name != "0001_create_other.sql" {
			t.Fatalf("other component rows %+v", got)
		}

		drift := []struct {
			name string
			fsys fstest.MapFS
			want error
			text string
		}{
			{"edited", withFile(next, "0002_add_note_title.sql", "ALTER TABLE notes ADD COLUMN title TEXT;"), database.ErrChecksumMismatch, "0002_add_note_title.sql"},
			{"deleted", withFile(next, "0010_seed_notes.sql", ""), database.ErrMigrationMissing, "0010_seed_notes.sql"},
			{"renumbered", withFile(withFile(next, "0011_index_titles.sql", ""), "0012_index_titles.sql", "CREATE INDEX notes_title_idx ON notes (title);"), database.ErrMigrationMissing, "0011_index_titles.sql"},
			{"out of order", withFile(next, "0005_late.sql", "CREATE TABLE late (id INTEGER);"), database.ErrOutOfOrder, "0005_late.sql"},
		}
		for _, c := range drift {
			t.Run(c.name, func(t *testing.T) {
				err := db.Migrate(ctx, "notes", c.fsys)
				if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.text) {
					t.Fatalf("Migrate = %v, want %v naming %s", err, c.want, c.text)
				}
				if _, err := db.Pending(ctx, "notes", c.fsys); !errors.Is(err, c.want) {
					t.Fatalf("Pending = %v, want %v", err, c.want)
				}
				if got := appliedRows(t, db, "notes"); len(got) != 4 {
					t.Fatalf("refused Migrate changed schema_migrations: %+v", got)
				}
			})
		}

		t.Run("failing migration rolls back", func(t *testing.T) {
			bad := withFile(next, "0012_broken.sql", "CREATE TABLE half_done (id INTEGER);\nINSERT INTO no_such_table VALUES (1);")
			err := db.Migrate(ctx, "notes", bad)
			if err == nil || !strings.Contains(err.Error(), "0012_broken.sql") {
				t.Fatalf("Migrate = %v, want an error naming 0012_broken.sql", err)
			}
			if _, err := db.ExecContext(ctx, `SELECT * FROM half_done`); err == nil {
				t.Fatal("the failed migration's first statement was kept")
			}
			if got := pending(t, db, "notes", bad); !slices.Equal(got, []string{"0012_broken.sql"}) {
				t.Fatalf("pending after a failure = %v", got)
			}
		})
	})
}

func TestMigrateRejectsBadFiles(t *testing.T) {
	db := databasetest.SQLite(t)
	cases := []struct {
		name string
		fsys fstest.MapFS
		want string
	}{
		{"no dialect directory", fstest.MapFS{"postgres/0001_x.sql": {Data: []byte("SELECT 1")}}, "no sqlite/ directory"},
		{"short version", fstest.MapFS{"sqlite/1_x.sql": {Data: []byte("SELECT 1")}}, "name must look like"},
		{"no description", fstest.MapFS{"sqlite/0001.sql": {Data: []byte("SELECT 1")}}, "name must look like"},
		{"upper case", fstest.MapFS{"sqlite/0001_Create.sql": {Data: []byte("SELECT 1")}}, "name must look like"},
		{"version zero", fstest.MapFS{"sqlite/0000_x.sql": {Data: []byte("SELECT 1")}}, "from 1"},
		{"duplicate version", fstest.MapFS{"sqlite/0001_a.sql": {Data: []byte("SELECT 1")}, "sqlite/00001_b.sql": {Data: []byte("SELECT 1")}}, "share version 1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := db.Migrate(t.Context(), "bad", c.fsys)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Migrate = %v, want an error containing %q", err, c.want)
			}
		})
	}
	if err := db.Migrate(t.Context(), "Bad Name", migrations()); err == nil {
		t.Fatal("invalid component name accepted")
	}
}

// TestMigrateConcurrently starts several Migrate calls at once on separate handles (as separate
// processes would) and checks that each migration ran once. The migrations are not idempotent:
// running one twice fails.
func TestMigrateConcurrently(t *testing.T) {
	urls := map[string]func(testing.TB) string{"sqlite": databasetest.SQLiteURL, "postgres": databasetest.PostgresURL}
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			url := urls[name](t)
			const n = 4
			dbs := make([]*database.DB, n)
			for i := range dbs {
				db, err := database.Open(t.Context(), url)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { db.Close() })
				dbs[i] = db
			}
			fsys := migrations()
			var wg sync.WaitGroup
			errs := make([]error, n)
			for i, db := range dbs {
				wg.Go(func() { errs[i] = db.Migrate(t.Context(), "notes", fsys) })
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Errorf("Migrate %d: %v", i, err)
				}
			}
			if got := appliedRows(t, dbs[0], "notes"); len(got) != 3 {
				t.Fatalf("%d migrations recorded, want 3", len(got))
			}
			var notes int
			if err := dbs[0].QueryRowContext(t.Context(), `SELECT COUNT(*) FROM notes`).Scan(&notes); err != nil || notes != 2 {
				t.Fatalf("%d notes (%v), want 2: a migration ran twice", notes, err)
			}
		})
	}
}

// TestMigrateSQLiteRebuildKeepsChildren applies a migration that rebuilds a parent table as Atlas
// writes one for SQLite (PRAGMA foreign_keys = off; new table, copy, drop, rename): the children's
// ON DELETE CASCADE does not run when the old parent is dropped, foreign keys are enforced again
// afterwards, and a rebuild that leaves a reference dangling is refused and rolled back.
func TestMigrateSQLiteRebuildKeepsChildren(t *testing.T) {
	db := databasetest.SQLite(t)
	base := fstest.MapFS{
		"sqlite/0001_tables.sql": {Data: []byte("CREATE TABLE parents (id TEXT PRIMARY KEY, n BIGINT NOT NULL);\n" +
			"CREATE TABLE children (id TEXT PRIMARY KEY, parent_id TEXT NOT NULL REFERENCES parents (id) ON DELETE CASCADE);\n" +
			"INSERT INTO parents (id, n) VALUES ('p', 1);\nINSERT INTO children (id, parent_id) VALUES ('c', 'p');\n")},
	}
	rebuild := "PRAGMA foreign_keys = off;\n" +
		"CREATE TABLE `new_parents` (`id` text NOT NULL, `n` integer NOT NULL, PRIMARY KEY (`id`));\n" +
		"INSERT INTO `new_parents` (`id`, `n`) SELECT `id`, `n` FROM `parents`;\n" +
		"DROP TABLE `parents`;\nALTER TABLE `new_parents` RENAME TO `parents`;\nPRAGMA foreign_keys = on;\n"
	fsys := maps.Clone(base)
	fsys["sqlite/0002_rebuild.sql"] = &fstest.MapFile{Data: []byte(rebuild)}
	if err := db.Migrate(t.Context(), "rebuild", fsys); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM children`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("children after the rebuild: %d, %v; want the one row kept", n, err)
	}
	if _, err := db.ExecContext(t.Context(), `INSERT INTO children (id, parent_id) VALUES ('d', 'nobody')`); err == nil {
		t.Fatal("foreign keys are not enforced after the migration")
	}

	other := databasetest.SQLite(t)
	broken := maps.Clone(base)
	broken["sqlite/0002_rebuild.sql"] = &fstest.MapFile{Data: []byte(strings.Replace(rebuild, "SELECT `id`, `n` FROM `parents`", "SELECT 'q', `n` FROM `parents`", 1))}
	err := other.Migrate(t.Context(), "rebuild", broken)
	if err == nil || !strings.Contains(err.Error(), "foreign key check") {
		t.Fatalf("Migrate of a rebuild that breaks a reference = %v, want the foreign key check to refuse it", err)
	}
	if err := other.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM parents WHERE id = 'p'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("the refused rebuild was not rolled back: %d, %v", n, err)
	}
}
