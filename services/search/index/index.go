// Package index is the full-text index that the search service keeps of published programs
// and episodes: documents go in through Upsert (from content events) and come out through
// Search (filters, facets, keyset pagination) and Suggest (as-you-type titles).
//
// Three implementations share the Index interface and one test suite (package indextest):
// NewMemory, an inverted index in memory (see memory.go), NewPostgres, PostgreSQL full text
// search in a table that the caller creates by applying PostgresMigrations, and NewOpenSearch,
// an OpenSearch index behind an alias (see opensearch.go). All analyse text
// by the document's language: Arabic text is normalised (diacritics, tatweel, alef forms, alef
// maqsura, ta marbuta, the article ال with its attached particles), cleared of stop words and
// lightly stemmed; English text is lowercased, cleared of stop words and stemmed; other
// languages are only normalised. The query text goes through the same analysis. See
// analysis.go.
//
// Ranking: a match in the title weighs more than one in the summary, which weighs more than
// one in the tags; the text score is multiplied by a freshness factor (newer content ranks
// higher among similar matches) and by a popularity factor. The last query word also matches
// as a prefix, for as-you-type search. Scores are comparable only within one query, and each
// implementation computes its own.
package index

import (
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Index is a full-text index of published programs and episodes.
type Index interface {
	// Upsert adds doc or replaces the stored document with its id. A doc whose Version is not
	// newer than the stored one is ignored without error, so events may arrive twice or out
	// of order. An invalid doc gives an error wrapping ErrInvalidDocument.
	Upsert(ctx context.Context, doc Doc) error
	// UpsertBatch upserts docs as Upsert does, in batches: the way to load many documents
	// (rebuilding the index, say). Of several docs with the same id the newest version wins.
	// When a doc is invalid, nothing is stored.
	UpsertBatch(ctx context.Context, docs []Doc) error
	// Delete removes the document with id, if any.
	Delete(ctx context.Context, id string) error
	// DeleteProgram removes the program with id programID and all of its episodes.
	DeleteProgram(ctx context.Context, programID string) error
	// Reset removes every document, and with them the versions the index has seen: the index is
	// as new, ready to be rebuilt (a replay of the content events, say).
	Reset(ctx context.Context) error
	// Search runs q. An invalid query gives an error wrapping ErrInvalidQuery, a cursor that
	// is not one of Search's, or is for another query, an error wrapping ErrBadCursor.
	Search(ctx context.Context, q Query) (Result, error)
	// Suggest completes a partly typed query: the titles, in language if it is not empty,
	// that contain every word of prefix, the last one as a word prefix; titles that start
	// with prefix first, then the more popular, then the newer. limit is 1 to MaxSuggestLimit
	// (0 means DefaultSuggestLimit).
	Suggest(ctx context.Context, prefix, language string, limit int) ([]Suggestion, error)
}

// Rebuilder is implemented by an Index that can be rebuilt beside itself (OpenSearch, whose alias
// moves to a new index): a rebuild fills a new index while the old one serves, and swaps them
// in one step, so a rebuild never serves an empty index.
type Rebuilder interface {
	Index
	// BeginRebuild returns a new, empty index to fill; the receiver goes on serving until the
	// rebuild's Commit.
	BeginRebuild(ctx context.Context) (Rebuild, error)
}

// Rebuild is a new index being filled (see Rebuilder).
type Rebuild interface {
	Index
	// Commit makes the new index the one that serves, at once, and removes the old one.
	Commit(ctx context.Context) error
	// Abort removes the new index; the old one goes on serving.
	Abort(ctx context.Context) error
}

// Errors that callers tell apart with errors.Is.
var (
	// ErrBadCursor means that Query.Cursor was not made by Search for this query; the API
	// answers 400.
	ErrBadCursor = errors.New("index: bad cursor")
	// ErrInvalidQuery means a query or suggestion request that no search can answer (limit
	// out of range, unknown sort or facet, inverted range); the API answers 400.
	ErrInvalidQuery = errors.New("index: invalid query")
	// ErrInvalidDocument means a document that cannot be indexed (missing id, title or
	// publication time, unknown type, bad language code).
	ErrInvalidDocument = errors.New("index: invalid document")
	// ErrUnavailable means that a remote engine (OpenSearch) cannot be reached, times out, fails
	// or is behind an open circuit breaker; the API answers 503.
	ErrUnavailable = errors.New("index: search engine unavailable")
)

// Document types.
const (
	TypeProgram = "program"
	TypeEpisode = "episode"
)

// Facet names, also the Query filters they correspond to.
const (
	FacetCategory = "category"
	FacetLanguage = "language"
	FacetKind     = "kind"
	FacetType     = "type"
)

// Sort orders.
const (
	// SortRelevance orders by Hit.Score, highest first; the default when Query.Text is set.
	SortRelevance = "relevance"
	// SortLatest orders by PublishedAt, newest first; the default without Query.Text.
	SortLatest = "latest"
)

// Limits of queries.
const (
	// DefaultLimit is the page size when Query.Limit is 0; MaxLimit the largest one.
	DefaultLimit = 20
	MaxLimit     = 100
	// DefaultSuggestLimit is the number of suggestions when Suggest gets limit 0;
	// MaxSuggestLimit the largest limit.
	DefaultSuggestLimit = 8
	MaxSuggestLimit     = 20
	// MaxFacetValues is the most values a facet returns.
	MaxFacetValues = 100
	// MaxCursorLength is the longest cursor Search accepts.
	MaxCursorLength = 512
)

// Doc is a published program or episode as the index stores and returns it.
type Doc struct {
	// ID identifies the document; required.
	ID string `json:"id"`
	// Type is TypeProgram or TypeEpisode; required.
	Type string `json:"type"`
	// ProgramID is, for an episode, the id of its program.
	ProgramID string `json:"program_id,omitempty"`
	// ProgramTitle is, for an episode, the title of its program (returned, not searched).
	ProgramTitle string `json:"program_title,omitempty"`
	// Kind is the program kind (series, podcast, documentary, show); episodes carry their
	// program's kind when known.
	Kind string `json:"kind,omitempty"`
	// Title is searched with the highest weight; required.
	Title string `json:"title"`
	// Summary is searched with a lower weight than Title.
	Summary string `json:"summary,omitempty"`
	// Tags are searched with the lowest weight.
	Tags []string `json:"tags,omitempty"`
	// Language is an ISO 639-1 code ("ar", "en", ...); it picks the text analysis. Required.
	Language string `json:"language"`
	// CategoryID, CategorySlug and CategoryName describe the category; the slug is what the
	// category filter and facet use.
	CategoryID   string `json:"category_id,omitempty"`
	CategorySlug string `json:"category_slug,omitempty"`
	CategoryName string `json:"category_name,omitempty"`
	// DurationSeconds is an episode's playing time; 0 means unknown. Only episodes with a
	// known duration match duration filters.
	DurationSeconds int `json:"duration_seconds,omitempty"`
	// PublishedAt is when the content was published; required.
	PublishedAt time.Time `json:"published_at"`
	// Popularity is an optional ranking signal (play counts, say); 0 is neutral and negative
	// values count as 0.
	Popularity float64 `json:"popularity,omitempty"`
	// ThumbnailURL is the program cover or episode thumbnail (returned, not searched).
	ThumbnailURL string `json:"thumbnail_url,omitempty"`
	// Version orders the updates of one document: a higher version replaces a lower one.
	Version int64 `json:"version"`
}

// Query is a search request.
type Query struct {
	// Text is the search text; empty matches everything. Every word must match (in the title,
	// summary or tags), the last one also as a prefix.
	Text string
	// Type, Category (a category slug), Language and Kind keep only documents with that
	// value, when set.
	Type     string
	Category string
	Language string
	Kind     string
	// DurationMin and DurationMax keep only episodes with a known duration in the range
	// (inclusive, in seconds); programs never match them.
	DurationMin *int
	DurationMax *int
	// PublishedFrom keeps documents published at or after it, PublishedTo those published
	// before it.
	PublishedFrom *time.Time
	PublishedTo   *time.Time
	// Facets names the facets to count (FacetCategory, FacetLanguage, FacetKind, FacetType)
	// over all documents that match the query and filters, whatever the page.
	Facets []string
	// Sort is SortRelevance or SortLatest; empty picks relevance with Text, latest without.
	// Relevance without Text is latest.
	Sort string
	// Limit is the page size, 1 to MaxLimit; 0 means DefaultLimit.
	Limit int
	// Cursor is Result.NextCursor of the previous page, for the same query; empty for the
	// first page.
	Cursor string
}

// Result is one page of search results.
type Result struct {
	// Hits are the matching documents of the page, best first.
	Hits []Hit
	// Facets maps each requested facet to its values and counts, most frequent first (ties
	// by value); a document without a value for the facet is not counted.
	Facets map[string][]FacetCount
	// NextCursor is the Query.Cursor of the next page, or "" on the last page.
	NextCursor string
	// HasMore reports whether there is a next page.
	HasMore bool
}

// Hit is one matching document.
type Hit struct {
	Doc
	// Score is the relevance score under SortRelevance (comparable only within one query) and
	// 0 under SortLatest.
	Score float64
	// Snippet is an HTML excerpt of the summary (or the title) with the matched words wrapped
	// in <mark>…</mark> and everything else escaped; empty without query text.
	Snippet string
}

// FacetCount is one facet value and the number of matching documents that have it.
type FacetCount struct {
	Value string
	Count int64
}

// Suggestion is a completion of a partly typed query.
type Suggestion struct {
	// Text is the completed text: a program or episode title.
	Text     string
	Type     string
	ID       string
	Language string
}

// Ranking parameters, shared by the implementations.
const (
	// freshnessWeight is the most freshness adds to the score: content published now scores
	// (1+freshnessWeight) times the same match published long ago.
	freshnessWeight = 0.5
	// freshnessScale is the age, in seconds, at which the freshness bonus has halved.
	freshnessScale = 30 * 24 * 3600
	// popularityWeight scales the popularity factor 1 + popularityWeight*ln(1+popularity).
	popularityWeight = 0.1
)

// The multiplier of a text score is freshnessFactor times popularityFactor.

// freshnessFactor is the multiplier of a text score for content published at publishedMicros (unix
// microseconds), seen at now (unix seconds).
func freshnessFactor(publishedMicros int64, now int64) float64 {
	age := float64(now) - float64(publishedMicros)/1e6
	if age < 0 || math.IsNaN(age) {
		age = 0
	}
	return 1 + freshnessWeight/(1+age/freshnessScale)
}

// popularityFactor is the multiplier of a text score for content with popularity.
func popularityFactor(popularity float64) float64 {
	if popularity < 0 || math.IsNaN(popularity) {
		popularity = 0
	}
	return 1 + popularityWeight*math.Log1p(popularity)
}

// languageCode matches an ISO 639-1 language code.
var languageCode = regexp.MustCompile(`^[a-z]{2}$`)

// Limits of document fields, generous enough for any content the CMS accepts.
const (
	maxKeyLength  = 200
	maxTextLength = 100_000
	maxTags       = 100
)

// validateDoc checks that d can be indexed.
func validateDoc(d *Doc) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w %q: %s", ErrInvalidDocument, d.ID, fmt.Sprintf(format, args...))
	}
	if d.ID == "" {
		return fmt.Errorf("%w: empty id", ErrInvalidDocument)
	}
	for name, v := range map[string]string{
		"id": d.ID, "program_id": d.ProgramID, "kind": d.Kind, "category_id": d.CategoryID,
		"category_slug": d.CategorySlug, "language": d.Language,
	} {
		if len(v) > maxKeyLength || !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
			return bad("%s must be valid UTF-8 of at most %d bytes without NUL", name, maxKeyLength)
		}
	}
	if d.Type != TypeProgram && d.Type != TypeEpisode {
		return bad("type must be %q or %q, not %q", TypeProgram, TypeEpisode, d.Type)
	}
	if strings.TrimSpace(d.Title) == "" {
		return bad("empty title")
	}
	if !languageCode.MatchString(d.Language) {
		return bad("language must be an ISO 639-1 code such as ar or en, not %q", d.Language)
	}
	if d.PublishedAt.IsZero() {
		return bad("no publication time")
	}
	if y := d.PublishedAt.Year(); y < 1900 || y > 9999 {
		return bad("publication year %d out of range", y)
	}
	if d.DurationSeconds < 0 {
		return bad("negative duration")
	}
	if math.IsNaN(d.Popularity) || math.IsInf(d.Popularity, 0) {
		return bad("popularity must be a finite number")
	}
	if len(d.Tags) > maxTags {
		return bad("more than %d tags", maxTags)
	}
	size := len(d.Title) + len(d.Summary)
	for _, t := range d.Tags {
		size += len(t)
	}
	if size > maxTextLength {
		return bad("title, summary and tags exceed %d bytes", maxTextLength)
	}
	return nil
}

