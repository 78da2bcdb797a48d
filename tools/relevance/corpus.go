package main

import (
	_ "embed"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mediamesh/mediamesh/services/search/index"
)

// The corpus and the judged queries, written by hand (see the comments at the top of each file).
var (
	//go:embed corpus_ar.txt
	corpusArabic string
	//go:embed corpus_en.txt
	corpusEnglish string
	//go:embed judgments.txt
	judgmentsText string
)

// published is the publication time of every item: all are equally fresh and none is popular,
// so that the ranking compared is the text ranking alone.
var published = time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC)

// Categories in the order of the report, with the morphological ones flagged: the recall target
// applies to those.
var categories = []struct {
	name          string
	morphological bool
}{
	{"diacritics", true},
	{"hamza_alef", true},
	{"ta_marbuta", true},
	{"alef_maqsura", true},
	{"prefixes", true},
	{"plurals", true},
	{"en_inflection", true},
	{"possessive", true},
	{"mixed_script", false},
	{"typo", false},
}

// judgedQuery is a query and the grades of its relevant items (1 related, 2 what it asks for).
type judgedQuery struct {
	category string
	text     string
	grades   map[string]int
	line     int
}

// fields splits a data line at " | ".
func fields(line string) []string {
	parts := strings.Split(line, "|")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

// dataLines calls fn with every line of text that is not blank or a comment, and its number.
func dataLines(text string, fn func(n int, line string) error) error {
	for i, line := range strings.Split(text, "\n") {
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if err := fn(i+1, line); err != nil {
			return err
		}
	}
	return nil
}

// parseCorpus returns the items of one corpus file as index documents in language.
func parseCorpus(name, text, language string) ([]index.Doc, error) {
	var docs []index.Doc
	titles := map[string]string{}
	err := dataLines(text, func(n int, line string) error {
		f := fields(line)
		if len(f) != 7 {
			return fmt.Errorf("%s:%d: want 7 fields separated by |, got %d", name, n, len(f))
		}
		d := index.Doc{
			ID: f[0], ProgramID: f[1], Kind: f[2], CategorySlug: f[3], CategoryName: f[3],
			Title: f[4], Summary: f[5], Language: language, PublishedAt: published, Version: 1,
			Type: index.TypeProgram,
		}
		if f[6] != "" {
			for _, t := range strings.Split(f[6], ",") {
				d.Tags = append(d.Tags, strings.TrimSpace(t))
			}
		}
		if d.ProgramID != "" {
			d.Type = index.TypeEpisode
			title, ok := titles[d.ProgramID]
			if !ok {
				return fmt.Errorf("%s:%d: episode %s of program %s, which is not listed before it", name, n, d.ID, d.ProgramID)
			}
			d.ProgramTitle = title
		} else {
			titles[d.ID] = d.Title
		}
		docs = append(docs, d)
		return nil
	})
	return docs, err
}

// loadCorpus returns every item of the corpus, checking that ids are unique.
func loadCorpus() ([]index.Doc, error) {
	ar, err := parseCorpus("corpus_ar.txt", corpusArabic, "ar")
	if err != nil {
		return nil, err
	}
	en, err := parseCorpus("corpus_en.txt", corpusEnglish, "en")
	if err != nil {
		return nil, err
	}
	docs := append(ar, en...)
	seen := map[string]bool{}
	for _, d := range docs {
		if seen[d.ID] {
			return nil, fmt.Errorf("corpus: id %s twice", d.ID)
		}
		seen[d.ID] = true
	}
	return docs, nil
}

// loadJudgments returns the judged queries, checking each against the corpus and the
// categories.
func loadJudgments(docs []index.Doc) ([]judgedQuery, error) {
	ids := map[string]bool{}
	for _, d := range docs {
		ids[d.ID] = true
	}
	known := map[string]bool{}
	for _, c := range categories {
		known[c.name] = true
	}
	var qs []judgedQuery
	seen := map[string]int{}
	err := dataLines(judgmentsText, func(n int, line string) error {
		f := fields(line)
		if len(f) != 3 {
			return fmt.Errorf("judgments.txt:%d: want category | query | judgments", n)
		}
		if !known[f[0]] {
			return fmt.Errorf("judgments.txt:%d: unknown category %q", n, f[0])
		}
		if prev, ok := seen[f[0]+"\x00"+f[1]]; ok {
			return fmt.Errorf("judgments.txt:%d: query %q of %s already judged on line %d", n, f[1], f[0], prev)
		}
		seen[f[0]+"\x00"+f[1]] = n
		q := judgedQuery{category: f[0], text: f[1], grades: map[string]int{}, line: n}
		for _, j := range strings.Fields(f[2]) {
			id, grade, ok := strings.Cut(j, ":")
			g, err := strconv.Atoi(grade)
			if !ok || err != nil || g < 1 || g > 2 {
				return fmt.Errorf("judgments.txt:%d: %q is not id:grade with grade 1 or 2", n, j)
			}
			if !ids[id] {
				return fmt.Errorf("judgments.txt:%d: %s is not in the corpus", n, id)
			}
			q.grades[id] = g
		}
		if len(q.grades) == 0 {
			return fmt.Errorf("judgments.txt:%d: no relevant item", n)
		}
		qs = append(qs, q)
		return nil
	})
	return qs, err
}
