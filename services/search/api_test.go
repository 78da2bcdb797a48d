package search

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/gen/events/contentevents"
	"github.com/mediamesh/mediamesh/gen/openapi/commonapi"
	"github.com/mediamesh/mediamesh/gen/openapi/searchapi"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
)

// catalog is published test content: three programs and five episodes in two languages, two
// categories and three kinds.
type catalog struct {
	p1, p2, p3             string // programs: ar show in news, en podcast in culture, en documentary
	e1, e2, e3, e4, e5     string // episodes: e1, e2 of p1; e3, e4 of p2; e5 of p3
	programs, episodes, en []string
}

func day(n int) time.Time { return base.Add(time.Duration(n) * 24 * time.Hour) }

// publishCatalog feeds the catalog's events.
func publishCatalog(t *testing.T, f *fixture) catalog {
	t.Helper()
	news, culture := newID(), newID()
	p1 := programSnap(1, "برنامج الصباح", "ar")
	p1.Kind, p1.CategoryID, p1.Summary = ptr(contentevents.ContentKindShow), &news, ptr("برنامج الصباح اليومي يجمع الأخبار والحوارات")
	p2 := programSnap(1, "The Deep Sea Podcast", "en")
	p2.CategoryID, p2.PublishedAt = &culture, ptr(day(1))
	p3 := programSnap(1, "Desert Stories", "en")
	p3.Kind, p3.PublishedAt = ptr(contentevents.ContentKindDocumentary), ptr(day(2))
	e1 := episodeSnap(p1.ID, 1, "ضيف الصباح", "ar", day(3))
	e1.DurationSeconds = ptr(3540)
	e2 := episodeSnap(p1.ID, 1, "أخبار المساء", "ar", day(4))
	e2.DurationSeconds = ptr(600)
	e3 := episodeSnap(p2.ID, 1, "Deep dive", "en", day(5))
	e4 := episodeSnap(p2.ID, 1, "Whale songs", "en", day(6))
	e4.DurationSeconds = nil
	e5 := episodeSnap(p3.ID, 1, "Dunes at night", "en", day(7))
	e5.DurationSeconds = ptr(7200)
	f.feed(
		categoryUpsertedMsg(t, news, "news", 1, map[string]string{"en": "News", "ar": "أخبار"}),
		categoryUpsertedMsg(t, culture, "culture", 1, map[string]string{"en": "Culture"}),
		publishedMsg(t, p1), publishedMsg(t, p2), publishedMsg(t, p3),
		publishedMsg(t, e1), publishedMsg(t, e2), publishedMsg(t, e3), publishedMsg(t, e4), publishedMsg(t, e5),
	)
	return catalog{
		p1: p1.ID, p2: p2.ID, p3: p3.ID, e1: e1.ID, e2: e2.ID, e3: e3.ID, e4: e4.ID, e5: e5.ID,
		programs: []string{p1.ID, p2.ID, p3.ID},
		episodes: []string{e1.ID, e2.ID, e3.ID, e4.ID, e5.ID},
		en:       []string{p2.ID, p3.ID, e3.ID, e4.ID, e5.ID},
	}
}

// TestSearchFilters checks every filter, alone and with text.
func TestSearchFilters(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		c := publishCatalog(t, f)
		ts := func(d time.Time) string { return d.Format(time.RFC3339) }
		for _, tc := range []struct {
			params []string
			want   []string
		}{
			{[]string{"type", "program"}, c.programs},
			{[]string{"type", "episode"}, c.episodes},
			{[]string{"category", "news"}, []string{c.p1, c.e1, c.e2}},
			{[]string{"category", "culture"}, []string{c.p2, c.e3, c.e4}},
			{[]string{"category", "sports"}, nil},
			{[]string{"language", "en"}, c.en},
			{[]string{"language", "fr"}, nil},
			{[]string{"kind", "podcast"}, []string{c.p2, c.e3, c.e4}},
			{[]string{"kind", "documentary", "type", "episode"}, []string{c.e5}},
			{[]string{"duration_min", "1000"}, []string{c.e1, c.e3, c.e5}},
			{[]string{"duration_max", "1000"}, []string{c.e2}},
			{[]string{"duration_min", "1000", "duration_max", "4000"}, []string{c.e1, c.e3}},
			{[]string{"duration_min", "0"}, []string{c.e1, c.e2, c.e3, c.e5}}, // only known durations
			{[]string{"published_from", ts(day(5))}, []string{c.e3, c.e4, c.e5}},
			{[]string{"published_to", ts(day(1))}, []string{c.p1}},
			{[]string{"published_from", ts(day(1)), "published_to", ts(day(3))}, []string{c.p2, c.p3}},
			{[]string{"q", "deep"}, []string{c.p2, c.e3}},
			{[]string{"q", "deep", "type", "episode"}, []string{c.e3}},
			{[]string{"q", "الصباح", "language", "ar"}, []string{c.p1, c.e1}},
			{[]string{"q", "الصباح", "language", "en"}, nil},
			{[]string{"q", "?!"}, nil},                            // no word: nothing
			{[]string{"q", "   ", "type", "program"}, c.programs}, // blank text: no text
		} {
			f.wantFound(tc.params, tc.want...)
		}
	})
}

