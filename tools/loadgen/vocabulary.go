package main

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// text is the vocabulary of the generated content and of the searches (see the -vocabulary flag).
var text = fixedVocabulary()

// minZipfWords is the smallest generated vocabulary: a realistic corpus has tens of thousands of
// distinct words.
const minZipfWords = 20_000

// zipfExponent is the Zipf exponent of word frequencies; about 1 in natural language.
const zipfExponent = 1.07

// vocabulary is what titles, summaries, tags and queries are made of: either 40 fixed words (20
// Arabic, 20 English) drawn uniformly, the worst case for search, where every word is in 10 to 40%
// of the documents; or generated words, per language, drawn from a Zipf distribution, as the
// words of real text are, so that most queries have a rare word and a few have only common ones.
type vocabulary struct {
	ar, en []string
	zipf   bool
}

func fixedVocabulary() *vocabulary {
	return &vocabulary{
		ar: strings.Fields(`الصباح الأخبار الرياضة الثقافة الاقتصاد التاريخ العلوم السفر المطبخ الموسيقى
			حوار برنامج حلقة وثائقي قصص المدينة البحر الصحراء الفن الشباب`),
		en: strings.Fields(`morning news sports culture economy history science travel kitchen music
			interview stories city ocean desert art youth podcast weekly special`),
	}
}

// newVocabulary returns the fixed vocabulary for n = 0, else n generated words per language.
func newVocabulary(n int) (*vocabulary, error) {
	if n == 0 {
		return fixedVocabulary(), nil
	}
	if n < minZipfWords {
		return nil, fmt.Errorf("-vocabulary %d: want 0 or at least %d words", n, minZipfWords)
	}
	return &vocabulary{ar: generateWords(n, arabicSyllables()), en: generateWords(n, latinSyllables()), zipf: true}, nil
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
func (v *vocabulary) word(r *rand.Rand, lang string) string {
	words := v.en
	if lang == "ar" {
		words = v.ar
	}
	if v.zipf {
		return words[rand.NewZipf(r, zipfExponent, 1, uint64(len(words)-1)).Uint64()]
	}
	return words[r.IntN(len(words))]
}

// title is three words of the language.
func (v *vocabulary) title(r *rand.Rand, lang string) string {
	return v.word(r, lang) + " " + v.word(r, lang) + " " + v.word(r, lang)
}

// sentence is n words: of the language with generated words, of both languages with the fixed
// ones (which makes every fixed word common in every document).
func (v *vocabulary) sentence(r *rand.Rand, lang string, n int) string {
	out := make([]string, n)
	for i := range out {
		l := lang
		if !v.zipf {
			l = []string{"ar", "en"}[r.IntN(2)]
		}
		out[i] = v.word(r, l)
	}
	return strings.Join(out, " ")
}

// query is a two-word search of a random language.
func (v *vocabulary) query(r *rand.Rand) string {
	lang := []string{"ar", "en"}[r.IntN(2)]
	if !v.zipf {
		return v.word(r, lang) + " " + v.word(r, []string{"ar", "en"}[r.IntN(2)])
	}
	return v.word(r, lang) + " " + v.word(r, lang)
}
