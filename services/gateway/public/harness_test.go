package public

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/gen/events/contentevents"
	"github.com/mediamesh/mediamesh/gen/events/metadataevents"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
	"github.com/mediamesh/mediamesh/internal/eventbus"
	"github.com/mediamesh/mediamesh/internal/gateway"
	"github.com/mediamesh/mediamesh/internal/inbox"
	"github.com/mediamesh/mediamesh/internal/outbox"
	"github.com/mediamesh/mediamesh/services/discovery"
)

// catalogue is a real discovery service on a fresh SQLite database, fed content events.
type catalogue struct {
	t   *testing.T
	svc *discovery.Service
	h   http.Handler
}

func newCatalogue(t *testing.T) *catalogue {
	t.Helper()
	db := databasetest.SQLite(t)
	ctx := t.Context()
	if err := db.Migrate(ctx, discovery.Migrations.Component, discovery.Migrations.FS); err != nil {
		t.Fatal(err)
	}
	if err := inbox.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	if err := outbox.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	svc, err := discovery.New(discovery.Config{}, discovery.Deps{DB: db, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	h, err := svc.Handler(log, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &catalogue{t: t, svc: svc, h: h}
}

// apply hands ev to the service as the bus would deliver it.
func (c *catalogue) apply(ev outbox.Event) {
	c.t.Helper()
	payload, err := outbox.Encode(ev)
	if err != nil {
		c.t.Fatal(err)
	}
	m := eventbus.Message{Topic: ev.Topic(), Key: ev.MessageKey(), Value: payload, Headers: map[string]string{
		eventbus.HeaderEventType: ev.EventType(), eventbus.HeaderEventID: newID(),
	}}
	if err := c.svc.HandleEvent(c.t.Context(), m); err != nil {
		c.t.Fatalf("HandleEvent %s: %v", ev.EventType(), err)
	}
}

// base is the publication time of the first test content.
var base = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newID() string { return uuid.Must(uuid.NewV7()).String() }

// category adds a category with an Arabic and an English name.
func (c *catalogue) category(slug, ar, en string) string {
	id := newID()
	c.apply(&metadataevents.CategoryUpserted{EventID: newID(), OccurredAt: base, AggregateID: id, Slug: slug, Names: map[string]string{"ar": ar, "en": en}, Version: 1})
	return id
}

// program publishes a podcast in Arabic, published hours after base.
func (c *catalogue) program(title string, hours int, categoryID *string) string {
	id := newID()
	at := base.Add(time.Duration(hours) * time.Hour)
	kind, slug := contentevents.ContentKindPodcast, "p-"+id[len(id)-12:]
	c.apply(&contentevents.ContentPublished{EventID: newID(), OccurredAt: at, AggregateID: id, AggregateType: contentevents.AggregateTypeProgram, PublishedAt: at,
		Snapshot: contentevents.ContentSnapshot{ID: id, Kind: &kind, Status: contentevents.ContentStatusPublished, Title: title, Slug: &slug,
			Language: "ar", CategoryID: categoryID, Tags: []string{"حوارات"}, PublishedAt: &at, Version: 1}})
	return id
}

// episode publishes episode number of season (nil: none) of programID.
func (c *catalogue) episode(programID string, season *int, number int) string {
	id := newID()
	at := base.Add(time.Duration(number) * time.Minute)
	c.apply(&contentevents.ContentPublished{EventID: newID(), OccurredAt: at, AggregateID: id, AggregateType: contentevents.AggregateTypeEpisode, PublishedAt: at,
		Snapshot: contentevents.ContentSnapshot{ID: id, ProgramID: &programID, Status: contentevents.ContentStatusPublished, Title: "الحلقة " + id[len(id)-4:],
			Language: "ar", Tags: []string{}, SeasonNumber: season, EpisodeNumber: &number, DurationSeconds: &number, PublishedAt: &at, Version: 1}})
	return id
}

// restJSON calls the service's REST operation path directly and decodes its 200 answer into v.
func (c *catalogue) restJSON(path string, v any) {
	c.t.Helper()
	rec := httptest.NewRecorder()
	c.h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	if rec.Code != http.StatusOK {
		c.t.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
		c.t.Fatal(err)
	}
}

// recorder passes requests to a handler and remembers each one's path and headers.
type recorder struct {
	next http.Handler
	mu   sync.Mutex
	reqs []*http.Request
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.reqs = append(r.reqs, req.Clone(req.Context()))
	r.mu.Unlock()
	r.next.ServeHTTP(w, req)
}

// take returns the requests recorded since the last take and forgets them.
func (r *recorder) take() []*http.Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.reqs
	r.reqs = nil
	return out
}

// paths returns the paths of reqs.
func paths(reqs []*http.Request) []string {
	out := make([]string, len(reqs))
	for i, r := range reqs {
		out[i] = r.URL.Path
	}
	return out
}

// problem answers every request with a problem of status (and Retry-After, when given).
func problem(status int, retryAfter string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]any{"type": "about:blank", "title": http.StatusText(status), "status": status})
	})
}

// newGateway returns the GraphQL handler of the discovery gateway with disco and search as its
// upstreams, and the recorders around them; mux is the whole gateway (New) on the same upstreams.
// The handler's episodes loader waits a second for siblings, so a test that finishes fast shows
// that it dispatched as soon as they all joined, and counts calls independently of timing.
func newGateway(t *testing.T, disco, search http.Handler) (h, mux http.Handler, d, s *recorder) {
	t.Helper()
	d, s = &recorder{next: disco}, &recorder{next: search}
	log := slog.New(slog.DiscardHandler)
	ups := map[string]http.Handler{serviceDiscovery: d, serviceSearch: s, "auth": problem(http.StatusNotImplemented, "")}
	mux, err := New(gateway.Config{Upstreams: ups, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	r, err := newResolver(ups, log)
	if err != nil {
		t.Fatal(err)
	}
	r.batchWait = time.Second
	return graphqlHandler(r, true), mux, d, s
}

// gqlResult is a GraphQL response.
type gqlResult struct {
	Data   json.RawMessage `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Path       []any          `json:"path"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
}

// codes lists the extensions.code of each error.
func (r gqlResult) codes() string {
	var out []string
	for _, e := range r.Errors {
		c, _ := e.Extensions["code"].(string)
		out = append(out, c)
	}
	return strings.Join(out, ",")
}

// send posts body to h and returns the response; headers are added to the request.
func send(t *testing.T, h http.Handler, body map[string]any, headers ...string) gqlResult {
	t.Helper()
	raw, _ := json.Marshal(body)
	req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(string(raw)))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code >= 500 {
		t.Fatalf("HTTP %d: %s", rec.Code, rec.Body)
	}
	var out gqlResult
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("not JSON: %s", rec.Body)
	}
	return out
}

// query runs q with vars and decodes its data into v, failing on any error.
func query(t *testing.T, h http.Handler, q string, vars map[string]any, v any) {
	t.Helper()
	res := send(t, h, map[string]any{"query": q, "variables": vars})
	if len(res.Errors) > 0 {
		t.Fatalf("errors: %+v", res.Errors)
	}
	if err := json.Unmarshal(res.Data, v); err != nil {
		t.Fatalf("%v in %s", err, res.Data)
	}
}
