package cms

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/gen/events/contentevents"
	"github.com/mediamesh/mediamesh/gen/openapi/cmsapi"
	"github.com/mediamesh/mediamesh/gen/openapi/mediaapi"
	"github.com/mediamesh/mediamesh/gen/openapi/metadataapi"
	"github.com/mediamesh/mediamesh/internal/authn"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/eventbus"
	"github.com/mediamesh/mediamesh/internal/inbox"
	"github.com/mediamesh/mediamesh/internal/outbox"
	"github.com/mediamesh/mediamesh/internal/policy"
)

// Test principals, by bearer token.
var (
	adminID  = uuid.MustParse("0193a400-1111-7222-8333-944455556666")
	editorID = uuid.MustParse("0193a400-aaaa-7bbb-8ccc-9dddeeeeffff")
	userID   = uuid.MustParse("0193a400-0000-7000-8000-900000000000")
)

// tokens is a verifier that knows three tokens: admin, editor and user.
type tokens struct{}

func (tokens) Verify(_ context.Context, token string) (*authn.Principal, error) {
	switch token {
	case "admin":
		return &authn.Principal{Subject: adminID.String(), Roles: []string{"ADMIN"}, Scopes: policy.RoleScopes["ADMIN"]}, nil
	case "editor":
		return &authn.Principal{Subject: editorID.String(), Roles: []string{"EDITOR"}, Scopes: policy.RoleScopes["EDITOR"]}, nil
	case "user":
		return &authn.Principal{Subject: userID.String(), Roles: []string{"USER"}, Scopes: policy.RoleScopes["USER"]}, nil
	}
	return nil, errors.New("unknown token")
}

// fakeMetadata is the metadata service: it knows some categories, or is down.
type fakeMetadata struct {
	mu         sync.Mutex
	categories map[uuid.UUID]bool
	down       bool // the call fails (unreachable, breaker open)
	status     int  // answer with this status instead, when not zero
	calls      int
	auth       string // the Authorization header of the last call
}

