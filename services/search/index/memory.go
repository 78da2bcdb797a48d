package index

import (
	"context"
	"math"
	"math/bits"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Memory is the embedded Index: an inverted index held in memory. It is safe for concurrent use:
// searches share a read lock, writes take the write lock.
//
// Documents are numbered in the order they were written; every posting list (an analysed term of
// one language group, a keyword value, a plain word) holds document numbers in ascending order
// with, for a term, its impact: the score of the term in the document, computed when the
// document is written (see impact), so that a search only adds numbers. A replaced or
// deleted document stays in the lists, marked dead, until enough are dead that compaction
// renumbers the live ones and rewrites the lists (see compact).
//
// A text search runs per language group: every word of the query is a clause that must match
// (in the title, summary or tags; the last word also as a prefix of a plain word). The clause
// expected to match the fewest documents drives: its documents, in ascending order, are the
// candidates; every other clause then checks and scores a candidate by moving a cursor forward
// through its list (a prefix, through a bitset of the documents of its words). When the words
// are in many documents, walking each list once into pooled scratch arrays is cheaper than
// seeking, and searchDense does that instead. Filters and rank factors are read from a small
// packed record per document, and only for a candidate that matches every clause and can still
// reach the page; facet values are small integers counted in slices; the page is a bounded
// heap. So a query costs in proportion to the postings of its words, and needs no lock beyond
// the read lock.
//
// The index lives only in memory: its owner fills it at start-up from the storage it is built
// from (the search service keeps every indexed program and episode in its database).
type Memory struct {
	mu sync.RWMutex
	// docs and hot are the documents by number: hot holds what scoring and filtering read of
	// every candidate, packed, docs the rest; alive has the bits of the live ones.
	docs  []memDoc
	hot   []hotDoc
	alive bitset
	byID  map[string]uint32
	dead  int
	// text holds the posting lists of the analysed terms, plain those of the normalised,
	// unstemmed words of each group (prefix matching), titleWords those of the normalised title
	// words of every document (suggestions).
	text       map[textKey]*postings
	plain      map[plainKey]*postings
	titleWords map[string]*postings
	// plainTerms[g] and titleTerms are the keys of plain (group g) and titleWords in sorted
	// order, for prefix expansion; fresh terms wait in newPlain/newTitle until the write ends.
	plainTerms [numGroups][]string
	titleTerms []string
	newPlain   [numGroups][]string
	newTitle   []string
	// strs interns the strings that many documents share (program ids and titles, categories),
	// so that 100 episodes of a program hold one copy of them.
	strs map[string]string
	// values interns keyword values (types, languages, kinds, category slugs); 0 is "none".
	values  []string
	valueID map[string]uint32
	// keyword holds the posting lists of each keyword facet's values.
	keyword [numFacets]map[uint32]*postings
	// maxPopularity is the largest popularity factor of any document written since the last
	// clear: with the largest freshness factor, it bounds the rank factor of every document.
	maxPopularity float64
	// denseShare is denseShare, or 0 to never search dense; now is the clock of freshness (tests
	// set both).
	denseShare int
	now        func() time.Time
	// bitsets and scratches recycle the candidate bitsets and the scratch arrays of searches.
	bitsets, scratches sync.Pool
}

var _ Index = (*Memory)(nil)

// Text fields, in the order of fieldWeights.
const (
	fTitle = iota
	fSummary
	fTags
	numFields
)

// fieldWeights are the weights of a match in each text field; prefixWeight that of a prefix
// match of the last query word (in any field).
var fieldWeights = [numFields]float64{4, 2, 1}

const prefixWeight = 0.5

// Text scores are sums of impacts in fixed point (units of 1/impactScale), so that a sum is exact
// and the same in any order: the two ways of searching (searchGroup, searchDense) add a
// document's impacts in different orders and must give it the same score, which cursors compare.
// A term's impact is at most 10.5 (every field at its densest), so the sum over maxQueryWords
// clauses stays far below 2^32.
const (
	impactScale  = 1 << 20
	prefixImpact = uint32(prefixWeight * impactScale)
)

// Language groups by number, in the order of groups.
const numGroups = 3

// Keyword facets by number, in the order of facetNames.
const (
	kCategory = iota
	kLanguage
	kKind
	kType
	numFacets
)

// maxPrefixTerms bounds how many words a prefix expands to (the most frequent ones), as
// OpenSearch's max_expansions does: a one-letter prefix must not walk half the index.
const maxPrefixTerms = 128

// compactMinDead is how many dead documents there must be, and be more than the live ones,
// before a write compacts the index.
const compactMinDead = 4096

type textKey struct {
	group uint8
	term  string
}

type plainKey struct {
	group uint8
	term  string
}

// postings lists documents in ascending order; impacts, for an analysed term, the term's score
// in each.
type postings struct {
	docs    []uint32
	impacts []uint32
	// stem is, for a plain word, its analysed term ("" for a stop word): every document with
	// the word has the term.
	stem string
}

func (p *postings) add(doc uint32) { p.docs = append(p.docs, doc) }

func (p *postings) addImpact(doc uint32, impact uint32) {
	p.docs = append(p.docs, doc)
	p.impacts = append(p.impacts, impact)
}

// impact is the score of a term that occurs tf[f] times in field f of a document whose field f
// has n[f] analysed terms: a match in a heavier field always outranks one in a lighter field
// (each field adds its weight times 1 to 1.5); within a field, a denser match (more occurrences
// in a shorter text) ranks higher.
func impact(tf, n [numFields]int) uint32 {
	s := 0.0
	for f := range tf {
		if tf[f] > 0 {
			x := math.Sqrt(float64(tf[f]) / float64(max(n[f], 1)))
			s += fieldWeights[f] * (1 + 0.5*x/(x+1))
		}
	}
	return uint32(math.Round(s * impactScale))
}

// memDoc is a document as the index keeps it, besides its hotDoc.
type memDoc struct {
	doc Doc
	// titleKey is the normalised title, for suggestions that start with the typed prefix.
	titleKey string
}

// hotDoc is what a search reads of every candidate document, kept apart and small so that a
// search walks memory that is dense (a candidate costs a cache line, not the whole document).
type hotDoc struct {
	// published is the publication time in unix microseconds.
	published int64
	// popularity is the popularity factor (popularityFactor).
	popularity float64
	// facet holds the interned keyword values, by facet number.
	facet [numFacets]uint32
	// duration is an episode's known duration in seconds, else 0.
	duration int32
}

// NewMemory returns an empty in-memory index.
func NewMemory() *Memory {
	m := &Memory{denseShare: denseShare, now: time.Now}
	m.clear()
	return m
}

// clear empties the index.
func (m *Memory) clear() {
	m.docs, m.hot, m.alive, m.byID, m.dead = nil, nil, nil, map[string]uint32{}, 0
	m.text, m.plain, m.titleWords = map[textKey]*postings{}, map[plainKey]*postings{}, map[string]*postings{}
	m.plainTerms, m.titleTerms, m.newPlain, m.newTitle = [numGroups][]string{}, nil, [numGroups][]string{}, nil
	m.values, m.valueID = []string{""}, map[string]uint32{"": 0}
	m.strs = map[string]string{}
	m.maxPopularity = 1
	for i := range m.keyword {
		m.keyword[i] = map[uint32]*postings{}
	}
}

// groupNumber returns the number of language group g.
func groupNumber(g string) uint8 {
	return uint8(slices.Index(groups, g))
}

// intern returns the index's copy of s, adding it.
func (m *Memory) intern(s string) string {
	if s == "" {
		return ""
	}
	if c, ok := m.strs[s]; ok {
		return c
	}
	m.strs[s] = s
	return s
}

// internDoc replaces the strings of d that documents share by the index's copies.
func (m *Memory) internDoc(d *Doc) {
	for _, f := range []*string{&d.Type, &d.ProgramID, &d.ProgramTitle, &d.Kind, &d.Language, &d.CategoryID, &d.CategorySlug, &d.CategoryName} {
		*f = m.intern(*f)
	}
}

// valueNumber returns the number of keyword value v.
func (m *Memory) valueNumber(v string) uint32 {
	if id, ok := m.valueID[v]; ok {
		return id
	}
	id := uint32(len(m.values))
	m.values = append(m.values, v)
	m.valueID[v] = id
	return id
}

// Upsert implements Index.
func (m *Memory) Upsert(ctx context.Context, doc Doc) error {
	return m.UpsertBatch(ctx, []Doc{doc})
}

// UpsertBatch implements Index.
func (m *Memory) UpsertBatch(ctx context.Context, docs []Doc) error {
	docs, err := newestVersions(docs)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// The text analysis, the costly part, runs before the lock, so searches do not wait for it.
	analysed := make([]analysedDoc, len(docs))
	for i := range docs {
		analysed[i] = analyse(storedDoc(docs[i]))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, d := range docs {
		if n, ok := m.byID[d.ID]; ok {
			if d.Version <= m.docs[n].doc.Version {
				continue
			}
			m.kill(n)
		}
		m.add(&analysed[i])
	}
	m.settle()
	return nil
}

// analysedDoc is a document with the analysis of its text: what add writes into the index.
type analysedDoc struct {
	doc      Doc
	group    string
	titleKey string
	// tf holds the frequency of each analysed term in each field, lens the number of analysed
	// terms of each field.
	tf   map[string]*[numFields]int
	lens [numFields]int
	// plain holds the normalised words of the text, titleWords those of the title, once each.
	plain, titleWords []string
}

// analyse analyses the text of d.
func analyse(d Doc) analysedDoc {
	a := analysedDoc{doc: d, group: languageGroup(d.Language), titleKey: normalizedText(d.Title), tf: map[string]*[numFields]int{}}
	plain := map[string]bool{}
	var words []string
	for field, texts := range [numFields][]string{fTitle: {d.Title}, fSummary: {d.Summary}, fTags: d.Tags} {
		for _, text := range texts {
			forEachWord(text, func(start, end int) {
				words = appendNormalizedWord(words[:0], text[start:end], 2)
				for _, w := range words {
					if !plain[w] {
						plain[w] = true
						a.plain = append(a.plain, w)
					}
					for _, t := range languageTerms(a.group, w) {
						c := a.tf[t]
						if c == nil {
							c = new([numFields]int)
							a.tf[t] = c
						}
						c[field]++
						a.lens[field]++
					}
				}
			})
		}
	}
	seen := map[string]bool{}
	for _, w := range strings.Fields(a.titleKey) {
		if !seen[w] {
			seen[w] = true
			a.titleWords = append(a.titleWords, w)
		}
	}
	return a
}

// add appends the analysed document as a new live document and adds it to the posting lists.
func (m *Memory) add(a *analysedDoc) {
	n := uint32(len(m.docs))
	d := a.doc
	m.internDoc(&d)
	g := a.group
	gn := groupNumber(g)
	md := memDoc{doc: d, titleKey: a.titleKey}
	hd := hotDoc{published: d.PublishedAt.UnixMicro(), popularity: popularityFactor(d.Popularity)}
	m.maxPopularity = max(m.maxPopularity, hd.popularity)
	if d.Type == TypeEpisode {
		hd.duration = int32(min(d.DurationSeconds, math.MaxInt32))
	}
	hd.facet[kCategory] = m.valueNumber(d.CategorySlug)
	hd.facet[kLanguage] = m.valueNumber(d.Language)
	hd.facet[kKind] = m.valueNumber(d.Kind)
	hd.facet[kType] = m.valueNumber(d.Type)
	for k, v := range hd.facet {
		if v == 0 {
			continue
		}
		p, _ := listOf(m.keyword[k], v)
		p.add(n)
	}

	for t, c := range a.tf {
		p, _ := listOf(m.text, textKey{gn, t})
		p.addImpact(n, impact(*c, a.lens))
	}
	for _, w := range a.plain {
		p, created := listOf(m.plain, plainKey{gn, w})
		if created {
			if terms := languageTerms(g, w); len(terms) == 1 {
				p.stem = terms[0]
			}
			m.newPlain[gn] = append(m.newPlain[gn], w)
		}
		p.add(n)
	}
	for _, w := range a.titleWords {
		p, created := listOf(m.titleWords, w)
		if created {
			m.newTitle = append(m.newTitle, w)
		}
		p.add(n)
	}
	m.docs = append(m.docs, md)
	m.hot = append(m.hot, hd)
	if int(n)/64 >= len(m.alive) {
		m.alive = append(m.alive, 0)
	}
	m.alive.set(n)
	m.byID[d.ID] = n
}

// kill marks document n dead.
func (m *Memory) kill(n uint32) {
	if !m.alive.has(n) {
		return
	}
	delete(m.byID, m.docs[n].doc.ID)
	m.alive.unset(n)
	m.docs[n] = memDoc{}
	m.dead++
}

// settle ends a write: fresh terms join the sorted term lists, and the index is compacted when
// most of it is dead.
func (m *Memory) settle() {
	for g := range m.newPlain {
		m.plainTerms[g] = mergeSorted(m.plainTerms[g], m.newPlain[g])
		m.newPlain[g] = m.newPlain[g][:0]
	}
	m.titleTerms = mergeSorted(m.titleTerms, m.newTitle)
	m.newTitle = m.newTitle[:0]
	if m.dead >= compactMinDead && m.dead > len(m.docs)-m.dead {
		m.compact()
	}
}

// listOf returns the posting list of k in lists, adding an empty one when there is none;
// created reports whether it did.
func listOf[K comparable](lists map[K]*postings, k K) (p *postings, created bool) {
	if p = lists[k]; p == nil {
		p, created = &postings{}, true
		lists[k] = p
	}
	return p, created
}

// rewriteLists applies rewrite to every list of lists, dropping those it leaves empty.
func rewriteLists[K comparable](lists map[K]*postings, rewrite func(*postings) bool) {
	for k, p := range lists {
		if !rewrite(p) {
			delete(lists, k)
		}
	}
}

// mergeSorted returns the sorted terms with fresh (terms not in it) added in order.
func mergeSorted(sorted, fresh []string) []string {
	if len(fresh) == 0 {
		return sorted
	}
	slices.Sort(fresh)
	out := make([]string, 0, len(sorted)+len(fresh))
	i, j := 0, 0
	for i < len(sorted) && j < len(fresh) {
		if sorted[i] < fresh[j] {
			out = append(out, sorted[i])
			i++
		} else {
			out = append(out, fresh[j])
			j++
		}
	}
	out = append(out, sorted[i:]...)
	return append(out, fresh[j:]...)
}

// compact renumbers the live documents and drops the dead ones from every posting list, and the
// terms left without a document.
func (m *Memory) compact() {
	renum := make([]uint32, len(m.docs))
	live := make([]memDoc, 0, len(m.docs)-m.dead)
	hot := make([]hotDoc, 0, len(m.docs)-m.dead)
	for i, d := range m.docs {
		if m.alive.has(uint32(i)) {
			renum[i] = uint32(len(live))
			live = append(live, d)
			hot = append(hot, m.hot[i])
		} else {
			renum[i] = math.MaxUint32
		}
	}
	rewrite := func(p *postings) bool {
		k := 0
		for i, d := range p.docs {
			if n := renum[d]; n != math.MaxUint32 {
				p.docs[k] = n
				if p.impacts != nil {
					p.impacts[k] = p.impacts[i]
				}
				k++
			}
		}
		p.docs = slices.Clip(p.docs[:k])
		if p.impacts != nil {
			p.impacts = slices.Clip(p.impacts[:k])
		}
		return k > 0
	}
	m.strs = map[string]string{} // only the strings of the live documents
	for i := range live {
		m.internDoc(&live[i].doc)
	}
	rewriteLists(m.text, rewrite)
	rewriteLists(m.plain, rewrite)
	rewriteLists(m.titleWords, rewrite)
	for _, values := range m.keyword {
		rewriteLists(values, rewrite)
	}
	for g := range m.plainTerms {
		m.plainTerms[g] = slices.DeleteFunc(m.plainTerms[g], func(t string) bool { return m.plain[plainKey{uint8(g), t}] == nil })
	}
	m.titleTerms = slices.DeleteFunc(m.titleTerms, func(t string) bool { return m.titleWords[t] == nil })
	m.docs, m.hot, m.dead = live, hot, 0
	m.alive = make(bitset, (len(live)+63)/64)
	for i, d := range live {
		m.byID[d.doc.ID] = uint32(i)
		m.alive.set(uint32(i))
	}
}

// Delete implements Index.
func (m *Memory) Delete(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil || id == "" {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if n, ok := m.byID[id]; ok {
		m.kill(n)
		m.settle()
	}
	return nil
}

// DeleteProgram implements Index.
func (m *Memory) DeleteProgram(ctx context.Context, programID string) error {
	if err := ctx.Err(); err != nil || programID == "" {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range m.docs {
		if d := &m.docs[i]; d.doc.ID == programID || d.doc.Type == TypeEpisode && d.doc.ProgramID == programID {
			m.kill(uint32(i)) // a dead document's Doc is empty: it never matches
		}
	}
	m.settle()
	return nil
}

// Reset implements Index.
func (m *Memory) Reset(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.clear()
	return nil
}

// Len returns the number of documents in the index.
func (m *Memory) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.docs) - m.dead
}

// bitset is a set of document numbers.
type bitset []uint64

func (b bitset) set(n uint32)      { b[n>>6] |= 1 << (n & 63) }
func (b bitset) unset(n uint32)    { b[n>>6] &^= 1 << (n & 63) }
func (b bitset) has(n uint32) bool { return b[n>>6]&(1<<(n&63)) != 0 }

// getBitset returns an empty bitset for the documents of the index.
func (m *Memory) getBitset() *bitset {
	words := (len(m.docs) + 63) / 64
	if b, ok := m.bitsets.Get().(*bitset); ok && cap(*b) >= words {
		*b = (*b)[:words]
		clear(*b)
		return b
	}
	b := make(bitset, words, words+words/4)
	return &b
}

// cursorList walks a posting list forward.
type cursorList struct {
	p   *postings
	pos int
}

// seek moves to the first document at or after n and reports whether it is n.
func (c *cursorList) seek(n uint32) bool {
	docs := c.p.docs
	i := c.pos
	if i < len(docs) && docs[i] < n {
		// Gallop, then search the last step.
		step := 1
		for i+step < len(docs) && docs[i+step] < n {
			i += step
			step *= 2
		}
		hi := min(i+step, len(docs))
		i += sort.Search(hi-i, func(k int) bool { return docs[i+k] >= n })
	}
	c.pos = i
	return i < len(docs) && docs[i] == n
}

// clause is what one word of the query needs of a document: every term of terms, or (for the
// last word) a plain word that starts with the prefix.
type clause struct {
	terms  []cursorList
	prefix []*postings
	// prefixSet holds the documents of prefix, when there is one.
	prefixSet *bitset
	size      int
	// score is the clause's score in the document of the last match.
	score uint32
}

// match reports whether document n satisfies the clause, and sets its score.
func (c *clause) match(n uint32) bool {
	c.score = 0
	exact := len(c.terms) > 0
	for i := range c.terms {
		t := &c.terms[i]
		if !t.seek(n) {
			exact = false
			break
		}
		c.score += t.p.impacts[t.pos]
	}
	if exact {
		return true
	}
	c.score = prefixImpact
	return c.prefixSet != nil && c.prefixSet.has(n)
}

// prefixLists returns the posting lists of the plain words of group g that start with prefix,
// the most frequent maxPrefixTerms of them, leaving out those whose documents all have the
// term of the list exact (the word's own term, when it has one: "cultures" and "culture" both
// stem to "cultur"), since their documents match the clause by the term already.
func (m *Memory) prefixLists(g uint8, prefix string, exact *postings) []*postings {
	terms := m.plainTerms[g]
	i := sort.SearchStrings(terms, prefix)
	var out []*postings
	for ; i < len(terms) && strings.HasPrefix(terms[i], prefix); i++ {
		p := m.plain[plainKey{g, terms[i]}]
		if exact != nil && p.stem != "" && m.text[textKey{g, p.stem}] == exact {
			continue
		}
		out = append(out, p)
	}
	if len(out) > maxPrefixTerms {
		slices.SortStableFunc(out, func(a, b *postings) int { return len(b.docs) - len(a.docs) })
		out = out[:maxPrefixTerms]
	}
	return out
}

// clauses returns the clauses of t in group g, and false when some clause cannot match.
func (m *Memory) clauses(g uint8, t textQuery) ([]*clause, bool) {
	group := groups[g]
	var cs []*clause
	for _, w := range t.head() {
		for _, term := range languageTerms(group, w) {
			p := m.text[textKey{g, term}]
			if p == nil {
				return nil, false
			}
			cs = append(cs, &clause{terms: []cursorList{{p: p}}, size: len(p.docs)})
		}
	}
	if last := t.last(); last != "" {
		c := &clause{}
		for _, term := range languageTerms(group, last) {
			p := m.text[textKey{g, term}]
			if p == nil {
				c.terms = nil
				break
			}
			c.terms = append(c.terms, cursorList{p: p})
		}
		if len(c.terms) > 0 {
			c.size = len(c.terms[0].p.docs)
			for _, t := range c.terms[1:] {
				c.size = min(c.size, len(t.p.docs))
			}
		}
		var exact *postings
		if len(c.terms) == 1 {
			exact = c.terms[0].p
		}
		c.prefix = m.prefixLists(g, t.prefix, exact)
		for _, p := range c.prefix {
			c.size += len(p.docs)
		}
		if c.size == 0 {
			return nil, false
		}
		cs = append(cs, c)
	}
	return cs, true
}

// filter is a query's filters, resolved to the index's value numbers.
type filter struct {
	keyword [numFacets]uint32 // 0: no filter on the facet
	// none reports a filter value that no document has.
	none bool
	// duration: only episodes of a known duration from durationMin to durationMax.
	duration                 bool
	durationMin, durationMax int32
	// from and to bound the publication time (unix microseconds, to excluded).
	from, to int64
}

func (m *Memory) newFilter(p *plan) filter {
	f := filter{from: math.MinInt64, to: math.MaxInt64}
	for k, v := range [numFacets]string{kCategory: p.Category, kLanguage: p.Language, kKind: p.Kind, kType: p.Type} {
		if v == "" {
			continue
		}
		id, ok := m.valueID[v]
		if !ok {
			f.none = true
		}
		f.keyword[k] = id
	}
	if p.DurationMin != nil || p.DurationMax != nil {
		f.duration, f.durationMin, f.durationMax = true, 1, math.MaxInt32
		if p.DurationMin != nil {
			f.durationMin = int32(min(max(*p.DurationMin, 1), math.MaxInt32))
		}
		if p.DurationMax != nil {
			f.durationMax = int32(min(*p.DurationMax, math.MaxInt32))
		}
	}
	if p.PublishedFrom != nil {
		f.from = p.PublishedFrom.UnixMicro()
	}
	if p.PublishedTo != nil {
		f.to = p.PublishedTo.UnixMicro()
	}
	return f
}

// keep reports whether a document passes the filters.
func (f *filter) keep(h *hotDoc) bool {
	for k, v := range f.keyword {
		if v != 0 && h.facet[k] != v {
			return false
		}
	}
	if f.duration && (h.duration < f.durationMin || h.duration > f.durationMax) {
		return false
	}
	return h.published >= f.from && h.published < f.to
}

// collector keeps the best hits of a page (a heap, worst on top) and counts facets.
type collector struct {
	p        *plan
	m        *Memory
	scored   bool
	k        int
	heap     []scoredDoc
	counts   [numFacets][]int64
	facets   [numFacets]bool
	anyFacet bool
}

type scoredDoc struct {
	n     uint32
	score float64
}

func newCollector(m *Memory, p *plan) *collector {
	c := &collector{p: p, m: m, scored: p.sort == SortRelevance, k: p.limit + 1}
	for _, f := range p.facets {
		k := slices.Index(facetNames, f)
		c.facets[k], c.anyFacet = true, true
		c.counts[k] = make([]int64, len(m.values))
	}
	return c
}

// before reports whether a ranks before b on the page.
func (c *collector) before(a, b scoredDoc) bool {
	if c.scored {
		if a.score != b.score {
			return a.score > b.score
		}
	} else if pa, pb := c.m.hot[a.n].published, c.m.hot[b.n].published; pa != pb {
		return pa > pb
	}
	return c.m.docs[a.n].doc.ID < c.m.docs[b.n].doc.ID
}

// afterCursor reports whether s comes after the previous page's last hit.
func (c *collector) afterCursor(s scoredDoc) bool {
	a := c.p.after
	if a == nil {
		return true
	}
	if c.scored {
		if s.score != a.Score {
			return s.score < a.Score
		}
	} else if pub := c.m.hot[s.n].published; pub != a.Published {
		return pub < a.Published
	}
	return c.m.docs[s.n].doc.ID > a.ID
}

// add collects a matching document.
func (c *collector) add(s scoredDoc, h *hotDoc) {
	if c.anyFacet {
		for k, on := range c.facets {
			if on {
				c.counts[k][h.facet[k]]++
			}
		}
	}
	if len(c.heap) == c.k && !c.before(s, c.heap[0]) || !c.afterCursor(s) {
		return
	}
	if len(c.heap) < c.k {
		c.heap = append(c.heap, s)
		c.up(len(c.heap) - 1)
		return
	}
	c.heap[0] = s
	c.down(0)
}

// The heap keeps the worst hit at the root: a parent ranks after its children.
func (c *collector) up(i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if !c.before(c.heap[parent], c.heap[i]) {
			return
		}
		c.heap[parent], c.heap[i] = c.heap[i], c.heap[parent]
		i = parent
	}
}

func (c *collector) down(i int) {
	for {
		worst := i
		for _, ch := range []int{2*i + 1, 2*i + 2} {
			if ch < len(c.heap) && c.before(c.heap[worst], c.heap[ch]) {
				worst = ch
			}
		}
		if worst == i {
			return
		}
		c.heap[i], c.heap[worst] = c.heap[worst], c.heap[i]
		i = worst
	}
}

// result returns the page and the facet counts.
func (c *collector) result() Result {
	slices.SortFunc(c.heap, func(a, b scoredDoc) int {
		if c.before(a, b) {
			return -1
		}
		return 1
	})
	hits := make([]Hit, len(c.heap))
	for i, s := range c.heap {
		hits[i] = Hit{Doc: c.m.docs[s.n].doc}
		if c.scored {
			hits[i].Score = s.score
		}
	}
	var facets map[string][]FacetCount
	for k, on := range c.facets {
		if !on {
			continue
		}
		if facets == nil {
			facets = map[string][]FacetCount{}
		}
		var fc []FacetCount
		for v, n := range c.counts[k] {
			if n > 0 && v != 0 {
				fc = append(fc, FacetCount{Value: c.m.values[v], Count: n})
			}
		}
		facets[facetNames[k]] = fc
	}
	return c.p.result(hits, facets)
}

// Search implements Index.
func (m *Memory) Search(ctx context.Context, q Query) (Result, error) {
	p, err := newPlan(q, m.now())
	if err != nil {
		return Result{}, err
	}
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	if p.matchesNothing() {
		return p.result(nil, nil), nil
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	c := newCollector(m, p)
	f := m.newFilter(p)
	if f.none {
		return c.result(), nil
	}
	if p.text.empty() {
		m.browse(c, &f)
		return c.result(), nil
	}
	gs := []uint8{0, 1, 2}
	if p.Language != "" {
		gs = []uint8{groupNumber(languageGroup(p.Language))}
	}
	for _, g := range gs {
		m.searchGroup(c, &f, g)
	}
	if len(c.heap) == 0 {
		// Nothing found: try once more with the words the index does not know corrected (see
		// typo.go).
		if t, ok := m.correct(p.text, gs); ok {
			p.text = t
			c = newCollector(m, p)
			for _, g := range gs {
				m.searchGroup(c, &f, g)
			}
		}
	}
	return c.result(), nil
}

// correct returns t with each word that no document of the groups gs has replaced by the word
// of those groups one edit away that the most documents have (ties: the first in byte order), and
// reports whether it replaced any. A word counts the documents that have it with an English
// possessive too (gutenberg finds gutenberg's), as PostgreSQL's parser and the analysed terms see it.
func (m *Memory) correct(t textQuery, gs []uint8) (textQuery, bool) {
	docs := func(w string, possessive bool) int {
		n := 0
		for _, g := range gs {
			if p := m.plain[plainKey{g, w}]; p != nil {
				n += len(p.docs)
			}
			if !possessive {
				continue
			}
			if p := m.plain[plainKey{g, w + "'s"}]; p != nil {
				n += len(p.docs)
			}
		}
		return n
	}
	fix := map[int]string{}
	for _, i := range typoWords(t, func(w string) bool { return docs(w, false) > 0 }) {
		best, bestN := "", 0
		for _, v := range editVariants(t.words[i]) {
			if n := docs(v, true); n > bestN || n == bestN && n > 0 && v < best {
				best, bestN = v, n
			}
		}
		if bestN > 0 {
			fix[i] = best
		}
	}
	if len(fix) == 0 {
		return t, false
	}
	return t.withCorrections(fix), true
}

// browse collects every live document that passes the filters, walking the shortest posting
// list of a keyword filter when there is one.
func (m *Memory) browse(c *collector, f *filter) {
	var driver *postings
	for k, v := range f.keyword {
		if v == 0 {
			continue
		}
		p := m.keyword[k][v]
		if p == nil {
			return
		}
		if driver == nil || len(p.docs) < len(driver.docs) {
			driver = p
		}
	}
	visit := func(n uint32) {
		if h := &m.hot[n]; m.alive.has(n) && f.keep(h) {
			c.add(scoredDoc{n: n}, h)
		}
	}
	if driver != nil {
		for _, n := range driver.docs {
			visit(n)
		}
		return
	}
	for n := range m.docs {
		visit(uint32(n))
	}
}

// denseShare is the share of the index's documents (1/denseShare) above which the posting lists
// of a search are walked whole (see searchDense) instead of sought through.
const denseShare = 16

// searchGroup collects the documents of language group g that match the text and the filters.
func (m *Memory) searchGroup(c *collector, f *filter, g uint8) {
	clauses, ok := m.clauses(g, c.p.text)
	if !ok || len(clauses) == 0 {
		return
	}
	driver := clauses[0]
	total, single := 0, true
	for _, cl := range clauses {
		if cl.size < driver.size {
			driver = cl
		}
		total += cl.size
		single = single && len(cl.terms) <= 1
	}
	if single && m.denseShare > 0 && total > len(m.docs)/m.denseShare {
		m.searchDense(c, f, clauses, driver)
		return
	}
	var release []*bitset
	defer func() {
		for _, b := range release {
			m.bitsets.Put(b)
		}
	}()
	for _, cl := range clauses {
		if len(cl.prefix) == 0 {
			continue
		}
		b := m.getBitset()
		release = append(release, b)
		for _, p := range cl.prefix {
			for _, n := range p.docs {
				b.set(n)
			}
		}
		cl.prefixSet = b
	}
	visit := func(n uint32) {
		if !m.alive.has(n) {
			return
		}
		// Every clause first, on the posting lists only; the document after.
		var score uint32
		for _, cl := range clauses {
			if !cl.match(n) {
				return
			}
			score += cl.score
		}
		c.collect(n, score, f)
	}
	// The candidates: the documents of the driver's shortest term list or, when it has a prefix,
	// of the bitset of its terms and prefix.
	if driver.prefixSet == nil {
		shortest := driver.terms[0].p
		for _, t := range driver.terms[1:] {
			if len(t.p.docs) < len(shortest.docs) {
				shortest = t.p
			}
		}
		for _, n := range shortest.docs {
			visit(n)
		}
		return
	}
	cand := m.getBitset()
	release = append(release, cand)
	copy(*cand, *driver.prefixSet)
	for _, t := range driver.terms {
		for _, n := range t.p.docs {
			cand.set(n)
		}
	}
	forEachBit(*cand, visit)
}

// forEachBit calls fn with every number in b, in ascending order.
func forEachBit(b bitset, fn func(n uint32)) {
	for i, w := range b {
		for w != 0 {
			fn(uint32(i*64 + bits.TrailingZeros64(w)))
			w &= w - 1
		}
	}
}

// scratch is the per-document state of a dense search: for each document, the sum of the impacts
// met and a mask of the clauses met (bit 2i: clause i by its term, bit 2i+1: by its prefix), valid
// when its gen is the scratch's gen. A search starts by moving gen on instead of clearing the
// arrays (two arrays of 4 bytes per document were cleared per search: 8 MB over a million
// documents, which with the full scan below made the dense searches bound by memory bandwidth).
// One entry per document keeps the three in one cache line.
type scratch struct {
	e   []scratchEntry
	gen uint32
}

type scratchEntry struct {
	gen, mask, score uint32
}

// searchDense is searchGroup for searches whose words are in many documents, each clause with at
// most one term: it walks every posting list once from start to end, adding impacts and clause
// bits per document into scratch arrays, and then checks the driver's documents there. Walking a
// list is cheaper than seeking through it when most of its documents are candidates. The walked
// driver is the shortest clause without a prefix (its documents are the candidates, its impacts
// read from its list); only when every clause has a prefix are all documents scanned.
func (m *Memory) searchDense(c *collector, f *filter, clauses []*clause, driver *clause) {
	sc, ok := m.scratches.Get().(*scratch)
	if !ok || len(sc.e) < len(m.docs) {
		sc = &scratch{e: make([]scratchEntry, len(m.docs)+len(m.docs)/8)}
	}
	defer m.scratches.Put(sc)
	if sc.gen++; sc.gen == 0 { // wrapped: entries of an old search could pass for this one's
		clear(sc.e)
		sc.gen = 1
	}
	gen, entries := sc.gen, sc.e[:len(m.docs)]
	if len(driver.prefix) > 0 {
		for _, cl := range clauses {
			if len(cl.prefix) == 0 && (driver == nil || len(driver.prefix) > 0 || cl.size < driver.size) {
				driver = cl
			}
		}
	}
	walkDriver := len(driver.prefix) == 0
	var need uint32 // the bits of the other clauses without a prefix
	for i, cl := range clauses {
		if walkDriver && cl == driver {
			continue
		}
		bit := uint32(1) << (2 * i)
		if len(cl.terms) == 1 {
			p := cl.terms[0].p
			for j, n := range p.docs {
				e := &entries[n]
				if e.gen != gen {
					*e = scratchEntry{gen: gen}
				}
				e.score += p.impacts[j]
				e.mask |= bit
			}
		}
		if len(cl.prefix) == 0 {
			need |= bit
		}
		for _, p := range cl.prefix {
			for _, n := range p.docs {
				e := &entries[n]
				if e.gen != gen {
					*e = scratchEntry{gen: gen}
				}
				e.mask |= bit << 1
			}
		}
	}
	last := len(clauses) - 1
	lastExact, lastPrefix := uint32(1)<<(2*last), uint32(1)<<(2*last+1)
	withPrefix := len(clauses[last].prefix) > 0
	visit := func(n, s uint32) {
		e := entries[n]
		if e.gen != gen {
			e = scratchEntry{}
		}
		mk := e.mask
		if mk&need != need || !m.alive.has(n) {
			return
		}
		s += e.score
		if withPrefix && mk&lastExact == 0 {
			if mk&lastPrefix == 0 {
				return
			}
			s += prefixImpact // the last clause matched by its prefix only
		}
		c.collect(n, s, f)
	}
	if walkDriver {
		p := driver.terms[0].p
		for j, n := range p.docs {
			visit(n, p.impacts[j])
		}
		return
	}
	for n := range entries {
		if entries[n].gen == gen {
			visit(uint32(n), 0)
		}
	}
}

// collect adds document n, which matches the text with text score s, when it passes the
// filters, with its rank factors applied. When the page is full and no facet is counted, a
// document whose score cannot reach the page is left before its rank factors are read: most
// are, and reading them is what costs (a cache miss per document).
func (c *collector) collect(n uint32, text uint32, f *filter) {
	s := float64(text) / impactScale
	if c.scored && !c.anyFacet && len(c.heap) == c.k &&
		s*(1+freshnessWeight)*c.m.maxPopularity < c.heap[0].score {
		return
	}
	h := &c.m.hot[n]
	if !f.keep(h) {
		return
	}
	score := 0.0
	if c.scored {
		score = s * freshnessFactor(h.published, c.p.now) * h.popularity
	}
	c.add(scoredDoc{n: n, score: score}, h)
}

// Suggest implements Index.
func (m *Memory) Suggest(ctx context.Context, prefix, language string, limit int) ([]Suggestion, error) {
	r, err := newSuggestRequest(prefix, language, limit)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(r.words) == 0 {
		return []Suggestion{}, nil
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	var lang uint32
	if r.language != "" {
		id, ok := m.valueID[r.language]
		if !ok {
			return []Suggestion{}, nil
		}
		lang = id
	}
	// Candidates: the titles with the last word as a prefix of one of their words; the other
	// words are checked on each title.
	last := r.words[len(r.words)-1]
	cand := m.getBitset()
	defer m.bitsets.Put(cand)
	i := sort.SearchStrings(m.titleTerms, last)
	for ; i < len(m.titleTerms) && strings.HasPrefix(m.titleTerms[i], last); i++ {
		for _, n := range m.titleWords[m.titleTerms[i]].docs {
			cand.set(n)
		}
	}
	type found struct {
		d      *memDoc
		h      *hotDoc
		starts bool
	}
	better := func(a, b found) bool {
		if a.starts != b.starts {
			return a.starts
		}
		if a.d.doc.Popularity != b.d.doc.Popularity {
			return a.d.doc.Popularity > b.d.doc.Popularity
		}
		if a.h.published != b.h.published {
			return a.h.published > b.h.published
		}
		return a.d.doc.ID < b.d.doc.ID
	}
	var best []found
	for wi, w := range *cand {
		for w != 0 {
			n := uint32(wi*64 + bits.TrailingZeros64(w))
			w &= w - 1
			d := &m.docs[n]
			if !m.alive.has(n) || lang != 0 && m.hot[n].facet[kLanguage] != lang || !hasWords(d.titleKey, r.words[:len(r.words)-1]) {
				continue
			}
			fd := found{d: d, h: &m.hot[n], starts: strings.HasPrefix(d.titleKey, r.startsWith)}
			if len(best) == r.limit && !better(fd, best[len(best)-1]) {
				continue
			}
			at, _ := slices.BinarySearchFunc(best, fd, func(a, b found) int {
				if better(a, b) {
					return -1
				}
				return 1
			})
			best = slices.Insert(best, at, fd)
			if len(best) > r.limit {
				best = best[:r.limit]
			}
		}
	}
	out := make([]Suggestion, len(best))
	for i, b := range best {
		out[i] = Suggestion{Text: b.d.doc.Title, Type: b.d.doc.Type, ID: b.d.doc.ID, Language: b.d.doc.Language}
	}
	return out, nil
}

// hasWords reports whether the normalised title has every one of words as a whole word.
func hasWords(title string, words []string) bool {
	for _, w := range words {
		found := false
		for t := range strings.FieldsSeq(title) {
			if t == w {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