// newestVersions returns docs with only the newest version of each id, in the order of their
// first occurrence, after validating them all.
func newestVersions(docs []Doc) ([]Doc, error) {
	pos := make(map[string]int, len(docs))
	out := make([]Doc, 0, len(docs))
	for i := range docs {
		d := docs[i]
		if err := validateDoc(&d); err != nil {
			return nil, err
		}
		if j, ok := pos[d.ID]; ok {
			if d.Version > out[j].Version {
				out[j] = d
			}
			continue
		}
		pos[d.ID] = len(out)
		out = append(out, d)
	}
	return out, nil
}

// storedDoc returns d as the index stores it: publication time in UTC at microsecond
// precision (what PostgreSQL keeps) and nil instead of empty tags.
func storedDoc(d Doc) Doc {
	d.PublishedAt = d.PublishedAt.UTC().Truncate(time.Microsecond)
	if len(d.Tags) == 0 {
		d.Tags = nil
	}
	if d.Popularity < 0 {
		d.Popularity = 0
	}
	return d
}

// plan is a validated query, ready for an implementation to run.
type plan struct {
	Query
	text   textQuery
	sort   string
	limit  int
	facets []string
	// after is the position of the last hit of the previous page, or nil on the first page.
	after *cursor
	// now is the reference time of freshness, in unix seconds: fixed by the first page and
	// carried by the cursor, so that scores do not drift while a client pages.
	now         int64
	fingerprint string
}

