package database

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
)

// TestStatementCache proves the SQLite connections reuse their prepared statements, and stay
// correct where reuse could go wrong: a query run again while rows of it are still open, a
// schema change under a cached statement, statements inside transactions, and queries with too
// many arguments to cache.
func TestStatementCache(t *testing.T) {
	ctx := t.Context()
	db, err := sql.Open(sqliteDriverName, filepath.Join(t.TempDir(), "cache.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cached := func() (n int) {
		if err := conn.Raw(func(dc any) error {
			n = len(dc.(*cachingConn).stmts)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if _, err := conn.ExecContext(ctx, `CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)`); err != nil {
		t.Fatal(err)
	}
	before := cached()
	for i := range 10 {
		if _, err := conn.ExecContext(ctx, `INSERT INTO t (id, name) VALUES (?, ?)`, i, fmt.Sprint("n", i)); err != nil {
			t.Fatal(err)
		}
	}
	if got := cached(); got != before+1 {
		t.Errorf("10 inserts of one text cached %d statements, want 1", got-before)
	}

	// The same query inside the iteration of its own rows: the second one cannot share the busy
	// statement, and both read what they should.
	const byID = `SELECT name FROM t WHERE id >= ? ORDER BY id`
	rows, err := conn.QueryContext(ctx, byID, 0)
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	for rows.Next() {
		var outer string
		if err := rows.Scan(&outer); err != nil {
			t.Fatal(err)
		}
		var inner string
		if err := conn.QueryRowContext(ctx, byID, i).Scan(&inner); err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprint("n", i); outer != want || inner != want {
			t.Fatalf("row %d: outer %q, inner %q, want %q", i, outer, inner, want)
		}
		i++
	}
	if err := rows.Close(); err != nil || i != 10 {
		t.Fatalf("iterated %d rows, close: %v", i, err)
	}

	// A schema change under a cached statement: SQLite prepares it again by itself.
	const all = `SELECT * FROM t WHERE id = ?`
	var id int
	var name string
	if err := conn.QueryRowContext(ctx, all, 3).Scan(&id, &name); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, `ALTER TABLE t ADD COLUMN extra TEXT DEFAULT 'x'`); err != nil {
		t.Fatal(err)
	}
	var extra string
	if err := conn.QueryRowContext(ctx, all, 3).Scan(&id, &name, &extra); err != nil || extra != "x" {
		t.Fatalf("after ALTER TABLE: %v, extra %q", err, extra)
	}

	// Inside a transaction, rolled back: the cached insert's effect goes with it.
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO t (id, name) VALUES (?, ?)`, 100, "rolled back"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM t`).Scan(&n); err != nil || n != 10 {
		t.Fatalf("after a rolled back insert: %d rows (%v), want 10", n, err)
	}

	// Too many arguments to cache: run, not kept.
	args := make([]any, maxCachedArgs+1)
	for i := range args {
		args[i] = i
	}
	in := "?"
	for range maxCachedArgs {
		in += ", ?"
	}
	was := cached()
	if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM t WHERE id IN (`+in+`)`, args...).Scan(&n); err != nil || n != 10 {
		t.Fatalf("IN list of %d: %d rows (%v), want 10", len(args), n, err)
	}
	if cached() != was {
		t.Error("a query with more than maxCachedArgs arguments was cached")
	}
}