// TestSearchOrderAndFacets checks the default orders and that facets count the whole result on
// every page.
func TestSearchOrderAndFacets(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		c := publishCatalog(t, f)
		res := f.search("type", "episode")
		if got, want := hitIDs(res.Items), []string{c.e5, c.e4, c.e3, c.e2, c.e1}; !slices.Equal(got, want) {
			t.Errorf("episodes without q: %v, want newest first %v", got, want)
		}
		for _, h := range res.Items {
			if h.Score != 0 || h.Snippet != nil {
				t.Errorf("hit without q has score %v, snippet %v", h.Score, h.Snippet)
			}
		}
		if res.Facets != nil {
			t.Errorf("facets without asking: %+v", res.Facets)
		}
		res = f.search("q", "deep", "sort", "latest")
		if got := hitIDs(res.Items); !slices.Equal(got, []string{c.e3, c.p2}) {
			t.Errorf("q=deep sort=latest: %v", got)
		}
		res = f.search("q", "deep")
		if len(res.Items) != 2 || res.Items[0].Score < res.Items[1].Score || res.Items[0].Score <= 0 {
			t.Errorf("q=deep by relevance: %+v", res.Items)
		}

		want := map[string][]searchapi.FacetBucket{
			"type":     {{Value: "episode", Count: 3}, {Value: "program", Count: 2}},
			"language": {{Value: "en", Count: 5}},
			"kind":     {{Value: "podcast", Count: 3}, {Value: "documentary", Count: 2}},
			"category": {{Value: "culture", Count: 3}},
		}
		params := []string{"language", "en", "facets", "type,language,kind,category", "limit", "2"}
		cursor := ""
		for page := 0; page < 3; page++ {
			p := params
			if cursor != "" {
				p = append(slices.Clone(params), "cursor", cursor)
			}
			res := f.search(p...)
			got := map[string][]searchapi.FacetBucket{
				"type": *res.Facets.Type, "language": *res.Facets.Language, "kind": *res.Facets.Kind, "category": *res.Facets.Category,
			}
			for name, buckets := range want {
				if !slices.Equal(got[name], buckets) {
					t.Errorf("page %d: facet %s = %+v, want %+v", page, name, got[name], buckets)
				}
			}
			if res.Page.NextCursor == nil {
				break
			}
			cursor = *res.Page.NextCursor
		}
		// A facet with no value among the hits is present and empty.
		res = f.search("q", "dunes", "facets", "category")
		if res.Facets == nil || res.Facets.Category == nil || len(*res.Facets.Category) != 0 || res.Facets.Type != nil {
			t.Errorf("facets of a hit without category: %+v", res.Facets)
		}
	})
}

// TestSearchPagination walks every page of searches with and without text: every hit once, in
// order, has_more and next_cursor consistent.
func TestSearchPagination(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		p := programSnap(1, "Big library", "en")
		f.feed(publishedMsg(t, p))
		var all []string
		for i := range 23 {
			e := episodeSnap(p.ID, 1, fmt.Sprintf("Library book %d", i), "en", day(i))
			f.feed(publishedMsg(t, e))
			all = append(all, e.ID)
		}
		for _, params := range [][]string{
			{"type", "episode"},
			{"q", "library book", "type", "episode"},
			{"q", "book", "sort", "latest"},
		} {
			var got []string
			cursor := ""
			for page := 0; ; page++ {
				if page > 10 {
					t.Fatalf("%v: pagination does not end", params)
				}
				ps := append(slices.Clone(params), "limit", "5")
				if cursor != "" {
					ps = append(ps, "cursor", cursor)
				}
				res := f.search(ps...)
				got = append(got, hitIDs(res.Items)...)
				if res.Page.HasMore != (res.Page.NextCursor != nil) {
					t.Fatalf("%v page %d: has_more %v with next_cursor %v", params, page, res.Page.HasMore, res.Page.NextCursor)
				}
				if !res.Page.HasMore {
					break
				}
				if len(res.Items) != 5 {
					t.Fatalf("%v page %d: %d items before the last page", params, page, len(res.Items))
				}
				cursor = *res.Page.NextCursor
			}
			sorted := slices.Clone(got)
			slices.Sort(sorted)
			want := slices.Clone(all)
			slices.Sort(want)
			if !slices.Equal(sorted, want) {
				t.Errorf("%v: pages hold %d hits, want each of the %d episodes once", params, len(got), len(all))
			}
			if params[0] == "type" {
				reversed := slices.Clone(all)
				slices.Reverse(reversed)
				if !slices.Equal(got, reversed) {
					t.Errorf("%v: not newest first", params)
				}
			}
		}
	})
}

