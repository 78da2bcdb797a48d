package cms

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/gen/events/contentevents"
	"github.com/mediamesh/mediamesh/gen/openapi/cmsapi"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
)

// TestEpisodeLifecycle walks an episode through its operations and statuses.
func TestEpisodeLifecycle(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, Config{})
		p := f.createProgram("show", map[string]any{"language": "ar"})
		r := f.do(http.MethodPost, programPath(p.Id, "episodes"), "editor", map[string]any{
			"season_number": 1, "episode_number": 1, "title": "الحلقة الأولى", "duration_seconds": 2700,
			"media_asset_id": videoAsset, "thumbnail_asset_id": thumbAsset,
		})
		var e cmsapi.Episode
		r.must(t, http.StatusCreated, &e)
		if r.header.Get("Location") != episodePath(e.Id) || r.header.Get("ETag") != `"1"` {
			t.Fatalf("headers %v", r.header)
		}
		if e.Language != "ar" || e.Status != "draft" || e.ProgramId != p.Id || *e.SeasonNumber != 1 || e.Version != 1 ||
			e.MediaAssetId == nil || *e.MediaAssetId != videoAsset || e.ThumbnailAssetId == nil || *e.ThumbnailAssetId != thumbAsset {
			t.Fatalf("created %+v", e)
		}
		en := f.createEpisode(p.Id, nil, 1, map[string]any{"language": "en"})
		if en.Language != "en" || en.SeasonNumber != nil {
			t.Fatalf("created %+v", en)
		}

		var got cmsapi.Episode
		f.do(http.MethodGet, episodePath(e.Id), "editor", nil).must(t, http.StatusOK, &got)
		if got.Title != e.Title {
			t.Fatalf("get %+v", got)
		}
		// Update: season cleared (the unseasoned number 2 is free), media cleared.
		f.do(http.MethodPatch, episodePath(e.Id), "editor", map[string]any{"season_number": nil, "episode_number": 2, "media_asset_id": nil}, ifMatch(1)...).must(t, http.StatusOK, &got)
		if got.SeasonNumber != nil || got.EpisodeNumber != 2 || got.MediaAssetId != nil || got.Version != 2 {
			t.Fatalf("updated %+v", got)
		}
		f.do(http.MethodPatch, episodePath(e.Id), "editor", map[string]any{"title": "x"}, ifMatch(1)...).fails(t, http.StatusPreconditionFailed, "")

		// Schedule, publish now, unpublish, archive, restore, delete, purge.
		at := f.clock.now().Add(time.Hour)
		f.do(http.MethodPost, episodePath(e.Id, "publish"), "editor", map[string]any{"publish_at": at}).must(t, http.StatusOK, &got)
		if got.Status != "scheduled" || got.ScheduledPublishAt == nil {
			t.Fatalf("scheduled %+v", got)
		}
		f.do(http.MethodPost, episodePath(e.Id, "publish"), "editor", nil).must(t, http.StatusOK, &got)
		if got.Status != "published" || got.ScheduledPublishAt != nil || got.PublishedAt == nil || got.Version != 4 {
			t.Fatalf("published %+v", got)
		}
		f.do(http.MethodPost, episodePath(e.Id, "publish"), "editor", map[string]any{"publish_at": at}).fails(t, http.StatusConflict, "")
		f.do(http.MethodPost, episodePath(e.Id, "unpublish"), "editor", nil).must(t, http.StatusOK, &got)
		f.do(http.MethodPost, episodePath(e.Id, "archive"), "editor", nil).must(t, http.StatusOK, &got)
		if got.Status != "archived" || got.ArchivedAt == nil || got.Version != 6 {
			t.Fatalf("archived %+v", got)
		}
		f.do(http.MethodPost, episodePath(e.Id, "publish"), "editor", nil).fails(t, http.StatusConflict, "")
		f.do(http.MethodPost, episodePath(e.Id, "purge"), "admin", nil).fails(t, http.StatusConflict, "")
		if r := f.do(http.MethodDelete, episodePath(e.Id), "editor", nil, ifMatch(6)...); r.code != http.StatusNoContent {
			t.Fatalf("delete: %d %s", r.code, r.body)
		}
		f.do(http.MethodPost, episodePath(e.Id, "unpublish"), "editor", nil).fails(t, http.StatusConflict, "")
		f.do(http.MethodPatch, episodePath(e.Id), "editor", map[string]any{"title": "x"}).fails(t, http.StatusConflict, "")
		f.do(http.MethodGet, episodePath(e.Id), "editor", nil).must(t, http.StatusOK, &got)
		if got.DeletedAt == nil || got.Version != 7 {
			t.Fatalf("deleted %+v", got)
		}
		f.do(http.MethodPost, episodePath(e.Id, "purge"), "editor", nil).fails(t, http.StatusForbidden, "")
		if r := f.do(http.MethodPost, episodePath(e.Id, "purge"), "admin", nil); r.code != http.StatusNoContent {
			t.Fatalf("purge: %d %s", r.code, r.body)
		}
		f.do(http.MethodGet, episodePath(e.Id), "editor", nil).fails(t, http.StatusNotFound, "")

		types := []string{}
		for _, ev := range f.eventsOf(e.Id) {
			types = append(types, ev.typ)
		}
		want := []string{
			contentevents.TypeContentCreated, contentevents.TypeContentUpdated, contentevents.TypeContentUpdated, contentevents.TypeContentPublished,
			contentevents.TypeContentUnpublished, contentevents.TypeContentUpdated, contentevents.TypeContentDeleted, contentevents.TypeContentDeleted,
		}
		if !slices.Equal(types, want) {
			t.Fatalf("events %v, want %v", types, want)
		}
		evs := f.eventsOf(e.Id)
		if c := evs[0].value.(*contentevents.ContentCreated); c.AggregateType != "episode" || *c.Snapshot.ProgramID != p.Id.String() ||
			*c.Snapshot.EpisodeNumber != 1 || *c.Snapshot.SeasonNumber != 1 || *c.Snapshot.DurationSeconds != 2700 || c.Snapshot.Kind != nil ||
			!equalPtr(c.Snapshot.MediaAssetID, ptr(videoAsset.String())) || !equalPtr(c.Snapshot.ThumbnailAssetID, ptr(thumbAsset.String())) || c.Snapshot.CoverAssetID != nil {
			t.Errorf("created event %+v", c)
		}
		if u := evs[1].value.(*contentevents.ContentUpdated); !slices.Equal(u.ChangedFields, []string{"episode_number", "media_asset_id", "season_number"}) ||
			u.Snapshot.MediaAssetID != nil || !equalPtr(u.Snapshot.ThumbnailAssetID, ptr(thumbAsset.String())) {
			t.Errorf("updated event %+v", u)
		}
		if pub := evs[3].value.(*contentevents.ContentPublished); pub.Snapshot.MediaAssetID != nil || !equalPtr(pub.Snapshot.ThumbnailAssetID, ptr(thumbAsset.String())) {
			t.Errorf("published event %+v", pub)
		}
		if d := evs[7].value.(*contentevents.ContentDeleted); d.Soft || *d.ProgramID != p.Id.String() {
			t.Errorf("purge event %+v", d)
		}
	})
}

