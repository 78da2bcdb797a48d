package search

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/mediamesh/mediamesh/gen/events/contentevents"
	"github.com/mediamesh/mediamesh/gen/openapi/searchapi"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/eventbus"
	"github.com/mediamesh/mediamesh/internal/inbox"
	"github.com/mediamesh/mediamesh/internal/outbox"
	"github.com/mediamesh/mediamesh/internal/readmodel/readmodeltest"
	"github.com/mediamesh/mediamesh/services/search/index"
)

// fixture is a search service on a migrated database and a fresh index (in memory beside
// SQLite, the Postgres index beside PostgreSQL), fed events directly and read through its HTTP
// handler, whose every response is checked against the contract.
type fixture struct {
	t     testing.TB
	db    *database.DB
	index index.Index
	svc   *Service
	h     http.Handler
	cache *countingCache
}

func newFixture(t testing.TB, db *database.DB) *fixture {
	t.Helper()
	ctx := t.Context()
	for _, m := range []database.Migrations{
		Migrations,
		{Component: inbox.Component, FS: inbox.Migrations()},
		{Component: outbox.Component, FS: outbox.Migrations()},
	} {
		if err := db.Migrate(ctx, m.Component, m.FS); err != nil {
			t.Fatal(err)
		}
	}
	ix := newIndex(t, db)
	log := slog.New(slog.DiscardHandler)
	cache := &countingCache{}
	svc, err := New(Config{}, Deps{DB: db, Index: ix, Log: log, Cache: cache})
	if err != nil {
		t.Fatal(err)
	}
	h, err := svc.Handler(log, nil) // every operation is public: no verifier needed
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, db: db, index: ix, svc: svc, h: h, cache: cache}
}

