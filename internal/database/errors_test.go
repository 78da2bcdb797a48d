package database_test

import (
	"context"
	"errors"
	"testing"

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