// TestEpisodeConflicts covers the 409s of episodes: taken numbers (with and without a season),
// and a program that is archived or soft-deleted.
func TestEpisodeConflicts(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, Config{})
		p := f.createProgram("show", nil)
		f.createEpisode(p.Id, ptr[int32](1), 1, nil)
		f.createEpisode(p.Id, nil, 1, nil)
		other := f.createEpisode(p.Id, ptr[int32](2), 1, nil)
		body := func(season any, number int) map[string]any {
			return map[string]any{"season_number": season, "episode_number": number, "title": "t"}
		}
		f.do(http.MethodPost, programPath(p.Id, "episodes"), "editor", body(1, 1)).fails(t, http.StatusConflict, "")
		f.do(http.MethodPost, programPath(p.Id, "episodes"), "editor", map[string]any{"episode_number": 1, "title": "t"}).fails(t, http.StatusConflict, "")
		f.do(http.MethodPatch, episodePath(other.Id), "editor", map[string]any{"season_number": 1}).fails(t, http.StatusConflict, "")
		f.do(http.MethodPatch, episodePath(other.Id), "editor", map[string]any{"season_number": nil}).fails(t, http.StatusConflict, "")
		f.do(http.MethodPost, programPath(f.cat, "episodes"), "editor", body(1, 9)).fails(t, http.StatusNotFound, "")
		f.do(http.MethodPost, programPath(p.Id, "episodes"), "editor", map[string]any{"episode_number": 9, "title": "t", "language": "xx"}).fails(t, http.StatusUnprocessableEntity, "language")

		f.do(http.MethodPost, programPath(p.Id, "episodes"), "editor", map[string]any{"episode_number": 9, "title": "a\x00"}).fails(t, http.StatusUnprocessableEntity, "title")
		f.do(http.MethodPatch, episodePath(other.Id), "editor", map[string]any{"summary": "\x00"}).fails(t, http.StatusUnprocessableEntity, "summary")
		f.do(http.MethodPost, programPath(p.Id, "episodes"), "editor", map[string]any{"episode_number": 99999999999, "title": "t"}).fails(t, http.StatusUnprocessableEntity, "episode_number")

		f.do(http.MethodPost, programPath(p.Id, "archive"), "editor", nil).must(t, http.StatusOK, nil)
		f.do(http.MethodPost, programPath(p.Id, "episodes"), "editor", body(3, 1)).fails(t, http.StatusConflict, "")
		f.do(http.MethodPost, episodePath(other.Id, "publish"), "editor", nil).fails(t, http.StatusConflict, "")
		f.do(http.MethodPost, programPath(p.Id, "unpublish"), "editor", nil).must(t, http.StatusOK, nil)
		f.do(http.MethodPost, episodePath(other.Id, "publish"), "editor", nil).must(t, http.StatusOK, nil)
		if r := f.do(http.MethodDelete, programPath(p.Id), "editor", nil); r.code != http.StatusNoContent {
			t.Fatal(r.code)
		}
		f.do(http.MethodPost, programPath(p.Id, "episodes"), "editor", body(3, 1)).fails(t, http.StatusConflict, "")
		if n := f.count("episodes"); n != 3 {
			t.Fatalf("%d episodes", n)
		}
	})
}

