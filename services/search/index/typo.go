package index

import (
	"slices"
	"unicode/utf8"
)

// Typo tolerance. A search whose text finds nothing at all is tried once more with its words
// corrected: each word of at least minTypoRunes letters that the index does not hold as a word
// (the normalised, unstemmed words of every document) is replaced by the most frequent word the
// index holds one edit away (a letter deleted, inserted, replaced, or two neighbours swapped), the
// first maxTypoWords such words at most. A query that finds something is never corrected, so exact
// searches keep their results and their cost. Every engine does it the same way, each with its own
// means: the in-memory index looks the candidate words up in its word lists, PostgreSQL counts the
// documents of each candidate among the unstemmed words of the tsvector (weight D), OpenSearch asks
// a term suggester on its words field (suggest_mode missing, max_edits 1, sorted by frequency).

const (
	// minTypoRunes is the length, in letters, from which a word is corrected: shorter words
	// have too many neighbours one edit away.
	minTypoRunes = 4
	// maxTypoWords bounds how many words of a query are corrected.
	maxTypoWords = 4
)

// arabicLetters are the letters of normalised Arabic text (alef forms, alef maqsura, ta marbuta and
// hamza on a seat are normalised away): what an edit may insert into or put in an Arabic word.
var arabicLetters = []rune("ءابتثجحخدذرزسشصضطظعغفقكلمنهوي")

// latinLetters and digits are what an edit may insert into or put in a word of those characters.
var (
	latinLetters = []rune("abcdefghijklmnopqrstuvwxyz")
	digitRunes   = []rune("0123456789")
)

// typoWords returns the positions in t.words of the words that correction may replace: those of at
// least minTypoRunes letters, at most maxTypoWords of them, for which known reports false.
func typoWords(t textQuery, known func(w string) bool) []int {
	var out []int
	for i, w := range t.words {
		if len(out) == maxTypoWords {
			break
		}
		if utf8.RuneCountInString(w) < minTypoRunes || known(w) {
			continue
		}
		out = append(out, i)
	}
	return out
}

// editAlphabet returns the runes an edit of w may insert or substitute: the Arabic letters when w
// has Arabic letters, the Latin letters when it has ASCII letters, the digits when it has digits,
// and w's own other runes (a word in another script is only corrected with its own letters).
func editAlphabet(w string) []rune {
	var out []rune
	var arabic, latin, digit bool
	for _, r := range w {
		switch {
		case r >= 0x0621 && r <= 0x064A:
			arabic = true
		case 'a' <= r && r <= 'z':
			latin = true
		case '0' <= r && r <= '9':
			digit = true
		default:
			if !slices.Contains(out, r) {
				out = append(out, r)
			}
		}
	}
	if arabic {
		out = append(out, arabicLetters...)
	}
	if latin {
		out = append(out, latinLetters...)
	}
	if digit {
		out = append(out, digitRunes...)
	}
	return out
}

// editVariants returns the distinct words one edit from w, w itself left out: one rune deleted,
// one inserted or replaced (from editAlphabet), or two neighbouring runes swapped.
func editVariants(w string) []string {
	rs := []rune(w)
	alphabet := editAlphabet(w)
	seen := make(map[string]bool, (2*len(rs)+1)*len(alphabet))
	var out []string
	add := func(v []rune) {
		s := string(v)
		if s != w && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	buf := make([]rune, 0, len(rs)+1)
	for i := range rs {
		// deletion
		add(append(append(buf[:0], rs[:i]...), rs[i+1:]...))
		// transposition
		if i+1 < len(rs) && rs[i] != rs[i+1] {
			v := append(buf[:0], rs...)
			v[i], v[i+1] = v[i+1], v[i]
			add(v)
		}
		// substitution
		for _, r := range alphabet {
			if r != rs[i] {
				v := append(buf[:0], rs...)
				v[i] = r
				add(v)
			}
		}
	}
	// insertion
	for i := 0; i <= len(rs); i++ {
		for _, r := range alphabet {
			v := append(append(append(buf[:0], rs[:i]...), r), rs[i:]...)
			add(v)
		}
	}
	return out
}

// withCorrections returns t with the words at the positions of fix replaced; a corrected last word
// is also the prefix, for the as-you-type match.
func (t textQuery) withCorrections(fix map[int]string) textQuery {
	out := textQuery{words: slices.Clone(t.words), prefix: t.prefix}
	for i, w := range fix {
		out.words[i] = w
		if i == len(out.words)-1 && out.prefix != "" {
			out.prefix = w
		}
	}
	return out
}
