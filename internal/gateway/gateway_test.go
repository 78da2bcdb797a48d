package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mediamesh/mediamesh/internal/authn"
	"github.com/mediamesh/mediamesh/internal/httpserver"
	"github.com/mediamesh/mediamesh/internal/policy"
	"github.com/mediamesh/mediamesh/internal/ratelimit"
)

const spec = `{
  "openapi": "3.0.3",
  "info": {"title": "t", "version": "1.0.0"},
  "paths": {
    "/api/v1/things": {
      "get": {"operationId": "listThings", "x-service": "things", "security": [],
        "parameters": [{"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}}],
        "responses": {"200": {"description": "ok"}}},
      "post": {"operationId": "createThing", "x-service": "things", "security": [{"bearerAuth": []}], "x-roles": ["EDITOR"], "x-scopes": ["content:write"],
        "requestBody": {"required": true, "content": {"application/json": {"schema": {
          "type": "object", "additionalProperties": false, "required": ["title"],
          "properties": {"title": {"type": "string", "maxLength": 5}, "tags": {"type": "array", "maxItems": 1, "items": {"type": "string"}}}}}}},
        "responses": {"201": {"description": "ok"}}}
    },
    "/api/v1/things/{thingId}": {
      "get": {"operationId": "getThing", "x-service": "things", "security": [],
        "parameters": [{"name": "thingId", "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}}],
        "responses": {"200": {"description": "ok"}}}
    },
    "/api/v1/things/mine": {
      "get": {"operationId": "myThings", "x-service": "things", "security": [{"bearerAuth": []}], "x-roles": ["EDITOR"], "x-scopes": ["content:read"],
        "x-rate-limit": {"key": "user", "rate": "1/min", "burst": 1},
        "responses": {"200": {"description": "ok"}}}
    },
    "/api/v1/things/latest": {
      "get": {"operationId": "latestThings", "x-service": "other", "security": [], "x-rate-limit": {"key": "ip", "rate": "1/min", "burst": 1},
        "responses": {"200": {"description": "ok"}}}
    }
  },
  "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}}
}`

type tokens map[string]*authn.Principal

func (t tokens) Verify(_ context.Context, token string) (*authn.Principal, error) {
	if p, ok := t[token]; ok {
		q := *p
		q.Scopes = policy.ScopesOf(p.Roles) // a token carries its roles' scopes
		return &q, nil
	}
	return nil, errors.New("unknown token")
}

// echoUpstream answers 200 with the service name, the path and the caller it saw.
func echoUpstream(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		subject := ""
		if p, ok := authn.FromContext(r.Context()); ok {
			subject = p.Subject
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"service": name, "path": r.URL.Path, "subject": subject, "body": string(body)})
	})
}

func newTestGateway(t *testing.T) *Gateway {
	t.Helper()
	gw, err := New(Config{
		Name:      "test",
		Spec:      []byte(spec),
		Upstreams: map[string]http.Handler{"things": echoUpstream("things"), "other": echoUpstream("other")},
		Verifier:  tokens{"ed": {Subject: "e1", Roles: []string{"EDITOR"}}, "us": {Subject: "u1", Roles: []string{"USER"}}, "edkey": {Subject: "e1", Roles: []string{"EDITOR"}, KeyID: "k1"}},
		Limiter:   ratelimit.NewMemory(),
		Log:       slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return gw
}

type problem struct {
	Status int `json:"status"`
	Errors []struct {
		Field string `json:"field"`
		Code  string `json:"code"`
	} `json:"errors"`
}

func TestGateway(t *testing.T) {
	gw := newTestGateway(t)
	cases := []struct {
		name, method, path, token, ctype, body string
		status                                 int
		service, field, allow, subject         string
	}{
		{name: "public list", method: "GET", path: "/api/v1/things", status: 200, service: "things"},
		{name: "path parameter", method: "GET", path: "/api/v1/things/0193a4c2-7b1e-7c3a-9f7e-2d1c5b8a9e01", status: 200, service: "things"},
		{name: "bad uuid", method: "GET", path: "/api/v1/things/nope", status: 400, field: "path.thingId"},
		{name: "query bound", method: "GET", path: "/api/v1/things?limit=101", status: 400, field: "query.limit"},
		{name: "query type", method: "GET", path: "/api/v1/things?limit=x", status: 400, field: "query.limit"},
		{name: "unknown path", method: "GET", path: "/api/v1/nothing", status: 404},
		{name: "wrong method", method: "DELETE", path: "/api/v1/things", status: 405, allow: "GET, POST"},
		{name: "no token", method: "POST", path: "/api/v1/things", ctype: "application/json", body: `{"title":"a"}`, status: 401},
		{name: "bad token", method: "POST", path: "/api/v1/things", token: "zz", ctype: "application/json", body: `{"title":"a"}`, status: 401},
		{name: "wrong role", method: "POST", path: "/api/v1/things", token: "us", ctype: "application/json", body: `{"title":"a"}`, status: 403},
		{name: "allowed", method: "POST", path: "/api/v1/things", token: "ed", ctype: "application/json", body: `{"title":"a"}`, status: 200, service: "things", subject: "e1"},
		{name: "too long", method: "POST", path: "/api/v1/things", token: "ed", ctype: "application/json", body: `{"title":"abcdef"}`, status: 422, field: "title"},
		{name: "nested bound", method: "POST", path: "/api/v1/things", token: "ed", ctype: "application/json", body: `{"title":"a","tags":["x","y"]}`, status: 422, field: "tags"},
		{name: "missing required", method: "POST", path: "/api/v1/things", token: "ed", ctype: "application/json", body: `{}`, status: 422, field: "title"},
		{name: "unknown property", method: "POST", path: "/api/v1/things", token: "ed", ctype: "application/json", body: `{"title":"a","x":1}`, status: 422, field: "x"},
		{name: "malformed json", method: "POST", path: "/api/v1/things", token: "ed", ctype: "application/json", body: `{"title":`, status: 400, field: "body"},
		{name: "wrong content type", method: "POST", path: "/api/v1/things", token: "ed", ctype: "text/plain", body: `hi`, status: 415, field: "header.Content-Type"},
		{name: "too large", method: "POST", path: "/api/v1/things", token: "ed", ctype: "application/json", body: `{"title":"` + strings.Repeat("a", 1<<20) + `"}`, status: 413},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var body io.Reader
			if c.body != "" {
				body = strings.NewReader(c.body)
			}
			r := httptest.NewRequest(c.method, c.path, body)
			if c.ctype != "" {
				r.Header.Set("Content-Type", c.ctype)
			}
			if c.token != "" {
				r.Header.Set("Authorization", "Bearer "+c.token)
			}
			rec := httptest.NewRecorder()
			gw.ServeHTTP(rec, r)
			if rec.Code != c.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, c.status, rec.Body)
			}
			if c.allow != "" && strings.Join(rec.Header().Values("Allow"), ", ") != c.allow {
				t.Errorf("Allow = %v, want %s", rec.Header().Values("Allow"), c.allow)
			}
			if c.status >= 400 {
				if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
					t.Errorf("content type %q", ct)
				}
				var p problem
				if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Status != c.status {
					t.Fatalf("problem body %s (%v)", rec.Body, err)
				}
				if c.field != "" {
					found := false
					for _, f := range p.Errors {
						found = found || f.Field == c.field
					}
					if !found {
						t.Errorf("no error for field %q in %s", c.field, rec.Body)
					}
				}
				return
			}
			var got map[string]string
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			if got["service"] != c.service || got["subject"] != c.subject || got["body"] != c.body {
				t.Errorf("upstream saw %v", got)
			}
		})
	}
}