// TestProgramDeleteAndPurgeCascade soft-deletes a program with its episodes, then purges it:
// the episodes go with it, the audit trail stays.
func TestProgramDeleteAndPurgeCascade(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, Config{})
		p := f.createProgram("show", nil)
		keep := f.createProgram("other", nil)
		f.createEpisode(keep.Id, nil, 1, nil)
		var eps []cmsapi.Episode
		for i := range int32(3) {
			eps = append(eps, f.createEpisode(p.Id, ptr[int32](1), i+1, nil))
		}
		if r := f.do(http.MethodDelete, episodePath(eps[0].Id), "editor", nil); r.code != http.StatusNoContent {
			t.Fatal(r.code)
		}
		var got cmsapi.Program
		f.do(http.MethodGet, programPath(p.Id), "editor", nil).must(t, http.StatusOK, &got)
		if got.EpisodeCount != 2 {
			t.Fatalf("episode_count %d, want 2", got.EpisodeCount)
		}
		if r := f.do(http.MethodDelete, programPath(p.Id), "editor", nil); r.code != http.StatusNoContent {
			t.Fatal(r.code)
		}
		f.do(http.MethodGet, programPath(p.Id), "editor", nil).must(t, http.StatusOK, &got)
		if got.EpisodeCount != 0 || got.DeletedAt == nil {
			t.Fatalf("deleted program %+v", got)
		}
		var e cmsapi.Episode
		f.do(http.MethodGet, episodePath(eps[2].Id), "editor", nil).must(t, http.StatusOK, &e)
		if e.DeletedAt == nil || e.Version != 2 || e.UpdatedBy != editorID {
			t.Fatalf("cascaded episode %+v", e)
		}
		var l cmsapi.EpisodeList
		f.do(http.MethodGet, programPath(p.Id, "episodes"), "editor", nil).must(t, http.StatusOK, &l)
		if len(l.Items) != 0 {
			t.Fatalf("%d episodes listed", len(l.Items))
		}
		f.do(http.MethodGet, programPath(p.Id, "episodes")+"?include_deleted=true", "editor", nil).must(t, http.StatusOK, &l)
		if len(l.Items) != 3 {
			t.Fatalf("%d episodes listed with deleted ones", len(l.Items))
		}
		if entries := f.audit(eps[1].Id); len(entries) != 2 || entries[0].Action != "deleted" {
			t.Fatalf("audit of a cascaded episode: %+v", entries)
		}

		if r := f.do(http.MethodPost, programPath(p.Id, "purge"), "admin", nil); r.code != http.StatusNoContent {
			t.Fatalf("purge: %d %s", r.code, r.body)
		}
		f.do(http.MethodGet, programPath(p.Id), "editor", nil).fails(t, http.StatusNotFound, "")
		f.do(http.MethodGet, programPath(p.Id, "episodes"), "editor", nil).fails(t, http.StatusNotFound, "")
		for _, ep := range eps {
			f.do(http.MethodGet, episodePath(ep.Id), "editor", nil).fails(t, http.StatusNotFound, "")
			if entries := f.audit(ep.Id); len(entries) != 3 || entries[0].Action != "purged" || entries[0].ActorId != adminID {
				t.Fatalf("audit of a purged episode: %+v", entries)
			}
		}
		if n := f.count("episodes"); n != 1 {
			t.Fatalf("%d episodes left, want the other program's", n)
		}
		evs := f.eventsOf(p.Id)
		if last := evs[len(evs)-1].value.(*contentevents.ContentDeleted); last.Soft || last.ProgramID != nil {
			t.Fatalf("purge event %+v", last)
		}
	})
}
