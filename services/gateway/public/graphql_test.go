package public

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

type gqlResponse struct {
	Errors []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
}

func post(t *testing.T, h http.Handler, body map[string]any) (int, gqlResponse) {
	t.Helper()
	raw, _ := json.Marshal(body)
	r := httptest.NewRequest("POST", "/graphql", strings.NewReader(string(raw)))
	r.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	var out gqlResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("not JSON: %s", rec.Body)
	}
	return rec.Code, out
}

func codes(r gqlResponse) []string {
	var out []string
	for _, e := range r.Errors {
		c, _ := e.Extensions["code"].(string)
		out = append(out, c)
	}
	return out
}

func TestDepthLimit(t *testing.T) {
	h := graphqlHandler(resolver{})
	shallow := `{ program(id: "1") { id episodes { edges { node { id } } } } }`
	if _, r := post(t, h, map[string]any{"query": shallow}); strings.Join(codes(r), ",") != "NOT_IMPLEMENTED" {
		t.Fatalf("shallow query: %v", r.Errors)
	}
	deep := `{ program(id: "1") { episodes { edges { node { program { episodes { edges { node { program { episodes { edges { node { id } } } } } } } } } } } } }`
	_, r := post(t, h, map[string]any{"query": deep})
	if strings.Join(codes(r), ",") != "DEPTH_LIMIT_EXCEEDED" {
		t.Fatalf("deep query: %v", r.Errors)
	}
	// Fragments count where they are spread.
	viaFragment := `query { program(id: "1") { ...P } } fragment P on Program { episodes { edges { node { program { episodes { edges { node { program { episodes { edges { node { id } } } } } } } } } } } }`
	if _, r := post(t, h, map[string]any{"query": viaFragment}); strings.Join(codes(r), ",") != "DEPTH_LIMIT_EXCEEDED" {
		t.Fatalf("deep query through a fragment: %v", r.Errors)
	}
}

func TestIntrospectionIsNotDepthLimited(t *testing.T) {
	h := graphqlHandler(resolver{})
	// The shape of the standard introspection query's type references: far deeper than maxDepth.
	q := `{ __schema { types { name fields { type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } } } } } }`
	if code, r := post(t, h, map[string]any{"query": q}); code != 200 || len(r.Errors) != 0 {
		t.Fatalf("introspection: %d %v", code, r.Errors)
	}
}

func TestAutomaticPersistedQueries(t *testing.T) {
	h := graphqlHandler(resolver{})
	query := `{ categories { id slug } }`
	sum := sha256.Sum256([]byte(query))
	ext := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hex.EncodeToString(sum[:])}}
	if _, r := post(t, h, map[string]any{"extensions": ext}); strings.Join(codes(r), ",") != "PERSISTED_QUERY_NOT_FOUND" {
		t.Fatalf("unknown hash: %v", r.Errors)
	}
	if _, r := post(t, h, map[string]any{"query": query, "extensions": ext}); strings.Join(codes(r), ",") != "NOT_IMPLEMENTED" {
		t.Fatalf("register: %v", r.Errors)
	}
	if _, r := post(t, h, map[string]any{"extensions": ext}); strings.Join(codes(r), ",") != "NOT_IMPLEMENTED" {
		t.Fatalf("by hash after registration: %v", r.Errors)
	}
}
