package discovery

import (
	"bytes"
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/gen/events/mediaevents"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
	"github.com/mediamesh/mediamesh/internal/eventbus"
)

// TestReplay applies an event stream, empties the read model with Reset and applies the same
// stream again: every response is the same. Applying the stream a third time without Reset (every
// event a duplicate) changes nothing either.
func TestReplay(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		cat := newID()
		cover, thumb, gone := newID(), newID(), newID()
		a := programSnap(newID(), 1, "Alpha", "en")
		a.CategoryID, a.Tags, a.CoverAssetID = &cat, []string{"Talk"}, &cover
		b := programSnap(newID(), 1, "برنامج", "ar")
		b.CategoryID = &cat
		c := programSnap(newID(), 1, "Gone", "en")
		e1 := episodeSnap(newID(), a.ID, 1, ptr(1), 1, base.Add(time.Minute))
		e2 := episodeSnap(newID(), a.ID, 1, ptr(1), 2, base.Add(2*time.Minute))
		e1.ThumbnailAssetID, e2.ThumbnailAssetID, e2.MediaAssetID = &thumb, &gone, &thumb
		e3 := episodeSnap(newID(), b.ID, 1, nil, 1, base.Add(3*time.Minute))
		e4 := episodeSnap(newID(), c.ID, 1, nil, 1, base.Add(4*time.Minute))
		stream := []eventbus.Message{
			assetUpdatedMsg(t, thumb, 1, mediaevents.AssetKindImage, true, "small", "medium"),
			publishedMsg(t, e1), // before its program
			publishedMsg(t, a), publishedMsg(t, b), publishedMsg(t, c),
			publishedMsg(t, e2), publishedMsg(t, e3), publishedMsg(t, e4),
		}
		a.Version, a.Title = 2, "Alpha Show"
		e2.Version, e2.Title = 2, "Second"
		stream = append(stream, updatedMsg(t, a, "title"), updatedMsg(t, e2, "title"),
			unpublishedMsg(t, e3, 2), deletedMsg(t, c, 2),
			categoryUpsertedMsg(t, cat, "talk", 1, map[string]string{"en": "Talk", "ar": "حوار"}),
			categoryUpsertedMsg(t, cat, "talk-shows", 2, map[string]string{"en": "Talk shows", "ar": "حوارات"}),
			assetUpdatedMsg(t, cover, 1, mediaevents.AssetKindImage, true), assetUpdatedMsg(t, gone, 1, mediaevents.AssetKindImage, true),
			assetUpdatedMsg(t, cover, 2, mediaevents.AssetKindImage, true), assetDeletedMsg(t, gone))

		paths := []string{
			"/api/v1/discovery/programs",
			"/api/v1/discovery/programs?sort=title&limit=1",
			"/api/v1/discovery/programs/" + a.ID,
			"/api/v1/discovery/programs/" + b.ID,
			"/api/v1/discovery/programs/" + c.ID,
			"/api/v1/discovery/programs/" + a.ID + "/episodes",
			"/api/v1/discovery/programs/" + b.ID + "/episodes?sort=latest",
			"/api/v1/discovery/episodes/" + e1.ID,
			"/api/v1/discovery/episodes/" + e3.ID,
			"/api/v1/discovery/episodes/" + e4.ID,
			"/api/v1/discovery/latest",
			"/api/v1/discovery/latest?limit=1",
			"/api/v1/discovery/categories?language=ar",
			"/api/v1/discovery/languages",
		}
		snapshot := func() [][]byte {
			out := make([][]byte, len(paths))
			for i, p := range paths {
				rec := f.record(p)
				out[i] = append([]byte(rec.Result().Status+" "+rec.Header().Get("ETag")+"\n"), rec.Body.Bytes()...)
			}
			return out
		}

		f.feed(stream...)
		first := snapshot()
		if err := f.svc.Reset(t.Context()); err != nil {
			t.Fatal(err)
		}
		var list programList
		f.getJSON("/api/v1/discovery/programs", &list)
		if len(list.Items) != 0 {
			t.Fatalf("programs after Reset: %v", list.ids())
		}
		if n, err := f.svc.read.Asset.Query().Count(t.Context()); err != nil || n != 0 {
			t.Fatalf("assets after Reset: %d (%v)", n, err)
		}
		f.feed(stream...)
		second := snapshot()
		f.feed(stream...)
		third := snapshot()
		for i, p := range paths {
			if !bytes.Equal(first[i], second[i]) || !bytes.Equal(first[i], third[i]) {
				t.Errorf("GET %s differs after replay:\n%s\n%s\n%s", p, first[i], second[i], third[i])
			}
		}
		// The stream's effects, for the record: c is gone with its episode, e3 unpublished.
		for i, want := range map[int]string{4: "404", 8: "404", 9: "404", 7: "200"} {
			if got := string(first[i][:3]); got != want {
				t.Errorf("GET %s: %s, want %s", paths[i], got, want)
			}
		}
		// a shows its cover at the asset's newest version, e1 its thumbnail; e2's deleted
		// thumbnail is absent.
		for i, want := range map[int]string{2: testAssetURL(cover, 2, ""), 7: testAssetURL(thumb, 1, "medium")} {
			if !bytes.Contains(first[i], []byte(want)) {
				t.Errorf("GET %s: no %s in %s", paths[i], want, first[i])
			}
		}
		if bytes.Contains(first[5], []byte(gone)) {
			t.Errorf("GET %s shows the deleted asset %s: %s", paths[5], gone, first[5])
		}
	})
}