// facetNames lists the valid facets.
var facetNames = []string{FacetCategory, FacetLanguage, FacetKind, FacetType}

// newPlan validates q and decodes its cursor.
func newPlan(q Query, now time.Time) (*plan, error) {
	p := &plan{Query: q, text: parseText(q.Text), limit: q.Limit}
	invalid := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidQuery, fmt.Sprintf(format, args...))
	}
	switch {
	case p.limit == 0:
		p.limit = DefaultLimit
	case p.limit < 0 || p.limit > MaxLimit:
		return nil, invalid("limit must be 1 to %d, not %d", MaxLimit, q.Limit)
	}
	hasText := strings.TrimSpace(q.Text) != ""
	switch q.Sort {
	case "":
		p.sort = SortLatest
		if hasText {
			p.sort = SortRelevance
		}
	case SortRelevance:
		p.sort = SortRelevance
		if !hasText {
			p.sort = SortLatest
		}
	case SortLatest:
		p.sort = SortLatest
	default:
		return nil, invalid("sort must be %q or %q, not %q", SortRelevance, SortLatest, q.Sort)
	}
	if q.Type != "" && q.Type != TypeProgram && q.Type != TypeEpisode {
		return nil, invalid("type must be %q or %q, not %q", TypeProgram, TypeEpisode, q.Type)
	}
	for name, v := range map[string]string{"text": q.Text, "type": q.Type, "category": q.Category, "language": q.Language, "kind": q.Kind} {
		if !utf8.ValidString(v) || strings.ContainsRune(v, 0) || (name != "text" && len(v) > maxKeyLength) || len(v) > 4*maxKeyLength {
			return nil, invalid("%s must be valid UTF-8 without NUL, of bounded length", name)
		}
	}
	if q.DurationMin != nil && *q.DurationMin < 0 || q.DurationMax != nil && *q.DurationMax < 0 {
		return nil, invalid("durations must not be negative")
	}
	if q.DurationMin != nil && q.DurationMax != nil && *q.DurationMin > *q.DurationMax {
		return nil, invalid("duration_min %d exceeds duration_max %d", *q.DurationMin, *q.DurationMax)
	}
	if q.PublishedFrom != nil && q.PublishedTo != nil && q.PublishedFrom.After(*q.PublishedTo) {
		return nil, invalid("published_from is after published_to")
	}
	for _, f := range q.Facets {
		if !slices.Contains(facetNames, f) {
			return nil, invalid("unknown facet %q; want one of %s", f, strings.Join(facetNames, ", "))
		}
		if !slices.Contains(p.facets, f) {
			p.facets = append(p.facets, f)
		}
	}
	p.fingerprint = fingerprint(q, p.sort)
	p.now = now.Unix()
	if q.Cursor != "" {
		c, err := decodeCursor(q.Cursor, p.fingerprint, p.sort)
		if err != nil {
			return nil, err
		}
		p.after = c
		if p.sort == SortRelevance {
			p.now = c.Now
		}
	}
	return p, nil
}

