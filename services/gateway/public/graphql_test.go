package public

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func TestDepthLimit(t *testing.T) {
	h, _, d, _ := newGateway(t, newCatalogue(t).h, problem(http.StatusNotImplemented, ""))
	id := newID()
	shallow := `{ program(id: "` + id + `") { id episodes { edges { node { id } } } } }`
	if r := send(t, h, map[string]any{"query": shallow}); len(r.Errors) != 0 || string(r.Data) != `{"program":null}` {
		t.Fatalf("shallow query: %s %v", r.Data, r.Errors)
	}
	d.take()
	deep := `{ program(id: "` + id + `") { episodes { edges { node { program { episodes { edges { node { program { episodes { edges { node { id } } } } } } } } } } } } }`
	if r := send(t, h, map[string]any{"query": deep}); r.codes() != "DEPTH_LIMIT_EXCEEDED" {
		t.Fatalf("deep query: %v", r.Errors)
	}
	// Fragments count where they are spread.
	viaFragment := `query { program(id: "` + id + `") { ...P } } fragment P on Program { episodes { edges { node { program { episodes { edges { node { program { episodes { edges { node { id } } } } } } } } } } } }`
	if r := send(t, h, map[string]any{"query": viaFragment}); r.codes() != "DEPTH_LIMIT_EXCEEDED" {
		t.Fatalf("deep query through a fragment: %v", r.Errors)
	}
	if calls := d.take(); len(calls) != 0 {
		t.Fatalf("refused operations reached the service: %v", paths(calls))
	}
}

func TestComplexityLimit(t *testing.T) {
	h, _, d, _ := newGateway(t, newCatalogue(t).h, problem(http.StatusNotImplemented, ""))
	// Lists cost their page size times what each item selects: 10 aliases of 100 programs with
	// 100 episodes of 5 fields each are about 10 * 100 * 100 * 6 > 50,000.
	var q strings.Builder
	q.WriteString("{")
	for i := range 10 {
		fmt.Fprintf(&q, " p%d: programs(first: 100) { edges { node { episodes(first: 100) { edges { node { id title episodeNumber durationSeconds publishedAt } } } } } }", i)
	}
	q.WriteString(" }")
	if r := send(t, h, map[string]any{"query": q.String()}); r.codes() != "COMPLEXITY_LIMIT_EXCEEDED" {
		t.Fatalf("costly query: %v", r.Errors)
	}
	if calls := d.take(); len(calls) != 0 {
		t.Fatalf("a refused operation reached the service: %v", paths(calls))
	}
}

func TestIntrospectionIsNotDepthLimited(t *testing.T) {
	h, _, _, _ := newGateway(t, newCatalogue(t).h, problem(http.StatusNotImplemented, ""))
	// The shape of the standard introspection query's type references: far deeper than maxDepth.
	q := `{ __schema { types { name fields { type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } } } } } }`
	if r := send(t, h, map[string]any{"query": q}); len(r.Errors) != 0 {
		t.Fatalf("introspection: %v", r.Errors)
	}
}

func TestAutomaticPersistedQueries(t *testing.T) {
	cat := newCatalogue(t)
	cat.program("برنامج الصباح", 0, ptr(cat.category("news", "أخبار", "News")))
	h, _, _, _ := newGateway(t, cat.h, problem(http.StatusNotImplemented, ""))
	query := `{ categories(language: "ar") { slug name programCount } }`
	sum := sha256.Sum256([]byte(query))
	ext := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hex.EncodeToString(sum[:])}}
	if r := send(t, h, map[string]any{"extensions": ext}); r.codes() != "PERSISTED_QUERY_NOT_FOUND" {
		t.Fatalf("unknown hash: %v", r.Errors)
	}
	want := `{"categories":[{"slug":"news","name":"أخبار","programCount":1}]}`
	if r := send(t, h, map[string]any{"query": query, "extensions": ext}); len(r.Errors) != 0 || string(r.Data) != want {
		t.Fatalf("register: %s %v", r.Data, r.Errors)
	}
	if r := send(t, h, map[string]any{"extensions": ext}); len(r.Errors) != 0 || string(r.Data) != want {
		t.Fatalf("by hash after registration: %s %v", r.Data, r.Errors)
	}
}
