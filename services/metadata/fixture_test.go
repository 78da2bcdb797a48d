package metadata

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/gen/openapi/metadataapi"
	"github.com/mediamesh/mediamesh/internal/authn"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/inbox"
	"github.com/mediamesh/mediamesh/internal/outbox"
	"github.com/mediamesh/mediamesh/internal/policy"
)

// Tokens of the test verifier and the users they stand for.
const (
	admin  = "admin-token"
	editor = "editor-token"
	user   = "user-token"
)

var (
	adminID  = uuid.MustParse("0193a4c3-1a2b-7c3d-8e4f-5a6b7c8d9e0f")
	editorID = uuid.MustParse("0193a4c3-2b3c-7d4e-8f50-6b7c8d9e0f1a")
	userID   = uuid.MustParse("0193a4c3-3c4d-7e5f-8061-7c8d9e0f1a2b")
)

// tokens is an authn.Verifier that knows three fixed tokens.
type tokens map[string]*authn.Principal

func (v tokens) Verify(_ context.Context, token string) (*authn.Principal, error) {
	if p, ok := v[token]; ok {
		return p, nil
	}
	return nil, errors.New("unknown token")
}

var verifier = tokens{
	admin:  {Subject: adminID.String(), Roles: []string{"ADMIN"}, Scopes: policy.RoleScopes["ADMIN"]},
	editor: {Subject: editorID.String(), Roles: []string{"EDITOR"}, Scopes: policy.RoleScopes["EDITOR"]},
	user:   {Subject: userID.String(), Roles: []string{"USER"}, Scopes: policy.RoleScopes["USER"]},
}

// clock is a settable test clock.
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

// fixture is the service behind its HTTP handler, on a fresh migrated database.
type fixture struct {
	t     *testing.T
	db    *database.DB
	clock *clock
	url   string
	svc   *Service // for calls past the HTTP handler and its contract
	cms   *fakeCMS // the CMS the service writes through, which feeds it content events
}

func newFixture(t *testing.T, db *database.DB) *fixture {
	t.Helper()
	if err := db.Migrate(t.Context(), Migrations.Component, Migrations.FS); err != nil {
		t.Fatal(err)
	}
	if err := outbox.Migrate(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	if err := inbox.Migrate(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Date(2026, 11, 25, 10, 0, 0, 123456789, time.UTC)}
	cms := newFakeCMS(t)
	svc, err := New(Config{Languages: []string{"ar", "en"}}, Deps{DB: db, CMS: cms, Log: slog.New(slog.DiscardHandler), Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	cms.svc = svc
	h, err := svc.Handler(slog.New(slog.DiscardHandler), verifier)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &fixture{t: t, db: db, clock: c, url: srv.URL, svc: svc, cms: cms}
}

// response is an HTTP answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

// problem is the part of a Problem the tests look at.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Errors []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
		Code    string `json:"code"`
	} `json:"errors"`
}

// do sends a request as the holder of token; body is sent as is when it is a string, else as
// JSON; headers are name, value pairs.
func (f *fixture) do(token, method, path string, body any, headers ...string) response {
	f.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			f.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(f.t.Context(), method, f.url+path, rd)
	if err != nil {
		f.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: raw}
}

// want fails the test unless the response has the given status, and decodes its body into out
// (when not nil).
func (r response) want(t *testing.T, status int, out any) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	if out != nil {
		if err := json.Unmarshal(r.body, out); err != nil {
			t.Fatalf("decode %s: %v", r.body, err)
		}
	}
}

// fields returns the fields a problem names, sorted.
func (r response) fields(t *testing.T) []string {
	t.Helper()
	var p problem
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("decode problem %s: %v", r.body, err)
	}
	var out []string
	for _, e := range p.Errors {
		out = append(out, e.Field)
	}
	slices.Sort(out)
	return out
}

// wantFields fails the test unless the response is a 422 naming exactly fields.
func (r response) wantFields(t *testing.T, fields ...string) {
	t.Helper()
	if r.status != http.StatusUnprocessableEntity {
		t.Fatalf("status %d, want 422: %s", r.status, r.body)
	}
	slices.Sort(fields)
	if got := r.fields(t); !slices.Equal(got, fields) {
		t.Fatalf("fields %v, want %v: %s", got, fields, r.body)
	}
}

// itemPath is the path of a content item's metadata.
func itemPath(id uuid.UUID, rest ...string) string {
	return "/api/v1/metadata/items/" + id.String() + strings.Join(rest, "")
}

// put writes metadata as the editor and decodes the answer.
func (f *fixture) put(id uuid.UUID, body map[string]any, status int, headers ...string) metadataapi.Metadata {
	f.t.Helper()
	var m metadataapi.Metadata
	f.do(editor, http.MethodPut, itemPath(id), body, headers...).want(f.t, status, &m)
	return m
}

// createCategory creates a category as the admin and returns it.
func (f *fixture) createCategory(slug string, parent *uuid.UUID) metadataapi.Category {
	f.t.Helper()
	body := map[string]any{"slug": slug, "names": map[string]any{"en": strings.ToUpper(slug), "ar": "فئة " + slug}}
	if parent != nil {
		body["parent_id"] = parent.String()
	}
	var c metadataapi.Category
	f.do(admin, http.MethodPost, "/api/v1/metadata/categories", body).want(f.t, http.StatusCreated, &c)
	return c
}

// program creates a draft program in the CMS as the editor; the service learns of it from its
// content.created event (metadata version 1).
func (f *fixture) program(title, lang string) uuid.UUID {
	return f.cms.create(nil, title, lang, editorID)
}

// episode creates a draft episode of program in the CMS as the editor.
func (f *fixture) episode(program uuid.UUID, title, lang string) uuid.UUID {
	return f.cms.create(&program, title, lang, editorID)
}

// newID returns a fresh content id.
func newID() uuid.UUID { return uuid.Must(uuid.NewV7()) }
