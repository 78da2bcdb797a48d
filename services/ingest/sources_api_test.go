package ingest

import (
	"context"
	"database/sql"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/ent/ingestdb/run"
	"github.com/mediamesh/mediamesh/gen/openapi/ingestapi"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
)

const (
	ytKey    = "AIzaSyD-TEST-KEY-do-not-leak-0001"
	ytKey2   = "AIzaSyD-TEST-KEY-do-not-leak-0002"
	jsonKey  = "json-api-token-do-not-leak-0003"
	playlist = "PLh7X2cV9bN4mQ1wE6rT8yU3iO5pA0sDfG"
)

func youtubeSource(name, key string) map[string]any {
	return map[string]any{
		"name": name, "type": "youtube", "url": "https://www.youtube.com/playlist?list=" + playlist, "target": target(),
		"youtube": map[string]any{"playlist_id": playlist}, "credentials": map[string]any{"api_key": key},
	}
}

// storedCredentials reads the raw credentials column of a source.
func (f *fixture) storedCredentials(id uuid.UUID) sql.NullString {
	f.t.Helper()
	var c sql.NullString
	if err := f.db.QueryRowContext(context.Background(), f.db.Rebind(`SELECT credentials FROM sources WHERE id = ?`), id).Scan(&c); err != nil {
		f.t.Fatal(err)
	}
	return c
}

// TestCreateSource creates an RSS, a YouTube and a JSON source through the handler and reads them
// back; credentials are stored sealed and never returned.
func TestCreateSource(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		f.secret(ytKey)
		f.secret(jsonKey)

		// RSS, with defaults.
		r := f.do(http.MethodPost, "/api/v1/ingest/sources", "admin", rssSource("صباح", "https://feeds.example.com/sabah.xml"))
		var rss ingestapi.Source
		r.must(t, http.StatusCreated, &rss)
		if got := r.header.Get("Location"); got != "/api/v1/ingest/sources/"+rss.Id.String() {
			t.Errorf("Location %q", got)
		}
		if got := r.header.Get("ETag"); got != `"1"` {
			t.Errorf("ETag %q, want \"1\"", got)
		}
		if rss.Type != ingestapi.Rss || !rss.Enabled || rss.ScheduleIntervalSeconds != 3600 || rss.Name != "صباح" ||
			rss.HasCredentials == nil || *rss.HasCredentials || rss.Version == nil || *rss.Version != 1 ||
			rss.ConsecutiveFailures == nil || *rss.ConsecutiveFailures != 0 || rss.Youtube != nil || rss.JsonMapping != nil {
			t.Errorf("rss source %+v", rss)
		}
		if rss.NextRunAt == nil || !rss.NextRunAt.Equal(epoch) {
			t.Errorf("a new enabled source runs at once: next_run_at %v, want %v", rss.NextRunAt, epoch)
		}
		if !rss.CreatedAt.Equal(epoch) || !rss.UpdatedAt.Equal(epoch) {
			t.Errorf("created_at %v updated_at %v, want %v", rss.CreatedAt, rss.UpdatedAt, epoch)
		}
		if string(rss.Target.DefaultKind) != "podcast" || rss.Target.DefaultLanguage != "ar" || rss.Target.ProgramId != nil {
			t.Errorf("target %+v", rss.Target)
		}
		if c := f.storedCredentials(rss.Id); c.Valid {
			t.Errorf("an RSS source without credentials stores %q", c.String)
		}

		// YouTube, with credentials.
		r = f.do(http.MethodPost, "/api/v1/ingest/sources", "admin", youtubeSource("YouTube", ytKey))
		var yt ingestapi.Source
		r.must(t, http.StatusCreated, &yt)
		if yt.HasCredentials == nil || !*yt.HasCredentials {
			t.Errorf("has_credentials %v, want true", yt.HasCredentials)
		}
		if yt.Youtube == nil || yt.Youtube.PlaylistId == nil || *yt.Youtube.PlaylistId != playlist || yt.Youtube.ChannelId != nil {
			t.Errorf("youtube %+v", yt.Youtube)
		}
		if strings.Contains(string(r.body), `"credentials"`) || strings.Contains(string(r.body), "api_key") {
			t.Errorf("the response names credentials: %s", r.body)
		}
		raw := f.storedCredentials(yt.Id)
		if !raw.Valid || raw.String == "" || strings.Contains(raw.String, ytKey) {
			t.Fatalf("stored credentials %q: want a sealed value without the key", raw.String)
		}
		if c, err := f.svc.seal.open(yt.Id, raw.String); err != nil || c.APIKey != ytKey {
			t.Errorf("the stored credentials open to %+v, %v", c, err)
		}

		// JSON, with a mapping and credentials, disabled, with its own interval.
		body := map[string]any{
			"name": "Talks", "type": "json", "url": "https://api.example.com/talks", "target": target(), "enabled": false,
			"schedule_interval_seconds": 900, "json_mapping": talksMapping(), "credentials": map[string]any{"api_key": jsonKey},
		}
		var js ingestapi.Source
		f.do(http.MethodPost, "/api/v1/ingest/sources", "admin", body).must(t, http.StatusCreated, &js)
		if js.Enabled || js.NextRunAt != nil || js.ScheduleIntervalSeconds != 900 {
			t.Errorf("a disabled source: enabled %v next_run_at %v interval %d", js.Enabled, js.NextRunAt, js.ScheduleIntervalSeconds)
		}
		m := js.JsonMapping
		if m == nil || m.ItemsPath != "$.data.items[*]" || m.Guid != "id" || m.Title != "attributes.title" || m.ImageUrl == nil || *m.ImageUrl != "attributes.poster.url" {
			t.Errorf("json_mapping %+v", m)
		}
		if js.HasCredentials == nil || !*js.HasCredentials {
			t.Errorf("has_credentials %v", js.HasCredentials)
		}
		if raw := f.storedCredentials(js.Id); !raw.Valid || strings.Contains(raw.String, jsonKey) {
			t.Errorf("stored credentials %q", raw.String)
		}

		// Read back, one by one and listed.
		for _, s := range []ingestapi.Source{rss, yt, js} {
			r := f.do(http.MethodGet, sourcePath(s.Id), "admin", nil)
			var got ingestapi.Source
			r.must(t, http.StatusOK, &got)
			if r.header.Get("ETag") != `"1"` || got.Id != s.Id || *got.HasCredentials != *s.HasCredentials {
				t.Errorf("GET %s: ETag %q, %+v", s.Name, r.header.Get("ETag"), got)
			}
		}
		var list ingestapi.SourceList
		f.do(http.MethodGet, "/api/v1/ingest/sources", "admin", nil).must(t, http.StatusOK, &list)
		if len(list.Items) != 3 {
			t.Errorf("listed %d sources, want 3", len(list.Items))
		}
		f.do(http.MethodGet, sourcePath(uuid.Must(uuid.NewV7())), "admin", nil).fails(t, http.StatusNotFound, "")
	})
}

