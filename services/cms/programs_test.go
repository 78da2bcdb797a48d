package cms

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/gen/events/contentevents"
	"github.com/mediamesh/mediamesh/gen/openapi/cmsapi"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
)

// TestProgramLifecycle walks a program through every operation and status, checking the
// responses, the ETags and the event each change writes.
func TestProgramLifecycle(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, Config{})
		r := f.do(http.MethodPost, "/api/v1/cms/programs", "editor", map[string]any{
			"kind": "show", "title": "برنامج الصباح", "slug": "barnamaj-al-sabah", "summary": "برنامج صباحي",
			"language": "ar", "category_id": f.cat, "tags": []string{"صباحي", "News", "news", "NEWS"},
			"cover_asset_id": coverAsset,
		})
		var p cmsapi.Program
		r.must(t, http.StatusCreated, &p)
		if r.header.Get("ETag") != `"1"` || r.header.Get("Location") != programPath(p.Id) {
			t.Fatalf("headers %v", r.header)
		}
		if p.Status != "draft" || p.Version != 1 || p.EpisodeCount != 0 || p.CreatedBy != editorID || p.UpdatedBy != editorID ||
			!slices.Equal(p.Tags, []string{"صباحي", "news"}) || p.CoverAssetId == nil || *p.CoverAssetId != coverAsset || *p.CategoryId != f.cat {
			t.Fatalf("created %+v", p)
		}

		var got cmsapi.Program
		r = f.do(http.MethodGet, programPath(p.Id), "editor", nil)
		r.must(t, http.StatusOK, &got)
		if r.header.Get("ETag") != `"1"` || got.Title != p.Title || !got.CreatedAt.Equal(p.CreatedAt) {
			t.Fatalf("get %+v", got)
		}

		// Update: If-Match current, then stale.
		r = f.do(http.MethodPatch, programPath(p.Id), "admin", map[string]any{"title": "New title", "cover_asset_id": nil}, ifMatch(1)...)
		r.must(t, http.StatusOK, &got)
		if got.Version != 2 || got.Title != "New title" || got.CoverAssetId != nil || got.UpdatedBy != adminID || r.header.Get("ETag") != `"2"` {
			t.Fatalf("updated %+v", got)
		}
		f.do(http.MethodPatch, programPath(p.Id), "admin", map[string]any{"title": "Stale"}, ifMatch(1)...).fails(t, http.StatusPreconditionFailed, "")
		f.do(http.MethodPatch, programPath(p.Id), "admin", map[string]any{"title": "Stale"}, "If-Match", "garbage").fails(t, http.StatusPreconditionFailed, "")
		// The same values again change nothing.
		f.do(http.MethodPatch, programPath(p.Id), "admin", map[string]any{"title": "New title"}, "If-Match", `"1", "2"`).must(t, http.StatusOK, &got)
		if got.Version != 2 {
			t.Fatalf("no-op update made version %d", got.Version)
		}
		// A weak tag compares by its opaque part, and `*` matches any version (internal/etag).
		for _, h := range []string{`W/"2"`, `*`, ` W/"9" , "2" `} {
			f.do(http.MethodPatch, programPath(p.Id), "admin", map[string]any{"title": "New title"}, "If-Match", h).must(t, http.StatusOK, &got)
		}
		f.do(http.MethodPatch, programPath(p.Id), "admin", map[string]any{"title": "Stale"}, "If-Match", `W/"1"`).fails(t, http.StatusPreconditionFailed, "")

		// Publish now; again is a no-op; with publish_at it is 409.
		f.do(http.MethodPost, programPath(p.Id, "publish"), "editor", nil, ifMatch(2)...).must(t, http.StatusOK, &got)
		if got.Status != "published" || got.PublishedAt == nil || got.Version != 3 {
			t.Fatalf("published %+v", got)
		}
		firstPublished := *got.PublishedAt
		f.do(http.MethodPost, programPath(p.Id, "publish"), "editor", map[string]any{}).must(t, http.StatusOK, &got)
		if got.Version != 3 {
			t.Fatalf("publishing a published program made version %d", got.Version)
		}
		future := f.clock.now().Add(48 * time.Hour).UTC().Truncate(time.Second)
		f.do(http.MethodPost, programPath(p.Id, "publish"), "editor", map[string]any{"publish_at": future}).fails(t, http.StatusConflict, "")

		// Unpublish, schedule (past and too far are 422), reschedule, archive.
		f.do(http.MethodPost, programPath(p.Id, "unpublish"), "editor", nil).must(t, http.StatusOK, &got)
		if got.Status != "draft" || got.Version != 4 || got.PublishedAt == nil || !got.PublishedAt.Equal(firstPublished) {
			t.Fatalf("unpublished %+v", got)
		}
		f.do(http.MethodPost, programPath(p.Id, "unpublish"), "editor", nil).must(t, http.StatusOK, &got)
		if got.Version != 4 {
			t.Fatal("unpublishing a draft changed it")
		}
		f.do(http.MethodPost, programPath(p.Id, "publish"), "editor", map[string]any{"publish_at": f.clock.now().Add(-time.Minute)}).fails(t, http.StatusUnprocessableEntity, "publish_at")
		f.do(http.MethodPost, programPath(p.Id, "publish"), "editor", map[string]any{"publish_at": f.clock.now().Add(367 * 24 * time.Hour)}).fails(t, http.StatusUnprocessableEntity, "publish_at")
		f.do(http.MethodPost, programPath(p.Id, "publish"), "editor", map[string]any{"publish_at": "9999-12-31T23:59:59Z"}).fails(t, http.StatusUnprocessableEntity, "publish_at")
		f.do(http.MethodPost, programPath(p.Id, "publish"), "editor", map[string]any{"publish_at": future}).must(t, http.StatusOK, &got)
		if got.Status != "scheduled" || got.ScheduledPublishAt == nil || !got.ScheduledPublishAt.Equal(future) || got.Version != 5 {
			t.Fatalf("scheduled %+v", got)
		}
		f.do(http.MethodPost, programPath(p.Id, "publish"), "editor", map[string]any{"publish_at": future.Add(time.Hour)}).must(t, http.StatusOK, &got)
		if got.Version != 6 || !got.ScheduledPublishAt.Equal(future.Add(time.Hour)) {
			t.Fatalf("rescheduled %+v", got)
		}
		f.do(http.MethodPost, programPath(p.Id, "archive"), "editor", nil, ifMatch(6)...).must(t, http.StatusOK, &got)
		if got.Status != "archived" || got.ArchivedAt == nil || got.ScheduledPublishAt != nil || got.Version != 7 {
			t.Fatalf("archived %+v", got)
		}
		f.do(http.MethodPost, programPath(p.Id, "archive"), "editor", nil).must(t, http.StatusOK, &got)
		f.do(http.MethodPost, programPath(p.Id, "publish"), "editor", nil).fails(t, http.StatusConflict, "")
		f.do(http.MethodPost, programPath(p.Id, "unpublish"), "editor", nil).must(t, http.StatusOK, &got)
		if got.Status != "draft" || got.ArchivedAt != nil || got.Version != 8 {
			t.Fatalf("restored %+v", got)
		}
		f.do(http.MethodPost, programPath(p.Id, "publish"), "editor", nil).must(t, http.StatusOK, &got)
		f.do(http.MethodPost, programPath(p.Id, "archive"), "editor", nil).must(t, http.StatusOK, &got) // 10

		// Soft delete: readable, refuses transitions, delete again is a no-op; purge is ADMIN's.
		f.do(http.MethodDelete, programPath(p.Id), "editor", nil, ifMatch(9)...).fails(t, http.StatusPreconditionFailed, "")
		f.do(http.MethodPost, programPath(p.Id, "purge"), "admin", nil).fails(t, http.StatusConflict, "")
		if r := f.do(http.MethodDelete, programPath(p.Id), "editor", nil, ifMatch(10)...); r.code != http.StatusNoContent {
			t.Fatalf("delete: %d %s", r.code, r.body)
		}
		f.do(http.MethodGet, programPath(p.Id), "editor", nil).must(t, http.StatusOK, &got)
		if got.DeletedAt == nil || got.Version != 11 {
			t.Fatalf("deleted %+v", got)
		}
		for _, action := range []string{"publish", "unpublish", "archive"} {
			f.do(http.MethodPost, programPath(p.Id, action), "editor", nil).fails(t, http.StatusConflict, "")
		}
		f.do(http.MethodPatch, programPath(p.Id), "editor", map[string]any{"title": "x"}).fails(t, http.StatusConflict, "")
		if r := f.do(http.MethodDelete, programPath(p.Id), "editor", nil); r.code != http.StatusNoContent {
			t.Fatalf("delete again: %d", r.code)
		}
		f.do(http.MethodPost, programPath(p.Id, "purge"), "editor", nil).fails(t, http.StatusForbidden, "")
		f.do(http.MethodPost, programPath(p.Id, "purge"), "admin", nil, ifMatch(10)...).fails(t, http.StatusPreconditionFailed, "")
		if r := f.do(http.MethodPost, programPath(p.Id, "purge"), "admin", nil, ifMatch(11)...); r.code != http.StatusNoContent {
			t.Fatalf("purge: %d %s", r.code, r.body)
		}
		f.do(http.MethodGet, programPath(p.Id), "editor", nil).fails(t, http.StatusNotFound, "")
		f.do(http.MethodPost, programPath(p.Id, "purge"), "admin", nil).fails(t, http.StatusNotFound, "")

		// One event per change, in order, each with the version it produced.
		want := []struct {
			typ     string
			version int64
		}{
			{contentevents.TypeContentCreated, 1}, {contentevents.TypeContentUpdated, 2}, {contentevents.TypeContentPublished, 3},
			{contentevents.TypeContentUnpublished, 4}, {contentevents.TypeContentUpdated, 5}, {contentevents.TypeContentUpdated, 6},
			{contentevents.TypeContentUpdated, 7}, {contentevents.TypeContentUpdated, 8}, {contentevents.TypeContentPublished, 9},
			{contentevents.TypeContentUnpublished, 10}, {contentevents.TypeContentDeleted, 11}, {contentevents.TypeContentDeleted, 12},
		}
		evs := f.eventsOf(p.Id)
		if len(evs) != len(want) {
			t.Fatalf("%d events, want %d", len(evs), len(want))
		}
		for i, w := range want {
			if evs[i].typ != w.typ || versionOf(evs[i].value) != w.version {
				t.Errorf("event %d: %s v%d, want %s v%d", i, evs[i].typ, versionOf(evs[i].value), w.typ, w.version)
			}
		}
		created := evs[0].value.(*contentevents.ContentCreated)
		if created.ActorID == nil || *created.ActorID != editorID.String() || created.AggregateType != "program" ||
			*created.Snapshot.Kind != "show" || *created.Snapshot.Slug != "barnamaj-al-sabah" || !slices.Equal(created.Snapshot.Tags, []string{"صباحي", "news"}) ||
			*created.Snapshot.CategoryID != f.cat.String() || created.Snapshot.ProgramID != nil ||
			!equalPtr(created.Snapshot.CoverAssetID, ptr(coverAsset.String())) || created.Snapshot.ThumbnailAssetID != nil || created.Snapshot.MediaAssetID != nil {
			t.Errorf("created event %+v", created)
		}
		if u := evs[1].value.(*contentevents.ContentUpdated); !slices.Equal(u.ChangedFields, []string{"cover_asset_id", "title"}) || u.Snapshot.Title != "New title" ||
			u.Snapshot.CoverAssetID != nil {
			t.Errorf("updated event %+v", u)
		}
		if pub := evs[2].value.(*contentevents.ContentPublished); pub.Snapshot.Status != "published" || pub.Snapshot.PublishedAt == nil {
			t.Errorf("published event %+v", pub)
		}
		if u := evs[4].value.(*contentevents.ContentUpdated); u.Snapshot.Status != "scheduled" || !u.Snapshot.PublishedAt.Equal(future) ||
			!slices.Equal(u.ChangedFields, []string{"published_at", "status"}) {
			t.Errorf("scheduled event %+v", u)
		}
		if d := evs[10].value.(*contentevents.ContentDeleted); !d.Soft {
			t.Errorf("delete event %+v", d)
		}
		if d := evs[11].value.(*contentevents.ContentDeleted); d.Soft || d.ActorID == nil || *d.ActorID != adminID.String() {
			t.Errorf("purge event %+v", d)
		}
		// The audit trail outlives the purge.
		if entries := f.audit(p.Id); len(entries) != 12 || entries[0].Action != "purged" || entries[len(entries)-1].Action != "created" {
			t.Fatalf("audit after purge: %d entries", len(entries))
		}
	})
}

