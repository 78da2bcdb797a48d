package cms

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/gen/openapi/cmsapi"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
)

// walk reads every page of a list with limit and returns the items' ids in order; it fails on a
// duplicate, on a cursor longer than the contract allows, or on pages that never end.
func walk[L cmsapi.ProgramList | cmsapi.EpisodeList | cmsapi.AuditEntryList](t *testing.T, f *fixture, path, query string, limit int, token string) []uuid.UUID {
	t.Helper()
	var ids []uuid.UUID
	seen := map[uuid.UUID]bool{}
	cursor := ""
	for page := 0; ; page++ {
		if page > 1000 {
			t.Fatal("the pages never end")
		}
		q := fmt.Sprintf("%s&limit=%d", query, limit)
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		var l L
		f.do(http.MethodGet, path+"?"+q, token, nil).must(t, http.StatusOK, &l)
		var items []uuid.UUID
		var info struct {
			more bool
			next *string
		}
		switch v := any(&l).(type) {
		case *cmsapi.ProgramList:
			for _, p := range v.Items {
				items = append(items, p.Id)
			}
			info.more, info.next = v.Page.HasMore, v.Page.NextCursor
		case *cmsapi.EpisodeList:
			for _, e := range v.Items {
				items = append(items, e.Id)
			}
			info.more, info.next = v.Page.HasMore, v.Page.NextCursor
		case *cmsapi.AuditEntryList:
			for _, e := range v.Items {
				items = append(items, e.Id)
			}
			info.more, info.next = v.Page.HasMore, v.Page.NextCursor
		}
		if len(items) > limit {
			t.Fatalf("page of %d items, limit %d", len(items), limit)
		}
		for _, id := range items {
			if seen[id] {
				t.Fatalf("%s?%s: %s listed twice", path, query, id)
			}
			seen[id] = true
		}
		ids = append(ids, items...)
		if !info.more {
			if info.next != nil {
				t.Fatal("a last page with a next cursor")
			}
			return ids
		}
		if info.next == nil || len(*info.next) > maxCursorBytes {
			t.Fatalf("next cursor %v", info.next)
		}
		cursor = *info.next
	}
}