// TestCreateSourceValidation proves each invalid source is refused with 422 naming the field, and
// none is stored.
func TestCreateSourceValidation(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		f.secret(ytKey)
		with := func(base map[string]any, kv ...any) map[string]any {
			out := map[string]any{}
			for k, v := range base {
				out[k] = v
			}
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i+1] == nil {
					delete(out, kv[i].(string))
				} else {
					out[kv[i].(string)] = kv[i+1]
				}
			}
			return out
		}
		rss := rssSource("Feed", "https://feeds.example.com/a.xml")
		yt := youtubeSource("YouTube", ytKey)
		js := map[string]any{"name": "API", "type": "json", "url": "https://api.example.com/x", "target": target(), "json_mapping": talksMapping()}
		mappingWith := func(k, v string) map[string]any {
			m := talksMapping()
			m[k] = v
			return m
		}
		for _, c := range []struct {
			name  string
			body  map[string]any
			field string
		}{
			{"ftp url", with(rss, "url", "ftp://feeds.example.com/a.xml"), "url"},
			{"relative url", with(rss, "url", "/feeds/a.xml"), "url"},
			{"javascript url", with(rss, "url", "javascript:alert(1)"), "url"},
			{"youtube without settings", with(yt, "youtube", nil), "youtube"},
			{"youtube with empty settings", with(yt, "youtube", map[string]any{}), "youtube"},
			{"youtube with playlist and channel", with(yt, "youtube", map[string]any{"playlist_id": playlist, "channel_id": "UCq8Zk3nYvLwTx2B5mRfH0aQ"}), "youtube"},
			{"youtube without credentials", with(yt, "credentials", nil), "credentials"},
			{"youtube with a json mapping", with(yt, "json_mapping", talksMapping()), "json_mapping"},
			{"blank api key", with(yt, "credentials", map[string]any{"api_key": "   "}), "credentials.api_key"},
			{"json without mapping", with(js, "json_mapping", nil), "json_mapping"},
			{"json mapping items_path without a dot", with(js, "json_mapping", mappingWith("items_path", "$data")), "json_mapping.items_path"},
			{"json mapping items_path with an index", with(js, "json_mapping", mappingWith("items_path", "$.data[0].items")), "json_mapping.items_path"},
			{"json mapping items_path with an empty segment", with(js, "json_mapping", mappingWith("items_path", "$..items")), "json_mapping.items_path"},
			{"json with youtube settings", with(js, "youtube", map[string]any{"playlist_id": playlist}), "youtube"},
			{"rss with youtube settings", with(rss, "youtube", map[string]any{"playlist_id": playlist}), "youtube"},
			{"rss with a json mapping", with(rss, "json_mapping", talksMapping()), "json_mapping"},
			{"blank name", with(rss, "name", "   "), "name"},
			{"name with a control character", with(rss, "name", "a\x07b"), "name"},
		} {
			t.Run(c.name, func(t *testing.T) {
				f.do(http.MethodPost, "/api/v1/ingest/sources", "admin", c.body).fails(t, http.StatusUnprocessableEntity, c.field)
			})
		}
		// The contract refuses what it describes (the field names come from the validator).
		for name, body := range map[string]map[string]any{
			"interval below 5 minutes": with(rss, "schedule_interval_seconds", 60),
			"unknown type":             with(rss, "type", "atom"),
			"no target":                with(rss, "target", nil),
			"unknown property":         with(rss, "color", "red"),
		} {
			t.Run(name, func(t *testing.T) {
				r := f.do(http.MethodPost, "/api/v1/ingest/sources", "admin", body)
				if r.code != http.StatusBadRequest && r.code != http.StatusUnprocessableEntity {
					t.Fatalf("status %d: %s", r.code, r.body)
				}
			})
		}
		if n := f.count("sources"); n != 0 {
			t.Fatalf("%d sources stored after refused requests", n)
		}

		// (type, url) is unique; the same URL as another type is another source.
		f.createSource(rss)
		f.do(http.MethodPost, "/api/v1/ingest/sources", "admin", with(rss, "name", "Again")).fails(t, http.StatusConflict, "")
		f.createSource(with(js, "url", rss["url"]))
		if n := f.count("sources"); n != 2 {
			t.Fatalf("%d sources, want 2", n)
		}
	})
}

