package public

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/internal/gateway"
	"github.com/mediamesh/mediamesh/internal/ratelimit"
)

// introspectionQuery is the introspection query GraphQL clients send (graphql-js's, as Schemathesis
// and GraphiQL use it).
const introspectionQuery = `query IntrospectionQuery { __schema { queryType { name } mutationType { name } subscriptionType { name }
  types { ...FullType } directives { name description locations args { ...InputValue } } } }
fragment FullType on __Type { kind name description
  fields(includeDeprecated: true) { name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason }
  inputFields { ...InputValue } interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason } possibleTypes { ...TypeRef } }
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } }`

// guarded returns the whole discovery gateway (New) on a real discovery service, with rate limits.
func guarded(t *testing.T) http.Handler {
	t.Helper()
	c := newCatalogue(t)
	c.program("Harbour lights", 1, nil)
	ups := map[string]http.Handler{serviceDiscovery: c.h, serviceSearch: problem(http.StatusServiceUnavailable, "1"), "auth": problem(http.StatusNotImplemented, "")}
	mux, err := New(gateway.Config{Upstreams: ups, Log: slog.New(slog.DiscardHandler), Limiter: ratelimit.NewMemory()})
	if err != nil {
		t.Fatal(err)
	}
	return mux
}

func postGraphQL(h http.Handler, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.RemoteAddr = "192.0.2.7:5555"
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func queryBody(q string) string {
	b, _ := json.Marshal(map[string]string{"query": q})
	return string(b)
}

func errorCode(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	var res gqlResult
	if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil {
		t.Fatalf("HTTP %d, not JSON: %.200s", rec.Code, rec.Body)
	}
	return res.codes()
}

// TestGraphQLBounds: what a request may cost is bounded before the executor parses and validates
// it: the body as REST's (413), the tokens, the fields (fragments counted where spread) and the
// aliases of the document (GraphQL errors with their codes); the introspection query clients send
// stays within them.
func TestGraphQLBounds(t *testing.T) {
	h := guarded(t)
	big := `{"query": "{ languages { code } }", "variables": {"pad": "` + strings.Repeat("x", 2<<20) + `"}}`
	if rec := postGraphQL(h, big); rec.Code != http.StatusRequestEntityTooLarge || !strings.Contains(rec.Header().Get("Content-Type"), "problem+json") {
		t.Errorf("a 2 MiB body: HTTP %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	start := time.Now()
	manyTokens := "{ languages { " + strings.Repeat("code ", 15000) + "} }"
	if rec := postGraphQL(h, queryBody(manyTokens)); rec.Code != http.StatusUnprocessableEntity || errorCode(t, rec) != codeQueryTooLarge {
		t.Errorf("15,000 fields (73 KB): HTTP %d %s", rec.Code, rec.Body)
	}
	manyFields := "{ languages { " + strings.Repeat("code ", 600) + "} }"
	if rec := postGraphQL(h, queryBody(manyFields)); errorCode(t, rec) != codeQueryTooLarge {
		t.Errorf("600 fields: HTTP %d %s", rec.Code, rec.Body)
	}
	spread := "query { languages { ...L " + strings.Repeat("...L ", 20) + "} } fragment L on Language { " + strings.Repeat("code ", 40) + "}"
	if rec := postGraphQL(h, queryBody(spread)); errorCode(t, rec) != codeQueryTooLarge {
		t.Errorf("a 40-field fragment spread 21 times: HTTP %d %s", rec.Code, rec.Body)
	}
	var aliases strings.Builder
	aliases.WriteString("{")
	for i := range 60 {
		fmt.Fprintf(&aliases, " l%d: languages { code }", i)
	}
	aliases.WriteString(" }")
	if rec := postGraphQL(h, queryBody(aliases.String())); errorCode(t, rec) != codeTooManyAliases {
		t.Errorf("60 aliases: HTTP %d %s", rec.Code, rec.Body)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("refusing the oversized documents took %v", took) // seconds each before the bounds
	}
	secret := `{"query": "{ languages { code } }", "password": "hunter2" ` // not JSON: no closing brace
	if rec := postGraphQL(h, secret); rec.Code != http.StatusBadRequest || errorCode(t, rec) != "BAD_REQUEST" || strings.Contains(rec.Body.String(), "hunter2") {
		t.Errorf("a body that is not JSON: HTTP %d %s", rec.Code, rec.Body)
	}
	if rec := postGraphQL(h, queryBody(introspectionQuery)); rec.Code != http.StatusOK || errorCode(t, rec) != "" {
		t.Errorf("the introspection query: HTTP %d %.300s", rec.Code, rec.Body)
	}
	if rec := postGraphQL(h, queryBody("{ programs { edges { node { title } } } }")); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "Harbour lights") {
		t.Errorf("an ordinary query: HTTP %d %s", rec.Code, rec.Body)
	}
}

// TestGraphQLSpendsRESTBudgets: each root field that stands for a REST operation spends a call of
// that operation's rate limit, from the same budget as REST calls by the same client: aliased
// searches cannot get around the search limit (300/min, burst 60: 61 at once).
func TestGraphQLSpendsRESTBudgets(t *testing.T) {
	h := guarded(t)
	q := aliasedSearches(40)
	first := postGraphQL(h, queryBody(q))
	if first.Code != http.StatusOK || first.Header().Get("RateLimit-Remaining") != "21" {
		t.Fatalf("40 aliased searches: HTTP %d, RateLimit-Remaining %q", first.Code, first.Header().Get("RateLimit-Remaining"))
	}
	second := postGraphQL(h, queryBody(q))
	if second.Code != http.StatusTooManyRequests || second.Header().Get("Retry-After") == "" {
		t.Fatalf("40 more: HTTP %d, Retry-After %q", second.Code, second.Header().Get("Retry-After"))
	}
	allowed := 0
	for range 30 {
		req := httptest.NewRequest(http.MethodGet, "/api/v1/discovery/search?q=harbour", nil)
		req.RemoteAddr = "192.0.2.7:5555"
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusTooManyRequests {
			allowed++
		}
	}
	if allowed != 21 {
		t.Errorf("REST searches after the GraphQL ones: %d allowed, want the 21 left", allowed)
	}
	if rec := postGraphQL(h, queryBody("{ languages { code } }")); rec.Code != http.StatusOK {
		t.Errorf("another operation's budget is its own: HTTP %d", rec.Code)
	}
}

// TestIntrospectionSwitch: introspection answers by default and is refused when turned off, while
// ordinary queries still work.
func TestIntrospectionSwitch(t *testing.T) {
	c := newCatalogue(t)
	ups := map[string]http.Handler{serviceDiscovery: c.h, serviceSearch: problem(http.StatusServiceUnavailable, "1"), "auth": problem(http.StatusNotImplemented, "")}
	for _, on := range []bool{true, false} {
		var opts []Option
		if !on {
			opts = append(opts, WithoutIntrospection())
		}
		h, err := New(gateway.Config{Upstreams: ups, Log: slog.New(slog.DiscardHandler)}, opts...)
		if err != nil {
			t.Fatal(err)
		}
		rec := postGraphQL(h, queryBody("{ __schema { queryType { name } } }"))
		if got := strings.Contains(rec.Body.String(), `"Query"`); got != on {
			t.Errorf("introspection %v: %s", on, rec.Body)
		}
		if rec := postGraphQL(h, queryBody("{ languages { code } }")); rec.Code != http.StatusOK || errorCode(t, rec) != "" {
			t.Errorf("introspection %v: an ordinary query: %s", on, rec.Body)
		}
	}
}

// TestGraphQLPersistedQueriesSpend: a persisted query sent by hash alone spends what its query
// costs; a hash the guard does not know is answered PersistedQueryNotFound (the client then sends
// the query), so no request runs with its cost unknown.
func TestGraphQLPersistedQueriesSpend(t *testing.T) {
	h := guarded(t)
	q := aliasedSearches(30)
	sum := sha256.Sum256([]byte(q))
	hash := hex.EncodeToString(sum[:])
	ext := `"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "` + hash + `"}}`
	if rec := postGraphQL(h, `{`+ext+`}`); errorCode(t, rec) != "PERSISTED_QUERY_NOT_FOUND" {
		t.Fatalf("an unknown hash: HTTP %d %s", rec.Code, rec.Body)
	}
	body, _ := json.Marshal(q)
	if rec := postGraphQL(h, `{"query": `+string(body)+`, `+ext+`}`); rec.Code != http.StatusOK || rec.Header().Get("RateLimit-Remaining") != "31" {
		t.Fatalf("registering it: HTTP %d, RateLimit-Remaining %q", rec.Code, rec.Header().Get("RateLimit-Remaining"))
	}
	if rec := postGraphQL(h, `{`+ext+`}`); rec.Code != http.StatusOK || rec.Header().Get("RateLimit-Remaining") != "1" {
		t.Fatalf("by hash alone: HTTP %d, RateLimit-Remaining %q", rec.Code, rec.Header().Get("RateLimit-Remaining"))
	}
	if rec := postGraphQL(h, `{`+ext+`}`); rec.Code != http.StatusTooManyRequests {
		t.Fatalf("by hash alone past the budget: HTTP %d", rec.Code)
	}
}

// aliasedSearches is a query of n aliased search fields.
func aliasedSearches(n int) string {
	var q strings.Builder
	q.WriteString("{")
	for i := range n {
		fmt.Fprintf(&q, ` s%d: search(query: "harbour") { edges { node { title } } }`, i)
	}
	q.WriteString(" }")
	return q.String()
}
