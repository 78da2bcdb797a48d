package public

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/gen/openapi/commonapi"
	"github.com/mediamesh/mediamesh/gen/openapi/searchapi"
)

// fakeSearch answers searchContent with a program hit and an episode hit (and the facets asked
// for) and suggestContent with one suggestion, as the search service's contract describes them.
func fakeSearch(programID, episodeID string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/api/v1/discovery/search/suggest" {
			_ = json.NewEncoder(w).Encode(searchapi.Suggestions{Items: []searchapi.Suggestion{{Text: "برنامج الصباح", Type: searchapi.Program, Id: uuid.MustParse(programID)}}})
			return
		}
		next := "c2VhcmNoLXBhZ2UtMg"
		hits := []searchapi.SearchHit{
			{Id: uuid.MustParse(programID), Type: searchapi.Program, Title: "برنامج الصباح", Snippet: ptr("برنامج <mark>الصباح</mark>"), Language: "ar",
				Kind: searchapi.Podcast, PublishedAt: base, Score: 12.5},
			{Id: uuid.MustParse(episodeID), Type: searchapi.Episode, Title: "الحلقة ١", Language: "ar", Kind: searchapi.Podcast,
				DurationSeconds: ptr(int32(1800)), ThumbnailUrl: ptr("https://cdn.example.com/t.jpg"), PublishedAt: base.Add(time.Hour), Score: 9.25},
		}
		facets := &searchapi.SearchFacets{}
		for _, f := range strings.Split(r.URL.Query().Get("facets"), ",") {
			switch f {
			case "kind":
				facets.Kind = &[]searchapi.FacetBucket{{Value: "podcast", Count: 2}}
			case "type":
				facets.Type = &[]searchapi.FacetBucket{{Value: "episode", Count: 1}, {Value: "program", Count: 1}}
			case "language":
				facets.Language = &[]searchapi.FacetBucket{}
			}
		}
		_ = json.NewEncoder(w).Encode(searchapi.SearchResults{Items: hits, Facets: facets, Page: commonapi.PageInfo{HasMore: true, NextCursor: &next}, TookMs: 3})
	})
}

func TestSearch(t *testing.T) {
	cat := newCatalogue(t)
	prog := cat.program("برنامج الصباح", 0, nil)
	ep := cat.episode(prog, nil, 1)
	h, _, _, s := newGateway(t, cat.h, fakeSearch(prog, ep))

	var got struct {
		Search struct {
			Edges []struct {
				Cursor string `json:"cursor"`
				Node   struct {
					ID              string  `json:"id"`
					ContentType     string  `json:"contentType"`
					Title           string  `json:"title"`
					Snippet         *string `json:"snippet"`
					Language        string  `json:"language"`
					Kind            string  `json:"kind"`
					DurationSeconds *int    `json:"durationSeconds"`
					ThumbnailURL    *string `json:"thumbnailUrl"`
					PublishedAt     string  `json:"publishedAt"`
					Score           float64 `json:"score"`
					Content         struct {
						Typename string `json:"__typename"`
						ID       string `json:"id"`
						Title    string `json:"title"`
					} `json:"content"`
				} `json:"node"`
			} `json:"edges"`
			PageInfo gqlPageInfo `json:"pageInfo"`
			Facets   struct {
				ContentTypes []struct {
					Value string `json:"value"`
					Count int    `json:"count"`
				} `json:"contentTypes"`
				Kinds []struct {
					Value string `json:"value"`
					Count int    `json:"count"`
				} `json:"kinds"`
				Languages []any `json:"languages"`
			} `json:"facets"`
		} `json:"search"`
		Suggest []struct {
			Text        string `json:"text"`
			ContentType string `json:"contentType"`
			ID          string `json:"id"`
		} `json:"suggest"`
	}
	query(t, h, `{
		search(query: "الصباح", filter: {contentType: EPISODE, kind: PODCAST, language: "ar", minDurationSeconds: 60, publishedAfter: "2026-01-01T00:00:00Z"}, sort: LATEST, first: 2) {
			edges { cursor node { id contentType title snippet language kind durationSeconds thumbnailUrl publishedAt score
				content { __typename ... on Program { id title } ... on Episode { id title } } } }
			pageInfo { hasNextPage endCursor }
			facets { contentTypes { value count } kinds { value count } languages { value } }
		}
		suggest(query: "الصب", language: "ar", first: 5) { text contentType id }
	}`, nil, &got)

	calls := s.take() // searchContent and suggestContent, in either order
	if len(calls) != 2 {
		t.Fatalf("search calls %v", paths(calls))
	}
	if calls[0].URL.Path != "/api/v1/discovery/search" {
		calls[0], calls[1] = calls[1], calls[0]
	}
	q := calls[0].URL.Query()
	if calls[0].URL.Path != "/api/v1/discovery/search" || q.Get("q") != "الصباح" || q.Get("type") != "episode" || q.Get("kind") != "podcast" ||
		q.Get("language") != "ar" || q.Get("duration_min") != "60" || q.Get("published_from") != "2026-01-01T00:00:00Z" ||
		q.Get("sort") != "latest" || q.Get("limit") != "2" || q.Get("facets") != "kind,language,type" {
		t.Fatalf("searchContent query %v", q)
	}
	if sq := calls[1].URL.Query(); sq.Get("q") != "الصب" || sq.Get("language") != "ar" || sq.Get("limit") != "5" {
		t.Fatalf("suggestContent query %v", sq)
	}
	hits := got.Search.Edges
	if len(hits) != 2 || !got.Search.PageInfo.HasNextPage || *got.Search.PageInfo.EndCursor != "c2VhcmNoLXBhZ2UtMg" || hits[1].Cursor != "c2VhcmNoLXBhZ2UtMg" {
		t.Fatalf("page %+v", got.Search)
	}
	p, e := hits[0].Node, hits[1].Node
	if p.ID != prog || p.ContentType != "PROGRAM" || p.Kind != "PODCAST" || *p.Snippet != "برنامج <mark>الصباح</mark>" || p.Score != 12.5 ||
		p.PublishedAt != "2026-03-01T12:00:00Z" || p.Content.Typename != "Program" || p.Content.ID != prog || p.Content.Title != "برنامج الصباح" {
		t.Fatalf("program hit %+v", p)
	}
	if e.ID != ep || e.ContentType != "EPISODE" || *e.DurationSeconds != 1800 || *e.ThumbnailURL != "https://cdn.example.com/t.jpg" || e.Snippet != nil ||
		e.Content.Typename != "Episode" || e.Content.ID != ep {
		t.Fatalf("episode hit %+v", e)
	}
	f := got.Search.Facets
	if len(f.ContentTypes) != 2 || f.ContentTypes[0].Value != "EPISODE" || len(f.Kinds) != 1 || f.Kinds[0].Value != "PODCAST" || f.Kinds[0].Count != 2 || len(f.Languages) != 0 {
		t.Fatalf("facets %+v", f)
	}
	if len(got.Suggest) != 1 || got.Suggest[0].ContentType != "PROGRAM" || got.Suggest[0].ID != prog {
		t.Fatalf("suggest %+v", got.Suggest)
	}

	// Without facets in the selection none are counted.
	var plain struct{}
	query(t, h, `{ search(query: "الصباح") { edges { cursor } } }`, nil, &plain)
	if q := s.take()[0].URL.Query(); q.Has("facets") {
		t.Fatalf("facets asked for without being selected: %v", q)
	}
}
