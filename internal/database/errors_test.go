package database_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
)

func TestIsUniqueViolation(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		if _, err := db.ExecContext(ctx, `CREATE TABLE u (id TEXT PRIMARY KEY, email TEXT NOT NULL UNIQUE)`); err != nil {
			t.Fatal(err)
		}
		insert := func(id, email string) error {
			_, err := db.ExecContext(ctx, db.Rebind(`INSERT INTO u (id, email) VALUES (?, ?)`), id, email)
			return err
		}
		if err := insert("1", "a@x"); err != nil {
			t.Fatal(err)
		}
		if err := insert("2", "a@x"); !database.IsUniqueViolation(err) {
			t.Fatalf("duplicate email: %v", err)
		}
		if err := insert("1", "b@x"); !database.IsUniqueViolation(err) {
			t.Fatalf("duplicate key: %v", err)
		}
		if _, err := db.ExecContext(ctx, `INSERT INTO u (id) VALUES ('3')`); err == nil || database.IsUniqueViolation(err) {
			t.Fatalf("a NOT NULL violation is not a unique violation: %v", err)
		}
		if database.IsUniqueViolation(errors.New("UNIQUE constraint failed")) {
			t.Fatal("a plain error with the words is not a violation")
		}
	})
}

// TestIsUnavailableAcrossRestart stops a private PostgreSQL server under an open pool: the errors
// meanwhile are IsUnavailable, and once the server is back the same pool works again.
func TestIsUnavailableAcrossRestart(t *testing.T) {
	pg := databasetest.StartServer(t)
	ctx := context.Background()
	db, err := database.Open(ctx, pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var one int
	if err := db.QueryRowContext(ctx, `SELECT 1`).Scan(&one); err != nil {
		t.Fatal(err)
	}
	pg.Stop()
	for i := 0; i < 3; i++ {
		err := db.QueryRowContext(ctx, `SELECT 1`).Scan(&one)
		if err == nil || !database.IsUnavailable(err) {
			t.Fatalf("query while down: %v, IsUnavailable = %v", err, database.IsUnavailable(err))
		}
	}
	pg.Start()
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := db.QueryRowContext(ctx, `SELECT 1`).Scan(&one)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the pool did not recover: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if database.IsUnavailable(errors.New("duplicate key")) {
		t.Fatal("an ordinary error was classified as unavailable")
	}
}
