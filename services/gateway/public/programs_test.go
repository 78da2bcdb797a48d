package public

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/gen/openapi/discoveryapi"
)

// gqlEpisodes is an EpisodeConnection as the tests select it.
type gqlEpisodes struct {
	Edges []struct {
		Cursor string `json:"cursor"`
		Node   struct {
			ID              string `json:"id"`
			Title           string `json:"title"`
			Language        string `json:"language"`
			SeasonNumber    *int   `json:"seasonNumber"`
			EpisodeNumber   int    `json:"episodeNumber"`
			DurationSeconds *int   `json:"durationSeconds"`
			PublishedAt     string `json:"publishedAt"`
			Program         struct {
				ID string `json:"id"`
			} `json:"program"`
		} `json:"node"`
	} `json:"edges"`
	PageInfo gqlPageInfo `json:"pageInfo"`
}

type gqlPageInfo struct {
	HasNextPage     bool    `json:"hasNextPage"`
	HasPreviousPage bool    `json:"hasPreviousPage"`
	StartCursor     *string `json:"startCursor"`
	EndCursor       *string `json:"endCursor"`
}

func (c gqlEpisodes) ids() []string {
	out := make([]string, len(c.Edges))
	for i, e := range c.Edges {
		out[i] = e.Node.ID
	}
	return out
}

const episodeFields = `edges { cursor node { id title language seasonNumber episodeNumber durationSeconds publishedAt program { id } } }
	pageInfo { hasNextPage hasPreviousPage startCursor endCursor }`

const programsQuery = `query($perProgram: Int) {
  programs(first: 50) {
    edges { cursor node {
      id kind title slug summary language tags coverUrl episodeCount publishedAt updatedAt
      category { id slug name programCount }
      episodes(first: $perProgram) { ` + episodeFields + ` }
    } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}`

type programsData struct {
	Programs struct {
		Edges []struct {
			Cursor string `json:"cursor"`
			Node   struct {
				ID           string   `json:"id"`
				Kind         string   `json:"kind"`
				Title        string   `json:"title"`
				Slug         string   `json:"slug"`
				Summary      *string  `json:"summary"`
				Language     string   `json:"language"`
				Tags         []string `json:"tags"`
				CoverURL     *string  `json:"coverUrl"`
				EpisodeCount int      `json:"episodeCount"`
				PublishedAt  string   `json:"publishedAt"`
				UpdatedAt    string   `json:"updatedAt"`
				Category     *struct {
					ID           string `json:"id"`
					Slug         string `json:"slug"`
					Name         string `json:"name"`
					ProgramCount *int   `json:"programCount"`
				} `json:"category"`
				Episodes gqlEpisodes `json:"episodes"`
			} `json:"node"`
		} `json:"edges"`
		PageInfo gqlPageInfo `json:"pageInfo"`
	} `json:"programs"`
}

// seed publishes n programs (every other one in a category) with i%4+2 episodes each, but the
// last, which has none.
func seed(cat *catalogue, n int) []string {
	news := cat.category("news", "أخبار", "News")
	ids := make([]string, n)
	for i := range ids {
		var category *string
		if i%2 == 0 {
			category = &news
		}
		ids[i] = cat.program(fmt.Sprintf("برنامج %d", i), i, category)
		if i == n-1 {
			break
		}
		for e := range i%4 + 2 {
			cat.episode(ids[i], ptr(1+e/3), 1+e%3)
		}
	}
	return ids
}

func TestProgramsWithTheirEpisodesInTwoCalls(t *testing.T) {
	cat := newCatalogue(t)
	seed(cat, 30)
	h, _, d, _ := newGateway(t, cat.h, problem(http.StatusNotImplemented, ""))

	started := time.Now()
	var got programsData
	query(t, h, programsQuery, map[string]any{"perProgram": 3}, &got)
	if took := time.Since(started); took > 500*time.Millisecond {
		t.Errorf("took %v: the loader waited instead of dispatching when every program had asked", took)
	}
	if calls := paths(d.take()); !slices.Equal(calls, []string{"/api/v1/discovery/programs", "/api/v1/discovery/programs/episodes"}) {
		t.Fatalf("upstream calls %v, want listPublicPrograms and one listEpisodesOfPrograms", calls)
	}

	var rest discoveryapi.PublicProgramList
	cat.restJSON("/api/v1/discovery/programs?limit=50", &rest)
	edges := got.Programs.Edges
	if len(edges) != 30 || len(rest.Items) != 30 || got.Programs.PageInfo.HasNextPage || got.Programs.PageInfo.HasPreviousPage {
		t.Fatalf("%d programs (REST %d), pageInfo %+v", len(edges), len(rest.Items), got.Programs.PageInfo)
	}
	withEpisodes := 0
	for i, e := range edges {
		p, want := e.Node, rest.Items[i]
		if p.ID != want.Id.String() || p.Kind != strings.ToUpper(string(want.Kind)) || p.Title != want.Title || p.Slug != want.Slug ||
			p.Language != want.Language || !slices.Equal(p.Tags, want.Tags) || p.CoverURL != nil || p.Summary != nil ||
			p.EpisodeCount != int(want.EpisodeCount) || p.PublishedAt != want.PublishedAt.Format(time.RFC3339) || p.UpdatedAt != want.UpdatedAt.Format(time.RFC3339) {
			t.Fatalf("program %d: %+v, REST %+v", i, p, want)
		}
		if (p.Category == nil) != (want.Category == nil) ||
			(p.Category != nil && (p.Category.ID != want.Category.Id.String() || p.Category.Slug != "news" || p.Category.Name != "أخبار" || p.Category.ProgramCount != nil)) {
			t.Fatalf("program %d category %+v, REST %+v", i, p.Category, want.Category)
		}
		var page discoveryapi.PublicEpisodeList
		cat.restJSON("/api/v1/discovery/programs/"+p.ID+"/episodes?limit=3", &page)
		checkEpisodes(t, p.Episodes, page, p.ID)
		if len(page.Items) > 0 {
			withEpisodes++
		}
	}
	if withEpisodes != 29 {
		t.Fatalf("%d programs with episodes, want 29", withEpisodes)
	}
	// The program cursors carry on as the REST ones do.
	var firstPage programsData
	query(t, h, `{ programs(first: 7) { edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }`, nil, &firstPage)
	var restFirst discoveryapi.PublicProgramList
	cat.restJSON("/api/v1/discovery/programs?limit=7", &restFirst)
	if end := firstPage.Programs.PageInfo.EndCursor; end == nil || *end != *restFirst.Page.NextCursor || !firstPage.Programs.PageInfo.HasNextPage {
		t.Fatalf("endCursor %v, REST next_cursor %v", end, restFirst.Page.NextCursor)
	}
}