// TestListPrograms checks every filter and sort of listPrograms, walking all pages.
func TestListPrograms(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, Config{})
		titles := []string{"Alpha 1", "alpha 2", "برنامج الصباح", "100% fun", "snake_case", "Beta", "gamma"}
		kinds := []string{"series", "podcast", "documentary", "show"}
		byID := map[uuid.UUID]cmsapi.Program{}
		var all []uuid.UUID
		for i := range 24 {
			extra := map[string]any{"kind": kinds[i%4], "title": titles[i%len(titles)] + fmt.Sprint(" #", i)}
			if i%3 == 0 {
				extra["language"] = "en"
				extra["tags"] = []string{"News", "daily"}
			}
			if i%4 == 0 {
				extra["category_id"] = f.cat
			}
			p := f.createProgram(fmt.Sprintf("p%02d", i), extra)
			byID[p.Id], all = p, append(all, p.Id)
			if i%5 != 0 { // some share their created_at: the id breaks the tie
				f.clock.advance(time.Second)
			}
		}
		// Episodes for the count, a published few, a deleted one.
		f.createEpisode(all[1], nil, 1, nil)
		f.createEpisode(all[1], nil, 2, nil)
		gone := f.createEpisode(all[1], nil, 3, nil)
		f.do(http.MethodDelete, episodePath(gone.Id), "editor", nil)
		for _, i := range []int{2, 5, 8} {
			f.do(http.MethodPost, programPath(all[i], "publish"), "editor", nil).must(t, http.StatusOK, nil)
		}
		f.clock.advance(time.Minute)
		since := f.clock.now()
		f.clock.advance(time.Second)
		f.do(http.MethodPatch, programPath(all[3]), "editor", map[string]any{"summary": "changed"}).must(t, http.StatusOK, nil)
		f.do(http.MethodDelete, programPath(all[4]), "editor", nil)

		live := slices.DeleteFunc(slices.Clone(all), func(id uuid.UUID) bool { return id == all[4] })
		const path = "/api/v1/cms/programs"
		for _, sort := range []string{"created_at", "-created_at", "updated_at", "-updated_at", "title", "-title"} {
			full := walk[cmsapi.ProgramList](t, f, path, "sort="+sort, 100, "editor")
			if len(full) != len(live) {
				t.Fatalf("sort %s: %d programs, want %d", sort, len(full), len(live))
			}
			for _, limit := range []int{1, 3, 7} {
				if got := walk[cmsapi.ProgramList](t, f, path, "sort="+sort, limit, "editor"); !slices.Equal(got, full) {
					t.Fatalf("sort %s, limit %d: pages differ from one page", sort, limit)
				}
			}
		}
		// The default order is newest first, ties by id descending.
		got := walk[cmsapi.ProgramList](t, f, path, "", 5, "editor")
		want := slices.Clone(live)
		slices.SortFunc(want, func(a, b uuid.UUID) int {
			if c := byID[b].CreatedAt.Compare(byID[a].CreatedAt); c != 0 {
				return c
			}
			return strings.Compare(b.String(), a.String())
		})
		if !slices.Equal(got, want) {
			t.Fatal("default order is not -created_at, -id")
		}

		count := func(query string) int {
			return len(walk[cmsapi.ProgramList](t, f, path, query, 4, "editor"))
		}
		for _, c := range []struct {
			query string
			want  int
		}{
			{"status=published", 3},
			{"status=draft", len(live) - 3},
			{"kind=podcast", 6},
			{"language=en", 8},
			{"category_id=" + f.cat.String(), 5},
			{"tag=NEWS", 8},
			{"tag=" + url.QueryEscape("daily"), 8},
			{"q=ALPHA", 8},
			{"q=" + url.QueryEscape("الصباح"), 4},
			{"q=" + url.QueryEscape("100%"), 3},
			{"q=" + url.QueryEscape("%"), 3},
			{"q=_", 2},
			{"q=zzz", 0},
			{"updated_since=" + url.QueryEscape(since.Format(time.RFC3339Nano)), 1},
			{"include_deleted=true", len(all)},
			{"include_deleted=true&updated_since=" + url.QueryEscape(since.Format(time.RFC3339Nano)), 2},
			{"kind=series&status=published&sort=title", 1},
		} {
			if n := count(c.query); n != c.want {
				t.Errorf("%s: %d programs, want %d", c.query, n, c.want)
			}
		}

		var l cmsapi.ProgramList
		f.do(http.MethodGet, path+"?sort=created_at&limit=2", "editor", nil).must(t, http.StatusOK, &l)
		if l.Items[1].Id != all[1] || l.Items[1].EpisodeCount != 2 || l.Items[0].EpisodeCount != 0 {
			t.Fatalf("episode counts %+v", l.Items)
		}

		// Bad input: 400 naming the parameter.
		other := *l.Page.NextCursor
		for _, q := range []string{
			"cursor=" + url.QueryEscape("!!!"),
			"cursor=" + base64.RawURLEncoding.EncodeToString([]byte(`{"s":"created_at","i":"not-a-uuid"}`)),
			"cursor=" + base64.RawURLEncoding.EncodeToString([]byte(`{"s":"created_at","i":"0193a4c2-7b1e-7c3a-9f7e-2d1c5b8a9e01","z":1}`)),
			"cursor=" + base64.RawURLEncoding.EncodeToString([]byte(`[1,2]`)),
			"sort=title&cursor=" + other,
		} {
			f.do(http.MethodGet, path+"?"+q, "editor", nil).fails(t, http.StatusBadRequest, "query.cursor")
		}
		f.do(http.MethodGet, path+"?q=%00", "editor", nil).fails(t, http.StatusBadRequest, "query.q")
		f.do(http.MethodGet, path+"?tag=%FF", "editor", nil).fails(t, http.StatusBadRequest, "query.tag")
		f.do(http.MethodGet, path+"?limit=0", "editor", nil).fails(t, http.StatusBadRequest, "query.limit")
		f.do(http.MethodGet, path+"?limit=101", "editor", nil).fails(t, http.StatusBadRequest, "query.limit")
		f.do(http.MethodGet, path+"?limit=99999999999999999999", "editor", nil).fails(t, http.StatusBadRequest, "query.limit")
		f.do(http.MethodGet, path+"?updated_since=0001-01-01T00:00:00Z", "editor", nil).must(t, http.StatusOK, nil)
		f.do(http.MethodGet, path+"?updated_since=9999-12-31T23:59:59-12:00", "editor", nil).must(t, http.StatusOK, nil)
	})
}

