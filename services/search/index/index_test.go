package index_test

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
	"github.com/mediamesh/mediamesh/services/search/index"
	"github.com/mediamesh/mediamesh/services/search/index/indextest"
)

// openPostgres returns a Postgres index on a fresh schema with PostgresMigrations applied; it
// skips without MEDIAMESH_TEST_POSTGRES_URL (and fails under CI=true).
func openPostgres(t *testing.T) index.Index {
	t.Helper()
	return newPostgres(t, databasetest.Postgres(t))
}

// newPostgres applies PostgresMigrations to db and returns the Postgres index in it.
func newPostgres(tb testing.TB, db *database.DB) *index.Postgres {
	tb.Helper()
	if err := db.Migrate(tb.Context(), index.PostgresMigrations.Component, index.PostgresMigrations.FS); err != nil {
		tb.Fatalf("migrate: %v", err)
	}
	ix, err := index.NewPostgres(tb.Context(), db)
	if err != nil {
		tb.Fatalf("NewPostgres: %v", err)
	}
	return ix
}

func TestMemory(t *testing.T) {
	t.Parallel()
	t.Run("dense", func(t *testing.T) {
		indextest.Run(t, func(*testing.T) index.Index { return index.NewMemorySearching(true, time.Now()) })
	})
	t.Run("sparse", func(t *testing.T) {
		indextest.Run(t, func(*testing.T) index.Index { return index.NewMemorySearching(false, time.Now()) })
	})
}

func TestPostgres(t *testing.T) {
	t.Parallel()
	indextest.Run(t, openPostgres)
}

// FuzzSearch runs arbitrary query text through Search and Suggest of the in-memory index, and of
// the Postgres index when MEDIAMESH_TEST_POSTGRES_URL is set: no panic, and no error other
// than ErrInvalidQuery (for text that is not valid UTF-8).
func FuzzSearch(f *testing.F) {
	indexes := map[string]index.Index{"memory": index.NewMemory()}
	if os.Getenv(databasetest.EnvPostgresURL) != "" {
		indexes["postgres"] = newPostgres(f, databasetest.Postgres(f))
	}
	published := time.Date(2026, 1, 10, 6, 0, 0, 0, time.UTC)
	docs := []index.Doc{
		{ID: "f1", Type: index.TypeProgram, Title: "برنامج الصباح", Summary: "الأخبار والحوارات", Language: "ar", PublishedAt: published, Version: 1},
		{ID: "f2", Type: index.TypeEpisode, Title: "The Deep Sea Podcast", Summary: "Don't miss it: a & b | !c", Language: "en", PublishedAt: published, Version: 1},
		{ID: "f3", Type: index.TypeEpisode, Title: "Émission du matin", Summary: "l'actualité", Language: "fr", PublishedAt: published, Version: 1},
	}
	for _, ix := range indexes {
		if err := ix.UpsertBatch(f.Context(), docs); err != nil {
			f.Fatal(err)
		}
	}
	for _, s := range []string{"الصباح", "deep se", "a & b", "'", `\`, ":*", "!(", "<->", "a:*D", "don't", "'' | ''", "\x00", "\xff", "ﷺ", "ال"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, text string, latest bool) {
		q := index.Query{Text: text, Limit: 2, Facets: []string{index.FacetType, index.FacetLanguage}}
		if latest {
			q.Sort = index.SortLatest
		}
		for name, ix := range indexes {
			r, err := ix.Search(t.Context(), q)
			if err != nil {
				if errors.Is(err, index.ErrInvalidQuery) {
					continue
				}
				t.Fatalf("%s: Search(%q): %v", name, text, err)
			}
			if r.HasMore {
				next := q
				next.Cursor = r.NextCursor
				if _, err := ix.Search(t.Context(), next); err != nil {
					t.Fatalf("%s: Search(%q) page 2: %v", name, text, err)
				}
			}
			if _, err := ix.Suggest(t.Context(), text, "", 5); err != nil && !errors.Is(err, index.ErrInvalidQuery) {
				t.Fatalf("%s: Suggest(%q): %v", name, text, err)
			}
		}
	})
}

func TestNewPostgresRefusesSQLite(t *testing.T) {
	if _, err := index.NewPostgres(t.Context(), databasetest.SQLite(t)); err == nil {
		t.Error("NewPostgres accepted a SQLite database")
	}
}

// TestNewPostgresWantsMigrations proves NewPostgres leaves the schema to its caller: it creates
// nothing, and refuses a database where PostgresMigrations are pending.
func TestNewPostgresWantsMigrations(t *testing.T) {
	db := databasetest.Postgres(t)
	if _, err := index.NewPostgres(t.Context(), db); err == nil || !strings.Contains(err.Error(), "not applied") {
		t.Errorf("NewPostgres on an unmigrated database: %v, want an error naming the pending migrations", err)
	}
	var table *string
	if err := db.QueryRowContext(t.Context(), `SELECT to_regclass('search_documents')::text`).Scan(&table); err != nil {
		t.Fatal(err)
	}
	if table != nil {
		t.Errorf("NewPostgres created %s", *table)
	}
	newPostgres(t, db)
}
