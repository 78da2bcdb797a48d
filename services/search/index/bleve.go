package index

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/keyword"
	"github.com/blevesearch/bleve/v2/index/scorch"
	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/blevesearch/bleve/v2/search"
	"github.com/blevesearch/bleve/v2/search/query"
	bleveindex "github.com/blevesearch/bleve_index_api"
)

// Bleve field names. Text is indexed once per language group (title_ar, title_en, title_std,
// ...), so that each field has one analyzer; a document fills only the fields of its group.
//
// Scoring and sorting read doc values, which bleve decodes a chunk of documents at a time; a
// numeric field keeps many prefix-coded terms per value, so the values that every matching
// document needs (publication time and popularity) are also kept as one short keyword each:
// rank_key and published_key (see rankKey and publishedKey).
const (
	fieldSource       = "src" // the Doc as JSON, stored only
	fieldType         = "type"
	fieldLanguage     = "language"
	fieldKind         = "kind"
	fieldCategory     = "category"
	fieldProgram      = "program_id"
	fieldPublished    = "published_us" // unix microseconds, for range filters
	fieldPublishedKey = "published_key"
	fieldRankKey      = "rank_key"
	fieldDuration     = "duration" // only episodes with a known duration
	fieldPlain        = "plain"    // per group: normalised, unstemmed words of title, summary and tags, for prefixes
	fieldTitlePlain   = "title_plain"
	fieldTitleKey     = "title_key" // the whole normalised title as one term: "starts with"
)

// Text fields and their weights: title > summary > tags > a prefix match of the last word.
const (
	fieldTitle   = "title"
	fieldSummary = "summary"
	fieldTags    = "tags"
)

// fieldWeights lists the text fields of a group with the weight of a match in each.
var fieldWeights = []struct {
	name   string
	weight float64
}{{fieldTitle, 4}, {fieldSummary, 2}, {fieldTags, 1}}

// prefixWeight is the weight of a prefix match of the last query word, in any field.
const prefixWeight = 0.5

// groupField returns the name of text field f in language group g.
func groupField(f, g string) string { return f + "_" + g }

// mappingVersion identifies the index mapping; an on-disk index built with another mapping is
// refused (rebuild it by replaying the content events).
const mappingVersion = "mediamesh.search.index/1"

// internalMappingKey is the internal key of bleve under which the mapping version is kept.
var internalMappingKey = []byte("mediamesh.mapping")

// deleteBatchSize is how many episodes DeleteProgram removes per batch, and upsertBatchSize
// how many documents UpsertBatch indexes per bleve batch.
const (
	deleteBatchSize = 1000
	upsertBatchSize = 1000
)

// Bleve is an Index kept by bleve, in memory or on disk. It is safe for concurrent use.
type Bleve struct {
	idx bleve.Index
	// mu serialises writes, so that the version check and the write of an upsert are atomic.
	mu sync.Mutex
}

var _ Index = (*Bleve)(nil)

// NewBleve opens the bleve index in directory dir, creating it when dir does not exist or is
// empty, or creates an in-memory index when dir is "". Close it when done.
func NewBleve(dir string) (*Bleve, error) {
	if dir == "" {
		idx, err := bleve.NewUsing("", newMapping(), scorch.Name, bleve.Config.DefaultKVStore, nil)
		if err != nil {
			return nil, fmt.Errorf("index: create in-memory bleve index: %w", err)
		}
		return newBleve(idx, true)
	}
	idx, err := bleve.Open(dir)
	if errors.Is(err, bleve.ErrorIndexPathDoesNotExist) || errors.Is(err, bleve.ErrorIndexMetaMissing) && emptyDir(dir) {
		idx, err = bleve.NewUsing(dir, newMapping(), scorch.Name, bleve.Config.DefaultKVStore, nil)
		if err != nil {
			return nil, fmt.Errorf("index: create bleve index in %s: %w", dir, err)
		}
		return newBleve(idx, true)
	}
	if err != nil {
		return nil, fmt.Errorf("index: open bleve index in %s: %w", dir, err)
	}
	return newBleve(idx, false)
}

