// Package indextest is the test suite that every implementation of index.Index must pass: run
// it from the implementation's tests with Run.
package indextest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/services/search/index"
)

// Run runs the suite. open returns a new, empty index for each subtest and arranges for it to
// be closed when the subtest ends.
func Run(t *testing.T, open func(t *testing.T) index.Index) {
	now := time.Now().UTC().Truncate(time.Microsecond)
	s := &suite{now: now}
	tests := []struct {
		name string
		fn   func(t *testing.T, ix index.Index)
	}{
		{"ArabicNormalisation", s.testArabic},
		{"EnglishStemming", s.testEnglish},
		{"Typos", s.testTypos},
		{"PrefixAsYouType", s.testPrefix},
		{"FieldWeights", s.testFieldWeights},
		{"FreshnessAndPopularity", s.testFreshness},
		{"Filters", s.testFilters},
		{"Facets", s.testFacets},
		{"Pagination", s.testPagination},
		{"VersionOrdering", s.testVersions},
		{"Delete", s.testDelete},
		{"DeleteProgram", s.testDeleteProgram},
		{"Reset", s.testReset},
		{"Suggest", s.testSuggest},
		{"EmptyQueryNewestFirst", s.testEmptyQuery},
		{"BadCursor", s.testBadCursor},
		{"InvalidQuery", s.testInvalidQuery},
		{"InvalidDocument", s.testInvalidDocument},
		{"RoundTrip", s.testRoundTrip},
		{"Snippets", s.testSnippets},
		{"Scores", s.testScores},
		{"ConcurrentUpserts", s.testConcurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, open(t))
		})
	}
}

type suite struct {
	now time.Time
}

// daysAgo returns the time n days before the suite's reference time.
func (s *suite) daysAgo(n float64) time.Time {
	return s.now.Add(-time.Duration(n * float64(24*time.Hour)))
}

// doc returns a document with the fields most tests do not care about filled in.
func (s *suite) doc(id, lang, title, summary string, tags ...string) index.Doc {
	return index.Doc{
		ID: id, Type: index.TypeEpisode, Title: title, Summary: summary, Tags: tags,
		Language: lang, PublishedAt: s.daysAgo(10), Version: 1,
	}
}

func upsert(t *testing.T, ix index.Index, docs ...index.Doc) {
	t.Helper()
	if err := ix.UpsertBatch(t.Context(), docs); err != nil {
		t.Fatalf("UpsertBatch: %v", err)
	}
}

func search(t *testing.T, ix index.Index, q index.Query) index.Result {
	t.Helper()
	r, err := ix.Search(t.Context(), q)
	if err != nil {
		t.Fatalf("Search(%+v): %v", q, err)
	}
	return r
}

func ids(hits []index.Hit) []string {
	out := make([]string, len(hits))
	for i, h := range hits {
		out[i] = h.ID
	}
	return out
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// matchSet checks that text matches exactly the documents want, in any order.
func matchSet(t *testing.T, ix index.Index, q index.Query, want ...string) {
	t.Helper()
	q.Limit = index.MaxLimit
	got := ids(search(t, ix, q).Hits)
	if !slices.Equal(sorted(got), sorted(want)) {
		t.Errorf("Search(%q, language=%q) = %v, want %v", q.Text, q.Language, sorted(got), sorted(want))
	}
}

// walk returns every hit of q, page after page, failing on a repeated hit.
func walk(t *testing.T, ix index.Index, q index.Query) []index.Hit {
	t.Helper()
	var all []index.Hit
	seen := map[string]bool{}
	for page := 0; ; page++ {
		if page > 1000 {
			t.Fatal("pagination does not end")
		}
		r := search(t, ix, q)
		for _, h := range r.Hits {
			if seen[h.ID] {
				t.Fatalf("page %d repeats hit %s", page, h.ID)
			}
			seen[h.ID] = true
		}
		all = append(all, r.Hits...)
		if r.HasMore != (r.NextCursor != "") {
			t.Fatalf("page %d: HasMore=%v but NextCursor=%q", page, r.HasMore, r.NextCursor)
		}
		if !r.HasMore {
			return all
		}
		if len(r.Hits) != q.Limit {
			t.Fatalf("page %d has %d hits and more to come, want a full page of %d", page, len(r.Hits), q.Limit)
		}
		q.Cursor = r.NextCursor
	}
}

func (s *suite) arabicDocs() []index.Doc {
	program := s.doc("ar-1", "ar", "برنامج الصباح", "برنامج يومي يجمع الأخبار والحوارات والموسيقى")
	program.Type = index.TypeProgram
	return []index.Doc{
		program,
		s.doc("ar-2", "ar", "صَبَاحُ الخَيْر", "حلقة عن الثقافة والفنون"),
		s.doc("ar-3", "ar", "حديث المساء", "نلتقي والصباح يطل علينا"),
		s.doc("ar-4", "ar", "أسرار الإبداع", "لقاء مع فنان تشكيلي"),
		s.doc("ar-5", "ar", "ذكريات", "قصة قصيرة", "للصباح"),
		s.doc("ar-6", "ar", "مسابقة رياضية", "منافسة بين الفرق"),
		s.doc("ar-7", "ar", "صبـــاح جديد", "بداية يوم"),
	}
}

func (s *suite) testArabic(t *testing.T, ix index.Index) {
	upsert(t, ix, s.arabicDocs()...)
	sabah := []string{"ar-1", "ar-2", "ar-3", "ar-5", "ar-7"}
	cases := []struct {
		name, text string
		want       []string
	}{
		{"article", "الصباح", sabah},
		{"bare", "صباح", sabah},
		{"diacritics", "صَبَاح", sabah},
		{"wa-al prefix", "والصباح", sabah},
		{"li-l prefix", "للصباح", sabah},
		{"bi-al prefix", "بالصباح", sabah},
		{"tatweel", "صبــاح", sabah},
		{"alef hamza below", "الإبداع", []string{"ar-4"}},
		{"alef bare", "الابداع", []string{"ar-4"}},
		{"alef bare no article", "ابداع", []string{"ar-4"}},
		{"alef hamza above", "أسرار", []string{"ar-4"}},
		{"alef hamza normalised", "اسرار", []string{"ar-4"}},
		{"ta marbuta as ha", "مسابقه", []string{"ar-6"}},
		{"ta marbuta", "مسابقة", []string{"ar-6"}},
		{"summary word with article", "اخبار", []string{"ar-1"}},
		{"two words", "برنامج الصباح", []string{"ar-1"}},
		{"no match", "كرة", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			matchSet(t, ix, index.Query{Text: c.text}, c.want...)
			matchSet(t, ix, index.Query{Text: c.text, Language: "ar"}, c.want...)
		})
	}
	matchSet(t, ix, index.Query{Text: "الصباح", Language: "en"})
}