// checkEpisodes compares a connection with the REST page of the same episodes of programID.
func checkEpisodes(t *testing.T, got gqlEpisodes, want discoveryapi.PublicEpisodeList, programID string) {
	t.Helper()
	if len(got.Edges) != len(want.Items) || got.PageInfo.HasNextPage != want.Page.HasMore || got.PageInfo.HasPreviousPage {
		t.Fatalf("%s: %d episodes, pageInfo %+v; REST %d, %+v", programID, len(got.Edges), got.PageInfo, len(want.Items), want.Page)
	}
	for i, e := range got.Edges {
		n, w := e.Node, want.Items[i]
		if n.ID != w.Id.String() || n.Title != w.Title || n.Language != w.Language || *n.SeasonNumber != int(*w.SeasonNumber) ||
			n.EpisodeNumber != int(w.EpisodeNumber) || *n.DurationSeconds != int(*w.DurationSeconds) ||
			n.PublishedAt != w.PublishedAt.Format(time.RFC3339) || n.Program.ID != programID {
			t.Fatalf("%s: episode %d %+v, REST %+v", programID, i, n, w)
		}
	}
	if len(got.Edges) == 0 {
		if got.PageInfo.StartCursor != nil || got.PageInfo.EndCursor != nil {
			t.Fatalf("%s: cursors on an empty page: %+v", programID, got.PageInfo)
		}
		return
	}
	if *got.PageInfo.StartCursor != got.Edges[0].Cursor || *got.PageInfo.EndCursor != got.Edges[len(got.Edges)-1].Cursor {
		t.Fatalf("%s: pageInfo %+v does not match the edges", programID, got.PageInfo)
	}
	if want.Page.HasMore && *got.PageInfo.EndCursor != *want.Page.NextCursor {
		t.Fatalf("%s: endCursor %s, REST next_cursor %s", programID, *got.PageInfo.EndCursor, *want.Page.NextCursor)
	}
}