// emptyDir reports whether dir is a directory without entries.
func emptyDir(dir string) bool {
	entries, err := os.ReadDir(dir)
	return err == nil && len(entries) == 0
}

// newBleve records the mapping version in a new index, or checks it in an existing one.
func newBleve(idx bleve.Index, created bool) (*Bleve, error) {
	if created {
		if err := idx.SetInternal(internalMappingKey, []byte(mappingVersion)); err != nil {
			_ = idx.Close()
			return nil, fmt.Errorf("index: record bleve mapping version: %w", err)
		}
		return &Bleve{idx: idx}, nil
	}
	v, err := idx.GetInternal(internalMappingKey)
	if err != nil {
		_ = idx.Close()
		return nil, fmt.Errorf("index: read bleve mapping version: %w", err)
	}
	if string(v) != mappingVersion {
		_ = idx.Close()
		return nil, fmt.Errorf("index: bleve index has mapping %q, want %q: delete the directory and rebuild the index", v, mappingVersion)
	}
	return &Bleve{idx: idx}, nil
}

// newMapping returns the bleve index mapping (see the field constants).
func newMapping() *mapping.IndexMappingImpl {
	text := func(analyzer string) *mapping.FieldMapping {
		f := mapping.NewTextFieldMapping()
		f.Analyzer = analyzer
		f.Store, f.IncludeTermVectors, f.IncludeInAll, f.DocValues = false, false, false, false
		return f
	}
	kw := func(docValues bool) *mapping.FieldMapping {
		f := mapping.NewKeywordFieldMapping()
		f.Store, f.IncludeTermVectors, f.IncludeInAll, f.DocValues = false, false, false, docValues
		return f
	}
	num := func(docValues bool) *mapping.FieldMapping {
		f := mapping.NewNumericFieldMapping()
		f.Store, f.IncludeInAll, f.DocValues = false, false, docValues
		return f
	}
	source := mapping.NewTextFieldMapping()
	source.Index, source.Store, source.IncludeTermVectors, source.IncludeInAll, source.DocValues = false, true, false, false, false

	doc := mapping.NewDocumentStaticMapping()
	doc.AddFieldMappingsAt(fieldSource, source)
	for _, f := range []string{fieldType, fieldLanguage, fieldKind, fieldCategory, fieldPublishedKey, fieldRankKey} {
		doc.AddFieldMappingsAt(f, kw(true))
	}
	doc.AddFieldMappingsAt(fieldProgram, kw(false))
	doc.AddFieldMappingsAt(fieldTitleKey, kw(false))
	doc.AddFieldMappingsAt(fieldPublished, num(false))
	doc.AddFieldMappingsAt(fieldDuration, num(false))
	doc.AddFieldMappingsAt(fieldTitlePlain, text(analyzerPlainName))
	for _, g := range groups {
		for _, fw := range fieldWeights {
			doc.AddFieldMappingsAt(groupField(fw.name, g), text(analyzerNames[g]))
		}
		doc.AddFieldMappingsAt(groupField(fieldPlain, g), text(analyzerPlainName))
	}

	m := mapping.NewIndexMapping()
	m.DefaultMapping = doc
	m.DefaultAnalyzer = keyword.Name
	m.IndexDynamic, m.StoreDynamic, m.DocValuesDynamic = false, false, false
	return m
}

// bleveDoc returns the document that bleve indexes for d.
func bleveDoc(d Doc) (map[string]any, error) {
	src, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("index: encode document %q: %w", d.ID, err)
	}
	g := languageGroup(d.Language)
	plain := append([]string{d.Title, d.Summary}, d.Tags...)
	published := d.PublishedAt.UnixMicro()
	m := map[string]any{
		fieldSource:                 string(src),
		fieldType:                   d.Type,
		fieldLanguage:               d.Language,
		fieldPublished:              float64(published),
		fieldPublishedKey:           publishedKey(published),
		fieldRankKey:                rankKey(d.Popularity, published),
		fieldTitlePlain:             d.Title,
		fieldTitleKey:               normalizedText(d.Title),
		groupField(fieldTitle, g):   d.Title,
		groupField(fieldSummary, g): d.Summary,
		groupField(fieldTags, g):    d.Tags,
		groupField(fieldPlain, g):   plain,
		fieldCategory:               d.CategorySlug,
		fieldKind:                   d.Kind,
		fieldProgram:                d.ProgramID,
	}
	if d.Type == TypeEpisode && d.DurationSeconds > 0 {
		m[fieldDuration] = float64(d.DurationSeconds)
	}
	for _, k := range []string{fieldCategory, fieldKind, fieldProgram} {
		if m[k] == "" {
			delete(m, k)
		}
	}
	return m, nil
}

