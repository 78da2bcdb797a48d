package index

import (
	"html"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// Snippet sizes.
const (
	// snippetRunes is about how many characters of text a snippet shows.
	snippetRunes = 160
	// snippetLeadWords is how many words a snippet shows before the first match.
	snippetLeadWords = 6
	// snippetMaxRunes bounds the length of a snippet with its markup (the API allows 1000).
	snippetMaxRunes = 1000
)

const (
	markOpen  = "<mark>"
	markClose = "</mark>"
	ellipsis  = "…"
)

// matcher tells which words of a text match a query, as the index analyses them: a word
// matches when one of its terms, in the analysis of the document's language, is a term of a
// query word, or when its normalised form starts with the query's prefix.
type matcher struct {
	terms  map[string]map[string]bool // language group -> query terms
	prefix string
	// seen remembers the answer for each word met, per language group, as the words of a page
	// repeat.
	seen map[string]map[string]bool
	// spans and matched are excerpt's buffers.
	spans   []wordSpan
	matched []bool
}

// newMatcher returns the matcher of q.
func newMatcher(q textQuery) *matcher {
	m := &matcher{terms: make(map[string]map[string]bool, len(groups)), prefix: q.prefix, seen: map[string]map[string]bool{}}
	for _, g := range groups {
		set := map[string]bool{}
		for _, w := range q.words {
			for _, t := range languageTerms(g, w) {
				set[t] = true
			}
		}
		m.terms[g] = set
	}
	return m
}

// matches reports whether the raw word (as it stands in the text) matches, in the analysis of
// language group.
func (m *matcher) matches(group, raw string) bool {
	seen := m.seen[group]
	if seen == nil {
		seen = map[string]bool{}
		m.seen[group] = seen
	}
	v, ok := seen[raw]
	if !ok {
		v = m.match(group, raw)
		seen[raw] = v
	}
	return v
}

func (m *matcher) match(group, raw string) bool {
	a := analyseWord(group, raw)
	if m.prefix != "" {
		for _, w := range a.words {
			if strings.HasPrefix(w, m.prefix) {
				return true
			}
		}
	}
	for _, t := range a.terms {
		if m.terms[group][t] {
			return true
		}
	}
	return false
}

// analysed is a word of a text as the index analyses it in a language group: its normalised
// forms and their terms.
type analysed struct {
	words, terms []string
}

// wordCache remembers the analysis of the words that snippets meet, per language group, across
// searches, since the words of a corpus repeat: it holds at most wordCacheSize words a group,
// and starts again when full.
var wordCache = struct {
	sync.RWMutex
	m map[string]map[string]analysed
}{m: map[string]map[string]analysed{}}

const wordCacheSize = 1 << 16

// analyseWord returns the analysis of the raw word in group.
func analyseWord(group, raw string) analysed {
	wordCache.RLock()
	a, ok := wordCache.m[group][raw]
	wordCache.RUnlock()
	if ok {
		return a
	}
	a.words = appendNormalizedWord(nil, raw, 2)
	for _, w := range a.words {
		a.terms = append(a.terms, languageTerms(group, w)...)
	}
	wordCache.Lock()
	words := wordCache.m[group]
	if words == nil || len(words) >= wordCacheSize {
		words = make(map[string]analysed, 1024)
		wordCache.m[group] = words
	}
	words[strings.Clone(raw)] = a // not a slice of the document's text
	wordCache.Unlock()
	return a
}

// withSnippets sets the Snippet of every hit when the query has text.
func (p *plan) withSnippets(hits []Hit) []Hit {
	if p.text.empty() {
		return hits
	}
	m := newMatcher(p.text)
	for i := range hits {
		hits[i].Snippet = snippet(&hits[i].Doc, m)
	}
	return hits
}

// snippet returns the excerpt of the summary around its first match, else the title if it
// matches, else the beginning of the summary; "" when the summary is empty and the title does
// not match.
func snippet(d *Doc, m *matcher) string {
	group := languageGroup(d.Language)
	if s, ok := excerpt(d.Summary, group, m, true); ok {
		return s
	}
	if s, ok := excerpt(d.Title, group, m, true); ok {
		return s
	}
	s, _ := excerpt(d.Summary, group, m, false)
	return s
}

// wordSpan is the byte range of a word in a text.
type wordSpan struct{ start, end int }

// excerpt returns an HTML excerpt of text with its matching words marked. With needMatch it
// starts a few words before the first match and reports false when nothing matches; otherwise
// it starts at the beginning.
func excerpt(text, group string, m *matcher, needMatch bool) (string, bool) {
	spans := m.spans[:0]
	forEachWord(text, func(start, end int) { spans = append(spans, wordSpan{start, end}) })
	m.spans = spans
	if len(spans) == 0 {
		return "", false
	}
	matched := slices.Grow(m.matched[:0], len(spans))[:len(spans)]
	clear(matched)
	m.matched = matched
	first := -1
	for i, sp := range spans {
		if m.matches(group, text[sp.start:sp.end]) {
			matched[i] = true
			if first < 0 {
				first = i
			}
		}
	}
	if needMatch && first < 0 {
		return "", false
	}
	from := 0
	if needMatch {
		from = max(0, first-snippetLeadWords)
	}
	var b strings.Builder
	b.Grow(2 * snippetRunes)
	visible, out := 0, 0
	if from > 0 {
		b.WriteString(ellipsis)
		out++
	}
	pos := 0
	if from > 0 {
		pos = spans[from].start
	}
	for i := from; i < len(spans); i++ {
		gap := ""
		if i > from || from == 0 {
			gap = collapseSpace(text[pos:spans[i].start])
		}
		word := text[spans[i].start:spans[i].end]
		escGap, escWord := html.EscapeString(gap), html.EscapeString(word)
		shown := utf8.RuneCountInString(gap) + utf8.RuneCountInString(word)
		n := utf8.RuneCountInString(escGap) + utf8.RuneCountInString(escWord)
		if matched[i] {
			n += len(markOpen) + len(markClose)
		}
		if i > from && (visible+shown > snippetRunes || out+n+1 > snippetMaxRunes) {
			b.WriteString(ellipsis)
			return b.String(), true
		}
		if out+n+1 > snippetMaxRunes { // a single giant word: show a part of it, unmarked
			b.WriteString(truncateRunes(escWord, snippetMaxRunes-out-1))
			b.WriteString(ellipsis)
			return b.String(), true
		}
		b.WriteString(escGap)
		if matched[i] {
			b.WriteString(markOpen)
			b.WriteString(escWord)
			b.WriteString(markClose)
		} else {
			b.WriteString(escWord)
		}
		visible += shown
		out += n
		pos = spans[i].end
	}
	tail := html.EscapeString(strings.TrimRightFunc(collapseSpace(text[pos:]), unicode.IsSpace))
	if out+utf8.RuneCountInString(tail) <= snippetMaxRunes {
		b.WriteString(tail)
	}
	return strings.TrimLeftFunc(b.String(), unicode.IsSpace), true
}

// collapseSpace replaces each run of white space in s by one space.
func collapseSpace(s string) string {
	if s == " " || !strings.ContainsFunc(s, unicode.IsSpace) {
		return s
	}
	var b strings.Builder
	space := false
	for _, r := range s {
		if unicode.IsSpace(r) {
			if !space {
				b.WriteByte(' ')
			}
			space = true
			continue
		}
		space = false
		b.WriteRune(r)
	}
	return b.String()
}

// truncateRunes returns the first n runes of s, not cutting an HTML entity of escaped text.
func truncateRunes(s string, n int) string {
	if n <= 0 {
		return ""
	}
	i := 0
	for j := range s {
		if i == n {
			cut := s[:j]
			if amp := strings.LastIndexByte(cut, '&'); amp >= 0 && !strings.Contains(cut[amp:], ";") {
				cut = cut[:amp]
			}
			return cut
		}
		i++
	}
	return s
}
