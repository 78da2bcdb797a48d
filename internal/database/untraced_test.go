package database_test

import (
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
)

// An untraced database is the same database without the instrumentation: it writes in
// transactions, reads back, and (SQLite) keeps its read-only readers and its WAL settings.
func TestUntraced(t *testing.T) {
	urls := map[string]func(testing.TB) string{"sqlite": databasetest.SQLiteURL, "postgres": databasetest.PostgresURL}
	for name, url := range urls {
		t.Run(name, func(t *testing.T) {
			u := url(t)
			traced, err := database.Open(t.Context(), u)
			if err != nil {
				t.Fatal(err)
			}
			defer traced.Close()
			db, err := database.Open(t.Context(), u, database.Untraced())
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if got := fmt.Sprintf("%T", traced.Driver()); !strings.Contains(got, "otelsql") {
				t.Errorf("a database opened by default has driver %s, want the otelsql instrumentation", got)
			}
			if got := fmt.Sprintf("%T", db.Driver()); strings.Contains(got, "otelsql") {
				t.Errorf("an untraced database has driver %s", got)
			}
			ctx := t.Context()
			if _, err := db.ExecContext(ctx, `CREATE TABLE untraced (id INTEGER PRIMARY KEY, v TEXT NOT NULL)`); err != nil {
				t.Fatal(err)
			}
			err = db.InTx(ctx, func(tx *sql.Tx) error {
				_, err := tx.ExecContext(ctx, db.Rebind(`INSERT INTO untraced (id, v) VALUES (?, ?)`), 1, "one")
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			var v string
			if err := db.Reads().QueryRowContext(ctx, `SELECT v FROM untraced WHERE id = 1`).Scan(&v); err != nil || v != "one" {
				t.Fatalf("read back %q, %v", v, err)
			}
			if name == "sqlite" {
				if _, err := db.Reads().ExecContext(ctx, `INSERT INTO untraced (id, v) VALUES (2, 'two')`); err == nil {
					t.Error("an untraced database's reader accepted a write")
				}
			}
		})
	}
}
