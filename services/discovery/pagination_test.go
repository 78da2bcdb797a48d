package discovery

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"golang.org/x/text/collate"
	"golang.org/x/text/language"

	"github.com/mediamesh/mediamesh/gen/events/contentevents"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
)

// walk follows next_cursor from path (which has a query) with page size limit and returns every
// page's items as raw JSON objects, failing on a duplicate, an oversized page or a broken chain.
func (f *fixture) walk(path string, limit int) []map[string]any {
	f.t.Helper()
	var all []map[string]any
	seen := map[string]bool{}
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 100 {
			f.t.Fatalf("%s: more than 100 pages", path)
		}
		q := fmt.Sprintf("%s&limit=%d", path, limit)
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		var page struct {
			Items []map[string]any `json:"items"`
			Page  struct {
				NextCursor *string `json:"next_cursor"`
				HasMore    bool    `json:"has_more"`
			} `json:"page"`
		}
		f.getJSON(q, &page)
		if len(page.Items) > limit {
			f.t.Fatalf("%s: page of %d items, limit %d", q, len(page.Items), limit)
		}
		for _, it := range page.Items {
			id := it["id"].(string)
			if seen[id] {
				f.t.Fatalf("%s: %s on two pages", path, id)
			}
			seen[id] = true
			all = append(all, it)
		}
		if page.Page.HasMore != (page.Page.NextCursor != nil) {
			f.t.Fatalf("%s: has_more %v with next_cursor %v", q, page.Page.HasMore, page.Page.NextCursor)
		}
		if !page.Page.HasMore {
			return all
		}
		if len(page.Items) != limit {
			f.t.Fatalf("%s: a short page (%d) before the last", q, len(page.Items))
		}
		cursor = *page.Page.NextCursor
	}
}

func ids(items []map[string]any) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it["id"].(string)
	}
	return out
}

func TestProgramPagination(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		titles := []string{"banana", "Apple", "apple", "Äpfel", "cherry", "Zebra", "zebra", "éclair", "Eclair", "date",
			"apple", "fig", "Grape", "grape", "kiwi", "lemon", "Lime", "mango", "nectarine", "olive", "Papaya", "quince", "apple",
			strings.Repeat("ب", 200), strings.Repeat("漢", 199) + "b", strings.Repeat("漢", 199) + "a"} // the longest keys still fit a cursor
		var all []string
		for i, title := range titles {
			p := programSnap(newID(), 1, title, "en")
			p.PublishedAt = ptr(base.Add(time.Duration(i%4) * time.Hour)) // ties on published_at
			f.feed(publishedMsg(t, p))
			all = append(all, p.ID)
		}
		for _, limit := range []int{1, 4, 7, 23, 100} {
			latest := f.walk("/api/v1/discovery/programs?sort=latest", limit)
			if !sameSet(ids(latest), all) {
				t.Fatalf("limit %d: latest walked %d of %d programs", limit, len(latest), len(all))
			}
			for i := 1; i < len(latest); i++ {
				a, b := latest[i-1], latest[i]
				if a["published_at"].(string) < b["published_at"].(string) ||
					(a["published_at"] == b["published_at"] && a["id"].(string) < b["id"].(string)) {
					t.Fatalf("limit %d: latest order broken at %d: %v then %v", limit, i, a, b)
				}
			}
			byTitle := f.walk("/api/v1/discovery/programs?sort=title", limit)
			if !sameSet(ids(byTitle), all) {
				t.Fatalf("limit %d: title walked %d of %d programs", limit, len(byTitle), len(all))
			}
			// Titles are in collation order, except that titles agreeing in their first ~60
			// characters (equal stored keys, like the last two) are ordered by id.
			col := collate.New(language.English)
			for i := 1; i < len(byTitle); i++ {
				a, b := byTitle[i-1], byTitle[i]
				ta, tb := a["title"].(string), b["title"].(string)
				ka, kb := f.svc.titles.key("en", ta), f.svc.titles.key("en", tb)
				if ka > kb || (ka == kb && a["id"].(string) > b["id"].(string)) || (ka != kb && col.CompareString(ta, tb) > 0) {
					t.Fatalf("limit %d: title order broken at %d: %q then %q", limit, i, ta, tb)
				}
			}
		}
		// The default order is latest.
		if got, want := ids(f.walk("/api/v1/discovery/programs?kind=podcast", 5)), ids(f.walk("/api/v1/discovery/programs?sort=latest", 5)); !slices.Equal(got, want) {
			t.Fatal("the default order is not latest")
		}
		// A filtered walk.
		if got := f.walk("/api/v1/discovery/programs?sort=title&language=en", 3); len(got) != len(all) {
			t.Fatalf("filtered walk: %d of %d", len(got), len(all))
		}
	})
}

