package index

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/blevesearch/bleve/v2/analysis"
	"github.com/blevesearch/bleve/v2/analysis/lang/ar"
	"github.com/blevesearch/bleve/v2/analysis/lang/en"
	"github.com/blevesearch/bleve/v2/analysis/token/stop"
	"golang.org/x/text/unicode/norm"
)

// Text analysis happens in two stages, shared by both implementations:
//
//  1. Word normalisation (normalizeWords), the same for every language and every backend: the
//     text is split into words (runs of letters, digits and combining marks, with apostrophes
//     inside a word kept), each word is NFKC-normalised and lowercased, Arabic diacritics,
//     tatweel and Quranic marks are removed, alef forms become bare alef, hamza on waw or ya
//     becomes hamza on the line (مسؤول and مسئول are one word), alef maqsura becomes ya, ta
//     marbuta becomes ha, Arabic-Indic digits become ASCII digits, and a leading definite
//     article with its attached particle (ال وال بال كال فال لل ولل) is removed, or else a
//     leading conjunction و from a word of four letters or more. Both
//     implementations run it in Go (the Postgres one hands the result to PostgreSQL).
//  2. Language analysis of the normalised words: stop words and stemming. The in-memory index
//     does it with the token filters of languageFilters, from bleve's analysis packages (Arabic:
//     stop words and light suffix stemming; English: possessive, stop words, Snowball stemming;
//     other languages: nothing); PostgreSQL does it with its `arabic`, `english` and `simple`
//     text search configurations.
//
// A word is normalised exactly once: stage 1 is not idempotent (stripping ال twice would eat
// the ال of a word such as الالعاب), so stage 2 never repeats it.

// Language groups: every document is analysed by the group of its language.
const (
	groupArabic   = "ar"
	groupEnglish  = "en"
	groupStandard = "std"
)

// groups lists the language groups in a fixed order.
var groups = []string{groupArabic, groupEnglish, groupStandard}

// languageGroup returns the analysis group of an ISO 639-1 language code.
func languageGroup(language string) string {
	switch language {
	case "ar":
		return groupArabic
	case "en":
		return groupEnglish
	default:
		return groupStandard
	}
}

// maxWordRunes bounds the length of a normalised word; longer words are cut. It keeps every
// term well inside PostgreSQL's tsvector limit (2047 bytes a lexeme).
const maxWordRunes = 64

// maxQueryWords bounds how many words of a query take part in matching.
const maxQueryWords = 16

// Arabic letters and marks that normalisation maps or removes.
const (
	alef            = 'ا'
	alefMadda       = 'آ'
	alefHamzaAbove  = 'أ'
	alefHamzaBelow  = 'إ'
	alefWasla       = 'ٱ'
	alefWavyHamza   = 'ٲ'
	alefWavyHamzaLo = 'ٳ'
	alefMaqsura     = 'ى'
	yeh             = 'ي'
	tehMarbuta      = 'ة'
	heh             = 'ه'
	tatweel         = 'ـ'
	hamza           = 'ء'
	wawHamza        = 'ؤ'
	yehHamza        = 'ئ'
	waw             = 'و'
)

// arabicArticles are the prefixes stripped from Arabic words, longest first: the definite
// article ال alone and with an attached conjunction or preposition (و، ب، ك، ف), لل and ولل.
// When none of them starts a word, a conjunction و alone is stripped from a word of at least four
// letters (as Lucene's Arabic stemmer does) unless ال follows it: وقرطبة is قرطبة, but ورد,
// وطن and والد stay whole.
var arabicArticles = [][]rune{
	[]rune("ولل"), []rune("وال"), []rune("بال"), []rune("كال"), []rune("فال"),
	[]rune("لل"), []rune("ال"),
}

// minWawWord is the length, in letters, from which a leading و is taken for the conjunction.
const minWawWord = 4

// arabicSuffixes are the suffixes the light stemmer removes, in order, each at most once. They
// are in normalised form (ta marbuta is already ha).
var arabicSuffixes = [][]rune{
	[]rune("ها"), []rune("ان"), []rune("ات"), []rune("ون"), []rune("ين"),
	[]rune("يه"), []rune("ه"), []rune("ي"),
}

// isArabicMark reports whether r is an Arabic diacritic, tatweel or Quranic annotation mark,
// which normalisation removes.
func isArabicMark(r rune) bool {
	switch {
	case r == tatweel:
		return true
	case r >= 0x064B && r <= 0x065F: // tanween, harakat, shadda, sukun, maddah, hamza marks
		return true
	case r == 0x0670: // superscript alef
		return true
	case r >= 0x0610 && r <= 0x061A: // honorifics and small high letters
		return true
	case r >= 0x06D6 && r <= 0x06DC, r >= 0x06DF && r <= 0x06E8, r >= 0x06EA && r <= 0x06ED: // Quranic marks
		return true
	}
	return false
}