// TestProgramConflicts covers the 409s of programs: duplicate slugs, also of soft-deleted
// programs, on create and update.
func TestProgramConflicts(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, Config{})
		a := f.createProgram("alpha", nil)
		b := f.createProgram("beta", nil)
		f.do(http.MethodPost, "/api/v1/cms/programs", "editor", map[string]any{"kind": "show", "title": "x", "slug": "alpha", "language": "en"}).fails(t, http.StatusConflict, "")
		f.do(http.MethodPatch, programPath(b.Id), "editor", map[string]any{"slug": "alpha"}).fails(t, http.StatusConflict, "")
		if r := f.do(http.MethodDelete, programPath(a.Id), "editor", nil); r.code != http.StatusNoContent {
			t.Fatal(r.code)
		}
		f.do(http.MethodPost, "/api/v1/cms/programs", "editor", map[string]any{"kind": "show", "title": "x", "slug": "alpha", "language": "en"}).fails(t, http.StatusConflict, "")
		if n := f.count("programs"); n != 2 {
			t.Fatalf("%d programs", n)
		}
		// A failed write leaves no event behind.
		if n := len(f.events()); n != 3 {
			t.Fatalf("%d events", n)
		}
	})
}

// TestProgramInput covers client input the contract lets through and the service refuses.
func TestProgramInput(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, Config{})
		base := map[string]any{"kind": "show", "title": "t", "slug": "s", "language": "en"}
		with := func(k string, v any) map[string]any {
			m := map[string]any{}
			for kk, vv := range base {
				m[kk] = vv
			}
			m[k] = v
			return m
		}
		for _, c := range []struct {
			name   string
			body   any
			status int
			field  string
		}{
			{"unknown language", with("language", "xx"), http.StatusUnprocessableEntity, "language"},
			{"deprecated language", with("language", "iw"), http.StatusUnprocessableEntity, "language"},
			{"NUL in title", with("title", "a\x00b"), http.StatusUnprocessableEntity, "title"},
			{"NUL in summary", with("summary", "\x00"), http.StatusUnprocessableEntity, "summary"},
			{"NUL in tag", with("tags", []string{"a\x00"}), http.StatusUnprocessableEntity, "tags.0"},
			{"bad slug", with("slug", "Not A Slug"), http.StatusUnprocessableEntity, "slug"},
			{"unknown member", with("status", "published"), http.StatusUnprocessableEntity, ""},
			{"not json", "{", http.StatusBadRequest, ""},
		} {
			t.Run(c.name, func(t *testing.T) {
				f.do(http.MethodPost, "/api/v1/cms/programs", "editor", c.body).fails(t, c.status, c.field)
			})
		}
		p := f.createProgram("ok", nil)
		f.do(http.MethodPatch, programPath(p.Id), "editor", map[string]any{"language": "zz"}).fails(t, http.StatusUnprocessableEntity, "language")
		f.do(http.MethodPatch, programPath(p.Id), "editor", map[string]any{}).fails(t, http.StatusUnprocessableEntity, "")
		f.do(http.MethodGet, "/api/v1/cms/programs/not-a-uuid", "editor", nil).fails(t, http.StatusBadRequest, "")
		f.do(http.MethodGet, programPath(f.cat), "editor", nil).fails(t, http.StatusNotFound, "")
		f.do(http.MethodGet, programPath(p.Id), "", nil).fails(t, http.StatusUnauthorized, "")
		f.do(http.MethodGet, programPath(p.Id), "user", nil).fails(t, http.StatusForbidden, "")
		if n := f.count("programs"); n != 1 {
			t.Fatalf("%d programs", n)
		}
	})
}