// TestListProgramsLongTitles pages by title through titles too long for the cursor to carry.
func TestListProgramsLongTitles(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, Config{})
		for i := range 5 {
			f.createProgram(fmt.Sprintf("long-%d", i), map[string]any{"title": strings.Repeat("ع", 199) + fmt.Sprint(i)})
		}
		for _, sort := range []string{"title", "-title"} {
			full := walk[cmsapi.ProgramList](t, f, "/api/v1/cms/programs", "sort="+sort, 100, "editor")
			if got := walk[cmsapi.ProgramList](t, f, "/api/v1/cms/programs", "sort="+sort, 1, "editor"); !slices.Equal(got, full) || len(got) != 5 {
				t.Fatalf("sort %s: %d programs by pages", sort, len(got))
			}
		}
	})
}

// TestListEpisodes checks the filters and sorts of listEpisodes, walking all pages.
func TestListEpisodes(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, Config{})
		p := f.createProgram("show", nil)
		other := f.createProgram("other", nil)
		f.createEpisode(other.Id, nil, 1, nil)
		type key struct{ season, number int32 }
		keys := map[uuid.UUID]key{}
		for _, k := range []key{{2, 1}, {0, 3}, {1, 2}, {0, 1}, {1, 1}, {2, 2}, {3, 1}, {0, 2}, {1, 3}} {
			var season *int32
			if k.season > 0 {
				season = &k.season
			}
			e := f.createEpisode(p.Id, season, k.number, map[string]any{"title": fmt.Sprintf("Episode %d.%d", k.season, k.number)})
			keys[e.Id] = k
			f.clock.advance(time.Second)
		}
		path := programPath(p.Id, "episodes")
		got := walk[cmsapi.EpisodeList](t, f, path, "", 2, "editor")
		if len(got) != 9 {
			t.Fatalf("%d episodes", len(got))
		}
		for i := 1; i < len(got); i++ {
			a, b := keys[got[i-1]], keys[got[i]]
			if a.season > b.season || (a.season == b.season && a.number > b.number) {
				t.Fatalf("episode order: %v before %v", a, b)
			}
		}
		desc := walk[cmsapi.EpisodeList](t, f, path, "sort=-episode_number", 4, "editor")
		reversed := slices.Clone(got)
		slices.Reverse(reversed)
		if !slices.Equal(desc, reversed) {
			t.Fatal("-episode_number is not the reverse of episode_number")
		}
		for _, sort := range []string{"created_at", "-created_at", "updated_at", "-updated_at", "title", "-title"} {
			full := walk[cmsapi.EpisodeList](t, f, path, "sort="+sort, 100, "editor")
			if paged := walk[cmsapi.EpisodeList](t, f, path, "sort="+sort, 2, "editor"); !slices.Equal(paged, full) || len(full) != 9 {
				t.Fatalf("sort %s: pages differ", sort)
			}
		}
		f.do(http.MethodPost, episodePath(got[0], "publish"), "editor", nil).must(t, http.StatusOK, nil)
		f.do(http.MethodDelete, episodePath(got[1]), "editor", nil)
		for _, c := range []struct {
			query string
			want  int
		}{
			{"season_number=1", 3},
			{"status=published", 1},
			{"status=draft", 7},
			{"include_deleted=true", 9},
			{"include_deleted=true&season_number=2", 2},
		} {
			if n := len(walk[cmsapi.EpisodeList](t, f, path, c.query, 2, "editor")); n != c.want {
				t.Errorf("%s: %d episodes, want %d", c.query, n, c.want)
			}
		}
		f.do(http.MethodGet, programPath(uuid.Must(uuid.NewV7()), "episodes"), "editor", nil).fails(t, http.StatusNotFound, "")
		f.do(http.MethodGet, path+"?season_number=0", "editor", nil).fails(t, http.StatusBadRequest, "query.season_number")
		f.do(http.MethodGet, path+"?cursor=abc", "editor", nil).fails(t, http.StatusBadRequest, "query.cursor")
	})
}
