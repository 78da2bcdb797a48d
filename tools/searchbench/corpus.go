package main

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/mediamesh/mediamesh/services/search/index"
	"github.com/mediamesh/mediamesh/tools/internal/words"
)

// The shape of the documents is tools/loadgen's (seed in main.go) and the vocabulary is the same
// (tools/internal/words), so that this benchmark and loadgen's HTTP benchmarks search the same kind
// of corpus.

// corpus generates the documents: program p and its episodes, the same on every call.
type corpus struct {
	v          *words.Vocabulary
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
		ID: id, Type: index.TypeProgram, Kind: kinds[p%4], Title: c.v.Title(r, lang), Summary: c.v.Sentence(r, lang, 12),
		Tags: []string{c.v.Word(r, lang)}, Language: lang, PublishedAt: published, Version: 1,
	}
	docs = append(docs, prog)
	n := min(c.perProgram, c.episodes-p*c.perProgram)
	for e := 1; e <= n; e++ {
		docs = append(docs, index.Doc{
			ID: fmt.Sprintf("%s-e%03d", id, e), Type: index.TypeEpisode, ProgramID: id, ProgramTitle: prog.Title, Kind: prog.Kind,
			Title: c.v.Title(r, lang), Summary: c.v.Sentence(r, lang, 20), Language: lang, DurationSeconds: 300 + r.IntN(7200),
			PublishedAt: published.Add(time.Duration(e) * 24 * time.Hour), Version: 1,
		})
	}
	return docs
}