// TestSuggest completes Arabic and English prefixes.
func TestSuggest(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		c := publishCatalog(t, f)
		texts := func(s searchapi.Suggestions) []string {
			out := make([]string, len(s.Items))
			for i, it := range s.Items {
				out[i] = it.Text
			}
			slices.Sort(out)
			return out
		}
		for _, tc := range []struct {
			params []string
			want   []string
		}{
			{[]string{"q", "الصب"}, []string{"برنامج الصباح", "ضيف الصباح"}},
			{[]string{"q", "برنامج الص"}, []string{"برنامج الصباح"}},
			{[]string{"q", "dee"}, []string{"Deep dive", "The Deep Sea Podcast"}},
			{[]string{"q", "dee", "language", "ar"}, []string{}},
			{[]string{"q", "d", "language", "en"}, []string{"Deep dive", "Desert Stories", "Dunes at night", "The Deep Sea Podcast"}},
			{[]string{"q", "du"}, []string{"Dunes at night"}},
			{[]string{"q", "?!"}, []string{}},
		} {
			if got := texts(f.suggest(tc.params...)); !slices.Equal(got, tc.want) {
				t.Errorf("suggest %v = %q, want %q", tc.params, got, tc.want)
			}
		}
		s := f.suggest("q", "deep", "limit", "1")
		if len(s.Items) != 1 {
			t.Fatalf("limit 1: %+v", s.Items)
		}
		if id := s.Items[0].Id.String(); id != c.p2 && id != c.e3 {
			t.Errorf("suggestion %+v is not one of the deep titles", s.Items[0])
		}
		if s.Items[0].Type != "program" && s.Items[0].Type != "episode" {
			t.Errorf("suggestion type %q", s.Items[0].Type)
		}
	})
}

// problem decodes a problem body and returns the fields it names.
func problemFields(t *testing.T, body []byte) []string {
	t.Helper()
	var p commonapi.Problem
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("problem %s: %v", body, err)
	}
	var out []string
	if p.Errors != nil {
		for _, e := range *p.Errors {
			out = append(out, e.Field)
		}
	}
	return out
}

