package discovery

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/gen/events/contentevents"
	"github.com/mediamesh/mediamesh/gen/openapi/commonapi"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/eventbus"
	"github.com/mediamesh/mediamesh/internal/inbox"
	"github.com/mediamesh/mediamesh/internal/outbox"
	"github.com/mediamesh/mediamesh/internal/readmodel/readmodeltest"
)

// fixture is a discovery service on a migrated database, fed events directly and read through
// its HTTP handler.
type fixture struct {
	t   testing.TB
	db  *database.DB
	svc *Service
	h   http.Handler
}

func newFixture(t testing.TB, db *database.DB) *fixture {
	t.Helper()
	ctx := t.Context()
	if err := db.Migrate(ctx, Migrations.Component, Migrations.FS); err != nil {
		t.Fatal(err)
	}
	if err := inbox.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	if err := outbox.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	svc, err := New(Config{}, Deps{DB: db, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	h, err := svc.Handler(log, nil) // every operation is public: no verifier needed
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, db: db, svc: svc, h: h}
}

// feed applies messages in order and fails the test on an error.
func (f *fixture) feed(msgs ...eventbus.Message) {
	f.t.Helper()
	for _, m := range msgs {
		if err := f.svc.HandleEvent(f.t.Context(), m); err != nil {
			f.t.Fatalf("HandleEvent %s: %v", m.Headers[eventbus.HeaderEventType], err)
		}
	}
}

// record calls the handler with GET path.
func (f *fixture) record(path string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec
}

// get calls the handler and returns the status and body.
func (f *fixture) get(path string) (int, []byte) {
	rec := f.record(path)
	return rec.Code, rec.Body.Bytes()
}

// getJSON calls the handler, wants status 200 and decodes the body into v (a pointer, zeroed
// first so nothing of an earlier response lingers).
func (f *fixture) getJSON(path string, v any) {
	f.t.Helper()
	reflect.ValueOf(v).Elem().SetZero()
	code, body := f.get(path)
	if code != http.StatusOK {
		f.t.Fatalf("GET %s: %d %s", path, code, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		f.t.Fatalf("GET %s: %v in %s", path, err, body)
	}
}

// wantStatus fails unless GET path answers code.
func (f *fixture) wantStatus(path string, code int) []byte {
	f.t.Helper()
	got, body := f.get(path)
	if got != code {
		f.t.Fatalf("GET %s: %d, want %d: %s", path, got, code, body)
	}
	return body
}

// The event builders and ids of the read models' tests (readmodeltest).
var (
	base                = readmodeltest.Base
	newID               = readmodeltest.NewID
	message             = readmodeltest.Message
	publishedMsg        = readmodeltest.Published
	updatedMsg          = readmodeltest.Updated
	unpublishedMsg      = readmodeltest.Unpublished
	deletedMsg          = readmodeltest.Deleted
	categoryUpsertedMsg = readmodeltest.CategoryUpserted
	categoryDeletedMsg  = readmodeltest.CategoryDeleted
)

func ptr[T any](v T) *T { return &v }

// programSnap is a published program snapshot.
func programSnap(id string, version int64, title, lang string) contentevents.ContentSnapshot {
	return contentevents.ContentSnapshot{
		ID: id, Kind: ptr(contentevents.ContentKindPodcast), Status: contentevents.ContentStatusPublished,
		Title: title, Slug: ptr("slug-" + id[len(id)-8:]), Language: lang, Tags: []string{},
		PublishedAt: ptr(base), Version: version,
	}
}

// episodeSnap is a published episode snapshot of programID.
func episodeSnap(id, programID string, version int64, season *int, number int, publishedAt time.Time) contentevents.ContentSnapshot {
	return contentevents.ContentSnapshot{
		ID: id, ProgramID: &programID, Status: contentevents.ContentStatusPublished,
		Title: "Episode " + id[len(id)-4:], Language: "en", Tags: []string{},
		SeasonNumber: season, EpisodeNumber: &number, DurationSeconds: ptr(1800),
		PublishedAt: &publishedAt, Version: version,
	}
}

// programList and episodeList mirror the list responses with the pieces the tests read.
type programList struct {
	Items []struct {
		ID           string   `json:"id"`
		Title        string   `json:"title"`
		Language     string   `json:"language"`
		Tags         []string `json:"tags"`
		EpisodeCount int      `json:"episode_count"`
		Category     *struct {
			ID   string `json:"id"`
			Slug string `json:"slug"`
			Name string `json:"name"`
		} `json:"category"`
		CoverURL *string `json:"cover_url"`
	} `json:"items"`
	Page commonapi.PageInfo `json:"page"`
}

type episodeList struct {
	Items []struct {
		ID            string  `json:"id"`
		ProgramID     string  `json:"program_id"`
		ProgramTitle  string  `json:"program_title"`
		SeasonNumber  *int    `json:"season_number"`
		EpisodeNumber int     `json:"episode_number"`
		Title         string  `json:"title"`
		PublishedAt   string  `json:"published_at"`
		MediaURL      *string `json:"media_url"`
	} `json:"items"`
	Page commonapi.PageInfo `json:"page"`
}

func (l programList) ids() []string {
	out := make([]string, len(l.Items))
	for i, p := range l.Items {
		out[i] = p.ID
	}
	return out
}

func (l episodeList) ids() []string {
	out := make([]string, len(l.Items))
	for i, e := range l.Items {
		out[i] = e.ID
	}
	return out
}