// timeOffset makes every validated publication time (year 1900 on) a positive number of
// microseconds, so that keys of fixed-width hexadecimal sort as the times do.
const timeOffset = 1 << 62

// publishedKey returns the sort key of a publication time in unix microseconds: "p" and 16
// hexadecimal digits, in time order.
func publishedKey(micros int64) string {
	return fmt.Sprintf("p%016x", uint64(micros+timeOffset))
}

// rankKey returns the key that holds what ranking needs besides the text: "r", the popularity
// (a non-negative float64, whose bits sort as its value) and the publication time, each as 16
// hexadecimal digits. It sorts by popularity, then publication time.
func rankKey(popularity float64, publishedMicros int64) string {
	return fmt.Sprintf("r%016x%016x", math.Float64bits(math.Max(popularity, 0)), uint64(publishedMicros+timeOffset))
}

// parseRankKey returns the popularity and publication time (unix microseconds) of a rankKey.
func parseRankKey(k string) (popularity float64, publishedMicros int64, ok bool) {
	if len(k) != 33 || k[0] != 'r' {
		return 0, 0, false
	}
	pop, err1 := strconv.ParseUint(k[1:17], 16, 64)
	pub, err2 := strconv.ParseUint(k[17:], 16, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return math.Float64frombits(pop), int64(pub) - timeOffset, true
}

// storedVersion returns the version of the stored document with id, and whether there is one.
func (b *Bleve) storedVersion(id string) (int64, bool, error) {
	doc, err := b.idx.Document(id)
	if err != nil {
		return 0, false, fmt.Errorf("index: read document %q: %w", id, err)
	}
	if doc == nil {
		return 0, false, nil
	}
	var src []byte
	doc.VisitFields(func(f bleveindex.Field) {
		if f.Name() == fieldSource {
			src = f.Value()
		}
	})
	if src == nil {
		return 0, false, nil
	}
	var v struct {
		Version int64 `json:"version"`
	}
	if err := json.Unmarshal(src, &v); err != nil {
		return 0, false, fmt.Errorf("index: decode stored document %q: %w", id, err)
	}
	return v.Version, true, nil
}

// Upsert implements Index.
func (b *Bleve) Upsert(ctx context.Context, doc Doc) error {
	return b.UpsertBatch(ctx, []Doc{doc})
}

// UpsertBatch implements Index.
func (b *Bleve) UpsertBatch(ctx context.Context, docs []Doc) error {
	docs, err := newestVersions(docs)
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	batch := b.idx.NewBatch()
	for _, d := range docs {
		if err := ctx.Err(); err != nil {
			return err
		}
		v, ok, err := b.storedVersion(d.ID)
		if err != nil {
			return err
		}
		if ok && d.Version <= v {
			continue
		}
		data, err := bleveDoc(storedDoc(d))
		if err != nil {
			return err
		}
		if err := batch.Index(d.ID, data); err != nil {
			return fmt.Errorf("index: index document %q: %w", d.ID, err)
		}
		if batch.Size() >= upsertBatchSize {
			if err := b.idx.Batch(batch); err != nil {
				return fmt.Errorf("index: write batch: %w", err)
			}
			batch.Reset()
		}
	}
	if batch.Size() > 0 {
		if err := b.idx.Batch(batch); err != nil {
			return fmt.Errorf("index: write batch: %w", err)
		}
	}
	return nil
}

// Delete implements Index.
func (b *Bleve) Delete(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil || id == "" {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.idx.Delete(id); err != nil {
		return fmt.Errorf("index: delete %q: %w", id, err)
	}
	return nil
}

// DeleteProgram implements Index.
func (b *Bleve) DeleteProgram(ctx context.Context, programID string) error {
	if programID == "" {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.idx.Delete(programID); err != nil {
		return fmt.Errorf("index: delete program %q: %w", programID, err)
	}
	for {
		req := bleve.NewSearchRequestOptions(termQuery(fieldProgram, programID), deleteBatchSize, 0, false)
		req.Score = "none"
		res, err := b.idx.SearchInContext(ctx, req)
		if err != nil {
			return fmt.Errorf("index: find episodes of program %q: %w", programID, err)
		}
		if len(res.Hits) == 0 {
			return nil
		}
		batch := b.idx.NewBatch()
		for _, h := range res.Hits {
			batch.Delete(h.ID)
		}
		if err := b.idx.Batch(batch); err != nil {
			return fmt.Errorf("index: delete episodes of program %q: %w", programID, err)
		}
	}
}

// Reset implements Index. It deletes the documents a batch at a time.
func (b *Bleve) Reset(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for {
		req := bleve.NewSearchRequestOptions(query.NewMatchAllQuery(), deleteBatchSize, 0, false)
		req.Score = "none"
		res, err := b.idx.SearchInContext(ctx, req)
		if err != nil {
			return fmt.Errorf("index: reset: find documents: %w", err)
		}
		if len(res.Hits) == 0 {
			return nil
		}
		batch := b.idx.NewBatch()
		for _, h := range res.Hits {
			batch.Delete(h.ID)
		}
		if err := b.idx.Batch(batch); err != nil {
			return fmt.Errorf("index: reset: delete documents: %w", err)
		}
	}
}

// Close closes the index.
func (b *Bleve) Close() error {
	return b.idx.Close()
}

// Search implements Index.
func (b *Bleve) Search(ctx context.Context, q Query) (Result, error) {
	p, err := newPlan(q, time.Now())
	if err != nil {
		return Result{}, err
	}
	if p.matchesNothing() {
		return p.result(nil, nil), nil
	}
	scored := p.sort == SortRelevance
	var must query.Query
	if !p.text.empty() {
		if must = textMatchQuery(p.text, p.Language, scored); must == nil {
			return p.result(nil, nil), nil
		}
	}
	filters := filterQueries(p)
	var top query.Query
	switch {
	case must != nil && len(filters) > 0:
		bq := query.NewBooleanQuery(nil, nil, nil)
		bq.AddMust(must)
		bq.AddFilter(query.NewConjunctionQuery(filters))
		top = bq
	case must != nil:
		top = must
	case len(filters) > 0: // browsing: walk the postings of the filters, not every document
		top = query.NewConjunctionQuery(filters)
	default:
		top = query.NewMatchAllQuery()
	}
	if scored {
		now := p.now
		top = query.NewCustomScoreQueryWithScorer(top, func(_ context.Context, d *search.DocumentMatch) (float64, error) {
			key, _ := d.Fields[fieldRankKey].(string)
			pop, pub, ok := parseRankKey(key)
			if !ok {
				return d.Score, nil
			}
			return d.Score * rankFactor(pub, pop, now), nil
		}, []string{fieldRankKey}, nil)
	}

	req := bleve.NewSearchRequestOptions(top, p.limit+1, 0, false)
	req.Fields = []string{fieldSource}
	if scored {
		req.SortByCustom(search.SortOrder{&search.SortScore{Desc: true}, &search.SortDocID{}})
		if p.after != nil {
			req.SetSearchAfter([]string{strconv.FormatFloat(p.after.Score, 'g', -1, 64), p.after.ID})
		}
	} else {
		req.Score = "none"
		req.SortByCustom(search.SortOrder{
			&search.SortField{Field: fieldPublishedKey, Desc: true, Type: search.SortFieldAsString},
			&search.SortDocID{},
		})
		if p.after != nil {
			req.SetSearchAfter([]string{publishedKey(p.after.Published), p.after.ID})
		}
	}
	for _, f := range p.facets {
		req.AddFacet(f, bleve.NewFacetRequest(facetField(f), MaxFacetValues))
	}
	res, err := b.idx.SearchInContext(ctx, req)
	if err != nil {
		return Result{}, fmt.Errorf("index: search: %w", err)
	}
	hits := make([]Hit, 0, len(res.Hits))
	for _, h := range res.Hits {
		d, err := decodeSource(h.ID, h.Fields[fieldSource])
		if err != nil {
			return Result{}, err
		}
		score := 0.0
		if scored {
			score = h.Score
		}
		hits = append(hits, Hit{Doc: d, Score: score})
	}
	var facets map[string][]FacetCount
	if len(p.facets) > 0 {
		facets = make(map[string][]FacetCount, len(p.facets))
		for _, f := range p.facets {
			fr := res.Facets[f]
			if fr == nil || fr.Terms == nil {
				continue
			}
			for _, t := range fr.Terms.Terms() {
				facets[f] = append(facets[f], FacetCount{Value: t.Term, Count: int64(t.Count)})
			}
		}
	}
	return p.result(hits, facets), nil
}

// facetField returns the bleve field that facet counts.
func facetField(facet string) string {
	switch facet {
	case FacetCategory:
		return fieldCategory
	case FacetLanguage:
		return fieldLanguage
	case FacetKind:
		return fieldKind
	default:
		return fieldType
	}
}

// decodeSource decodes the stored JSON of a hit.
func decodeSource(id string, v any) (Doc, error) {
	s, ok := v.(string)
	if !ok {
		return Doc{}, fmt.Errorf("index: document %q has no stored source", id)
	}
	var d Doc
	if err := json.Unmarshal([]byte(s), &d); err != nil {
		return Doc{}, fmt.Errorf("index: decode stored document %q: %w", id, err)
	}
	return d, nil
}

func termQuery(field, term string) *query.TermQuery {
	q := query.NewTermQuery(term)
	q.SetField(field)
	return q
}

// numericRange returns a range query on field; nil bounds are open.
func numericRange(field string, min, max *float64, maxInclusive bool) query.Query {
	yes := true
	q := query.NewNumericRangeInclusiveQuery(min, max, &yes, &maxInclusive)
	q.SetField(field)
	return q
}

// filterQueries returns the filters of p as bleve queries.
func filterQueries(p *plan) []query.Query {
	var fs []query.Query
	for field, v := range map[string]string{fieldType: p.Type, fieldCategory: p.Category, fieldLanguage: p.Language, fieldKind: p.Kind} {
		if v != "" {
			fs = append(fs, termQuery(field, v))
		}
	}
	if p.DurationMin != nil || p.DurationMax != nil {
		var lo, hi *float64
		if p.DurationMin != nil {
			v := float64(*p.DurationMin)
			lo = &v
		}
		if p.DurationMax != nil {
			v := float64(*p.DurationMax)
			hi = &v
		}
		if lo == nil { // only known durations (above 0) are indexed
			v := 0.0
			lo = &v
		}
		fs = append(fs, numericRange(fieldDuration, lo, hi, true))
	}
	if p.PublishedFrom != nil || p.PublishedTo != nil {
		var lo, hi *float64
		if p.PublishedFrom != nil {
			v := float64(p.PublishedFrom.UnixMicro())
			lo = &v
		}
		if p.PublishedTo != nil {
			v := float64(p.PublishedTo.UnixMicro())
			hi = &v
		}
		fs = append(fs, numericRange(fieldPublished, lo, hi, false))
	}
	return fs
}

// weighted wraps q so that its score becomes weight times a factor from 1 to 1.5 that grows
// with q's own score: every match of a heavier field outranks every match of a lighter one,
// and the bleve score still orders the matches within a field.
func weighted(q query.Query, weight float64, scored bool) query.Query {
	if !scored {
		return q
	}
	return query.NewCustomScoreQueryWithScorer(q, func(_ context.Context, d *search.DocumentMatch) (float64, error) {
		s := math.Max(d.Score, 0)
		return weight * (1 + 0.5*s/(s+1)), nil
	}, nil, nil)
}

// textMatchQuery returns the query that matches t: for each language group (only that of
// language when it is set), every word of t must match in a text field of the group (a stop
// word of the group is left out), and the last word may instead match as a prefix of a
// normalised word; a group where no word is left matches nothing. It returns nil when no
// group is left.
func textMatchQuery(t textQuery, language string, scored bool) query.Query {
	gs := groups
	if language != "" {
		gs = []string{languageGroup(language)}
	}
	var branches []query.Query
	for _, g := range gs {
		var clauses []query.Query
		for _, w := range t.head() {
			for _, term := range languageTerms(g, w) {
				clauses = append(clauses, fieldsQuery(g, term, scored))
			}
		}
		if last := t.last(); last != "" {
			var alts []query.Query
			if terms := languageTerms(g, last); len(terms) > 0 {
				conj := make([]query.Query, len(terms))
				for i, term := range terms {
					conj[i] = fieldsQuery(g, term, scored)
				}
				alts = append(alts, query.NewConjunctionQuery(conj))
			}
			pq := query.NewPrefixQuery(t.prefix)
			pq.SetField(groupField(fieldPlain, g))
			alts = append(alts, weighted(pq, prefixWeight, scored))
			clauses = append(clauses, query.NewDisjunctionQuery(alts))
		}
		if len(clauses) == 0 {
			continue
		}
		// Every clause is on fields of group g, which only documents of the group have.
		branches = append(branches, query.NewConjunctionQuery(clauses))
	}
	switch len(branches) {
	case 0:
		return nil
	case 1:
		return branches[0]
	}
	return query.NewDisjunctionQuery(branches)
}

// fieldsQuery matches term in the title, summary or tags of language group g, weighted.
func fieldsQuery(g, term string, scored bool) query.Query {
	qs := make([]query.Query, len(fieldWeights))
	for i, fw := range fieldWeights {
		qs[i] = weighted(termQuery(groupField(fw.name, g), term), fw.weight, scored)
	}
	return query.NewDisjunctionQuery(qs)
}

// Suggest implements Index.
func (b *Bleve) Suggest(ctx context.Context, prefix, language string, limit int) ([]Suggestion, error) {
	r, err := newSuggestRequest(prefix, language, limit)
	if err != nil {
		return nil, err
	}
	if len(r.words) == 0 {
		return []Suggestion{}, nil
	}
	zero := func(q query.Query) query.Query {
		return query.NewCustomScoreQueryWithScorer(q, func(context.Context, *search.DocumentMatch) (float64, error) { return 0, nil }, nil, nil)
	}
	var must []query.Query
	for i, w := range r.words {
		if i == len(r.words)-1 {
			pq := query.NewPrefixQuery(w)
			pq.SetField(fieldTitlePlain)
			must = append(must, zero(pq))
		} else {
			must = append(must, zero(termQuery(fieldTitlePlain, w)))
		}
	}
	starts := query.NewPrefixQuery(r.startsWith)
	starts.SetField(fieldTitleKey)
	bq := query.NewBooleanQuery(nil, nil, nil)
	bq.AddMust(must...)
	bq.AddShould(query.NewCustomScoreQueryWithScorer(starts, func(context.Context, *search.DocumentMatch) (float64, error) { return 1, nil }, nil, nil))
	if r.language != "" {
		bq.AddFilter(termQuery(fieldLanguage, r.language))
	}
	req := bleve.NewSearchRequestOptions(bq, r.limit, 0, false)
	req.Fields = []string{fieldSource}
	req.SortByCustom(search.SortOrder{
		&search.SortScore{Desc: true},
		&search.SortField{Field: fieldRankKey, Desc: true, Type: search.SortFieldAsString}, // popularity, then time
		&search.SortDocID{},
	})
	res, err := b.idx.SearchInContext(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("index: suggest: %w", err)
	}
	out := make([]Suggestion, 0, len(res.Hits))
	for _, h := range res.Hits {
		d, err := decodeSource(h.ID, h.Fields[fieldSource])
		if err != nil {
			return nil, err
		}
		out = append(out, Suggestion{Text: d.Title, Type: d.Type, ID: d.ID, Language: d.Language})
	}
	return out, nil
}