// isApostrophe reports whether r is an apostrophe that may join the parts of a word (don't,
// children's).
func isApostrophe(r rune) bool {
	return r == '\'' || r == '’' || r == '＇'
}

// isWordRune reports whether r belongs to a word: a letter, a digit or a combining mark (so
// that Arabic diacritics stay inside their word).
func isWordRune(r rune) bool {
	switch {
	case r < utf8.RuneSelf:
		return 'a' <= r|0x20 && r|0x20 <= 'z' || '0' <= r && r <= '9'
	case r >= 0x0621 && r <= 0x064A: // the Arabic letters (and tatweel)
		return true
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)
}

// forEachWord calls fn with the byte offsets of every word of s: a maximal run of word runes,
// where an apostrophe between two word runes is part of the word. Invalid UTF-8 separates words.
func forEachWord(s string, fn func(start, end int)) {
	start := -1
	for i := 0; i < len(s); {
		r, size := rune(s[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(s[i:])
		}
		word := r != utf8.RuneError && isWordRune(r)
		if !word && start >= 0 && isApostrophe(r) && i+size < len(s) {
			next, _ := utf8.DecodeRuneInString(s[i+size:])
			word = next != utf8.RuneError && isWordRune(next)
		}
		switch {
		case word && start < 0:
			start = i
		case !word && start >= 0:
			fn(start, i)
			start = -1
		}
		i += size
	}
	if start >= 0 {
		fn(start, len(s))
	}
}

// normalizeWords appends the normalised words of s to dst (stage 1, see the top of this file).
func normalizeWords(dst []string, s string) []string {
	forEachWord(s, func(start, end int) {
		dst = appendNormalizedWord(dst, s[start:end], 2)
	})
	return dst
}

// appendNormalizedWord normalises one word and appends the result to dst: none (a word of
// marks only), one, or several (NFKC turns some ligatures into several words). An article is
// stripped only when at least minStem runes remain.
func appendNormalizedWord(dst []string, word string, minStem int) []string {
	if !norm.NFKC.IsNormalString(word) {
		word = norm.NFKC.String(word)
	}
	forEachWord(word, func(start, end int) {
		if w := normalizeArabic(word[start:end], minStem); w != "" {
			dst = append(dst, w)
		}
	})
	return dst
}

// normalizeArabic lowercases w, applies the Arabic character normalisation, strips an Arabic
// article when at least minStem runes remain and cuts the word to maxWordRunes.
func normalizeArabic(w string, minStem int) string {
	runes := make([]rune, 0, len(w))
	for _, r := range w {
		if isArabicMark(r) {
			continue
		}
		switch {
		case r == alefMadda || r == alefHamzaAbove || r == alefHamzaBelow || r == alefWasla || r == alefWavyHamza || r == alefWavyHamzaLo:
			r = alef
		case r == alefMaqsura:
			r = yeh
		case r == wawHamza || r == yehHamza:
			r = hamza
		case r == tehMarbuta:
			r = heh
		case r >= '٠' && r <= '٩':
			r = '0' + (r - '٠')
		case r >= '۰' && r <= '۹':
			r = '0' + (r - '۰')
		default:
			r = unicode.ToLower(r)
		}
		runes = append(runes, r)
	}
	runes = stripArticle(runes, minStem)
	if len(runes) > maxWordRunes {
		runes = runes[:maxWordRunes]
	}
	return string(runes)
}

// stripArticle removes the first of arabicArticles that w starts with, if at least minStem
// runes remain, or else a conjunction و from a word of at least minWawWord runes.
func stripArticle(w []rune, minStem int) []rune {
	for _, p := range arabicArticles {
		if len(w)-len(p) >= minStem && hasRunePrefix(w, p) {
			return w[len(p):]
		}
	}
	if len(w) >= minWawWord && w[0] == waw && !hasRunePrefix(w[1:], arabicArticles[len(arabicArticles)-1]) {
		return w[1:] // not before ال: والد is a word, not و and الد
	}
	return w
}

func hasRunePrefix(w, p []rune) bool {
	if len(w) < len(p) {
		return false
	}
	for i := range p {
		if w[i] != p[i] {
			return false
		}
	}
	return true
}

// stemArabic removes common Arabic suffixes (light stemming): each of arabicSuffixes, in
// order, at most once, as long as two runes remain.
func stemArabic(w []rune) []rune {
	for _, s := range arabicSuffixes {
		if len(w)-len(s) >= 2 && hasRunePrefix(w[len(w)-len(s):], s) {
			w = w[:len(w)-len(s)]
		}
	}
	return w
}

// arabicStemFilter is the bleve token filter of Arabic light stemming, broken plurals of the
// lexicon to their singular (see lexicon.go).
type arabicStemFilter struct{}

// Filter implements analysis.TokenFilter.
func (arabicStemFilter) Filter(input analysis.TokenStream) analysis.TokenStream {
	for _, t := range input {
		t.Term = []byte(arabicStem(string(t.Term)))
	}
	return input
}

// arabicStopWords returns bleve's Arabic stop word list in normalised form, so that it
// applies after normalisation.
func arabicStopWords() analysis.TokenMap {
	raw := analysis.NewTokenMap()
	if err := raw.LoadBytes(ar.ArabicStopWords); err != nil {
		panic("index: load Arabic stop words: " + err.Error())
	}
	words := analysis.NewTokenMap()
	for w := range raw {
		for _, n := range normalizeWords(nil, w) {
			words.AddToken(n)
		}
	}
	return words
}

// englishStopWords returns bleve's English stop word list.
func englishStopWords() analysis.TokenMap {
	words := analysis.NewTokenMap()
	if err := words.LoadBytes(en.EnglishStopWords); err != nil {
		panic("index: load English stop words: " + err.Error())
	}
	return words
}

// languageFilters holds the stage 2 token filters of each language group, and "" for the
// plain analysis (stage 1 only).
var languageFilters = map[string][]analysis.TokenFilter{
	groupArabic: {
		stop.NewStopTokensFilter(arabicStopWords()),
		arabicStemFilter{},
	},
	groupEnglish: {
		en.NewPossessiveFilter(),
		stop.NewStopTokensFilter(englishStopWords()),
		englishSingularFilter{},
		en.NewEnglishStemmerFilter(),
	},
	groupStandard: nil,
}

// languageTerms returns the terms that the analysis of group makes of an already normalised
// word: none for a stop word, usually one.
func languageTerms(group, word string) []string {
	stream := analysis.TokenStream{{Term: []byte(word), Position: 1, End: len(word)}}
	for _, f := range languageFilters[group] {
		stream = f.Filter(stream)
	}
	terms := make([]string, 0, len(stream))
	for _, t := range stream {
		if len(t.Term) > 0 {
			terms = append(terms, string(t.Term))
		}
	}
	return terms
}

// isBareArticle reports whether the normalised word w is an Arabic article alone, as typed
// before the word it belongs to.
func isBareArticle(w string) bool {
	for _, p := range arabicArticles {
		if w == string(p) {
			return true
		}
	}
	return false
}

// textQuery is the analysed text of a search: the normalised words that must all match (each
// in the analysis of the document's language) and, for as-you-type search, the last word as a
// prefix.
type textQuery struct {
	// words are the normalised words, at most maxQueryWords. When prefix is set, the last of
	// them is the last word of the query and may match either as a word or through prefix.
	words []string
	// prefix is the last word normalised for prefix matching (an article is stripped as soon
	// as one rune remains, so الص already looks for ص…), or "" when the last word is a single
	// rune, too short to expand.
	prefix string
}

// parseText analyses the text of a query. Text without any word gives an empty textQuery.
func parseText(text string) textQuery {
	var raw []string
	forEachWord(text, func(start, end int) { raw = append(raw, text[start:end]) })
	var q textQuery
	for i, w := range raw {
		if i == len(raw)-1 && utf8.RuneCountInString(w) >= 2 {
			p := appendNormalizedWord(nil, w, 1)
			if len(p) == 1 && isBareArticle(p[0]) {
				break // the user has typed the article of the next word only
			}
			q.words = appendNormalizedWord(q.words, w, 2)
			if len(p) > 0 {
				q.prefix = p[len(p)-1]
			}
			break
		}
		q.words = appendNormalizedWord(q.words, w, 2)
	}
	if len(q.words) > maxQueryWords {
		// Keep the first words and the last one, which carries the prefix.
		q.words = append(q.words[:maxQueryWords-1], q.words[len(q.words)-1])
	}
	if len(q.words) == 0 {
		q.prefix = ""
	}
	return q
}

// empty reports whether the query has no word to match.
func (q textQuery) empty() bool { return len(q.words) == 0 }

// head returns the words that must match as whole words: all of them, or all but the last when
// the last one may match as a prefix.
func (q textQuery) head() []string {
	if q.prefix != "" {
		return q.words[:len(q.words)-1]
	}
	return q.words
}

// last returns the last word when it may match as a prefix, or "".
func (q textQuery) last() string {
	if q.prefix != "" {
		return q.words[len(q.words)-1]
	}
	return ""
}

// normalizedText returns the normalised words of s joined by single spaces: the form in which
// text reaches PostgreSQL and the keyword form of titles for suggestions.
func normalizedText(s string) string {
	return strings.Join(normalizeWords(nil, s), " ")
}