// TestListSources pages through sources newest first with filters.
func TestListSources(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		type spec struct {
			typ     string
			enabled bool
		}
		specs := []spec{{"rss", true}, {"json", true}, {"rss", false}, {"youtube", true}, {"rss", true}, {"json", false}, {"rss", true}, {"rss", false}}
		var created []ingestapi.Source
		for i, s := range specs {
			body := map[string]any{"name": "Source " + string(rune('A'+i)), "type": s.typ, "url": "https://feeds.example.com/" + string(rune('a'+i)), "target": target(), "enabled": s.enabled}
			switch s.typ {
			case "json":
				body["json_mapping"] = talksMapping()
			case "youtube":
				body["youtube"] = map[string]any{"channel_id": "UCq8Zk3nYvLwTx2B5mRfH0aQ"}
				body["credentials"] = map[string]any{"api_key": ytKey}
			}
			created = append(created, f.createSource(body))
			if i%2 == 1 { // pairs share a creation time: the id breaks the tie
				f.clock.advance(time.Second)
			}
		}
		// Newest first: created_at descending, then id descending.
		want := slices.Clone(created)
		slices.SortFunc(want, func(a, b ingestapi.Source) int {
			if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
				return c
			}
			return strings.Compare(b.Id.String(), a.Id.String())
		})

		pages := func(query string, limit int) ([]uuid.UUID, int) {
			t.Helper()
			var ids []uuid.UUID
			n := 0
			cursor := ""
			for {
				q := url.Values{"limit": {strconv.Itoa(limit)}}
				if query != "" {
					extra, _ := url.ParseQuery(query)
					for k, v := range extra {
						q[k] = v
					}
				}
				if cursor != "" {
					q.Set("cursor", cursor)
				}
				var page ingestapi.SourceList
				f.do(http.MethodGet, "/api/v1/ingest/sources?"+q.Encode(), "editor", nil).must(t, http.StatusOK, &page)
				n++
				if len(page.Items) > limit {
					t.Fatalf("page of %d items, limit %d", len(page.Items), limit)
				}
				for _, s := range page.Items {
					ids = append(ids, s.Id)
				}
				if !page.Page.HasMore {
					if page.Page.NextCursor != nil {
						t.Fatalf("last page has a next cursor")
					}
					return ids, n
				}
				if page.Page.NextCursor == nil || len(page.Items) != limit {
					t.Fatalf("has_more with %d items and cursor %v", len(page.Items), page.Page.NextCursor)
				}
				cursor = *page.Page.NextCursor
				if n > 20 {
					t.Fatal("pagination does not end")
				}
			}
		}
		ids := func(ss []ingestapi.Source, keep func(ingestapi.Source) bool) []uuid.UUID {
			var out []uuid.UUID
			for _, s := range ss {
				if keep(s) {
					out = append(out, s.Id)
				}
			}
			return out
		}

		got, n := pages("", 3)
		if n != 3 || !slices.Equal(got, ids(want, func(ingestapi.Source) bool { return true })) {
			t.Errorf("all sources in %d pages: %v, want 3 pages of %v", n, got, ids(want, func(ingestapi.Source) bool { return true }))
		}
		got, _ = pages("type=rss", 2)
		if exp := ids(want, func(s ingestapi.Source) bool { return s.Type == ingestapi.Rss }); !slices.Equal(got, exp) || len(exp) != 5 {
			t.Errorf("type=rss: %v, want %v", got, exp)
		}
		got, _ = pages("enabled=false", 1)
		if exp := ids(want, func(s ingestapi.Source) bool { return !s.Enabled }); !slices.Equal(got, exp) || len(exp) != 3 {
			t.Errorf("enabled=false: %v, want %v", got, exp)
		}
		got, _ = pages("type=rss&enabled=true", 20)
		if exp := ids(want, func(s ingestapi.Source) bool { return s.Type == ingestapi.Rss && s.Enabled }); !slices.Equal(got, exp) || len(exp) != 3 {
			t.Errorf("type=rss&enabled=true: %v, want %v", got, exp)
		}
		got, _ = pages("type=youtube", 20)
		if len(got) != 1 || got[0] != created[3].Id {
			t.Errorf("type=youtube: %v", got)
		}

		f.do(http.MethodGet, "/api/v1/ingest/sources?cursor=bm90LWEtY3Vyc29y", "editor", nil).fails(t, http.StatusBadRequest, "query.cursor")
		r := f.do(http.MethodGet, "/api/v1/ingest/sources?type=atom", "editor", nil)
		if r.code != http.StatusBadRequest {
			t.Errorf("type=atom: status %d", r.code)
		}
	})
}