func TestRateLimit(t *testing.T) {
	gw := newTestGateway(t)
	get := func(remote string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "/api/v1/things/latest", nil)
		r.RemoteAddr = remote
		rec := httptest.NewRecorder()
		gw.ServeHTTP(rec, r)
		return rec
	}
	// burst 1 on top of the pace: two calls pass, the third is refused.
	for i := 0; i < 2; i++ {
		if rec := get("192.0.2.1:1000"); rec.Code != 200 || rec.Header().Get("RateLimit-Limit") != "2" {
			t.Fatalf("call %d: %d, RateLimit-Limit %q", i, rec.Code, rec.Header().Get("RateLimit-Limit"))
		}
	}
	rec := get("192.0.2.1:1001")
	if rec.Code != 429 || rec.Header().Get("Retry-After") == "" || rec.Header().Get("RateLimit-Remaining") != "0" {
		t.Fatalf("third call: %d, headers %v", rec.Code, rec.Header())
	}
	if rec := get("192.0.2.2:1000"); rec.Code != 200 || !strings.Contains(rec.Body.String(), `"service":"other"`) {
		t.Fatalf("another client IP has its own bucket, and the literal path beats {thingId}: %d %s", rec.Code, rec.Body)
	}
}

// TestRateLimitPerAPIKey: a user-keyed limit counts an API key apart from its owner's own calls.
func TestRateLimitPerAPIKey(t *testing.T) {
	gw := newTestGateway(t)
	get := func(token string) int {
		r := httptest.NewRequest("GET", "/api/v1/things/mine", nil)
		r.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		gw.ServeHTTP(rec, r)
		return rec.Code
	}
	for i := 0; i < 2; i++ {
		if code := get("ed"); code != 200 {
			t.Fatalf("owner's call %d: %d", i, code)
		}
	}
	if code := get("ed"); code != 429 {
		t.Fatalf("owner's third call: %d, want 429", code)
	}
	if code := get("edkey"); code != 200 {
		t.Fatalf("the owner's API key has a budget of its own: %d", code)
	}
}

func TestNewRejectsMissingUpstream(t *testing.T) {
	_, err := New(Config{Name: "test", Spec: []byte(spec), Upstreams: map[string]http.Handler{"things": echoUpstream("things")}, Log: slog.Default()})
	if err == nil || !strings.Contains(err.Error(), `"other"`) {
		t.Fatalf("err = %v", err)
	}
}

func TestRemoteUnavailable(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	url := dead.URL
	dead.Close()
	h, err := Remote("things", url, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/things", nil))
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("status %d, Retry-After %q", rec.Code, rec.Header().Get("Retry-After"))
	}
	if err := HealthCheck(url)(context.Background()); err == nil {
		t.Fatal("health check of a dead service must fail")
	}
}

func TestRemoteForwards(t *testing.T) {
	up := httptest.NewServer(httpserver.RequestID(echoUpstream("things"))) // echoes X-Request-Id, like a service
	defer up.Close()
	h, err := Remote("things", up.URL, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	rec.Header().Set("X-Request-Id", "from-the-gateway")
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/api/v1/things?x=1", strings.NewReader(`{"title":"a"}`)))
	if ids := rec.Header().Values("X-Request-Id"); len(ids) != 1 {
		t.Fatalf("X-Request-Id %v, want the gateway's once", ids)
	}
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"path":"/api/v1/things"`) || !strings.Contains(rec.Body.String(), `{\"title\":\"a\"}`) {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
}
