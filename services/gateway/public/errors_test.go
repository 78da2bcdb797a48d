package public

import (
	"net/http"
	"testing"
)

func TestBadUserInput(t *testing.T) {
	cat := newCatalogue(t)
	prog := cat.program("برنامج الصباح", 0, nil)
	cat.episode(prog, nil, 1)
	h, _, _, _ := newGateway(t, cat.h, problem(http.StatusNotImplemented, ""))
	conn := `{ edges { cursor } }`
	for _, c := range []struct{ name, query, field string }{
		{"first 0", `{ programs(first: 0) ` + conn + ` }`, "first"},
		{"first over 100", `{ latestEpisodes(first: 101) ` + conn + ` }`, "first"},
		{"first beyond 32 bits", `{ programs(first: 3000000000) ` + conn + ` }`, "first"},
		{"REST cursor the service rejects", `{ programs(after: "bm90LWEtY3Vyc29y") ` + conn + ` }`, "after"},
		{"cursor of another list", `{ latestEpisodes(after: "eyJvIjoicHJvZ3JhbXMubGF0ZXN0IiwidCI6IjIwMjYtMDMtMDFUMTI6MDA6MDBaIiwiaSI6IjAxOTNhNGMyLTdiMWUtN2MzYS05ZjdlLTJkMWM1YjhhOWUxMCJ9") ` + conn + ` }`, "after"},
		{"broken edge cursor", `{ programs(after: "edge:!!") ` + conn + ` }`, "after"},
		{"filter the service rejects", `{ programs(filter: {language: "arabic"}) ` + conn + ` }`, "filter.language"},
		{"category slug the service rejects", `{ latestEpisodes(categorySlug: "Not A Slug") ` + conn + ` }`, "categorySlug"},
		{"id that is no UUID", `{ program(id: "1") { id } }`, "id"},
		{"episode id that is no UUID", `{ episode(id: "x") { id } }`, "id"},
		{"season 0 in a batched first page", `{ program(id: "` + prog + `") { episodes(season: 0) ` + conn + ` } }`, "season"},
		{"season 0 on a direct page", `{ program(id: "` + prog + `") { episodes(first: 50, season: 0) ` + conn + ` } }`, "season"},
		{"episode cursor the service rejects", `{ program(id: "` + prog + `") { episodes(after: "garbage") ` + conn + ` } }`, "after"},
		{"first 0 under a program", `{ program(id: "` + prog + `") { episodes(first: 0) ` + conn + ` } }`, "first"},
		{"categories in a bad language", `{ categories(language: "xyz") { id } }`, "language"},
		{"a DateTime that is none", `{ search(filter: {publishedAfter: "yesterday"}) ` + conn + ` }`, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := send(t, h, map[string]any{"query": c.query})
			if r.codes() != codeBadUserInput {
				t.Fatalf("codes %q: %+v", r.codes(), r.Errors)
			}
			if got, _ := r.Errors[0].Extensions["field"].(string); got != c.field {
				t.Fatalf("field %q, want %q: %+v", got, c.field, r.Errors)
			}
		})
	}
}

func TestUpstreamStatuses(t *testing.T) {
	for _, c := range []struct {
		name       string
		upstream   http.Handler
		code       string
		retryAfter float64
	}{
		{"not implemented", problem(http.StatusNotImplemented, ""), codeNotImplemented, 0},
		{"rate limited", problem(http.StatusTooManyRequests, "30"), codeRateLimited, 30},
		{"breaker open", problem(http.StatusServiceUnavailable, "5"), codeUnavailable, 5},
		{"gateway timeout", problem(http.StatusGatewayTimeout, ""), codeUnavailable, 0},
		{"service fault", problem(http.StatusInternalServerError, ""), codeInternal, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			h, _, _, _ := newGateway(t, c.upstream, c.upstream)
			for _, q := range []string{
				`{ programs { edges { cursor } } }`,
				`{ languages { code } }`,
				`{ search(query: "الصباح") { edges { cursor } } }`,
				`{ suggest(query: "الصب") { id } }`,
			} {
				r := send(t, h, map[string]any{"query": q})
				if r.codes() != c.code {
					t.Fatalf("%s: codes %q, want %s: %+v", q, r.codes(), c.code, r.Errors)
				}
				if got, _ := r.Errors[0].Extensions["retryAfter"].(float64); got != c.retryAfter {
					t.Fatalf("%s: retryAfter %v, want %v", q, got, c.retryAfter)
				}
			}
			// A single item the service cannot read is an error too, not a null.
			r := send(t, h, map[string]any{"query": `{ program(id: "` + newID() + `") { id } }`})
			if r.codes() != c.code || string(r.Data) != `{"program":null}` {
				t.Fatalf("program: %s %+v", r.Data, r.Errors)
			}
		})
	}
}

func TestForwardsRequestIDAndAuthorization(t *testing.T) {
	h, _, d, s := newGateway(t, newCatalogue(t).h, problem(http.StatusNotImplemented, ""))
	q := map[string]any{"query": `{ languages { code } suggest(query: "ص") { id } }`}
	send(t, h, q, "X-Request-ID", "req-42", "Authorization", "Bearer token-1")
	for _, r := range append(d.take(), s.take()...) {
		if r.Header.Get("X-Request-ID") != "req-42" || r.Header.Get("Authorization") != "Bearer token-1" {
			t.Fatalf("%s: headers %v", r.URL.Path, r.Header)
		}
	}
	send(t, h, q)
	for _, r := range append(d.take(), s.take()...) {
		if _, ok := r.Header["Authorization"]; ok {
			t.Fatalf("%s: Authorization sent without the caller's", r.URL.Path)
		}
	}
}
