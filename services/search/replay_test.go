package search

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/gen/openapi/searchapi"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
	"github.com/mediamesh/mediamesh/internal/eventbus"
)

// TestReplay applies an event stream, empties the storage and the index with Reset and applies
// the same stream again: every response is the same, and the same after a restart that loads the
// in-memory index from the storage. Applying the stream a third time without
// Reset (every event a duplicate) changes nothing either.
func TestReplay(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		cat := newID()
		a := programSnap(1, "Alpha talk", "en")
		a.CategoryID, a.Tags = &cat, []string{"talk"}
		b := programSnap(1, "برنامج الحوار", "ar")
		b.CategoryID = &cat
		c := programSnap(1, "Gone talk", "en")
		e1 := episodeSnap(a.ID, 1, "Talk one", "en", base.Add(time.Minute))
		e2 := episodeSnap(a.ID, 1, "Talk two", "en", base.Add(2*time.Minute))
		e3 := episodeSnap(b.ID, 1, "حلقة الحوار", "ar", base.Add(3*time.Minute))
		e4 := episodeSnap(c.ID, 1, "Talk gone", "en", base.Add(4*time.Minute))
		stream := []eventbus.Message{
			publishedMsg(t, e1), // before its program
			publishedMsg(t, a), publishedMsg(t, b), publishedMsg(t, c),
			publishedMsg(t, e2), publishedMsg(t, e3), publishedMsg(t, e4),
		}
		a.Version, a.Title = 2, "Alpha talk show"
		e2.Version, e2.Title = 2, "Talk second"
		stream = append(stream, updatedMsg(t, a, "title"), updatedMsg(t, e2, "title"),
			unpublishedMsg(t, e3, 2), deletedMsg(t, c, 2),
			categoryUpsertedMsg(t, cat, "talk", 1, map[string]string{"en": "Talk", "ar": "حوار"}),
			categoryUpsertedMsg(t, cat, "talk-shows", 2, map[string]string{"en": "Talk shows", "ar": "حوارات"}))

		paths := []string{
			searchPath("q", "talk"),
			searchPath("q", "talk", "limit", "2"),
			searchPath("q", "الحوار"),
			searchPath("type", "episode", "facets", "category,language,kind,type"),
			searchPath("category", "talk-shows", "sort", "latest"),
			searchPath("category", "talk"),
			searchPath("language", "ar", "limit", "1"),
			"/api/v1/discovery/search/suggest?q=ta",
			"/api/v1/discovery/search/suggest?q=" + "برنامج",
		}
		snapshot := func() []string {
			out := make([]string, len(paths))
			for i, p := range paths {
				out[i] = normalized(t, f, p)
			}
			return out
		}

		f.feed(stream...)
		first := snapshot()
		if db.Dialect != database.Postgres {
			// A restart: the in-memory index starts empty and is loaded from the storage.
			f.restart()
			for i, p := range paths {
				if got := normalized(t, f, p); got != first[i] {
					t.Errorf("GET %s differs after a restart:\n%s\n%s", p, first[i], got)
				}
			}
		}
		if err := f.svc.Reset(t.Context()); err != nil {
			t.Fatal(err)
		}
		f.wantFound([]string{"language", "en"})
		f.wantFound([]string{"language", "ar"})
		f.feed(stream...)
		second := snapshot()
		f.feed(stream...)
		third := snapshot()
		for i, p := range paths {
			if first[i] != second[i] || first[i] != third[i] {
				t.Errorf("GET %s differs after replay:\n%s\n%s\n%s", p, first[i], second[i], third[i])
			}
		}
		// The stream's effects, for the record: c is gone with its episode, e3 unpublished, e1 in.
		f.wantFound([]string{"q", "talk"}, a.ID, e1.ID, e2.ID)
		f.wantFound([]string{"category", "talk-shows"}, a.ID, b.ID, e1.ID, e2.ID)
	})
}

// normalized returns the response to GET path with what may differ between two identical
// searches zeroed: the time taken, the relevance scores (the freshness factor moves with the
// clock; the order of the hits is kept) and the cursors of relevance searches, which carry them.
func normalized(t *testing.T, f *fixture, path string) string {
	t.Helper()
	code, body := f.get(path)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, code, body)
	}
	if strings.HasPrefix(path, "/api/v1/discovery/search/suggest") {
		return string(body)
	}
	var res searchapi.SearchResults
	if err := json.Unmarshal(body, &res); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	res.TookMs = 0
	for i := range res.Items {
		res.Items[i].Score = 0
	}
	if res.Page.NextCursor != nil {
		res.Page.NextCursor = new(string)
	}
	out, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}