func TestEpisodeCursors(t *testing.T) {
	cat := newCatalogue(t)
	prog := cat.program("حكايات البحر", 0, nil)
	var all []string
	for n := range 105 {
		all = append(all, cat.episode(prog, nil, n+1))
	}
	h, _, d, _ := newGateway(t, cat.h, problem(http.StatusNotImplemented, ""))
	page := func(first int, after *string, sort string) gqlEpisodes {
		t.Helper()
		var got struct {
			Program struct {
				Episodes gqlEpisodes `json:"episodes"`
			} `json:"program"`
		}
		query(t, h, `query($id: ID!, $first: Int, $after: String, $sort: EpisodeSort) {
			program(id: $id) { episodes(first: $first, after: $after, sort: $sort) { `+episodeFields+` } } }`,
			map[string]any{"id": prog, "first": first, "after": after, "sort": sort}, &got)
		return got.Program.Episodes
	}

	// Walking by endCursor reads every episode once, in order; endCursor is the REST cursor.
	var walked []string
	var after *string
	for {
		p := page(40, after, "EPISODE_NUMBER")
		walked = append(walked, p.ids()...)
		if !p.PageInfo.HasNextPage {
			break
		}
		after = p.PageInfo.EndCursor
	}
	if !slices.Equal(walked, all) {
		t.Fatalf("walked %d episodes, want %d in order", len(walked), len(all))
	}

	// Every edge's cursor starts the next page right after it, also where that takes two REST calls.
	first := page(100, nil, "EPISODE_NUMBER")
	d.take()
	for _, c := range []struct{ edge, first, calls int }{{0, 5, 1}, {49, 60, 2}, {98, 10, 2}} {
		got := page(c.first, &first.Edges[c.edge].Cursor, "EPISODE_NUMBER")
		want := all[c.edge+1 : min(c.edge+1+c.first, len(all))]
		if !slices.Equal(got.ids(), want) || got.PageInfo.HasNextPage != (c.edge+1+c.first < len(all)) {
			t.Fatalf("after edge %d, first %d: %d episodes, hasNextPage %v", c.edge, c.first, len(got.Edges), got.PageInfo.HasNextPage)
		}
		if calls := paths(d.take()); len(calls) != 1+c.calls { // getPublicProgram, then the episode lists
			t.Fatalf("after edge %d, first %d: upstream calls %v, want %d listPublicEpisodes", c.edge, c.first, calls, c.calls)
		}
	}

	// Other orders and the first page through the batch agree with listPublicEpisodes.
	for _, sort := range []string{"EPISODE_NUMBER_DESC", "LATEST"} {
		var want discoveryapi.PublicEpisodeList
		cat.restJSON("/api/v1/discovery/programs/"+prog+"/episodes?limit=5&sort="+map[string]string{"EPISODE_NUMBER_DESC": "-episode_number", "LATEST": "latest"}[sort], &want)
		got := page(5, nil, sort)
		if !slices.Equal(got.ids(), []string{want.Items[0].Id.String(), want.Items[1].Id.String(), want.Items[2].Id.String(), want.Items[3].Id.String(), want.Items[4].Id.String()}) ||
			*got.PageInfo.EndCursor != *want.Page.NextCursor {
			t.Fatalf("sort %s: %v", sort, got.ids())
		}
	}
}

func TestUnknownItemsAreNull(t *testing.T) {
	h, _, _, _ := newGateway(t, newCatalogue(t).h, problem(http.StatusNotImplemented, ""))
	r := send(t, h, map[string]any{
		"query":     `query($p: ID!, $e: ID!) { program(id: $p) { id } episode(id: $e) { id } }`,
		"variables": map[string]any{"p": newID(), "e": newID()},
	})
	if len(r.Errors) != 0 || string(r.Data) != `{"program":null,"episode":null}` {
		t.Fatalf("%s %v", r.Data, r.Errors)
	}
}

func TestEpisodeWithItsProgram(t *testing.T) {
	cat := newCatalogue(t)
	prog := cat.program("برنامج الصباح", 0, nil)
	ep := cat.episode(prog, nil, 1)
	other := cat.episode(prog, nil, 2)
	h, _, d, _ := newGateway(t, cat.h, problem(http.StatusNotImplemented, ""))
	var got struct {
		Episode struct {
			ID      string `json:"id"`
			Program struct {
				ID    string `json:"id"`
				Title string `json:"title"`
			} `json:"program"`
		} `json:"episode"`
		LatestEpisodes gqlEpisodes `json:"latestEpisodes"`
	}
	query(t, h, `query($id: ID!) { episode(id: $id) { id program { id title } } latestEpisodes(first: 10) { `+episodeFields+` } }`, map[string]any{"id": ep}, &got)
	if got.Episode.ID != ep || got.Episode.Program.ID != prog || got.Episode.Program.Title != "برنامج الصباح" {
		t.Fatalf("episode %+v", got.Episode)
	}
	if ids := got.LatestEpisodes.ids(); !slices.Equal(ids, []string{other, ep}) || got.LatestEpisodes.Edges[0].Node.Program.ID != prog {
		t.Fatalf("latest %v", ids)
	}
	// getPublicEpisode, listLatestEpisodes and one getPublicProgram for the three program fields.
	if calls := d.take(); len(calls) != 3 {
		t.Fatalf("upstream calls %v", paths(calls))
	}
}

func TestThroughTheGatewayMux(t *testing.T) {
	cat := newCatalogue(t)
	seed(cat, 4)
	_, mux, d, _ := newGateway(t, cat.h, problem(http.StatusNotImplemented, ""))
	var got programsData
	query(t, mux, programsQuery, nil, &got)
	if len(got.Programs.Edges) != 4 || len(got.Programs.Edges[1].Node.Episodes.Edges) != 4 {
		t.Fatalf("%+v", got)
	}
	if calls := d.take(); len(calls) > 1+len(got.Programs.Edges) {
		t.Fatalf("upstream calls %v", paths(calls))
	}
	// The REST batch operation is routed by the gateway's contract, not shadowed by /programs/{programId}.
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/discovery/programs/episodes?per_program=2&program_id="+got.Programs.Edges[1].Node.ID, nil))
	var batch discoveryapi.ProgramEpisodesList
	if err := json.Unmarshal(rec.Body.Bytes(), &batch); rec.Code != http.StatusOK || err != nil || len(batch.Items) != 1 || len(batch.Items[0].Episodes) != 2 || !batch.Items[0].HasMore {
		t.Fatalf("listEpisodesOfPrograms through the gateway: %d %s", rec.Code, rec.Body)
	}
}
