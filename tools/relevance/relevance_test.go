package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestJudgments checks the query set itself: every judged id is in the corpus (loadJudgments
// refuses one that is not), there are at least 200 queries, and every category has at least 15.
func TestJudgments(t *testing.T) {
	docs, err := loadCorpus()
	if err != nil {
		t.Fatal(err)
	}
	qs, err := loadJudgments(docs)
	if err != nil {
		t.Fatal(err)
	}
	if len(qs) < 200 {
		t.Errorf("%d judged queries, want at least 200", len(qs))
	}
	per := map[string]int{}
	for _, q := range qs {
		per[q.category]++
	}
	for _, c := range categories {
		if per[c.name] < 15 {
			t.Errorf("category %s has %d queries, want at least 15", c.name, per[c.name])
		}
	}
}

// TestMeasure checks the measures on a hand-computed ranking.
func TestMeasure(t *testing.T) {
	s := measure([]string{"x", "a", "y", "b"}, map[string]int{"a": 2, "b": 1, "c": 2})
	if s.recall != 2.0/3 || s.rr != 0.5 {
		t.Errorf("recall %v, rr %v; want 2/3 and 1/2", s.recall, s.rr)
	}
	// DCG 3/log2(3) + 1/log2(5); ideal 3 + 3/log2(3) + 1/2.
	if want := (3/1.5849625007211563 + 1/2.321928094887362) / (3 + 3/1.5849625007211563 + 0.5); s.ndcg < want-1e-9 || s.ndcg > want+1e-9 {
		t.Errorf("nDCG %v, want %v", s.ndcg, want)
	}
	if s := measure(nil, map[string]int{"a": 1}); s != (scores{}) {
		t.Errorf("an empty ranking scores %+v, want zeros", s)
	}
}

// TestMemoryMeetsTheTargets runs the whole set on the in-memory engine: it must reach recall@10
// of 0.95 on every morphological category.
func TestMemoryMeetsTheTargets(t *testing.T) {
	var out bytes.Buffer
	ok, err := run(t.Context(), &out, []string{"memory"}, true)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		t.Errorf("the in-memory engine misses a target:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "diacritics") {
		t.Errorf("the report has no diacritics row:\n%s", out.String())
	}
}