// TestUpdateSource covers If-Match, credentials replacement and removal, rescheduling and the
// checks of the whole source after a partial update.
func TestUpdateSource(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		f.secret(ytKey)
		f.secret(ytKey2)
		f.secret(jsonKey)

		src := f.createSource(rssSource("Feed", "https://feeds.example.com/a.xml"))
		other := f.createSource(rssSource("Other", "https://feeds.example.com/b.xml"))
		f.clock.advance(time.Minute)
		now := f.clock.now()

		// A change with the current ETag.
		r := f.do(http.MethodPatch, sourcePath(src.Id), "admin", map[string]any{"name": "  Renamed  "}, "If-Match", `"1"`)
		var got ingestapi.Source
		r.must(t, http.StatusOK, &got)
		if got.Name != "Renamed" || *got.Version != 2 || r.header.Get("ETag") != `"2"` || !got.UpdatedAt.Equal(now) {
			t.Errorf("after rename: %+v ETag %q", got, r.header.Get("ETag"))
		}
		if !got.NextRunAt.Equal(epoch) {
			t.Errorf("a rename moved next_run_at to %v", got.NextRunAt)
		}
		// A stale one.
		f.do(http.MethodPatch, sourcePath(src.Id), "admin", map[string]any{"name": "Stale"}, "If-Match", `"1"`).fails(t, http.StatusPreconditionFailed, "")
		if s := f.getSource(src.Id); s.Name != "Renamed" || *s.Version != 2 {
			t.Errorf("a stale update changed the source: %+v", s)
		}
		// Without If-Match the update applies to the current version; W/ and lists match.
		f.do(http.MethodPatch, sourcePath(src.Id), "admin", map[string]any{"name": "No precondition"}).must(t, http.StatusOK, nil)
		f.do(http.MethodPatch, sourcePath(src.Id), "admin", map[string]any{"name": "Weak"}, "If-Match", `"7", W/"3"`).must(t, http.StatusOK, nil)

		// Credentials and remove_credentials together.
		f.do(http.MethodPatch, sourcePath(src.Id), "admin", map[string]any{"credentials": map[string]any{"api_key": jsonKey}, "remove_credentials": true}).
			fails(t, http.StatusUnprocessableEntity, "remove_credentials")
		// Add, then remove credentials of an RSS source.
		f.do(http.MethodPatch, sourcePath(src.Id), "admin", map[string]any{"credentials": map[string]any{"api_key": jsonKey}}).must(t, http.StatusOK, &got)
		if !*got.HasCredentials {
			t.Errorf("has_credentials false after setting credentials")
		}
		if c := f.storedCredentials(src.Id); !c.Valid || strings.Contains(c.String, jsonKey) {
			t.Errorf("stored %q", c.String)
		}
		f.do(http.MethodPatch, sourcePath(src.Id), "admin", map[string]any{"remove_credentials": true}).must(t, http.StatusOK, &got)
		if *got.HasCredentials {
			t.Errorf("has_credentials true after remove_credentials")
		}
		if c := f.storedCredentials(src.Id); c.Valid {
			t.Errorf("credentials %q still stored", c.String)
		}

		// enabled: false clears next_run_at; enabled again schedules a run one interval on.
		f.do(http.MethodPatch, sourcePath(src.Id), "admin", map[string]any{"enabled": false}).must(t, http.StatusOK, &got)
		if got.Enabled || got.NextRunAt != nil {
			t.Errorf("disabled: enabled %v next_run_at %v", got.Enabled, got.NextRunAt)
		}
		if s := f.source(src.Id); s.NextRunAt != nil {
			t.Errorf("stored next_run_at %v for a disabled source", s.NextRunAt)
		}
		f.do(http.MethodPatch, sourcePath(src.Id), "admin", map[string]any{"enabled": true}).must(t, http.StatusOK, &got)
		if !got.Enabled || got.NextRunAt == nil || !got.NextRunAt.Equal(now.Add(time.Hour)) {
			t.Errorf("enabled again: next_run_at %v, want %v", got.NextRunAt, now.Add(time.Hour))
		}
		f.do(http.MethodPatch, sourcePath(src.Id), "admin", map[string]any{"schedule_interval_seconds": 7200}).must(t, http.StatusOK, &got)
		if got.ScheduleIntervalSeconds != 7200 || !got.NextRunAt.Equal(now.Add(2*time.Hour)) {
			t.Errorf("new interval: %d, next_run_at %v", got.ScheduleIntervalSeconds, got.NextRunAt)
		}

		// The whole source is checked after the change.
		f.do(http.MethodPatch, sourcePath(src.Id), "admin", map[string]any{"url": "ftp://feeds.example.com/a.xml"}).fails(t, http.StatusUnprocessableEntity, "url")
		f.do(http.MethodPatch, sourcePath(src.Id), "admin", map[string]any{"youtube": map[string]any{"playlist_id": playlist}}).fails(t, http.StatusUnprocessableEntity, "youtube")
		f.do(http.MethodPatch, sourcePath(src.Id), "admin", map[string]any{"json_mapping": talksMapping()}).fails(t, http.StatusUnprocessableEntity, "json_mapping")
		f.do(http.MethodPatch, sourcePath(src.Id), "admin", map[string]any{"url": other.Url}).fails(t, http.StatusConflict, "")
		// A new URL drops the upstream validators of the old one.
		if err := f.svc.read.Source.UpdateOneID(src.Id).SetEtag(`"abc"`).SetLastModified("Mon, 02 Jun 2025 04:00:00 GMT").Exec(context.Background()); err != nil {
			t.Fatal(err)
		}
		f.do(http.MethodPatch, sourcePath(src.Id), "admin", map[string]any{"url": "https://feeds.example.com/new.xml"}).must(t, http.StatusOK, &got)
		if s := f.source(src.Id); s.URL != "https://feeds.example.com/new.xml" || s.Etag != nil || s.LastModified != nil {
			t.Errorf("after a URL change: url %s etag %v last_modified %v", s.URL, s.Etag, s.LastModified)
		}

		// YouTube: credentials cannot be removed, only replaced; the settings stay one of two.
		yt := f.createSource(youtubeSource("YouTube", ytKey))
		f.do(http.MethodPatch, sourcePath(yt.Id), "admin", map[string]any{"remove_credentials": true}).fails(t, http.StatusUnprocessableEntity, "credentials")
		f.do(http.MethodPatch, sourcePath(yt.Id), "admin", map[string]any{"youtube": map[string]any{"playlist_id": playlist, "channel_id": "UCx"}}).
			fails(t, http.StatusUnprocessableEntity, "youtube")
		before := f.storedCredentials(yt.Id)
		f.do(http.MethodPatch, sourcePath(yt.Id), "admin", map[string]any{"credentials": map[string]any{"api_key": ytKey2}}).must(t, http.StatusOK, &got)
		after := f.storedCredentials(yt.Id)
		if !*got.HasCredentials || after.String == before.String {
			t.Errorf("credentials not replaced")
		}
		if c, err := f.svc.seal.open(yt.Id, after.String); err != nil || c.APIKey != ytKey2 {
			t.Errorf("replaced credentials open to %+v, %v", c, err)
		}
		f.do(http.MethodPatch, sourcePath(yt.Id), "admin", map[string]any{"youtube": map[string]any{"channel_id": "UCq8Zk3nYvLwTx2B5mRfH0aQ"}}).must(t, http.StatusOK, &got)
		if got.Youtube == nil || got.Youtube.PlaylistId != nil || got.Youtube.ChannelId == nil {
			t.Errorf("youtube settings are replaced whole: %+v", got.Youtube)
		}
		if got.Type != ingestapi.Youtube {
			t.Errorf("type %s", got.Type)
		}

		f.do(http.MethodPatch, sourcePath(uuid.Must(uuid.NewV7())), "admin", map[string]any{"name": "x"}).fails(t, http.StatusNotFound, "")
	})
}

