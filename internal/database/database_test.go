package database_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
)

func TestOpenSQLiteFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "b", "svc.db")
	db, err := database.Open(t.Context(), "sqlite://"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if db.Dialect != database.SQLite {
		t.Fatalf("dialect %q", db.Dialect)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database file: %v", err)
	}
	for pragma, want := range map[string]string{"journal_mode": "wal", "synchronous": "1", "foreign_keys": "1", "busy_timeout": "5000"} {
		var got string
		if err := db.QueryRowContext(t.Context(), "PRAGMA "+pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("PRAGMA %s = %s, want %s", pragma, got, want)
		}
	}
}

func TestOpenSQLiteRelativeAndMemory(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	db, err := database.Open(t.Context(), "sqlite:data/rel.db")
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := os.Stat(filepath.Join(dir, "data", "rel.db")); err != nil {
		t.Fatalf("relative database file: %v", err)
	}

	mem, err := database.Open(t.Context(), "sqlite::memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	// The single connection keeps the in-memory database alive across statements.
	if _, err := mem.ExecContext(t.Context(), `CREATE TABLE t (x INTEGER)`); err != nil {
		t.Fatal(err)
	}
	if _, err := mem.ExecContext(t.Context(), `INSERT INTO t VALUES (1)`); err != nil {
		t.Fatal(err)
	}
}

func TestOpenErrors(t *testing.T) {
	cases := []struct{ url, want string }{
		{"", "no scheme"},
		{"data/x.db", "no scheme"},
		{"mysql://u:topsecret@h/db", `unsupported URL scheme "mysql"`},
		{"sqlite://host/x.db", "has a host"},
		{"sqlite:x.db?mode=ro", "must not have a query"},
		{"sqlite:", "no file name"},
		{"sqlite:dir/", "no file name"},
		// Nothing listens on port 1: the connection is refused at once.
		{"postgres://mm:topsecret@127.0.0.1:1/db?sslmode=disable&connect_timeout=2", "database: postgres postgres://mm:xxxxx@127.0.0.1:1/db"},
		{"postgres://mm@127.0.0.1:1/db?sslmode=disable&password=topsecret&connect_timeout=2", "database: postgres"},
		{"postgres://mm:topsecret@127.0.0.1:port/db", "invalid postgres URL"},
		{"postgres://mm:topsecret@127.0.0.1:5432/db?sslmode=bogus&password=topsecret", "password=xxxxx"},
	}
	for _, c := range cases {
		t.Run(c.url, func(t *testing.T) {
			db, err := database.Open(t.Context(), c.url)
			if err == nil {
				db.Close()
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not contain %q", err, c.want)
			}
			if strings.Contains(err.Error(), "topsecret") {
				t.Errorf("error leaks the password: %q", err)
			}
		})
	}
}

func TestRebind(t *testing.T) {
	pg := &database.DB{Dialect: database.Postgres}
	lite := &database.DB{Dialect: database.SQLite}
	cases := []struct{ in, want string }{
		{`SELECT 1`, `SELECT 1`},
		{`SELECT * FROM t WHERE a = ? AND b = ?`, `SELECT * FROM t WHERE a = $1 AND b = $2`},
		{`INSERT INTO t (a, b, c) VALUES (?,?,?)`, `INSERT INTO t (a, b, c) VALUES ($1,$2,$3)`},
		{`SELECT '?' , ? FROM t`, `SELECT '?' , $1 FROM t`},
		{`SELECT 'it''s ?', ? FROM t WHERE x = 'a?b'`, `SELECT 'it''s ?', $1 FROM t WHERE x = 'a?b'`},
		{`SELECT "odd?col" FROM t WHERE a = ?`, `SELECT "odd?col" FROM t WHERE a = $1`},
		{"SELECT a -- what?\nFROM t WHERE a = ?", "SELECT a -- what?\nFROM t WHERE a = $1"},
		{`SELECT /* ? */ a FROM t WHERE a = ?`, `SELECT /* ? */ a FROM t WHERE a = $1`},
		{`SELECT 'unterminated ?`, `SELECT 'unterminated ?`},
		{`SELECT ?, 'ملف؟' , ?`, `SELECT $1, 'ملف؟' , $2`},
		{strings.Repeat("?,", 11) + "?", "$1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12"},
	}
	for _, c := range cases {
		if got := pg.Rebind(c.in); got != c.want {
			t.Errorf("postgres Rebind(%q) = %q, want %q", c.in, got, c.want)
		}
		if got := lite.Rebind(c.in); got != c.in {
			t.Errorf("sqlite Rebind(%q) = %q, want it unchanged", c.in, got)
		}
	}
}

func createItems(t *testing.T, db *database.DB) {
	t.Helper()
	if _, err := db.ExecContext(t.Context(), `CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, at TIMESTAMP)`); err != nil {
		t.Fatal(err)
	}
}

func countItems(t *testing.T, db *database.DB) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM items`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestDB(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := t.Context()
		createItems(t, db)

		t.Run("rebind round trip", func(t *testing.T) {
			at := time.Date(2026, 3, 1, 12, 30, 45, 123456000, time.UTC)
			if _, err := db.ExecContext(ctx, db.Rebind(`INSERT INTO items (id, name, at) VALUES (?, ?, ?)`), 100, "what? 'quoted'", at); err != nil {
				t.Fatal(err)
			}
			var name string
			var got time.Time
			err := db.QueryRowContext(ctx, db.Rebind(`SELECT name, at FROM items WHERE id = ? AND name <> '?'`), 100).Scan(&name, &got)
			if err != nil {
				t.Fatal(err)
			}
			if name != "what? 'quoted'" || !got.Equal(at) {
				t.Fatalf("got %q %v", name, got)
			}
			if _, err := db.ExecContext(ctx, `DELETE FROM items`); err != nil {
				t.Fatal(err)
			}
		})

		t.Run("commit", func(t *testing.T) {
			err := db.InTx(ctx, func(tx *sql.Tx) error {
				_, err := tx.ExecContext(ctx, db.Rebind(`INSERT INTO items (id, name) VALUES (?, ?)`), 1, "one")
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if n := countItems(t, db); n != 1 {
				t.Fatalf("%d items after commit, want 1", n)
			}
		})

		t.Run("rollback on error", func(t *testing.T) {
			boom := errors.New("boom")
			err := db.InTx(ctx, func(tx *sql.Tx) error {
				if _, err := tx.ExecContext(ctx, db.Rebind(`INSERT INTO items (id, name) VALUES (?, ?)`), 2, "two"); err != nil {
					return err
				}
				return boom
			})
			if !errors.Is(err, boom) {
				t.Fatalf("InTx returned %v, want boom", err)
			}
			if n := countItems(t, db); n != 1 {
				t.Fatalf("%d items after rollback, want 1", n)
			}
		})

		t.Run("rollback on panic", func(t *testing.T) {
			func() {
				defer func() {
					if p := recover(); p != "kaboom" {
						t.Fatalf("recovered %v, want the panic to continue", p)
					}
				}()
				_ = db.InTx(ctx, func(tx *sql.Tx) error {
					if _, err := tx.ExecContext(ctx, db.Rebind(`INSERT INTO items (id, name) VALUES (?, ?)`), 3, "three"); err != nil {
						return err
					}
					panic("kaboom")
				})
			}()
			if n := countItems(t, db); n != 1 {
				t.Fatalf("%d items after panic, want 1", n)
			}
			// The connection went back to the pool: the database is still usable.
			if err := db.InTx(ctx, func(tx *sql.Tx) error { return nil }); err != nil {
				t.Fatal(err)
			}
		})

		t.Run("failed statement", func(t *testing.T) {
			err := db.InTx(ctx, func(tx *sql.Tx) error {
				_, err := tx.ExecContext(ctx, db.Rebind(`INSERT INTO items (id, name) VALUES (?, ?)`), 1, "duplicate")
				return err
			})
			if err == nil {
				t.Fatal("duplicate key accepted")
			}
			if n := countItems(t, db); n != 1 {
				t.Fatalf("%d items, want 1", n)
			}
		})

		t.Run("canceled context", func(t *testing.T) {
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			if err := db.InTx(cctx, func(tx *sql.Tx) error { return nil }); err == nil {
				t.Fatal("InTx on a canceled context succeeded")
			}
		})
	})
}

// TestAfterCommit: hooks run after each commit, never after a rollback.
func TestAfterCommit(t *testing.T) {
	db := databasetest.SQLite(t)
	var n atomic.Int32
	db.AfterCommit(func() { n.Add(1) })
	db.AfterCommit(func() { n.Add(10) })
	ctx := context.Background()
	if err := db.InTx(ctx, func(tx *sql.Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	_ = db.InTx(ctx, func(tx *sql.Tx) error { return errors.New("roll back") })
	if n.Load() != 11 {
		t.Fatalf("hooks ran %d, want both once (11)", n.Load())
	}
}

// TestSQLiteReads checks the read-only pool of an SQLite file: it reads while a transaction holds
// the one writing connection, sees what was committed, and refuses writes.
func TestSQLiteReads(t *testing.T) {
	ctx := t.Context()
	db, err := database.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "svc.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if db.Reads() == db.DB {
		t.Fatal("an SQLite file reads through its writing connection")
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE t (v INTEGER)`); err != nil {
		t.Fatal(err)
	}
	err = db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO t VALUES (1)`); err != nil {
			return err
		}
		var n int
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if err := db.Reads().QueryRowContext(rctx, `SELECT count(*) FROM t`).Scan(&n); err != nil {
			return err // a read that waited for the transaction's connection times out here
		}
		if n != 0 {
			t.Errorf("a reader saw %d uncommitted rows", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.Reads().QueryRowContext(ctx, `SELECT count(*) FROM t`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("after the commit a reader counts %d rows (%v), want 1", n, err)
	}
	if _, err := db.Reads().ExecContext(ctx, `INSERT INTO t VALUES (2)`); err == nil {
		t.Fatal("a write through the read-only pool succeeded")
	}
	mem, err := database.Open(ctx, "sqlite::memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	if mem.Reads() != mem.DB {
		t.Fatal("an in-memory database has one connection: Reads must be it")
	}
}
