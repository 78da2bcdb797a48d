package discovery

import (
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/gen/events/contentevents"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
)

// programEpisodesList mirrors the listEpisodesOfPrograms response.
type programEpisodesList struct {
	Items []struct {
		ProgramID  string           `json:"program_id"`
		Episodes   []map[string]any `json:"episodes"`
		HasMore    bool             `json:"has_more"`
		NextCursor *string          `json:"next_cursor"`
	} `json:"items"`
}

// rawEpisodePage mirrors a listPublicEpisodes page with its items as raw objects.
type rawEpisodePage struct {
	Items []map[string]any `json:"items"`
	Page  struct {
		NextCursor *string `json:"next_cursor"`
		HasMore    bool    `json:"has_more"`
	} `json:"page"`
}

func batchPath(ids []string, query string) string {
	var b strings.Builder
	b.WriteString("/api/v1/discovery/programs/episodes?")
	for _, id := range ids {
		b.WriteString("program_id=" + id + "&")
	}
	return b.String() + query
}

func TestListEpisodesOfPrograms(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		many, two, none, hidden := newID(), newID(), newID(), newID()
		for _, id := range []string{many, two, none} {
			f.feed(publishedMsg(t, programSnap(id, 1, "برنامج "+id[len(id)-4:], "ar")))
		}
		draft := programSnap(hidden, 1, "Hidden", "en")
		draft.Status, draft.PublishedAt = contentevents.ContentStatusDraft, nil
		f.feed(message(t, &contentevents.ContentCreated{EventID: newID(), OccurredAt: base, AggregateID: hidden,
			AggregateType: contentevents.AggregateTypeProgram, Snapshot: draft}, newID()))
		f.feed(publishedMsg(t, episodeSnap(newID(), hidden, 1, nil, 1, base))) // stored, never visible
		for i := range 7 {
			season := 1 + i%2
			// Pairs share published_at, so the latest order breaks ties by id.
			f.feed(publishedMsg(t, episodeSnap(newID(), many, 1, &season, 1+i/2, base.Add(time.Duration(i/2)*time.Hour))))
		}
		f.feed(publishedMsg(t, episodeSnap(newID(), two, 1, nil, 1, base)), publishedMsg(t, episodeSnap(newID(), two, 1, nil, 2, base.Add(time.Hour))))

		asked := []string{many, newID(), two, hidden, none, many}
		for _, query := range []string{"", "sort=episode_number", "sort=-episode_number", "sort=latest", "sort=latest&season_number=2", "season_number=1&per_program=1"} {
			t.Run(query, func(t *testing.T) {
				var got programEpisodesList
				f.getJSON(batchPath(asked, query), &got)
				var order []string
				for _, it := range got.Items {
					order = append(order, it.ProgramID)
				}
				if want := []string{many, two, none}; !slices.Equal(order, want) {
					t.Fatalf("programs %v, want %v (visible ones, in request order, once)", order, want)
				}
				// The same page of listPublicEpisodes: limit is per_program (5 by default).
				single, _ := url.ParseQuery(query)
				limit := "5"
				if n := single.Get("per_program"); n != "" {
					limit = n
					single.Del("per_program")
				}
				single.Set("limit", limit)
				for _, it := range got.Items {
					path := "/api/v1/discovery/programs/" + it.ProgramID + "/episodes?" + single.Encode()
					var want rawEpisodePage
					f.getJSON(path, &want)
					if !reflect.DeepEqual(it.Episodes, want.Items) && len(it.Episodes)+len(want.Items) > 0 {
						t.Fatalf("%s: episodes\n%v\nwant the first page of listPublicEpisodes\n%v", it.ProgramID, it.Episodes, want.Items)
					}
					if it.HasMore != want.Page.HasMore || !reflect.DeepEqual(it.NextCursor, want.Page.NextCursor) {
						t.Fatalf("%s: has_more %v next_cursor %v, want %v %v", it.ProgramID, it.HasMore, it.NextCursor, want.Page.HasMore, want.Page.NextCursor)
					}
					if it.NextCursor != nil { // the cursor carries on in listPublicEpisodes
						f.wantStatus(path+"&cursor="+url.QueryEscape(*it.NextCursor), http.StatusOK)
					}
				}
			})
		}

		// A whole walk: the batch page, then listPublicEpisodes from its cursor, covers every episode once.
		var first programEpisodesList
		f.getJSON(batchPath([]string{many}, "per_program=2&sort=-episode_number"), &first)
		walked := ids(first.Items[0].Episodes)
		for cursor := first.Items[0].NextCursor; cursor != nil; {
			var page rawEpisodePage
			f.getJSON("/api/v1/discovery/programs/"+many+"/episodes?sort=-episode_number&limit=2&cursor="+url.QueryEscape(*cursor), &page)
			walked = append(walked, ids(page.Items)...)
			cursor = page.Page.NextCursor
		}
		if all := ids(f.walk("/api/v1/discovery/programs/"+many+"/episodes?sort=-episode_number", 100)); !slices.Equal(walked, all) {
			t.Fatalf("walk from the batch page %v, want %v", walked, all)
		}

		// Nothing visible: an empty list, not a 404.
		var empty programEpisodesList
		f.getJSON(batchPath([]string{newID(), hidden}, ""), &empty)
		if empty.Items == nil || len(empty.Items) != 0 {
			t.Fatalf("no visible program: %+v", empty)
		}
		// The literal path segment does not shadow /programs/{programId}.
		f.wantStatus("/api/v1/discovery/programs/"+many, http.StatusOK)
	})
}

func TestListEpisodesOfProgramsRejectsBadInput(t *testing.T) {
	f := newFixture(t, databasetest.SQLite(t))
	tooMany := make([]string, 101)
	for i := range tooMany {
		tooMany[i] = newID()
	}
	for _, path := range []string{
		"/api/v1/discovery/programs/episodes",
		batchPath([]string{"not-a-uuid"}, ""),
		batchPath(tooMany, ""),
		batchPath([]string{newID()}, "per_program=0"),
		batchPath([]string{newID()}, "per_program=21"),
		batchPath([]string{newID()}, "season_number=0"),
		batchPath([]string{newID()}, "sort=title"),
	} {
		f.wantStatus(path, http.StatusBadRequest)
	}
}
