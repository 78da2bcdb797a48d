package index

import (
	"html"
	"strings"
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
	// seen remembers the answer for each word met, as the words of a page repeat.
	seen map[matchKey]bool
}

type matchKey struct{ group, raw string }

// newMatcher returns the matcher of q.
func newMatcher(q textQuery) *matcher {
	m := &matcher{terms: make(map[string]map[string]bool, len(groups)), prefix: q.prefix, seen: map[matchKey]bool{}}
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
	k := matchKey{group, raw}
	if v, ok := m.seen[k]; ok {
		return v
	}
	v := m.match(group, raw)
	m.seen[k] = v
	return v
}

func (m *matcher) match(group, raw string) bool {
	for _, w := range appendNormalizedWord(nil, raw, 2) {
		if m.prefix != "" && strings.HasPrefix(w, m.prefix) {
			return true
		}
		for _, t := range languageTerms(group, w) {
			if m.terms[group][t] {
				return true
			}
		}
	}
	return false
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
	var spans []wordSpan
	forEachWord(text, func(start, end int) { spans = append(spans, wordSpan{start, end}) })
	if len(spans) == 0 {
		return "", false
	}
	matched := make([]bool, len(spans))
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
		gap := collapseSpace(text[pos:spans[i].start])
		if i == from && from > 0 {
			gap = ""
		}
		word := text[spans[i].start:spans[i].end]
		seg := html.EscapeString(gap)
		if matched[i] {
			seg += markOpen + html.EscapeString(word) + markClose
		} else {
			seg += html.EscapeString(word)
		}
		n := utf8.RuneCountInString(seg)
		if i > from && (visible+utf8.RuneCountInString(gap+word) > snippetRunes || out+n+1 > snippetMaxRunes) {
			b.WriteString(ellipsis)
			return b.String(), true
		}
		if out+n+1 > snippetMaxRunes { // a single giant word: show a part of it, unmarked
			b.WriteString(truncateRunes(html.EscapeString(word), snippetMaxRunes-out-1))
			b.WriteString(ellipsis)
			return b.String(), true
		}
		b.WriteString(seg)
		visible += utf8.RuneCountInString(gap + word)
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
	if !strings.ContainsFunc(s, unicode.IsSpace) {
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