func (s *suite) englishDocs() []index.Doc {
	program := s.doc("en-1", "en", "Run Club", "A weekly show about running and fitness", "sport")
	program.Type = index.TypeProgram
	return []index.Doc{
		program,
		s.doc("en-2", "en", "The Podcast Hour", "Stories from our listeners"),
		s.doc("en-3", "en", "Deep Sea Podcasts", "Exploring the ocean floor"),
		s.doc("en-4", "en", "Cooking at Home", "Recipes and kitchen tips"),
		s.doc("fr-1", "fr", "Les podcasts du matin", "Une émission quotidienne"),
	}
}

func (s *suite) testEnglish(t *testing.T, ix index.Index) {
	upsert(t, ix, s.englishDocs()...)
	cases := []struct {
		name, text string
		want       []string
	}{
		{"stem of title word", "running", []string{"en-1"}},
		{"inflected", "runs", []string{"en-1"}},
		{"plural finds singular", "podcasts", []string{"en-2", "en-3", "fr-1"}},
		{"singular finds plural", "podcast", []string{"en-2", "en-3", "fr-1"}},
		{"case", "PODCAST", []string{"en-2", "en-3", "fr-1"}},
		{"stop word ignored", "the podcast", []string{"en-2", "en-3"}},
		{"summary words", "kitchen recipes", []string{"en-4"}},
		{"tag", "sport", []string{"en-1"}},
		{"every word must match", "running cooking", nil},
		{"possessive", "listener's", []string{"en-2"}},
		{"punctuation only", "?!", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			matchSet(t, ix, index.Query{Text: c.text}, c.want...)
		})
	}
	matchSet(t, ix, index.Query{Text: "podcasts", Language: "en"}, "en-2", "en-3")
	matchSet(t, ix, index.Query{Text: "podcasts", Language: "fr"}, "fr-1")
}

// testTypos checks the correction of a search that finds nothing: a word one edit from an indexed
// one (a letter missing, wrong, extra, or two swapped) finds it; a search that finds something is
// never corrected; short words and words two edits away are not.
func (s *suite) testTypos(t *testing.T, ix index.Index) {
	upsert(t, ix,
		s.doc("en-y1", "en", "Yellowstone in Winter", "Geysers under snow"),
		s.doc("en-y2", "en", "The Wolves of Yellowstone", "A pack returns"),
		s.doc("en-g", "en", "The Printing Press", "Gutenberg's movable type"),
		s.doc("en-c1", "en", "The Colour of Water", "A memoir"),
		s.doc("en-c2", "en", "A Color Study", "Painting light"),
		s.doc("en-cat", "en", "Cats", "Whiskers and naps"),
		s.doc("ar-g", "ar", "رحلة إلى غرناطة", "قصر الحمراء"),
		s.doc("ar-n", "ar", "قصائد نزار قباني", "شعر الحب"),
	)
	cases := []struct {
		name, text string
		want       []string
	}{
		{"letter missing", "yelowstone", []string{"en-y1", "en-y2"}},
		{"letters swapped", "yellowstoen", []string{"en-y1", "en-y2"}},
		{"wrong letter in a possessive", "gutenburg", []string{"en-g"}},
		{"wrong letter in Arabic", "غرناظة", []string{"ar-g"}},
		{"one word of two wrong", "نزار قباتي", []string{"ar-n"}},
		{"a search that finds something is not corrected", "colour", []string{"en-c1"}},
		{"a search of known words that finds nothing is not corrected", "colour study", nil},
		{"short words are not corrected", "cst", nil},
		{"two edits are not corrected", "yelowstne", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			matchSet(t, ix, index.Query{Text: c.text}, c.want...)
		})
	}
	r := search(t, ix, index.Query{Text: "yelowstone wolves"})
	if got := ids(r.Hits); !slices.Equal(got, []string{"en-y2"}) {
		t.Fatalf("Search(yelowstone wolves) = %v, want [en-y2]", got)
	}
	if !strings.Contains(r.Hits[0].Snippet, "<mark>") {
		t.Errorf("the snippet of a corrected search marks nothing: %q", r.Hits[0].Snippet)
	}
}