// restart replaces the service by a new one on the same database with a new in-memory index,
// loaded from the storage (LoadIndex), as a restart of the process does.
func (f *fixture) restart() {
	f.t.Helper()
	ix := index.NewMemory()
	log := slog.New(slog.DiscardHandler)
	svc, err := New(Config{}, Deps{DB: f.db, Index: ix, Log: log, Cache: f.cache})
	if err != nil {
		f.t.Fatal(err)
	}
	if _, err := svc.LoadIndex(f.t.Context()); err != nil {
		f.t.Fatal(err)
	}
	h, err := svc.Handler(log, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	f.index, f.svc, f.h = ix, svc, h
}

// newIndex returns the index of the test's dialect: in memory for SQLite, the Postgres
// index (its migrations applied) for PostgreSQL.
func newIndex(t testing.TB, db *database.DB) index.Index {
	t.Helper()
	if db.Dialect == database.Postgres {
		m := index.PostgresMigrations
		if err := db.Migrate(t.Context(), m.Component, m.FS); err != nil {
			t.Fatal(err)
		}
		ix, err := index.NewPostgres(t.Context(), db)
		if err != nil {
			t.Fatal(err)
		}
		return ix
	}
	return index.NewMemory()
}

// countingCache is an invalidator that counts its calls.
type countingCache struct {
	mu    sync.Mutex
	calls map[string]int
}

func (c *countingCache) Invalidate(_ context.Context, namespace string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.calls == nil {
		c.calls = map[string]int{}
	}
	c.calls[namespace]++
	return nil
}

func (c *countingCache) count(namespace string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[namespace]
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

// record calls the handler with GET path and checks the response against the contract.
func (f *fixture) record(path string) *httptest.ResponseRecorder {
	f.t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	checkResponse(f.t, req, rec)
	return rec
}

// get calls the handler and returns the status and body.
func (f *fixture) get(path string) (int, []byte) {
	f.t.Helper()
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

// search runs searchContent with the query parameters of kv (name, value, name, value, ...).
func (f *fixture) search(kv ...string) searchapi.SearchResults {
	f.t.Helper()
	var out searchapi.SearchResults
	f.getJSON(searchPath(kv...), &out)
	return out
}

// suggest runs suggestContent with the query parameters of kv.
func (f *fixture) suggest(kv ...string) searchapi.Suggestions {
	f.t.Helper()
	var out searchapi.Suggestions
	f.getJSON("/api/v1/discovery/search/suggest?"+query(kv...), &out)
	return out
}

// found returns the ids of the hits of a search with the query parameters of kv, sorted.
func (f *fixture) found(kv ...string) []string {
	f.t.Helper()
	ids := hitIDs(f.search(append(kv, "limit", "100")...).Items)
	slices.Sort(ids)
	return ids
}

// wantFound fails unless a search with the query parameters of kv finds exactly ids.
func (f *fixture) wantFound(kv []string, ids ...string) {
	f.t.Helper()
	want := slices.Clone(ids)
	slices.Sort(want)
	if want == nil {
		want = []string{}
	}
	if got := f.found(kv...); !slices.Equal(got, want) {
		f.t.Errorf("search %v found %v, want %v", kv, got, want)
	}
}

// hit returns the hit with id of a search with the query parameters of kv, failing when there
// is none.
func (f *fixture) hit(id string, kv ...string) searchapi.SearchHit {
	f.t.Helper()
	for _, h := range f.search(append(kv, "limit", "100")...).Items {
		if h.Id.String() == id {
			return h
		}
	}
	f.t.Fatalf("search %v: no hit %s", kv, id)
	return searchapi.SearchHit{}
}

func searchPath(kv ...string) string { return "/api/v1/discovery/search?" + query(kv...) }

// query encodes name, value pairs as a query string.
func query(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v.Encode()
}

func hitIDs(items []searchapi.SearchHit) []string {
	out := make([]string, len(items))
	for i, h := range items {
		out[i] = h.Id.String()
	}
	return out
}

// spec is the service's contract, loaded once for response checks.
var spec = sync.OnceValues(searchapi.GetSpec)

// checkResponse fails the test when the response to req breaks the contract: a status it does
// not document, a 5xx, or a body that does not match the schema.
func checkResponse(t testing.TB, req *http.Request, rec *httptest.ResponseRecorder) {
	t.Helper()
	if rec.Code >= 500 {
		t.Errorf("GET %s: %d %s", req.URL, rec.Code, rec.Body)
		return
	}
	doc, err := spec()
	if err != nil {
		t.Fatal(err)
	}
	item := doc.Paths.Find(req.URL.Path)
	if item == nil || item.Get == nil {
		return // not an operation of the contract: the router answered 404 or 405
	}
	route := &routers.Route{Spec: doc, Path: req.URL.Path, PathItem: item, Method: http.MethodGet, Operation: item.Get}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, Route: route},
		Status:                 rec.Code,
		Header:                 rec.Header(),
		Body:                   io.NopCloser(bytes.NewReader(rec.Body.Bytes())),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Errorf("GET %s: %d response breaks the contract: %v\n%s", req.URL, rec.Code, err, rec.Body)
	}
}

// The event builders and ids of the read models' tests (readmodeltest).
var (
	base                = readmodeltest.Base
	newID               = readmodeltest.NewID
	message             = readmodeltest.Message
	createdMsg          = readmodeltest.Created
	publishedMsg        = readmodeltest.Published
	updatedMsg          = readmodeltest.Updated
	unpublishedMsg      = readmodeltest.Unpublished
	deletedMsg          = readmodeltest.Deleted
	categoryUpsertedMsg = readmodeltest.CategoryUpserted
	categoryDeletedMsg  = readmodeltest.CategoryDeleted
)

func ptr[T any](v T) *T { return &v }

// programSnap is a published program snapshot.
func programSnap(version int64, title, lang string) contentevents.ContentSnapshot {
	id := newID()
	return contentevents.ContentSnapshot{
		ID: id, Kind: ptr(contentevents.ContentKindPodcast), Status: contentevents.ContentStatusPublished,
		Title: title, Slug: ptr("slug-" + id[len(id)-8:]), Language: lang, Tags: []string{},
		PublishedAt: ptr(base), Version: version,
	}
}

// episodeSnap is a published episode snapshot of programID.
func episodeSnap(programID string, version int64, title, lang string, publishedAt time.Time) contentevents.ContentSnapshot {
	return contentevents.ContentSnapshot{
		ID: newID(), ProgramID: &programID, Status: contentevents.ContentStatusPublished,
		Title: title, Language: lang, Tags: []string{},
		EpisodeNumber: ptr(1), DurationSeconds: ptr(1800),
		PublishedAt: &publishedAt, Version: version,
	}
}
