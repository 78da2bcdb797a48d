package main

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/mediamesh/mediamesh/services/search/index"
)

// The vocabulary and the shape of the documents are tools/loadgen's (vocabulary.go and seed in
// main.go), so that this benchmark and loadgen's HTTP benchmarks search the same kind of corpus;
// loadgen is a command, so they are repeated here rather than imported.

const zipfExponent = 1.07

type vocabulary struct {
	ar, en []string
	zipf   bool
}

// newVocabulary returns loadgen's 40 fixed words for n = 0, else n generated words per language.
func newVocabulary(n int) *vocabulary {
	if n == 0 {
		return &vocabulary{
			ar: strings.Fields(`الصباح الأخبار الرياضة الثقافة الاقتصاد التاريخ العلوم السفر المطبخ الموسيقى
			حوار برنامج حلقة وثائقي قصص المدينة البحر الصحراء الفن الشباب`),
			en: strings.Fields(`morning news sports culture economy history science travel kitchen music
			interview stories city ocean desert art youth podcast weekly special`),
		}
	}
	return &vocabulary{ar: generateWords(n, arabicSyllables()), en: generateWords(n, latinSyllables()), zipf: true}
}

func (v *vocabulary) describe() string {
	if v.zipf {
		return fmt.Sprintf("%d generated words per language (Zipf %.2f)", len(v.en), zipfExponent)
	}
	return "the 40 fixed words (uniform)"
}

func latinSyllables() []string {
	var out []string
	for _, c := range "bcdfghklmnprstvz" {
		for _, v := range "aeiou" {
			out = append(out, string(c)+string(v))
		}
	}
	return out
}

func arabicSyllables() []string {
	var out []string
	for _, c := range "بتجدرسشعفقكلمنهوي" {
		for _, v := range "اوي" {
			out = append(out, string(c)+string(v))
		}
	}
	return out
}

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

func (v *vocabulary) title(r *rand.Rand, lang string) string {
	return v.word(r, lang) + " " + v.word(r, lang) + " " + v.word(r, lang)
}

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

func (v *vocabulary) query(r *rand.Rand) string {
	lang := []string{"ar", "en"}[r.IntN(2)]
	if !v.zipf {
		return v.word(r, lang) + " " + v.word(r, []string{"ar", "en"}[r.IntN(2)])
	}
	return v.word(r, lang) + " " + v.word(r, lang)
}

// corpus generates the documents: program p and its episodes, the same on every call.
type corpus struct {
	v          *vocabulary
	episodes   int
	perProgram int
	epoch      time.Time
}

func (c corpus) programs() int  { return (c.episodes + c.perProgram - 1) / c.perProgram }
func (c corpus) documents() int { return c.programs() + c.episodes }

var kinds = []string{"series", "podcast", "documentary", "show"}

// program appends program p and its episodes to docs. Programs were published over the last two
// years, each episode a day after the previous one.
func (c corpus) program(p int, docs []index.Doc) []index.Doc {
	r := rand.New(rand.NewPCG(uint64(p), 7))
	lang := []string{"ar", "en"}[p%2]
	id := fmt.Sprintf("p%07d", p)
	published := c.epoch.Add(-time.Duration(r.IntN(730*24)) * time.Hour)
	prog := index.Doc{
		ID: id, Type: index.TypeProgram, Kind: kinds[p%4], Title: c.v.title(r, lang), Summary: c.v.sentence(r, lang, 12),
		Tags: []string{c.v.word(r, lang)}, Language: lang, PublishedAt: published, Version: 1,
	}
	docs = append(docs, prog)
	n := min(c.perProgram, c.episodes-p*c.perProgram)
	for e := 1; e <= n; e++ {
		docs = append(docs, index.Doc{
			ID: fmt.Sprintf("%s-e%03d", id, e), Type: index.TypeEpisode, ProgramID: id, ProgramTitle: prog.Title, Kind: prog.Kind,
			Title: c.v.title(r, lang), Summary: c.v.sentence(r, lang, 20), Language: lang, DurationSeconds: 300 + r.IntN(7200),
			PublishedAt: published.Add(time.Duration(e) * 24 * time.Hour), Version: 1,
		})
	}
	return docs
}