// TestBadRequests sends what the contract refuses: 400 naming the parameter, never a 5xx.
func TestBadRequests(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		publishCatalog(t, f)
		first := f.search("q", "deep", "limit", "1")
		if first.Page.NextCursor == nil {
			t.Fatal("no second page")
		}
		other := *first.Page.NextCursor
		long := strings.Repeat("ب", 201)
		for _, tc := range []struct {
			path, field string
		}{
			{searchPath(), "query.q"},
			{searchPath("facets", "type", "sort", "latest", "limit", "5"), "query.q"},
			{searchPath("type", "episode", "duration_min", "60", "duration_max", "10"), "query.duration_min"},
			{searchPath("published_from", "2026-05-01T00:00:00Z", "published_to", "2026-04-01T00:00:00Z"), "query.published_from"},
			{searchPath("q", "x", "cursor", "garbage"), "query.cursor"},
			{searchPath("q", "deep", "cursor", other+"x"), "query.cursor"},
			{searchPath("q", "deeper", "cursor", other), "query.cursor"},
			{searchPath("q", "deep", "sort", "latest", "cursor", other), "query.cursor"},
			{searchPath("q", "x", "cursor", strings.Repeat("a", 600)), "query.cursor"},
			{searchPath("q", "x", "limit", "0"), "query.limit"},
			{searchPath("q", "x", "limit", "101"), "query.limit"},
			{searchPath("q", "x", "limit", "ten"), "query.limit"},
			{searchPath("q", "x", "facets", "colour"), "query.facets"},
			{searchPath("q", "x", "sort", "random"), "query.sort"},
			{searchPath("type", "movie"), "query.type"},
			{searchPath("kind", "movie"), "query.kind"},
			{searchPath("language", "ARA"), "query.language"},
			{searchPath("category", "Bad_Slug"), "query.category"},
			{searchPath("duration_min", "-1"), "query.duration_min"},
			{searchPath("duration_max", "999999"), "query.duration_max"},
			{searchPath("published_from", "yesterday"), "query.published_from"},
			{searchPath("q", long), "query.q"},
			{"/api/v1/discovery/search?q=%00", "query.q"},
			{"/api/v1/discovery/search?q=%FF%FE", "query.q"},
			{"/api/v1/discovery/search?q=", "query.q"},
			{searchPath("q", "   "), "query.q"},            // only spaces: as if absent, and no filter
			{searchPath("q", "\u3000\u00a0\t"), "query.q"}, // ideographic and no-break spaces too
			{"/api/v1/discovery/search/suggest", "query.q"},
			{"/api/v1/discovery/search/suggest?q=", "query.q"},
			{"/api/v1/discovery/search/suggest?q=%FF", "query.q"},
			{"/api/v1/discovery/search/suggest?q=" + strings.Repeat("a", 101), "query.q"},
			{"/api/v1/discovery/search/suggest?q=ab&limit=21", "query.limit"},
			{"/api/v1/discovery/search/suggest?q=ab&limit=0", "query.limit"},
			{"/api/v1/discovery/search/suggest?q=ab&language=english", "query.language"},
		} {
			code, body := f.get(tc.path)
			if code != http.StatusBadRequest {
				t.Errorf("GET %s: %d, want 400: %s", tc.path, code, body)
				continue
			}
			if fields := problemFields(t, body); !slices.Contains(fields, tc.field) {
				t.Errorf("GET %s: problem names %v, want %s: %s", tc.path, fields, tc.field, body)
			}
		}
		// Spaces alone with a filter browse, as a filter without q does.
		if spaced, plain := f.search("q", "  ", "type", "episode", "sort", "latest"), f.search("type", "episode", "sort", "latest"); len(spaced.Items) == 0 || len(spaced.Items) != len(plain.Items) {
			t.Errorf("q of spaces with a filter: %d hits, the filter alone %d", len(spaced.Items), len(plain.Items))
		}
		// The cursor of one page goes on with the same query, whatever the page size and facets.
		res := f.search("q", "deep", "limit", "5", "facets", "type", "cursor", other)
		if len(res.Items) != 1 || res.Items[0].Id == first.Items[0].Id {
			t.Errorf("second page: %+v", res.Items)
		}
		// A method the path does not serve.
		rec := httptest.NewRecorder()
		f.h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, searchPath("q", "x"), nil))
		if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") == "" {
			t.Errorf("POST search: %d, Allow %q; want 405 with Allow", rec.Code, rec.Header().Get("Allow"))
		}
	})
}

// TestNoServerErrors sends random combinations of valid and invalid parameters: every answer is
// a 200 or a 400 that the contract documents, never a 5xx.
func TestNoServerErrors(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		publishCatalog(t, f)
		values := map[string][]string{
			"q":              {"الصباح", "deep sea", "'", `\`, ":*", "a & b | !c", "<mark>", "ال", "ـ", "%", "\u200f", "x"},
			"type":           {"program", "episode", "both"},
			"category":       {"news", "culture", "a-b", "-"},
			"language":       {"ar", "en", "zz", "e"},
			"kind":           {"show", "podcast", "opera"},
			"duration_min":   {"0", "600", "172800", "-5", "1.5"},
			"duration_max":   {"0", "3600", "172801"},
			"published_from": {"0001-01-01T00:00:00Z", "2026-03-01T12:00:00+03:00", "9999-12-31T23:59:59Z", "2026-13-01T00:00:00Z"},
			"published_to":   {"0001-01-01T00:00:00Z", "2026-03-05T00:00:00Z", "9999-12-31T23:59:59.999999999Z"},
			"facets":         {"type", "category,language,kind,type", "type,type", ""},
			"sort":           {"relevance", "latest", "best"},
			"limit":          {"1", "100", "0", "abc"},
			"cursor":         {"", "eyJ2IjoxfQ", "!!!"},
		}
		names := make([]string, 0, len(values))
		for n := range values {
			names = append(names, n)
		}
		slices.Sort(names)
		rng := rand.New(rand.NewPCG(1, 2))
		for range 300 {
			var kv []string
			for _, n := range names {
				if rng.IntN(3) == 0 {
					vs := values[n]
					kv = append(kv, n, vs[rng.IntN(len(vs))])
				}
			}
			if code, body := f.get(searchPath(kv...)); code != http.StatusOK && code != http.StatusBadRequest {
				t.Errorf("GET %s: %d %s", searchPath(kv...), code, body)
			}
			suggest := "/api/v1/discovery/search/suggest?" + query("q", values["q"][rng.IntN(len(values["q"]))], "language", values["language"][rng.IntN(4)])
			if code, body := f.get(suggest); code != http.StatusOK && code != http.StatusBadRequest {
				t.Errorf("GET %s: %d %s", suggest, code, body)
			}
		}
	})
}