// matchesNothing reports whether the query has text without a single word (punctuation only,
// say), which matches no document.
func (p *plan) matchesNothing() bool {
	return strings.TrimSpace(p.Text) != "" && p.text.empty()
}

// result assembles a Result from up to limit+1 hits of the page (the extra one only tells that
// there is more) and the facet counts.
func (p *plan) result(hits []Hit, facets map[string][]FacetCount) Result {
	r := Result{Hits: hits, Facets: facets}
	if len(hits) > p.limit {
		r.Hits = hits[:p.limit]
		r.HasMore = true
		last := r.Hits[len(r.Hits)-1]
		r.NextCursor = p.cursorAfter(last)
	}
	if r.Hits == nil {
		r.Hits = []Hit{}
	}
	if len(p.facets) > 0 {
		if r.Facets == nil {
			r.Facets = map[string][]FacetCount{}
		}
		for _, f := range p.facets {
			r.Facets[f] = sortFacet(r.Facets[f])
		}
	}
	r.Hits = p.withSnippets(r.Hits)
	return r
}

// sortFacet orders counts most frequent first, ties by value, drops empty values and keeps at
// most MaxFacetValues.
func sortFacet(counts []FacetCount) []FacetCount {
	out := make([]FacetCount, 0, len(counts))
	for _, c := range counts {
		if c.Value != "" && c.Count > 0 {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b FacetCount) int {
		if a.Count != b.Count {
			if a.Count > b.Count {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Value, b.Value)
	})
	if len(out) > MaxFacetValues {
		out = out[:MaxFacetValues]
	}
	return out
}

// suggestRequest is a validated Suggest call.
type suggestRequest struct {
	// words are the normalised words of the prefix, the last one normalised for prefix
	// matching; startsWith is the normalised prefix that the best titles start with.
	words      []string
	startsWith string
	language   string
	limit      int
}

// newSuggestRequest validates the arguments of Suggest. A prefix without any word gives a
// request with no words, which suggests nothing.
func newSuggestRequest(prefix, language string, limit int) (*suggestRequest, error) {
	switch {
	case limit == 0:
		limit = DefaultSuggestLimit
	case limit < 0 || limit > MaxSuggestLimit:
		return nil, fmt.Errorf("%w: suggestion limit must be 1 to %d, not %d", ErrInvalidQuery, MaxSuggestLimit, limit)
	}
	if !utf8.ValidString(prefix) || len(prefix) > 4*maxKeyLength || !utf8.ValidString(language) || len(language) > maxKeyLength || strings.ContainsRune(language, 0) {
		return nil, fmt.Errorf("%w: prefix and language must be valid UTF-8 of bounded length", ErrInvalidQuery)
	}
	r := &suggestRequest{language: language, limit: limit}
	var raw []string
	forEachWord(prefix, func(start, end int) { raw = append(raw, prefix[start:end]) })
	for i, w := range raw {
		if i < len(raw)-1 {
			r.words = appendNormalizedWord(r.words, w, 2)
			continue
		}
		last := appendNormalizedWord(nil, w, 1)
		if len(last) == 1 && isBareArticle(last[0]) {
			break // the article of the next word only
		}
		r.words = append(r.words, last...)
	}
	if len(r.words) > maxQueryWords {
		r.words = append(r.words[:maxQueryWords-1], r.words[len(r.words)-1])
	}
	r.startsWith = strings.Join(r.words, " ")
	return r, nil
}