// TestOddInput sends awkward text everywhere text goes: never a 500.
func TestOddInput(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, Config{})
		p := f.createProgram("odd", nil)
		odd := []string{
			"\x00", "a\x00b", "\ufffd", "\u202eevil", strings.Repeat("😀", 50), `%_\`, `'; DROP TABLE programs; --`,
			"e\u0301", "\x01\x02", strings.Repeat("ع", 200), "<script>", "\\u0000",
		}
		for i, s := range odd {
			for _, r := range []*response{
				f.do(http.MethodPost, "/api/v1/cms/programs", "editor", map[string]any{"kind": "show", "title": s, "slug": fmt.Sprintf("odd-%d", i), "language": "en", "tags": []string{s}}),
				f.do(http.MethodPatch, programPath(p.Id), "editor", map[string]any{"summary": s, "tags": []string{s}}),
				f.do(http.MethodPost, programPath(p.Id, "episodes"), "editor", map[string]any{"episode_number": i + 1, "title": s, "summary": s}),
				f.do(http.MethodGet, "/api/v1/cms/programs?q="+url.QueryEscape(s), "editor", nil),
				f.do(http.MethodGet, "/api/v1/cms/programs?tag="+url.QueryEscape(s), "editor", nil),
				f.do(http.MethodGet, "/api/v1/cms/programs?cursor="+url.QueryEscape(s), "editor", nil),
				f.do(http.MethodGet, "/api/v1/cms/programs?sort=title&cursor="+base64.RawURLEncoding.EncodeToString([]byte(`{"s":"title","x":`+jsonString(s)+`,"i":"`+p.Id.String()+`"}`)), "editor", nil),
				f.do(http.MethodPatch, programPath(p.Id), "editor", map[string]any{"title": "x"}, "If-Match", s),
			} {
				if r.code >= 500 {
					t.Errorf("%q: %d %s", s, r.code, r.body)
				}
			}
		}
		f.do(http.MethodPost, "/api/v1/cms/programs", "editor", `{"kind":"show","title":"\ud800","slug":"surrogate","language":"en"}`).must(t, http.StatusCreated, nil)
	})
}

// jsonString is s as a JSON string literal.
func jsonString(s string) string {
	b, _ := json.Marshal(s) // a string always encodes
	return string(b)
}
