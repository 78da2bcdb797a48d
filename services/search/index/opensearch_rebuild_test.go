package index_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/internal/testenv"
	"github.com/mediamesh/mediamesh/services/search/index"
)

// TestOpenSearchRebuildTakesLiveWrites is `mediamesh replay --target=search` beside a running
// platform, on a real node: one client (the replay) fills a new index while another (the live
// consumer, another process) goes on writing through the alias. Every change the live client makes
// after BeginRebuild returned (an upsert, a newer version, a delete, a program's removal) is in the
// new index when the alias moves to it, whatever the replay wrote there before; after the swap the
// live client writes to the new index through the alias, without error.
func TestOpenSearchRebuildTakesLiveWrites(t *testing.T) {
	live := openOpenSearch(t)
	ctx := t.Context()
	published := time.Now().Add(-time.Hour)
	doc := func(id, title string, version int64) index.Doc {
		return index.Doc{ID: id, Type: index.TypeEpisode, ProgramID: "prog-" + id[:1], Title: title, Language: "en", PublishedAt: published, Version: version}
	}
	if err := live.UpsertBatch(ctx, []index.Doc{doc("a1", "Amber harbour", 1), doc("c1", "Cedar harbour", 1), doc("p1", "Pine harbour", 1)}); err != nil {
		t.Fatal(err)
	}
	replay, err := index.NewOpenSearch(ctx, index.OpenSearchConfig{URLs: strings.Split(testenv.Get(t, EnvOpenSearchURL, ""), ","), Alias: live.Alias()})
	if err != nil {
		t.Fatal(err)
	}
	rb, err := replay.BeginRebuild(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The replay applies the log as it was when it read it.
	if err := rb.UpsertBatch(ctx, []index.Doc{doc("a1", "Amber harbour", 1), doc("c1", "Cedar harbour", 1), doc("p1", "Pine harbour", 1)}); err != nil {
		t.Fatal(err)
	}
	// Meanwhile the live consumer applies newer events, through the alias.
	if err := live.Upsert(ctx, doc("b1", "Birch harbour", 2)); err != nil {
		t.Fatal(err)
	}
	if err := live.Upsert(ctx, doc("a1", "Amber lighthouse", 3)); err != nil {
		t.Fatal(err)
	}
	if err := live.Delete(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	if err := live.DeleteProgram(ctx, "prog-p"); err != nil {
		t.Fatal(err)
	}
	// The old index serves them at once, as before.
	if got := searchIDs(t, live, "harbour"); !slices.Equal(got, []string{"b1"}) {
		t.Fatalf("during the rebuild the alias finds %v for harbour, want [b1]", got)
	}
	if err := rb.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	for _, c := range []index.Index{live, replay} {
		if got := searchIDs(t, c, "harbour"); !slices.Equal(got, []string{"b1"}) {
			t.Errorf("after the swap harbour finds %v, want [b1] (a1 renamed, c1 deleted, p1's program removed)", got)
		}
		if got := searchIDs(t, c, "lighthouse"); !slices.Equal(got, []string{"a1"}) {
			t.Errorf("after the swap lighthouse finds %v, want [a1] (the live update)", got)
		}
	}
	// The live client goes on writing through the alias, to the new index; the rebuild's marker is
	// gone with the swap.
	if err := live.Upsert(ctx, doc("d1", "Dune harbour", 4)); err != nil {
		t.Fatalf("a live write after the swap: %v", err)
	}
	if got := searchIDs(t, replay, "dune"); !slices.Equal(got, []string{"d1"}) {
		t.Errorf("after the swap a live write is found as %v, want [d1]", got)
	}
	// The new index was loaded without periodic refreshes; serving, it has the default settings.
	resp, err := http.Get(strings.Split(testenv.Get(t, EnvOpenSearchURL, ""), ",")[0] + "/" + live.Alias() + "/_settings?flat_settings=true")
	if err != nil {
		t.Fatal(err)
	}
	var settings map[string]struct {
		Settings map[string]any `json:"settings"`
	}
	err = json.NewDecoder(resp.Body).Decode(&settings)
	_ = resp.Body.Close()
	if err != nil || len(settings) != 1 {
		t.Fatalf("settings of the alias: %v %v", settings, err)
	}
	for name, s := range settings {
		if s.Settings["index.refresh_interval"] != nil || s.Settings["index.translog.durability"] != "request" {
			t.Errorf("the rebuilt index %s serves with refresh_interval %v and translog durability %v, want the defaults",
				name, s.Settings["index.refresh_interval"], s.Settings["index.translog.durability"])
		}
	}
	resp, err = http.Head(strings.Split(testenv.Get(t, EnvOpenSearchURL, ""), ",")[0] + "/_alias/" + live.Alias() + "-rebuilding")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("after the swap the rebuild marker answers %d, want 404 (gone)", resp.StatusCode)
	}
}

// TestOpenSearchRebuildAfterAnUnfinishedOne proves a rebuild whose process died (neither committed
// nor aborted) does not get in the way: the next rebuild drops its index, and live writes go on.
func TestOpenSearchRebuildAfterAnUnfinishedOne(t *testing.T) {
	live := openOpenSearch(t)
	ctx := t.Context()
	first, err := live.BeginRebuild(ctx)
	if err != nil {
		t.Fatal(err)
	}
	second, err := live.BeginRebuild(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := aliasTargets(t, live.Alias()+"-rebuilding"); !slices.Equal(got, []string{second.(*index.OpenSearchRebuild).Index()}) {
		t.Fatalf("the rebuild marker names %v, want only the second rebuild's index (the first is %s)", got, first.(*index.OpenSearchRebuild).Index())
	}
	d := index.Doc{ID: "x", Type: index.TypeProgram, Title: "Quarry tales", Language: "en", PublishedAt: time.Now(), Version: 1}
	if err := live.Upsert(ctx, d); err != nil {
		t.Fatalf("a live write during the second rebuild: %v", err)
	}
	if got := searchIDs(t, second, "quarry"); !slices.Equal(got, []string{"x"}) {
		t.Fatalf("the second rebuild's index has %v for a live write, want [x]", got)
	}
	if err := second.Abort(ctx); err != nil {
		t.Fatal(err)
	}
}

func searchIDs(t *testing.T, ix index.Index, text string) []string {
	t.Helper()
	res, err := ix.Search(t.Context(), index.Query{Text: text, Limit: 100})
	if err != nil {
		t.Fatalf("Search(%q): %v", text, err)
	}
	out := make([]string, len(res.Hits))
	for i, h := range res.Hits {
		out[i] = h.ID
	}
	slices.Sort(out)
	return out
}
