package index

import (
	"fmt"
	"reflect"
	"testing"
	"time"
)

// TestMemoryCompaction replaces most documents until the index compacts itself: afterwards it
// holds only the live documents, answers every query as an index built from them alone does, and
// has forgotten the words that only replaced documents had.
func TestMemoryCompaction(t *testing.T) {
	ctx := t.Context()
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	doc := func(i int, version int64, word string) Doc {
		return Doc{
			ID: fmt.Sprintf("d%05d", i), Type: TypeEpisode, Language: []string{"en", "ar", "fr"}[i%3],
			Title: fmt.Sprintf("%s title %d", word, i%7), Summary: "morning news " + word, Tags: []string{fmt.Sprintf("tag%d", i%5)},
			CategorySlug: []string{"news", "music"}[i%2], PublishedAt: at.Add(time.Duration(i) * time.Minute),
			DurationSeconds: 60 * (i%9 + 1), Version: version,
		}
	}
	const n = 3000
	now := time.Now()
	m := NewMemorySearching(false, now)
	var final []Doc
	for v := int64(1); v <= 3; v++ {
		batch := make([]Doc, n)
		for i := range batch {
			batch[i] = doc(i, v, fmt.Sprintf("word%dv%d", i%11, v))
		}
		if err := m.UpsertBatch(ctx, batch); err != nil {
			t.Fatal(err)
		}
		final = batch
	}
	// 6,000 dead, 3,000 live: compacted once the dead outnumbered the live.
	if m.dead != 0 || len(m.docs) != n || m.Len() != n {
		t.Fatalf("after replacing every document twice: %d dead, %d numbered, %d live; want 0, %d, %d", m.dead, len(m.docs), m.Len(), n, n)
	}
	for _, t0 := range []string{"word3v1", "word3v2"} {
		if _, ok := m.plain[plainKey{groupNumber(groupEnglish), t0}]; ok {
			t.Errorf("the word %q of replaced documents is still in the index", t0)
		}
	}
	fresh := NewMemorySearching(false, now)
	if err := fresh.UpsertBatch(ctx, final); err != nil {
		t.Fatal(err)
	}
	for _, q := range []Query{
		{Text: "word3v3", Facets: facetNames},
		{Text: "word3v1"},
		{Text: "morning wor", Limit: MaxLimit},
		{Text: "news", Category: "music", Sort: SortLatest},
		{Type: TypeEpisode, DurationMin: new(120), DurationMax: new(300), Facets: facetNames, Limit: 50},
		{Category: "news", Language: "ar"},
		{Text: "tag3", Language: "fr"},
	} {
		got, err := m.Search(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		want, err := fresh.Search(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		got.NextCursor, want.NextCursor = "", ""
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Search(%+v) after compaction:\n%+v\nwant, as from the live documents alone:\n%+v", q, got, want)
		}
	}
	s1, err := m.Suggest(ctx, "word5", "", 5)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := fresh.Suggest(ctx, "word5", "", 5)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(s1, s2) || len(s1) == 0 {
		t.Errorf("Suggest after compaction = %+v, want %+v", s1, s2)
	}
}

// TestMemoryDenseAndSparseAgree runs the benchmark's varied queries over its generated corpus
// (a tenth of it) on an index that always walks whole posting lists and on one that always seeks
// through them: the pages, scores, cursors and facets are the same, page after page.
func TestMemoryDenseAndSparseAgree(t *testing.T) {
	ctx := t.Context()
	docs := benchDocs()
	if !testing.Short() {
		docs = docs[:10_000]
	}
	now := time.Now()
	dense, sparse := NewMemorySearching(true, now), NewMemorySearching(false, now)
	for _, m := range []*Memory{dense, sparse} {
		if err := m.UpsertBatch(ctx, docs); err != nil {
			t.Fatal(err)
		}
	}
	for i, q := range benchQueries()[:100] {
		for page := 0; page < 3; page++ {
			a, err := dense.Search(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			b, err := sparse.Search(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("query %d %+v, page %d: dense and sparse differ:\n%+v\n%+v", i, q, page, a, b)
			}
			if !a.HasMore {
				break
			}
			q.Cursor = a.NextCursor
		}
	}
}