func (s *suite) testPrefix(t *testing.T, ix index.Index) {
	upsert(t, ix, append(s.englishDocs(), s.arabicDocs()...)...)
	cases := []struct {
		name, text string
		want       []string
	}{
		{"partial last word", "podc", []string{"en-2", "en-3", "fr-1"}},
		{"partial last word after a full one", "deep se", []string{"en-3"}},
		{"partial word inside summary", "explor", []string{"en-3"}},
		{"only the last word is a prefix", "dee sea", nil},
		{"arabic partial with article", "الصب", []string{"ar-1", "ar-2", "ar-3", "ar-5", "ar-7"}},
		{"arabic partial after article", "الص", []string{"ar-1", "ar-2", "ar-3", "ar-5", "ar-7"}},
		{"arabic partial after a full word", "برنامج الصب", []string{"ar-1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			matchSet(t, ix, index.Query{Text: c.text}, c.want...)
		})
	}
}

func (s *suite) testFieldWeights(t *testing.T, ix index.Index) {
	upsert(t, ix,
		s.doc("fw-a", "en", "Evening Tales", "Calm stories", "ocean"),
		s.doc("fw-b", "en", "Night Tales", "Stories about the ocean"),
		s.doc("fw-c", "en", "Ocean Stories", "Tales of the sea"),
		s.doc("fw-d", "ar", "حكايات المساء", "قصص هادئة", "البحر"),
		s.doc("fw-e", "ar", "حكايات الليل", "قصص عن البحر"),
		s.doc("fw-f", "ar", "قصص البحر", "حكايات"),
	)
	for _, c := range []struct {
		text string
		want []string
	}{
		{"ocean", []string{"fw-c", "fw-b", "fw-a"}},
		{"البحر", []string{"fw-f", "fw-e", "fw-d"}},
	} {
		got := ids(search(t, ix, index.Query{Text: c.text, Sort: index.SortRelevance}).Hits)
		if !slices.Equal(got, c.want) {
			t.Errorf("Search(%q) = %v, want title hit, then summary hit, then tag hit: %v", c.text, got, c.want)
		}
	}
}

func (s *suite) testFreshness(t *testing.T, ix index.Index) {
	older := s.doc("fr-a", "en", "Jazz Night", "Live music")
	older.PublishedAt = s.daysAgo(200)
	newer := s.doc("fr-b", "en", "Jazz Night", "Live music")
	newer.PublishedAt = s.daysAgo(1)
	unpopular := s.doc("pop-a", "en", "Blues Evening", "Live music")
	popular := s.doc("pop-b", "en", "Blues Evening", "Live music")
	popular.Popularity = 1000
	upsert(t, ix, older, newer, unpopular, popular)
	for _, c := range []struct {
		text string
		want []string
	}{
		{"jazz", []string{"fr-b", "fr-a"}},
		{"blues", []string{"pop-b", "pop-a"}},
	} {
		got := ids(search(t, ix, index.Query{Text: c.text}).Hits)
		if !slices.Equal(got, c.want) {
			t.Errorf("Search(%q) = %v, want %v", c.text, got, c.want)
		}
	}
}

// catalogue is a mixed set of programs and episodes for the filter and facet tests.
func (s *suite) catalogue() []index.Doc {
	type row struct {
		id, typ, lang, kind, cat string
		dur                      int
		days                     float64
	}
	rows := []row{
		{"c-01", index.TypeProgram, "ar", "show", "news", 0, 30},
		{"c-02", index.TypeEpisode, "ar", "show", "news", 1800, 1},
		{"c-03", index.TypeEpisode, "ar", "show", "news", 3600, 2},
		{"c-04", index.TypeEpisode, "ar", "", "news", 0, 3},
		{"c-05", index.TypeProgram, "en", "podcast", "science", 0, 40},
		{"c-06", index.TypeEpisode, "en", "podcast", "science", 600, 4},
		{"c-07", index.TypeEpisode, "en", "podcast", "science", 5400, 5},
		{"c-08", index.TypeEpisode, "en", "documentary", "", 7200, 6},
		{"c-09", index.TypeProgram, "fr", "series", "culture", 0, 50},
		{"c-10", index.TypeEpisode, "fr", "series", "culture", 2400, 7},
		{"c-11", index.TypeEpisode, "en", "show", "news", 900, 8},
		{"c-12", index.TypeEpisode, "ar", "documentary", "culture", 3000, 8},
	}
	docs := make([]index.Doc, len(rows))
	for i, r := range rows {
		docs[i] = index.Doc{
			ID: r.id, Type: r.typ, Language: r.lang, Kind: r.kind, CategorySlug: r.cat,
			DurationSeconds: r.dur, PublishedAt: s.daysAgo(r.days), Version: 1,
			Title: "Item " + r.id, Summary: "Catalogue entry",
		}
		if r.cat != "" {
			docs[i].CategoryID = "cat-" + r.cat
			docs[i].CategoryName = strings.ToUpper(r.cat)
		}
	}
	return docs
}

