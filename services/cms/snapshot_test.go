package cms

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/gen/events/contentevents"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
)

// TestSnapshotAssetIDs: the snapshots of content.created, content.published and content.updated
// carry the asset ids of the content (a program's cover, an episode's thumbnail and media), and
// content.updated names an asset id among its changed fields when it is set, replaced or cleared.
func TestSnapshotAssetIDs(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, Config{})
		id := func(v any) *string {
			s, ok := v.(interface{ String() string })
			if !ok {
				return nil
			}
			return ptr(s.String())
		}
		// assets checks a snapshot's cover, thumbnail and media ids (nil: none).
		assets := func(what string, s contentevents.ContentSnapshot, cover, thumb, media any) {
			t.Helper()
			if !equalPtr(s.CoverAssetID, id(cover)) || !equalPtr(s.ThumbnailAssetID, id(thumb)) || !equalPtr(s.MediaAssetID, id(media)) {
				t.Errorf("%s: cover %v thumbnail %v media %v, want %v %v %v", what, deref(s.CoverAssetID), deref(s.ThumbnailAssetID), deref(s.MediaAssetID), cover, thumb, media)
			}
		}
		last := func(id uuid.UUID) event {
			t.Helper()
			evs := f.eventsOf(id)
			return evs[len(evs)-1]
		}
		updated := func(what string, ev event, changed ...string) contentevents.ContentSnapshot {
			t.Helper()
			u, ok := ev.value.(*contentevents.ContentUpdated)
			if !ok {
				t.Fatalf("%s: %s, want content.updated", what, ev.typ)
			}
			if !slices.Equal(u.ChangedFields, changed) {
				t.Errorf("%s: changed fields %v, want %v", what, u.ChangedFields, changed)
			}
			return u.Snapshot
		}

		// A program: created with a cover, published, its cover replaced, set to the same, cleared.
		p := f.createProgram("show", map[string]any{"cover_asset_id": coverAsset})
		assets("program created", last(p.Id).value.(*contentevents.ContentCreated).Snapshot, coverAsset, nil, nil)
		f.do(http.MethodPost, programPath(p.Id, "publish"), "editor", nil).must(t, http.StatusOK, nil)
		assets("program published", last(p.Id).value.(*contentevents.ContentPublished).Snapshot, coverAsset, nil, nil)
		f.do(http.MethodPatch, programPath(p.Id), "editor", map[string]any{"cover_asset_id": thumbAsset}).must(t, http.StatusOK, nil)
		assets("program cover replaced", updated("program cover replaced", last(p.Id), "cover_asset_id"), thumbAsset, nil, nil)
		n := len(f.eventsOf(p.Id))
		f.do(http.MethodPatch, programPath(p.Id), "editor", map[string]any{"cover_asset_id": thumbAsset}).must(t, http.StatusOK, nil)
		if got := len(f.eventsOf(p.Id)); got != n {
			t.Errorf("the same cover again wrote %d events", got-n)
		}
		f.do(http.MethodPatch, programPath(p.Id), "editor", map[string]any{"cover_asset_id": nil, "title": "Renamed"}).must(t, http.StatusOK, nil)
		assets("program cover cleared", updated("program cover cleared", last(p.Id), "cover_asset_id", "title"), nil, nil, nil)
		f.do(http.MethodPatch, programPath(p.Id), "editor", map[string]any{"cover_asset_id": coverAsset}).must(t, http.StatusOK, nil)
		assets("program cover set", updated("program cover set", last(p.Id), "cover_asset_id"), coverAsset, nil, nil)

		// An episode: created with a thumbnail and media, published, each replaced, both cleared.
		e := f.createEpisode(p.Id, nil, 1, map[string]any{"thumbnail_asset_id": thumbAsset, "media_asset_id": audioAsset})
		assets("episode created", last(e.Id).value.(*contentevents.ContentCreated).Snapshot, nil, thumbAsset, audioAsset)
		f.do(http.MethodPost, episodePath(e.Id, "publish"), "editor", nil).must(t, http.StatusOK, nil)
		assets("episode published", last(e.Id).value.(*contentevents.ContentPublished).Snapshot, nil, thumbAsset, audioAsset)
		f.do(http.MethodPatch, episodePath(e.Id), "editor", map[string]any{"thumbnail_asset_id": coverAsset}).must(t, http.StatusOK, nil)
		assets("episode thumbnail replaced", updated("episode thumbnail replaced", last(e.Id), "thumbnail_asset_id"), nil, coverAsset, audioAsset)
		f.do(http.MethodPatch, episodePath(e.Id), "editor", map[string]any{"media_asset_id": videoAsset}).must(t, http.StatusOK, nil)
		assets("episode media replaced", updated("episode media replaced", last(e.Id), "media_asset_id"), nil, coverAsset, videoAsset)
		f.do(http.MethodPatch, episodePath(e.Id), "editor", map[string]any{"media_asset_id": nil, "thumbnail_asset_id": nil}).must(t, http.StatusOK, nil)
		assets("episode assets cleared", updated("episode assets cleared", last(e.Id), "media_asset_id", "thumbnail_asset_id"), nil, nil, nil)

		// A scheduled publication keeps them too.
		f.do(http.MethodPatch, episodePath(e.Id), "editor", map[string]any{"thumbnail_asset_id": thumbAsset}).must(t, http.StatusOK, nil)
		f.do(http.MethodPost, episodePath(e.Id, "unpublish"), "editor", nil).must(t, http.StatusOK, nil)
		f.do(http.MethodPost, episodePath(e.Id, "publish"), "editor", map[string]any{"publish_at": f.clock.now().Add(time.Hour)}).must(t, http.StatusOK, nil)
		assets("episode scheduled", updated("episode scheduled", last(e.Id), "published_at", "status"), nil, thumbAsset, nil)
	})
}

// TestChangedFieldsAssets: every asset id of a snapshot is a changed field of its own.
func TestChangedFieldsAssets(t *testing.T) {
	a, b := ptr(coverAsset.String()), ptr(thumbAsset.String())
	for _, c := range []struct {
		name        string
		before, aft contentevents.ContentSnapshot
		want        []string
	}{
		{"same", contentevents.ContentSnapshot{CoverAssetID: a, ThumbnailAssetID: b, MediaAssetID: a}, contentevents.ContentSnapshot{CoverAssetID: ptr(*a), ThumbnailAssetID: ptr(*b), MediaAssetID: ptr(*a)}, []string{}},
		{"cover set", contentevents.ContentSnapshot{}, contentevents.ContentSnapshot{CoverAssetID: a}, []string{"cover_asset_id"}},
		{"cover cleared", contentevents.ContentSnapshot{CoverAssetID: a}, contentevents.ContentSnapshot{}, []string{"cover_asset_id"}},
		{"thumbnail replaced", contentevents.ContentSnapshot{ThumbnailAssetID: a}, contentevents.ContentSnapshot{ThumbnailAssetID: b}, []string{"thumbnail_asset_id"}},
		{"media cleared", contentevents.ContentSnapshot{MediaAssetID: b}, contentevents.ContentSnapshot{}, []string{"media_asset_id"}},
		{"all", contentevents.ContentSnapshot{CoverAssetID: a, MediaAssetID: a}, contentevents.ContentSnapshot{ThumbnailAssetID: b, MediaAssetID: b}, []string{"cover_asset_id", "media_asset_id", "thumbnail_asset_id"}},
	} {
		if got := changedFields(c.before, c.aft); !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func deref(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}