// TestDeleteSource refuses to delete a source with a queued run, then deletes it with its runs
// and items.
func TestDeleteSource(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		src := f.createSource(rssSource("Feed", "https://feeds.example.com/a.xml"))
		keep := f.createSource(rssSource("Keep", "https://feeds.example.com/b.xml"))
		queued := f.trigger(src.Id, false)
		kept := f.trigger(keep.Id, false)
		if _, err := f.svc.read.Item.Create().SetSourceID(src.Id).SetGUID("g1").SetContentHash("h").SetEpisodeID(uuid.Must(uuid.NewV7())).
			SetCreatedAt(epoch).SetUpdatedAt(epoch).Save(ctx); err != nil {
			t.Fatal(err)
		}

		f.do(http.MethodDelete, sourcePath(src.Id), "admin", nil).fails(t, http.StatusConflict, "")
		// Running is as busy as queued.
		if err := f.svc.read.Run.UpdateOneID(queued.Id).SetStatus(run.StatusRunning).SetLeaseUntil(epoch.Add(time.Minute)).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		f.do(http.MethodDelete, sourcePath(src.Id), "admin", nil).fails(t, http.StatusConflict, "")
		if err := f.svc.read.Run.UpdateOneID(queued.Id).SetStatus(run.StatusSucceeded).ClearLeaseUntil().SetFinishedAt(epoch).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		f.do(http.MethodDelete, sourcePath(src.Id), "admin", nil, "If-Match", `"9"`).fails(t, http.StatusPreconditionFailed, "")
		f.do(http.MethodDelete, sourcePath(src.Id), "editor", nil).fails(t, http.StatusForbidden, "")
		r := f.do(http.MethodDelete, sourcePath(src.Id), "admin", nil, "If-Match", `"1"`)
		if r.code != http.StatusNoContent || len(r.body) != 0 {
			t.Fatalf("delete: %d %s", r.code, r.body)
		}
		f.do(http.MethodGet, sourcePath(src.Id), "admin", nil).fails(t, http.StatusNotFound, "")
		f.do(http.MethodGet, runPath(queued.Id), "admin", nil).fails(t, http.StatusNotFound, "")
		f.do(http.MethodGet, sourcePath(src.Id, "runs"), "admin", nil).fails(t, http.StatusNotFound, "")
		f.do(http.MethodDelete, sourcePath(src.Id), "admin", nil).fails(t, http.StatusNotFound, "")
		if n := f.count("runs"); n != 1 {
			t.Errorf("%d runs left, want only the other source's", n)
		}
		if n := f.count("items"); n != 0 {
			t.Errorf("%d items left", n)
		}
		// The other source and its run are untouched.
		f.getSource(keep.Id)
		if got := f.getRun(kept.Id); got.Status != ingestapi.Queued {
			t.Errorf("the other source's run is %s", got.Status)
		}
	})
}