// newestFirst returns the ids of the docs that keep accepts, newest first, ties by id.
func newestFirst(docs []index.Doc, keep func(index.Doc) bool) []string {
	var kept []index.Doc
	for _, d := range docs {
		if keep(d) {
			kept = append(kept, d)
		}
	}
	slices.SortFunc(kept, func(a, b index.Doc) int {
		if c := b.PublishedAt.Compare(a.PublishedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	out := make([]string, len(kept))
	for i, d := range kept {
		out[i] = d.ID
	}
	return out
}

func intp(v int) *int { return &v }

func (s *suite) testFilters(t *testing.T, ix index.Index) {
	docs := s.catalogue()
	upsert(t, ix, docs...)
	from, to := s.daysAgo(6), s.daysAgo(2)
	cases := []struct {
		name string
		q    index.Query
		keep func(index.Doc) bool
	}{
		{"type program", index.Query{Type: index.TypeProgram}, func(d index.Doc) bool { return d.Type == index.TypeProgram }},
		{"type episode", index.Query{Type: index.TypeEpisode}, func(d index.Doc) bool { return d.Type == index.TypeEpisode }},
		{"category", index.Query{Category: "news"}, func(d index.Doc) bool { return d.CategorySlug == "news" }},
		{"language", index.Query{Language: "en"}, func(d index.Doc) bool { return d.Language == "en" }},
		{"kind", index.Query{Kind: "podcast"}, func(d index.Doc) bool { return d.Kind == "podcast" }},
		{"duration min", index.Query{DurationMin: intp(3000)}, func(d index.Doc) bool {
			return d.Type == index.TypeEpisode && d.DurationSeconds >= 3000
		}},
		{"duration max", index.Query{DurationMax: intp(1800)}, func(d index.Doc) bool {
			return d.Type == index.TypeEpisode && d.DurationSeconds > 0 && d.DurationSeconds <= 1800
		}},
		{"duration range", index.Query{DurationMin: intp(900), DurationMax: intp(3600)}, func(d index.Doc) bool {
			return d.Type == index.TypeEpisode && d.DurationSeconds >= 900 && d.DurationSeconds <= 3600
		}},
		{"published from", index.Query{PublishedFrom: &from}, func(d index.Doc) bool { return !d.PublishedAt.Before(from) }},
		{"published to (exclusive)", index.Query{PublishedTo: &to}, func(d index.Doc) bool { return d.PublishedAt.Before(to) }},
		{"published range", index.Query{PublishedFrom: &from, PublishedTo: &to}, func(d index.Doc) bool {
			return !d.PublishedAt.Before(from) && d.PublishedAt.Before(to)
		}},
		{"combined", index.Query{Type: index.TypeEpisode, Language: "ar", Category: "news"}, func(d index.Doc) bool {
			return d.Type == index.TypeEpisode && d.Language == "ar" && d.CategorySlug == "news"
		}},
		{"with text", index.Query{Text: "item", Kind: "show"}, func(d index.Doc) bool { return d.Kind == "show" }},
		{"no match", index.Query{Kind: "podcast", Language: "fr"}, func(index.Doc) bool { return false }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := c.q
			q.Limit = index.MaxLimit
			q.Sort = index.SortLatest
			got := ids(search(t, ix, q).Hits)
			if want := newestFirst(docs, c.keep); !slices.Equal(got, want) {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
}

// facetCounts counts the values of facet over the docs that keep accepts, as Result.Facets
// orders them.
func facetCounts(docs []index.Doc, keep func(index.Doc) bool, value func(index.Doc) string) []index.FacetCount {
	counts := map[string]int64{}
	for _, d := range docs {
		if v := value(d); keep(d) && v != "" {
			counts[v]++
		}
	}
	out := []index.FacetCount{}
	for v, n := range counts {
		out = append(out, index.FacetCount{Value: v, Count: n})
	}
	slices.SortFunc(out, func(a, b index.FacetCount) int {
		if a.Count != b.Count {
			return int(b.Count - a.Count)
		}
		return strings.Compare(a.Value, b.Value)
	})
	return out
}

func (s *suite) testFacets(t *testing.T, ix index.Index) {
	docs := s.catalogue()
	upsert(t, ix, docs...)
	facets := []string{index.FacetCategory, index.FacetLanguage, index.FacetKind, index.FacetType}
	values := map[string]func(index.Doc) string{
		index.FacetCategory: func(d index.Doc) string { return d.CategorySlug },
		index.FacetLanguage: func(d index.Doc) string { return d.Language },
		index.FacetKind:     func(d index.Doc) string { return d.Kind },
		index.FacetType:     func(d index.Doc) string { return d.Type },
	}
	cases := []struct {
		name string
		q    index.Query
		keep func(index.Doc) bool
	}{
		{"everything", index.Query{}, func(index.Doc) bool { return true }},
		{"episodes", index.Query{Type: index.TypeEpisode}, func(d index.Doc) bool { return d.Type == index.TypeEpisode }},
		{"text and filter", index.Query{Text: "catalogue", Language: "ar"}, func(d index.Doc) bool { return d.Language == "ar" }},
		{"nothing", index.Query{Kind: "nonexistent"}, func(index.Doc) bool { return false }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := c.q
			q.Facets = facets
			q.Limit = 2
			want := map[string][]index.FacetCount{}
			for _, f := range facets {
				want[f] = facetCounts(docs, c.keep, values[f])
			}
			for page := 0; ; page++ {
				r := search(t, ix, q)
				for _, f := range facets {
					got := r.Facets[f]
					if got == nil {
						got = []index.FacetCount{}
					}
					if !reflect.DeepEqual(got, want[f]) {
						t.Errorf("page %d: facet %s = %v, want %v", page, f, got, want[f])
					}
				}
				if !r.HasMore {
					break
				}
				q.Cursor = r.NextCursor
			}
		})
	}
	r := search(t, ix, index.Query{Facets: []string{index.FacetType}})
	if _, ok := r.Facets[index.FacetLanguage]; ok {
		t.Errorf("facet language returned without being asked for")
	}
}

func (s *suite) testPagination(t *testing.T, ix index.Index) {
	var docs []index.Doc
	for i := range 30 {
		d := s.doc(fmt.Sprintf("pg-%02d", i), "en", "News bulletin", "Headlines of the day")
		if i%3 == 1 {
			d.Title = "Evening news bulletin"
		}
		if i%4 == 0 {
			d.Summary = "Headlines and more news"
		}
		d.PublishedAt = s.daysAgo(float64(i / 5)) // groups of equal times
		docs = append(docs, d)
	}
	docs = append(docs, s.doc("other", "en", "Weather", "Sunny"))
	upsert(t, ix, docs...)
	for _, q := range []index.Query{
		{Text: "news", Limit: 7},
		{Text: "news", Limit: 1},
		{Text: "news", Sort: index.SortLatest, Limit: 4},
		{Limit: 6},
		{Type: index.TypeEpisode, Limit: 30},
		{Text: "bulletin", Limit: 100},
	} {
		t.Run(fmt.Sprintf("%s/%s/%d", q.Text, q.Sort, q.Limit), func(t *testing.T) {
			pages := walk(t, ix, q)
			one := q
			one.Limit = index.MaxLimit
			single := search(t, ix, one)
			if single.HasMore {
				t.Fatal("single page has more")
			}
			if got, want := ids(pages), ids(single.Hits); !slices.Equal(got, want) {
				t.Errorf("pages give %v, one page gives %v", got, want)
			}
			wantN := 30
			if q.Text == "" {
				wantN = 31
			}
			if len(pages) != wantN {
				t.Errorf("walked %d hits, want %d", len(pages), wantN)
			}
		})
	}
}

func (s *suite) testVersions(t *testing.T, ix index.Index) {
	ctx := t.Context()
	v := func(version int64, title string) index.Doc {
		d := s.doc("ver-1", "en", title, "")
		d.Version = version
		return d
	}
	steps := []struct {
		doc  index.Doc
		want string // the title stored afterwards
	}{
		{v(2, "Alpha"), "Alpha"},
		{v(1, "Beta"), "Alpha"},   // stale
		{v(2, "Gamma"), "Alpha"},  // same version: a duplicate delivery
		{v(3, "Delta"), "Delta"},  // newer
		{v(-1, "Omega"), "Delta"}, // far older
	}
	for i, st := range steps {
		if err := ix.Upsert(ctx, st.doc); err != nil {
			t.Fatalf("step %d: Upsert: %v", i, err)
		}
		r := search(t, ix, index.Query{})
		if len(r.Hits) != 1 || r.Hits[0].Title != st.want {
			t.Fatalf("step %d: after upserting version %d %q the index holds %+v, want title %q", i, st.doc.Version, st.doc.Title, r.Hits, st.want)
		}
	}
	matchSet(t, ix, index.Query{Text: "alpha"})
	matchSet(t, ix, index.Query{Text: "delta"}, "ver-1")

	// In one batch the newest version of an id wins, whatever the order.
	upsert(t, ix, v(5, "Epsilon"), v(7, "Zeta"), v(6, "Eta"))
	matchSet(t, ix, index.Query{Text: "zeta"}, "ver-1")
	matchSet(t, ix, index.Query{Text: "eta"})
	matchSet(t, ix, index.Query{Text: "epsilon"})
}

func (s *suite) testDelete(t *testing.T, ix index.Index) {
	ctx := t.Context()
	upsert(t, ix, s.doc("del-1", "en", "First show", ""), s.doc("del-2", "en", "Second show", ""))
	if err := ix.Delete(ctx, "del-1"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	matchSet(t, ix, index.Query{Text: "show"}, "del-2")
	if err := ix.Delete(ctx, "missing"); err != nil {
		t.Errorf("Delete of a missing id: %v", err)
	}
	// A document can come back after a delete (republished).
	upsert(t, ix, s.doc("del-1", "en", "First show", ""))
	matchSet(t, ix, index.Query{Text: "show"}, "del-1", "del-2")
}

func (s *suite) testDeleteProgram(t *testing.T, ix index.Index) {
	ctx := t.Context()
	program := func(id string) index.Doc {
		d := s.doc(id, "en", "Program "+id, "")
		d.Type = index.TypeProgram
		return d
	}
	episode := func(id, programID string) index.Doc {
		d := s.doc(id, "en", "Episode "+id, "")
		d.ProgramID = programID
		return d
	}
	upsert(t, ix, program("p1"), episode("e1", "p1"), episode("e2", "p1"), episode("e3", "p1"),
		program("p2"), episode("e4", "p2"))
	if err := ix.DeleteProgram(ctx, "p1"); err != nil {
		t.Fatalf("DeleteProgram: %v", err)
	}
	matchSet(t, ix, index.Query{}, "p2", "e4")
	if err := ix.DeleteProgram(ctx, "p1"); err != nil {
		t.Errorf("DeleteProgram again: %v", err)
	}
}

func (s *suite) testReset(t *testing.T, ix index.Index) {
	ctx := t.Context()
	program := s.doc("r1", "en", "Morning show", "")
	program.Type, program.Version = index.TypeProgram, 5
	episode := s.doc("r2", "ar", "برنامج الصباح", "")
	episode.ProgramID = "r1"
	upsert(t, ix, program, episode)
	if err := ix.Reset(ctx); err != nil {
		t.Fatalf("Reset: %v", err)
	}
	matchSet(t, ix, index.Query{})
	matchSet(t, ix, index.Query{Text: "show"})
	if got, err := ix.Suggest(ctx, "mor", "", 0); err != nil || len(got) != 0 {
		t.Errorf("Suggest after Reset = %v, %v; want nothing", got, err)
	}
	if err := ix.Reset(ctx); err != nil {
		t.Errorf("Reset of an empty index: %v", err)
	}
	// The versions went with the documents: an older version than before is indexed again.
	program.Version, program.Title = 1, "Evening show"
	upsert(t, ix, program)
	r := search(t, ix, index.Query{Text: "show"})
	if len(r.Hits) != 1 || r.Hits[0].Title != "Evening show" || r.Hits[0].Version != 1 {
		t.Errorf("after Reset and a new upsert: %+v, want the new document", r.Hits)
	}
}

func (s *suite) testSuggest(t *testing.T, ix index.Index) {
	ctx := t.Context()
	popular := s.doc("s5", "en", "Sea Shanties", "")
	popular.Popularity = 50
	upsert(t, ix,
		s.doc("s1", "ar", "برنامج الصباح", ""),
		s.doc("s2", "ar", "الصباح الجديد", ""),
		s.doc("s3", "en", "The Deep Sea Podcast", "deep sea"),
		s.doc("s4", "en", "Deep Learning Weekly", ""),
		popular,
		s.doc("s6", "en", "Cooking", "a deep dive into the sea"),
	)
	cases := []struct {
		prefix, language string
		limit            int
		want             []string
	}{
		{"الصب", "", 8, []string{"s2", "s1"}},
		{"الص", "", 8, []string{"s2", "s1"}},
		{"صباح", "ar", 8, []string{"s2", "s1"}},
		{"برنامج ال", "", 8, []string{"s1"}},
		{"deep s", "", 8, []string{"s3"}},
		{"deep", "", 8, []string{"s4", "s3"}},
		{"DEE", "en", 8, []string{"s4", "s3"}},
		{"sea", "", 8, []string{"s5", "s3"}},
		{"sea", "", 1, []string{"s5"}},
		{"الصب", "en", 8, nil},
		{"dive", "", 8, nil},
		{"...", "", 8, nil},
	}
	for _, c := range cases {
		got, err := ix.Suggest(ctx, c.prefix, c.language, c.limit)
		if err != nil {
			t.Errorf("Suggest(%q, %q, %d): %v", c.prefix, c.language, c.limit, err)
			continue
		}
		var gotIDs []string
		for _, sg := range got {
			gotIDs = append(gotIDs, sg.ID)
			if sg.Text == "" || sg.Type == "" || sg.Language == "" {
				t.Errorf("Suggest(%q): incomplete suggestion %+v", c.prefix, sg)
			}
		}
		if !slices.Equal(gotIDs, c.want) {
			t.Errorf("Suggest(%q, %q, %d) = %v, want %v", c.prefix, c.language, c.limit, gotIDs, c.want)
		}
	}
	got, err := ix.Suggest(ctx, "الصب", "", 0)
	if err != nil || len(got) != 2 || got[0].Text != "الصباح الجديد" || got[0].Type != index.TypeEpisode {
		t.Errorf("Suggest with the default limit = %+v, %v", got, err)
	}
	for _, limit := range []int{-1, index.MaxSuggestLimit + 1} {
		if _, err := ix.Suggest(ctx, "sea", "", limit); !errors.Is(err, index.ErrInvalidQuery) {
			t.Errorf("Suggest with limit %d: error %v, want ErrInvalidQuery", limit, err)
		}
	}
}

func (s *suite) testEmptyQuery(t *testing.T, ix index.Index) {
	docs := s.catalogue()
	upsert(t, ix, docs...)
	want := newestFirst(docs, func(index.Doc) bool { return true })
	for _, q := range []index.Query{{}, {Sort: index.SortRelevance}, {Text: "   "}} {
		q.Limit = index.MaxLimit
		r := search(t, ix, q)
		if got := ids(r.Hits); !slices.Equal(got, want) {
			t.Errorf("Search(%+v) = %v, want newest first %v", q, got, want)
		}
		for _, h := range r.Hits {
			if h.Score != 0 || h.Snippet != "" {
				t.Errorf("hit %s without text has score %v and snippet %q", h.ID, h.Score, h.Snippet)
			}
		}
	}
}

func (s *suite) testBadCursor(t *testing.T, ix index.Index) {
	var docs []index.Doc
	for i := range 5 {
		docs = append(docs, s.doc(fmt.Sprintf("bc-%d", i), "en", "News bulletin", "Bulletin"))
	}
	upsert(t, ix, docs...)
	first := search(t, ix, index.Query{Text: "news", Limit: 2})
	if first.NextCursor == "" {
		t.Fatal("no cursor on the first page")
	}
	latest := search(t, ix, index.Query{Limit: 2})
	cases := []struct {
		name string
		q    index.Query
	}{
		{"garbage", index.Query{Text: "news", Cursor: "%%%not-a-cursor"}},
		{"not json", index.Query{Text: "news", Cursor: "bm90IGpzb24"}},
		{"empty object", index.Query{Text: "news", Cursor: "e30"}},
		{"too long", index.Query{Text: "news", Cursor: strings.Repeat("A", index.MaxCursorLength+1)}},
		{"another text", index.Query{Text: "bulletin", Cursor: first.NextCursor}},
		{"another filter", index.Query{Text: "news", Language: "en", Cursor: first.NextCursor}},
		{"another sort", index.Query{Text: "news", Sort: index.SortLatest, Cursor: first.NextCursor}},
		{"latest cursor with text", index.Query{Text: "news", Cursor: latest.NextCursor}},
	}
	for _, c := range cases {
		if _, err := ix.Search(t.Context(), c.q); !errors.Is(err, index.ErrBadCursor) {
			t.Errorf("%s: error %v, want ErrBadCursor", c.name, err)
		}
	}
	// The right cursor still works, with another page size.
	r := search(t, ix, index.Query{Text: "news", Limit: 10, Cursor: first.NextCursor})
	if len(r.Hits) != 3 {
		t.Errorf("second page has %d hits, want 3", len(r.Hits))
	}
}

func (s *suite) testInvalidQuery(t *testing.T, ix index.Index) {
	upsert(t, ix, s.doc("iq-1", "en", "Anything", ""))
	from, to := s.daysAgo(1), s.daysAgo(2)
	for name, q := range map[string]index.Query{
		"limit too big":      {Limit: index.MaxLimit + 1},
		"negative limit":     {Limit: -1},
		"unknown sort":       {Sort: "random"},
		"unknown facet":      {Facets: []string{"colour"}},
		"unknown type":       {Type: "clip"},
		"inverted durations": {DurationMin: intp(100), DurationMax: intp(10)},
		"negative duration":  {DurationMin: intp(-1)},
		"inverted dates":     {PublishedFrom: &from, PublishedTo: &to},
		"invalid utf-8":      {Text: "\xff\xfe"},
	} {
		if _, err := ix.Search(t.Context(), q); !errors.Is(err, index.ErrInvalidQuery) {
			t.Errorf("%s: error %v, want ErrInvalidQuery", name, err)
		}
	}
}

func (s *suite) testInvalidDocument(t *testing.T, ix index.Index) {
	ctx := t.Context()
	good := s.doc("ok-1", "en", "Fine", "")
	for name, mutate := range map[string]func(*index.Doc){
		"no id":          func(d *index.Doc) { d.ID = "" },
		"unknown type":   func(d *index.Doc) { d.Type = "clip" },
		"bad language":   func(d *index.Doc) { d.Language = "Arabic" },
		"no language":    func(d *index.Doc) { d.Language = "" },
		"no title":       func(d *index.Doc) { d.Title = "  " },
		"no publication": func(d *index.Doc) { d.PublishedAt = time.Time{} },
		"NUL in id":      func(d *index.Doc) { d.ID = "a\x00b" },
	} {
		d := s.doc("bad-1", "en", "Broken", "")
		mutate(&d)
		if err := ix.Upsert(ctx, d); !errors.Is(err, index.ErrInvalidDocument) {
			t.Errorf("%s: Upsert error %v, want ErrInvalidDocument", name, err)
		}
		if err := ix.UpsertBatch(ctx, []index.Doc{good, d}); !errors.Is(err, index.ErrInvalidDocument) {
			t.Errorf("%s: UpsertBatch error %v, want ErrInvalidDocument", name, err)
		}
	}
	matchSet(t, ix, index.Query{}) // nothing of a rejected batch is stored
}

func (s *suite) testRoundTrip(t *testing.T, ix index.Index) {
	d := index.Doc{
		ID: "rt-1", Type: index.TypeEpisode, ProgramID: "rt-p", ProgramTitle: "برنامج الصباح",
		Kind: "show", Title: "الحلقة ١٤ — ضيف الصباح", Summary: "حوار مع ضيف الصباح حول الثقافة والفنون.",
		Tags: []string{"ثقافة", "فنون"}, Language: "ar", CategoryID: "cat-1", CategorySlug: "news",
		CategoryName: "أخبار", DurationSeconds: 3540, PublishedAt: time.Date(2026, 1, 10, 6, 0, 0, 123456000, time.FixedZone("x", 3600)),
		Popularity: 12.5, ThumbnailURL: "https://cdn.example.com/thumbs/sabah/s02e14.jpg", Version: 9,
	}
	upsert(t, ix, d)
	r := search(t, ix, index.Query{Text: "ضيف"})
	if len(r.Hits) != 1 {
		t.Fatalf("got %d hits, want 1", len(r.Hits))
	}
	got := r.Hits[0].Doc
	if !got.PublishedAt.Equal(d.PublishedAt) {
		t.Errorf("PublishedAt = %v, want %v", got.PublishedAt, d.PublishedAt)
	}
	got.PublishedAt, d.PublishedAt = time.Time{}, time.Time{}
	if !reflect.DeepEqual(got, d) {
		t.Errorf("stored %+v\nreturned %+v", d, got)
	}
	matchSet(t, ix, index.Query{Text: "14"}, "rt-1") // Arabic-Indic digits are indexed as digits
}

func (s *suite) testSnippets(t *testing.T, ix index.Index) {
	upsert(t, ix,
		s.doc("sn-1", "en", "Tom & Jerry", "Tom & Jerry <b>chase</b> the ocean, again and again."),
		s.doc("sn-2", "ar", "حديث المساء", "نلتقي والصباح يطل علينا"),
		s.doc("sn-3", "en", "Ocean title only", ""),
		s.doc("sn-4", "en", "Quiet", "Nothing to see", "ocean"),
	)
	cases := []struct {
		text, id     string
		contains     []string
		notContains  []string
		wantNonEmpty bool
	}{
		{"ocean", "sn-1", []string{"<mark>ocean</mark>", "&amp;", "&lt;b&gt;chase&lt;/b&gt;"}, []string{"<b>"}, true},
		{"oceans", "sn-1", []string{"<mark>ocean</mark>"}, nil, true},
		{"الصباح", "sn-2", []string{"<mark>والصباح</mark>"}, nil, true},
		{"ocean", "sn-3", []string{"<mark>Ocean</mark> title only"}, nil, true},
		{"ocean", "sn-4", []string{"Nothing to see"}, []string{"<mark>"}, true},
	}
	for _, c := range cases {
		r := search(t, ix, index.Query{Text: c.text, Limit: index.MaxLimit})
		found := false
		for _, h := range r.Hits {
			if h.ID != c.id {
				continue
			}
			found = true
			for _, sub := range c.contains {
				if !strings.Contains(h.Snippet, sub) {
					t.Errorf("Search(%q): snippet of %s is %q, want it to contain %q", c.text, c.id, h.Snippet, sub)
				}
			}
			for _, sub := range c.notContains {
				if strings.Contains(h.Snippet, sub) {
					t.Errorf("Search(%q): snippet of %s is %q, want no %q", c.text, c.id, h.Snippet, sub)
				}
			}
		}
		if !found {
			t.Errorf("Search(%q) did not find %s", c.text, c.id)
		}
	}
}

func (s *suite) testScores(t *testing.T, ix index.Index) {
	upsert(t, ix, s.englishDocs()...)
	r := search(t, ix, index.Query{Text: "podcast"})
	if len(r.Hits) < 2 {
		t.Fatalf("got %d hits, want at least 2", len(r.Hits))
	}
	for i, h := range r.Hits {
		if h.Score <= 0 {
			t.Errorf("relevance hit %s has score %v, want > 0", h.ID, h.Score)
		}
		if i > 0 && h.Score > r.Hits[i-1].Score {
			t.Errorf("hit %s scores %v, above the previous hit's %v", h.ID, h.Score, r.Hits[i-1].Score)
		}
	}
	for _, h := range search(t, ix, index.Query{Text: "podcast", Sort: index.SortLatest}).Hits {
		if h.Score != 0 {
			t.Errorf("latest-sorted hit %s has score %v, want 0", h.ID, h.Score)
		}
	}
}

func (s *suite) testConcurrent(t *testing.T, ix index.Index) {
	// Four writers deliver versions 1 to 20 of five documents, each in its own random order,
	// while a reader searches; in the end every document holds version 20.
	const docs, versions, writers = 5, 20, 4
	var wg sync.WaitGroup
	errs := make(chan error, writers+1)
	for w := range writers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 1))
			var batch []index.Doc
			for d := range docs {
				for v := 1; v <= versions; v++ {
					doc := s.doc(fmt.Sprintf("cc-%d", d), "en", fmt.Sprintf("Title v%d", v), "")
					doc.Version = int64(v)
					batch = append(batch, doc)
				}
			}
			r.Shuffle(len(batch), func(i, j int) { batch[i], batch[j] = batch[j], batch[i] })
			for _, d := range batch {
				if err := ix.Upsert(t.Context(), d); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Go(func() {
		for range 20 {
			if _, err := ix.Search(t.Context(), index.Query{Text: "title", Facets: []string{index.FacetType}}); err != nil {
				errs <- err
				return
			}
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	r := search(t, ix, index.Query{Limit: index.MaxLimit})
	if len(r.Hits) != docs {
		t.Fatalf("got %d documents, want %d", len(r.Hits), docs)
	}
	for _, h := range r.Hits {
		if h.Version != versions || h.Title != fmt.Sprintf("Title v%d", versions) {
			t.Errorf("%s holds version %d %q, want version %d", h.ID, h.Version, h.Title, versions)
		}
	}
}