func (m *fakeMetadata) GetCategoryWithResponse(ctx context.Context, id metadataapi.CategoryId, editors ...metadataapi.RequestEditorFn) (*metadataapi.GetCategoryResponse, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://metadata/api/v1/metadata/categories/"+id.String(), nil)
	if err != nil {
		return nil, err
	}
	for _, e := range editors {
		if err := e(ctx, req); err != nil {
			return nil, err
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	m.auth = req.Header.Get("Authorization")
	if m.down {
		return nil, errors.New("dial tcp: connection refused")
	}
	status := http.StatusNotFound
	if m.categories[id] {
		status = http.StatusOK
	}
	if m.status != 0 {
		status = m.status
	}
	return &metadataapi.GetCategoryResponse{HTTPResponse: &http.Response{StatusCode: status, Header: http.Header{}}}, nil
}

func (m *fakeMetadata) set(f func(m *fakeMetadata)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f(m)
}

// Assets the fake media service knows in every fixture, by kind; the tests that predate the asset
// checks use these ids.
var (
	coverAsset = uuid.MustParse("0193a4b9-2a3b-7c4d-8e5f-6a7b8c9d0e1f") // image
	videoAsset = uuid.MustParse("0193a4ba-3b4c-7d5e-9f60-7a8b9c0d1e2f") // video
	thumbAsset = uuid.MustParse("0193a4bb-4c5d-7e6f-a071-8b9c0d1e2f30") // image
	audioAsset = uuid.MustParse("0193a4bc-5d6e-7f80-b182-9c0d1e2f3041") // audio
)

// fakeMedia is the media service: it knows some assets with their kinds, or is down.
type fakeMedia struct {
	mu     sync.Mutex
	assets map[uuid.UUID]mediaapi.AssetKind
	down   bool // the call fails (unreachable, breaker open)
	status int  // answer with this status instead, when not zero
	calls  int
	asked  []uuid.UUID // the assets asked about, in order
	auth   string      // the Authorization header of the last call
}

func newFakeMedia() *fakeMedia {
	return &fakeMedia{assets: map[uuid.UUID]mediaapi.AssetKind{
		coverAsset: mediaapi.Image, videoAsset: mediaapi.Video, thumbAsset: mediaapi.Image, audioAsset: mediaapi.Audio,
	}}
}

func (m *fakeMedia) GetAssetWithResponse(ctx context.Context, id mediaapi.AssetId, editors ...mediaapi.RequestEditorFn) (*mediaapi.GetAssetResponse, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://media/api/v1/media/assets/"+id.String(), nil)
	if err != nil {
		return nil, err
	}
	for _, e := range editors {
		if err := e(ctx, req); err != nil {
			return nil, err
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	m.asked = append(m.asked, id)
	m.auth = req.Header.Get("Authorization")
	if m.down {
		return nil, errors.New("dial tcp: connection refused")
	}
	resp := &mediaapi.GetAssetResponse{HTTPResponse: &http.Response{StatusCode: http.StatusNotFound, Header: http.Header{}}}
	if kind, ok := m.assets[id]; ok {
		resp.HTTPResponse.StatusCode = http.StatusOK
		resp.JSON200 = &mediaapi.Asset{Id: id, Kind: kind, Status: mediaapi.Ready, Visibility: mediaapi.Public, Thumbnails: []mediaapi.Thumbnail{}}
	}
	if m.status != 0 {
		resp.HTTPResponse.StatusCode, resp.JSON200 = m.status, nil
		if m.status == http.StatusTooManyRequests {
			resp.HTTPResponse.Header.Set("Retry-After", "17")
		}
	}
	return resp, nil
}

func (m *fakeMedia) set(f func(m *fakeMedia)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f(m)
}

// clock is a controllable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type fixture struct {
	t     *testing.T
	db    *database.DB
	svc   *Service
	h     http.Handler
	meta  *fakeMetadata
	media *fakeMedia
	clock *clock
	cat   uuid.UUID // a category the metadata service knows
}

func newFixture(t *testing.T, db *database.DB, cfg Config) *fixture {
	t.Helper()
	ctx := context.Background()
	if err := db.Migrate(ctx, Migrations.Component, Migrations.FS); err != nil {
		t.Fatal(err)
	}
	if err := outbox.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx, inbox.Component, inbox.Migrations()); err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, db: db, cat: uuid.Must(uuid.NewV7()), clock: &clock{t: time.Now().UTC()}, media: newFakeMedia()}
	f.meta = &fakeMetadata{categories: map[uuid.UUID]bool{f.cat: true}}
	svc, err := New(cfg, Deps{DB: db, Metadata: f.meta, Media: f.media, Log: slog.New(slog.DiscardHandler), Now: f.clock.now})
	if err != nil {
		t.Fatal(err)
	}
	h, err := svc.Handler(slog.New(slog.DiscardHandler), tokens{})
	if err != nil {
		t.Fatal(err)
	}
	f.svc, f.h = svc, h
	return f
}

// response is a recorded HTTP response.
type response struct {
	code   int
	header http.Header
	body   []byte
}

// do sends a request to the service; headers come in name, value pairs.
func (f *fixture) do(method, path, token string, body any, headers ...string) *response {
	f.t.Helper()
	var r io.Reader
	if body != nil {
		if s, ok := body.(string); ok {
			r = strings.NewReader(s)
		} else {
			b, err := json.Marshal(body)
			if err != nil {
				f.t.Fatal(err)
			}
			r = bytes.NewReader(b)
		}
	}
	req := httptest.NewRequest(method, path, r)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	return &response{code: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

// must checks the status and decodes the body into v (when not nil).
func (r *response) must(t *testing.T, status int, v any) {
	t.Helper()
	if r.code != status {
		t.Fatalf("status %d, want %d: %s", r.code, status, r.body)
	}
	if v != nil {
		reflect.ValueOf(v).Elem().SetZero() // decode into a fresh value, not over the last one
		if err := json.Unmarshal(r.body, v); err != nil {
			t.Fatalf("decode %s: %v", r.body, err)
		}
	}
}

// problem is the part of a Problem body the tests look at.
type problem struct {
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Errors []struct {
		Field string `json:"field"`
		Code  string `json:"code"`
	} `json:"errors"`
}

// fails checks that the response is a Problem with the status, naming field when not "".
func (r *response) fails(t *testing.T, status int, field string) {
	t.Helper()
	var p problem
	r.must(t, status, &p)
	if field == "" {
		return
	}
	for _, e := range p.Errors {
		if e.Field == field {
			return
		}
	}
	t.Fatalf("problem %s does not name the field %s", r.body, field)
}

func (f *fixture) createProgram(slug string, extra map[string]any) cmsapi.Program {
	f.t.Helper()
	body := map[string]any{"kind": "show", "title": "Program " + slug, "slug": slug, "language": "ar"}
	for k, v := range extra {
		body[k] = v
	}
	var p cmsapi.Program
	f.do(http.MethodPost, "/api/v1/cms/programs", "editor", body).must(f.t, http.StatusCreated, &p)
	return p
}

func (f *fixture) createEpisode(program uuid.UUID, season *int32, number int32, extra map[string]any) cmsapi.Episode {
	f.t.Helper()
	body := map[string]any{"episode_number": number, "title": "Episode"}
	if season != nil {
		body["season_number"] = *season
	}
	for k, v := range extra {
		body[k] = v
	}
	var e cmsapi.Episode
	f.do(http.MethodPost, "/api/v1/cms/programs/"+program.String()+"/episodes", "editor", body).must(f.t, http.StatusCreated, &e)
	return e
}

func programPath(id uuid.UUID, action ...string) string {
	return "/api/v1/cms/programs/" + id.String() + strings.Join(append([]string{""}, action...), "/")
}

func episodePath(id uuid.UUID, action ...string) string {
	return "/api/v1/cms/episodes/" + id.String() + strings.Join(append([]string{""}, action...), "/")
}

func ifMatch(version int32) []string { return []string{"If-Match", etag(version)} }

// event is one decoded outbox row.
type event struct {
	typ       string
	aggregate string
	value     any // *contentevents.ContentCreated, ...
}

// events decodes every outbox row with the content event schemas, checking that each decodes
// with the schema of its event type and names its aggregate.
func (f *fixture) events() []event {
	f.t.Helper()
	recs, err := outbox.Unsent(context.Background(), f.db, 100000)
	if err != nil {
		f.t.Fatal(err)
	}
	out := make([]event, 0, len(recs))
	for _, r := range recs {
		fp, _, err := eventbus.ParseSingleObject(r.Payload)
		if err != nil {
			f.t.Fatal(err)
		}
		typ, ok := contentevents.EventTypeForFingerprint(fp)
		if !ok || typ != r.EventType || r.Topic != contentevents.TopicContentEvents {
			f.t.Fatalf("outbox row %d: type %q topic %q, payload fingerprint %x", r.ID, r.EventType, r.Topic, fp)
		}
		schema, _ := contentevents.SchemaFor(typ)
		v, _ := contentevents.New(typ)
		if err := eventbus.Decode(r.Payload, schema, v); err != nil {
			f.t.Fatalf("outbox row %d (%s): %v", r.ID, typ, err)
		}
		if agg := aggregateOf(v); agg != r.AggregateID {
			f.t.Fatalf("outbox row %d (%s): aggregate %s, payload says %s", r.ID, typ, r.AggregateID, agg)
		}
		if id := eventIDOf(v); id != r.EventID {
			f.t.Fatalf("outbox row %d: event id %s, payload says %s", r.ID, r.EventID, id)
		}
		out = append(out, event{typ: typ, aggregate: r.AggregateID, value: v})
	}
	return out
}

// eventsOf returns the events of one aggregate, in order.
func (f *fixture) eventsOf(id uuid.UUID) []event {
	f.t.Helper()
	var out []event
	for _, e := range f.events() {
		if e.aggregate == id.String() {
			out = append(out, e)
		}
	}
	return out
}

func aggregateOf(v any) string {
	switch e := v.(type) {
	case *contentevents.ContentCreated:
		return e.AggregateID
	case *contentevents.ContentUpdated:
		return e.AggregateID
	case *contentevents.ContentPublished:
		return e.AggregateID
	case *contentevents.ContentUnpublished:
		return e.AggregateID
	case *contentevents.ContentDeleted:
		return e.AggregateID
	}
	return ""
}

func eventIDOf(v any) string {
	switch e := v.(type) {
	case *contentevents.ContentCreated:
		return e.EventID
	case *contentevents.ContentUpdated:
		return e.EventID
	case *contentevents.ContentPublished:
		return e.EventID
	case *contentevents.ContentUnpublished:
		return e.EventID
	case *contentevents.ContentDeleted:
		return e.EventID
	}
	return ""
}

// versionOf is the content version an event carries.
func versionOf(v any) int64 {
	switch e := v.(type) {
	case *contentevents.ContentCreated:
		return e.Snapshot.Version
	case *contentevents.ContentUpdated:
		return e.Snapshot.Version
	case *contentevents.ContentPublished:
		return e.Snapshot.Version
	case *contentevents.ContentUnpublished:
		return e.Version
	case *contentevents.ContentDeleted:
		return e.Version
	}
	return -1
}

// count counts the rows of a table.
func (f *fixture) count(table string) int {
	f.t.Helper()
	var n int
	if err := f.db.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil {
		f.t.Fatal(err)
	}
	return n
}

// audit lists the audit entries of an entity as ADMIN, newest first.
func (f *fixture) audit(id uuid.UUID) []cmsapi.AuditEntry {
	f.t.Helper()
	var l cmsapi.AuditEntryList
	f.do(http.MethodGet, "/api/v1/cms/audit?limit=100&entity_id="+id.String(), "admin", nil).must(f.t, http.StatusOK, &l)
	return l.Items
}