// TestSourceRoles checks the policies: ADMIN manages sources, EDITOR reads them and triggers runs,
// USER gets nothing.
func TestSourceRoles(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		body := rssSource("Feed", "https://feeds.example.com/a.xml")
		f.do(http.MethodPost, "/api/v1/ingest/sources", "editor", body).fails(t, http.StatusForbidden, "")
		f.do(http.MethodPost, "/api/v1/ingest/sources", "user", body).fails(t, http.StatusForbidden, "")
		f.do(http.MethodPost, "/api/v1/ingest/sources", "", body).fails(t, http.StatusUnauthorized, "")
		f.do(http.MethodPost, "/api/v1/ingest/sources", "forged", body).fails(t, http.StatusUnauthorized, "")
		if n := f.count("sources"); n != 0 {
			t.Fatalf("%d sources created without the ADMIN role", n)
		}
		src := f.createSource(body)

		// EDITOR reads and triggers, but does not change.
		f.do(http.MethodGet, "/api/v1/ingest/sources", "editor", nil).must(t, http.StatusOK, nil)
		f.do(http.MethodGet, sourcePath(src.Id), "editor", nil).must(t, http.StatusOK, nil)
		f.do(http.MethodPatch, sourcePath(src.Id), "editor", map[string]any{"name": "x"}).fails(t, http.StatusForbidden, "")
		var queued ingestapi.IngestRun
		r := f.do(http.MethodPost, sourcePath(src.Id, "runs"), "editor", nil)
		r.must(t, http.StatusAccepted, &queued)
		if loc := r.header.Get("Location"); loc != runPath(queued.Id) {
			t.Errorf("Location %q", loc)
		}
		if queued.Status != ingestapi.Queued || queued.Trigger != ingestapi.Manual || queued.FullRefresh ||
			queued.TriggeredBy == nil || *queued.TriggeredBy != editorID || queued.SourceId != src.Id || len(queued.Errors) != 0 {
			t.Errorf("queued run %+v", queued)
		}
		// One run per source at a time.
		f.do(http.MethodPost, sourcePath(src.Id, "runs"), "admin", map[string]any{"full_refresh": true}).fails(t, http.StatusConflict, "")
		f.do(http.MethodPost, sourcePath(uuid.Must(uuid.NewV7()), "runs"), "editor", nil).fails(t, http.StatusNotFound, "")
		var runs ingestapi.IngestRunList
		f.do(http.MethodGet, sourcePath(src.Id, "runs"), "editor", nil).must(t, http.StatusOK, &runs)
		if len(runs.Items) != 1 || runs.Items[0].Id != queued.Id {
			t.Errorf("runs %+v", runs.Items)
		}
		f.getRun(queued.Id)

		// USER gets nothing.
		for _, c := range []struct{ method, path string }{
			{http.MethodGet, "/api/v1/ingest/sources"},
			{http.MethodGet, sourcePath(src.Id)},
			{http.MethodPost, sourcePath(src.Id, "runs")},
			{http.MethodGet, sourcePath(src.Id, "runs")},
			{http.MethodGet, runPath(queued.Id)},
			{http.MethodDelete, sourcePath(src.Id)},
		} {
			f.do(c.method, c.path, "user", nil).fails(t, http.StatusForbidden, "")
		}
		if n := f.count("runs"); n != 1 {
			t.Errorf("%d runs, want 1", n)
		}

		// A disabled source can still be run by hand.
		off := f.createSource(map[string]any{"name": "Off", "type": "rss", "url": "https://feeds.example.com/off.xml", "target": target(), "enabled": false})
		f.do(http.MethodPost, sourcePath(off.Id, "runs"), "editor", map[string]any{"full_refresh": true}).must(t, http.StatusAccepted, &queued)
		if !queued.FullRefresh {
			t.Errorf("full_refresh not kept")
		}
	})
}
