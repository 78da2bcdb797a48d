// Package databasetest gives tests a fresh, isolated database of each dialect, so one test
// suite runs against SQLite and PostgreSQL alike.
//
// SQLite databases are temporary files. PostgreSQL databases are fresh schemas in the database
// that MEDIAMESH_TEST_POSTGRES_URL names, for example
//
//	MEDIAMESH_TEST_POSTGRES_URL='postgres://mediamesh:mediamesh@127.0.0.1:5432/mediamesh_test?sslmode=disable' go test ./...
//
// Without that variable the PostgreSQL tests are skipped, except under CI=true, where they fail.
package databasetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/testenv"
)

// EnvPostgresURL is the environment variable that holds the PostgreSQL test database URL.
const EnvPostgresURL = "MEDIAMESH_TEST_POSTGRES_URL"

// schemaPrefix starts the name of every test schema.
const schemaPrefix = "mm_test_"

// cleanupTimeout bounds the work of a cleanup function (closing, dropping a schema).
const cleanupTimeout = 30 * time.Second

// Each runs fn as the subtests "sqlite" and "postgres", each with a fresh database of that
// dialect. The postgres subtest is skipped (or, under CI=true, fails) when
// MEDIAMESH_TEST_POSTGRES_URL is not set.
func Each(t *testing.T, fn func(t *testing.T, db *database.DB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, Postgres(t)) })
}

// SQLite returns a fresh SQLite database in a temporary file, closed when the test ends.
func SQLite(t testing.TB) *database.DB {
	t.Helper()
	return open(t, SQLiteURL(t))
}

// SQLiteURL returns the URL of a fresh SQLite database file in the test's temporary directory.
// Open it as many times as the test needs; the directory goes when the test ends.
func SQLiteURL(t testing.TB) string {
	t.Helper()
	return "sqlite://" + filepath.ToSlash(filepath.Join(t.TempDir(), "test.db"))
}

// Postgres returns a database handle on a fresh PostgreSQL schema (see PostgresURL), closed when
// the test ends.
func Postgres(t testing.TB) *database.DB {
	t.Helper()
	return open(t, PostgresURL(t))
}

// PostgresURL creates a fresh schema mm_test_<random> in the database that
// MEDIAMESH_TEST_POSTGRES_URL names and returns that URL with search_path set to the schema,
// so every connection opened with it creates and finds its tables there. The schema is dropped
// when the test ends. Without the variable the test is skipped, or fails under CI=true.
func PostgresURL(t testing.TB) string {
	t.Helper()
	raw := testenv.Get(t, EnvPostgresURL, "a PostgreSQL server, e.g. postgres://mediamesh:mediamesh@127.0.0.1:5432/mediamesh_test?sslmode=disable")
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("databasetest: %s is not a valid URL", EnvPostgresURL)
	}
	admin := open(t, raw)
	schema := schemaPrefix + randomHex(t, 8)
	if _, err := admin.ExecContext(t.Context(), `CREATE SCHEMA `+schema); err != nil {
		t.Fatalf("databasetest: create schema %s: %v", schema, err)
	}
	// Registered after open's Close, so it runs before it: drop, then close the admin handle.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		if _, err := admin.ExecContext(ctx, `DROP SCHEMA IF EXISTS `+schema+` CASCADE`); err != nil {
			t.Errorf("databasetest: drop schema %s: %v", schema, err)
		}
	})
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// open opens rawURL and closes the database when the test ends.
func open(t testing.TB, rawURL string) *database.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), cleanupTimeout)
	defer cancel()
	db, err := database.Open(ctx, rawURL)
	if err != nil {
		t.Fatalf("databasetest: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("databasetest: close: %v", err)
		}
	})
	return db
}

// randomHex returns n random bytes, hex encoded.
func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("databasetest: random: %v", err)
	}
	return hex.EncodeToString(b)
}
