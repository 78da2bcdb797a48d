// Package words is the vocabulary of the generated content that tools/loadgen seeds through the
// API and tools/searchbench writes into the search engines directly, so that both benchmarks search
// the same kind of corpus.
package words

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// MinZipfWords is the smallest generated vocabulary: a realistic corpus has tens of thousands of
// distinct words.
const MinZipfWords = 20_000

// ZipfExponent is the Zipf exponent of word frequencies; about 1 in natural language.
const ZipfExponent = 1.07

// Vocabulary is what titles, summaries, tags and queries are made of: either 40 fixed words (20
// Arabic, 20 English) drawn uniformly, the worst case for search, where every word is in 10 to 40%
// of the documents; or generated words, per language, drawn from a Zipf distribution, as the
// words of real text are, so that most queries have a rare word and a few have only common ones.
type Vocabulary struct {
	ar, en []string
	zipf   bool
}

// Fixed returns the 40 fixed words.
func Fixed() *Vocabulary {
	return &Vocabulary{
		ar: strings.Fields(`الصباح الأخبار الرياضة الثقافة الاقتصاد التاريخ العلوم السفر المطبخ الموسيقى
			حوار برنامج حلقة وثائقي قصص المدينة البحر الصحراء الفن الشباب`),
		en: strings.Fields(`morning news sports culture economy history science travel kitchen music
			interview stories city ocean desert art youth podcast weekly special`),
	}
}

// New returns the fixed vocabulary for n = 0, else n generated words per language.
func New(n int) (*Vocabulary, error) {
	if n == 0 {
		return Fixed(), nil
	}
	if n < MinZipfWords {
		return nil, fmt.Errorf("vocabulary of %d words: want 0 or at least %d words", n, MinZipfWords)
	}
	return &Vocabulary{ar: generateWords(n, arabicSyllables()), en: generateWords(n, latinSyllables()), zipf: true}, nil
}

// latinSyllables are consonant-vowel pairs of Latin letters.
func latinSyllables() []string {
	var out []string
	for _, c := range "bcdfghklmnprstvz" {
		for _, v := range "aeiou" {
			out = append(out, string(c)+string(v))
		}
	}
	return out
}

// arabicSyllables are consonant-long vowel pairs of Arabic letters.
func arabicSyllables() []string {
	var out []string
	for _, c := range "بتجدرسشعفقكلمنهوي" {
		for _, v := range "اوي" {
			out = append(out, string(c)+string(v))
		}
	}
	return out
}

// generateWords returns n distinct words of two or more syllables, the same on every run; the
// first (the most frequent under Zipf) are the shortest, as in real text.
func generateWords(n int, syllables []string) []string {
	out := make([]string, 0, n)
	k := len(syllables)
	for length, count := 2, k*k; len(out) < n; length, count = length+1, count*k {
		for i := 0; i < count && len(out) < n; i++ {
			var b strings.Builder
			for j, x := 0, i; j < length; j, x = j+1, x/k {
				b.WriteString(syllables[x%k])
			}
			out = append(out, b.String())
		}
	}
	return out
}

// word draws a word of language lang ("ar" or another code for English).
func (v *Vocabulary) Word(r *rand.Rand, lang string) string {
	words := v.en
	if lang == "ar" {
		words = v.ar
	}
	if v.zipf {
		return words[rand.NewZipf(r, ZipfExponent, 1, uint64(len(words)-1)).Uint64()]
	}
	return words[r.IntN(len(words))]
}

// title is three words of the language.
func (v *Vocabulary) Title(r *rand.Rand, lang string) string {
	return v.Word(r, lang) + " " + v.Word(r, lang) + " " + v.Word(r, lang)
}

// sentence is n words: of the language with generated words, of both languages with the fixed
// ones (which makes every fixed word common in every document).
func (v *Vocabulary) Sentence(r *rand.Rand, lang string, n int) string {
	out := make([]string, n)
	for i := range out {
		l := lang
		if !v.zipf {
			l = []string{"ar", "en"}[r.IntN(2)]
		}
		out[i] = v.Word(r, l)
	}
	return strings.Join(out, " ")
}

// query is a two-word search of a random language.
func (v *Vocabulary) Query(r *rand.Rand) string {
	lang := []string{"ar", "en"}[r.IntN(2)]
	if !v.zipf {
		return v.Word(r, lang) + " " + v.Word(r, []string{"ar", "en"}[r.IntN(2)])
	}
	return v.Word(r, lang) + " " + v.Word(r, lang)
}

// Describe says which vocabulary v is.
func (v *Vocabulary) Describe() string {
	if v.zipf {
		return fmt.Sprintf("%d generated words per language (Zipf %.2f)", len(v.en), ZipfExponent)
	}
	return "the 40 fixed words (uniform)"
}