func TestEpisodePagination(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		prog := programSnap(newID(), 1, "Series", "en")
		other := programSnap(newID(), 1, "Other", "en")
		hidden := programSnap(newID(), 1, "Hidden", "en")
		f.feed(publishedMsg(t, prog), publishedMsg(t, other), publishedMsg(t, hidden), unpublishedMsg(t, hidden, 2))
		type key struct {
			season int
			number int
		}
		var all, everything []string
		for i, k := range []key{{0, 1}, {0, 2}, {1, 1}, {1, 2}, {1, 3}, {2, 1}, {2, 2}, {2, 2}, {1, 10}, {3, 1}, {0, 3}, {2, 5}, {1, 4}} {
			var season *int
			if k.season > 0 {
				season = ptr(k.season)
			}
			e := episodeSnap(newID(), prog.ID, 1, season, k.number, base.Add(time.Duration(i%3)*time.Minute))
			f.feed(publishedMsg(t, e))
			all = append(all, e.ID)
		}
		everything = append(everything, all...)
		for i := range 5 {
			e := episodeSnap(newID(), other.ID, 1, nil, i+1, base.Add(time.Duration(i)*time.Second))
			f.feed(publishedMsg(t, e))
			everything = append(everything, e.ID)
		}
		f.feed(publishedMsg(t, episodeSnap(newID(), hidden.ID, 1, nil, 1, base.Add(time.Hour))))

		epKey := func(it map[string]any) (int, int, string) {
			s := 0
			if v, ok := it["season_number"]; ok {
				s = int(v.(float64))
			}
			return s, int(it["episode_number"].(float64)), it["id"].(string)
		}
		less := func(a, b map[string]any) bool {
			as, an, ai := epKey(a)
			bs, bn, bi := epKey(b)
			if as != bs {
				return as < bs
			}
			if an != bn {
				return an < bn
			}
			return ai < bi
		}
		path := "/api/v1/discovery/programs/" + prog.ID + "/episodes"
		for _, limit := range []int{1, 4, 13, 50} {
			asc := f.walk(path+"?sort=episode_number", limit)
			desc := f.walk(path+"?sort=-episode_number", limit)
			latest := f.walk(path+"?sort=latest", limit)
			for name, items := range map[string][]map[string]any{"episode_number": asc, "-episode_number": desc, "latest": latest} {
				if !sameSet(ids(items), all) {
					t.Fatalf("limit %d, %s: walked %d of %d episodes", limit, name, len(items), len(all))
				}
			}
			for i := 1; i < len(all); i++ {
				if !less(asc[i-1], asc[i]) {
					t.Fatalf("limit %d: episode_number order broken at %d", limit, i)
				}
				if !less(desc[i], desc[i-1]) {
					t.Fatalf("limit %d: -episode_number order broken at %d", limit, i)
				}
				a, b := latest[i-1], latest[i]
				if a["published_at"].(string) < b["published_at"].(string) ||
					(a["published_at"] == b["published_at"] && a["id"].(string) < b["id"].(string)) {
					t.Fatalf("limit %d: latest order broken at %d", limit, i)
				}
			}
			across := f.walk("/api/v1/discovery/latest?", limit)
			if !sameSet(ids(across), everything) {
				t.Fatalf("limit %d: latest across programs walked %d of %d (the hidden program's episode must not show)", limit, len(across), len(everything))
			}
		}
		// The default order is episode_number; a season filter keeps one season.
		if got, want := ids(f.walk(path+"?", 3)), ids(f.walk(path+"?sort=episode_number", 3)); !slices.Equal(got, want) {
			t.Fatal("the default episode order is not episode_number")
		}
		season1 := f.walk(path+"?season_number=1", 2)
		if len(season1) != 5 {
			t.Fatalf("season 1: %d episodes, want 5", len(season1))
		}
		for _, e := range season1 {
			if s, _, _ := epKey(e); s != 1 {
				t.Fatalf("season filter returned %v", e)
			}
		}
	})
}

func TestRequestErrors(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		prog := programSnap(newID(), 1, "P", "en")
		draft := programSnap(newID(), 1, "Draft", "en")
		draft.Status = contentevents.ContentStatusDraft
		ep := episodeSnap(newID(), prog.ID, 1, nil, 1, base)
		f.feed(publishedMsg(t, prog), publishedMsg(t, ep), publishedMsg(t, episodeSnap(newID(), prog.ID, 1, nil, 2, base)))

		for _, path := range []string{
			"/api/v1/discovery/programs/" + newID(),
			"/api/v1/discovery/programs/" + newID() + "/episodes",
			"/api/v1/discovery/episodes/" + newID(),
			"/api/v1/discovery/episodes/" + prog.ID, // a program is not an episode
		} {
			var problem struct {
				Status int    `json:"status"`
				Type   string `json:"type"`
			}
			if err := json.Unmarshal(f.wantStatus(path, 404), &problem); err != nil || problem.Status != 404 || !strings.HasSuffix(problem.Type, "/not-found") {
				t.Errorf("GET %s: problem %+v (%v)", path, problem, err)
			}
		}

		// A cursor of another list, or not a cursor at all, is a 400 naming query.cursor.
		var page programList
		f.getJSON("/api/v1/discovery/programs/"+prog.ID+"/episodes?limit=1", &page)
		if page.Page.NextCursor == nil {
			t.Fatal("no next cursor")
		}
		episodeCursor := url.QueryEscape(*page.Page.NextCursor)
		latestCursor := cursor{Order: orderProgramsLatest, Time: ptr(base), ID: uuid.MustParse(ep.ID)}.encode()
		for _, path := range []string{
			"/api/v1/discovery/programs?cursor=%21%21%21",
			"/api/v1/discovery/programs?cursor=bm90IGpzb24",                                    // "not json"
			"/api/v1/discovery/programs?cursor=" + cursor{Order: orderProgramsLatest}.encode(), // incomplete
			"/api/v1/discovery/programs?sort=title&cursor=" + latestCursor,
			"/api/v1/discovery/programs?cursor=" + episodeCursor,
			"/api/v1/discovery/latest?cursor=" + latestCursor,
			"/api/v1/discovery/programs/" + prog.ID + "/episodes?sort=-episode_number&cursor=" + episodeCursor,
			"/api/v1/discovery/programs/" + prog.ID + "/episodes?cursor=" + url.QueryEscape(cursor{Order: orderEpisodesNumber, Season: ptr(int32(0)), ID: uuid.MustParse(ep.ID)}.encode()),
			"/api/v1/discovery/programs?sort=title&cursor=" + cursor{Order: orderProgramsTitle, Key: "zz", ID: uuid.MustParse(ep.ID)}.encode(),
		} {
			var problem struct {
				Errors []struct {
					Field string `json:"field"`
				} `json:"errors"`
			}
			body := f.wantStatus(path, 400)
			if err := json.Unmarshal(body, &problem); err != nil || len(problem.Errors) != 1 || problem.Errors[0].Field != "query.cursor" {
				t.Errorf("GET %s: %s", path, body)
			}
		}
		f.wantStatus("/api/v1/discovery/programs?cursor="+latestCursor, 200) // its own list takes it

		// The contract's bounds answer 400 before the handler.
		for _, path := range []string{
			"/api/v1/discovery/programs/not-a-uuid",
			"/api/v1/discovery/programs?limit=0",
			"/api/v1/discovery/programs?limit=101",
			"/api/v1/discovery/programs?sort=newest",
			"/api/v1/discovery/programs?kind=movie",
			"/api/v1/discovery/programs?language=english",
			"/api/v1/discovery/programs?category=Not%20A%20Slug",
			"/api/v1/discovery/programs/" + prog.ID + "/episodes?season_number=0",
			"/api/v1/discovery/latest?limit=-1",
			"/api/v1/discovery/categories?limit=501",
			"/api/v1/discovery/programs?cursor=" + strings.Repeat("a", 513),
		} {
			f.wantStatus(path, 400)
		}
		// Empty results are 200 with no items.
		for _, path := range []string{
			"/api/v1/discovery/programs?language=de",
			"/api/v1/discovery/latest?category=nothing-here",
			"/api/v1/discovery/programs/" + prog.ID + "/episodes?season_number=9",
			"/api/v1/discovery/categories?language=zz",
		} {
			var list struct {
				Items []any `json:"items"`
			}
			f.getJSON(path, &list)
			if list.Items == nil || len(list.Items) != 0 {
				t.Errorf("GET %s: items %v, want []", path, list.Items)
			}
		}
		f.wantStatus("/api/v1/discovery/programs/"+draft.ID, 404)
	})
}
