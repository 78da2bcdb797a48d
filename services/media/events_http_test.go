package media

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/ent/mediadb/asset"
	"github.com/mediamesh/mediamesh/gen/openapi/mediaapi"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
)

// TestAssetUpdatedDirectUpload follows the asset.updated events of uploaded assets: the upload
// (ready at once), the thumbnails, and every update of a ready asset, each with the delivery of the
// version it made.
func TestAssetUpdatedDirectUpload(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, Config{}, Deps{})
		program := uuid.Must(uuid.NewV7())
		a := f.uploadImage(jpegBytes(t, 1400, 700), field("visibility", "public"),
			field("attach_content_type", "program"), field("attach_content_id", program.String()))
		ev := f.lastUpdate(a.Id, 1)
		f.checkUpdate(ev, a, 1, true, nil)
		if !ev.OccurredAt.Equal(testStart) {
			t.Errorf("occurred_at %s, want %s", ev.OccurredAt, testStart)
		}
		if ev.Kind != "image" {
			t.Errorf("kind %s", ev.Kind)
		}
		// A private upload: not public, no URL.
		var clip mediaapi.Asset
		f.upload("editor", filePart("clip.mp4", "video/mp4", mp4Bytes(5000))).must(t, http.StatusCreated, &clip)
		f.checkUpdate(f.lastUpdate(clip.Id, 1), clip, 1, false, nil)
		if ev := f.lastUpdate(clip.Id, 1); ev.Kind != "video" {
			t.Errorf("kind %s", ev.Kind)
		}
		// A refused upload writes nothing.
		n := len(f.allEvents())
		f.upload("editor", filePart("a.pdf", "application/pdf", []byte("%PDF-1.7\n"))).fails(t, http.StatusUnsupportedMediaType, "")
		if got := len(f.allEvents()); got != n {
			t.Errorf("a refused upload wrote %d events", got-n)
		}

		// The worker: the thumbnails' URLs, at version 2. The video has none to make.
		f.clock.advance(time.Second)
		f.svc.thumbnails(context.Background())
		a, _ = f.get(a.Id)
		if len(a.Thumbnails) != 3 || a.Version != 2 {
			t.Fatalf("after the worker %+v", a)
		}
		ev = f.lastUpdate(a.Id, 2)
		f.checkUpdate(ev, a, 2, true, thumbnailURLs(a))
		if len(ev.Thumbnails) != 3 || ev.Thumbnails["small"] == "" || ev.Thumbnails["medium"] == "" || ev.Thumbnails["large"] == "" {
			t.Errorf("thumbnails %v, want small, medium and large", ev.Thumbnails)
		}
		if !ev.OccurredAt.Equal(testStart.Add(time.Second)) {
			t.Errorf("occurred_at %s", ev.OccurredAt)
		}
		f.lastUpdate(clip.Id, 1)

		// Private withdraws every URL; public brings them back, thumbnails included.
		patch := func(body any) mediaapi.Asset {
			t.Helper()
			var got mediaapi.Asset
			f.do(http.MethodPatch, assetPath(a.Id), "editor", body).must(t, http.StatusOK, &got)
			return got
		}
		got := patch(map[string]any{"visibility": "private"})
		f.checkUpdate(f.lastUpdate(a.Id, 3), got, 3, false, nil)
		got = patch(map[string]any{"alt_text": "غلاف"})
		f.checkUpdate(f.lastUpdate(a.Id, 4), got, 4, false, nil)
		got = patch(map[string]any{"visibility": "public"})
		f.checkUpdate(f.lastUpdate(a.Id, 5), got, 5, true, thumbnailURLs(got))
		got = patch(`{"attached_to": null}`)
		f.checkUpdate(f.lastUpdate(a.Id, 6), got, 6, true, thumbnailURLs(got))

		// A refused or stale patch writes nothing.
		f.do(http.MethodPatch, assetPath(a.Id), "editor", map[string]any{"alt_text": "x"}, "If-Match", `"1"`).fails(t, http.StatusPreconditionFailed, "")
		f.do(http.MethodPatch, assetPath(a.Id), "editor", map[string]any{"alt_text": "\x00"}).fails(t, http.StatusUnprocessableEntity, "alt_text")
		f.lastUpdate(a.Id, 6)

		// One event per version, in order.
		for i, ev := range f.updatesOf(a.Id) {
			if ev.Version != int64(i+1) {
				t.Errorf("event %d: version %d", i, ev.Version)
			}
		}
		if len(f.deletions()) != 0 {
			t.Errorf("asset.deleted events %+v", f.deletions())
		}
	})
}

// TestAssetUpdatedUploadSession: an upload session's asset has no delivery until it is completed:
// the completion writes asset.updated, a failed completion and changes of a pending asset none.
func TestAssetUpdatedUploadSession(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, Config{}, Deps{})
		data := pngBytes(t, 800, 600)
		s := f.sessionFor("a.png", "image/png", data, nil)
		// A pending asset: an update changes it, but it has no delivery yet.
		f.do(http.MethodPatch, assetPath(s.AssetId), "editor", map[string]any{"visibility": "public"}).must(t, http.StatusOK, nil)
		f.put(s, data)
		if n := len(f.allEvents()); n != 0 {
			t.Fatalf("%d events before the completion", n)
		}
		// A stale completion writes nothing.
		f.do(http.MethodPost, completePath(s.AssetId), "editor", nil, "If-Match", `"1"`).fails(t, http.StatusPreconditionFailed, "")
		f.clock.advance(time.Minute)
		var a mediaapi.Asset
		f.do(http.MethodPost, completePath(s.AssetId), "editor", nil).must(t, http.StatusOK, &a)
		ev := f.lastUpdate(a.Id, 1)
		f.checkUpdate(ev, a, 3, true, nil)
		if !ev.OccurredAt.Equal(testStart.Add(time.Minute)) {
			t.Errorf("occurred_at %s", ev.OccurredAt)
		}
		// Completing again changes nothing and writes nothing.
		f.do(http.MethodPost, completePath(s.AssetId), "editor", nil).must(t, http.StatusOK, nil)
		f.lastUpdate(a.Id, 1)
		// Then the thumbnails.
		f.svc.thumbnails(context.Background())
		a, _ = f.get(a.Id)
		if len(a.Thumbnails) != 2 {
			t.Fatalf("thumbnails %+v", a.Thumbnails)
		}
		f.checkUpdate(f.lastUpdate(a.Id, 2), a, 4, true, thumbnailURLs(a))

		// A private video: not public.
		video := mp4Bytes(70_000)
		vs := f.sessionFor("clip.mp4", "video/mp4", video, nil)
		f.put(vs, video)
		var v mediaapi.Asset
		f.do(http.MethodPost, completePath(vs.AssetId), "editor", nil).must(t, http.StatusOK, &v)
		f.checkUpdate(f.lastUpdate(v.Id, 1), v, 2, false, nil)

		// Failed completions (checksum, type) write no event.
		before := len(f.allEvents())
		other := bytes.Clone(data)
		other[len(other)-5] ^= 0xff // same size, other bytes
		bad := f.sessionFor("b.png", "image/png", data, map[string]any{"visibility": "public"})
		f.put(bad, other)
		f.do(http.MethodPost, completePath(bad.AssetId), "editor", nil).fails(t, http.StatusConflict, "")
		wrongType := f.sessionFor("c.mp4", "video/mp4", data, map[string]any{"visibility": "public"})
		f.put(wrongType, data)
		f.do(http.MethodPost, completePath(wrongType.AssetId), "editor", nil).fails(t, http.StatusConflict, "")
		for _, id := range []uuid.UUID{bad.AssetId, wrongType.AssetId} {
			if got, _ := f.get(id); got.Status != mediaapi.Failed {
				t.Errorf("asset %s: %s, want failed", id, got.Status)
			}
			if evs := f.updatesOf(id); len(evs) != 0 {
				t.Errorf("asset %s: a failed completion wrote %+v", id, evs)
			}
		}
		if n := len(f.allEvents()); n != before {
			t.Errorf("failed completions wrote %d events", n-before)
		}
		// An update of a failed asset writes none either.
		f.do(http.MethodPatch, assetPath(bad.AssetId), "editor", map[string]any{"alt_text": "x"}).must(t, http.StatusOK, nil)
		if n := len(f.allEvents()); n != before {
			t.Errorf("an update of a failed asset wrote %d events", n-before)
		}
	})
}

// TestAssetUpdatedThumbnailStates: a stale record of the worker writes nothing; an image that
// cannot be thumbnailed gets an event without thumbnails at its new version.
func TestAssetUpdatedThumbnailStates(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, Config{}, Deps{})
		a := f.uploadImage(jpegBytes(t, 400, 400), field("visibility", "public"))
		row := f.row(a.Id)
		f.do(http.MethodPatch, assetPath(a.Id), "editor", map[string]any{"alt_text": "changed"}).must(t, http.StatusOK, nil)
		if !f.svc.makeThumbnails(context.Background(), row) { // from the stale row: nothing recorded
			t.Error("a stale record no longer counts as progress")
		}
		f.lastUpdate(a.Id, 2)
		f.svc.thumbnails(context.Background())
		a, _ = f.get(a.Id)
		f.checkUpdate(f.lastUpdate(a.Id, 3), a, 3, true, thumbnailURLs(a))

		good := pngBytes(t, 400, 300)
		var corrupt mediaapi.Asset
		f.upload("editor", filePart("bad.png", "image/png", good[:60]), field("visibility", "public")).must(t, http.StatusCreated, &corrupt)
		f.svc.thumbnails(context.Background())
		if row := f.row(corrupt.Id); row.ThumbnailState != asset.ThumbnailStateFailed {
			t.Fatalf("thumbnail state %s", row.ThumbnailState)
		}
		f.checkUpdate(f.lastUpdate(corrupt.Id, 2), corrupt, 2, true, nil)
	})
}

// TestAssetUpdatedAtomicity: when the outbox write fails (its table is missing), the change of the
// asset does not commit either: an upload leaves no row and no bytes, a completion leaves the asset
// pending, an update changes nothing, the worker records no thumbnails. Once the outbox is back,
// each goes through with its event.
func TestAssetUpdatedAtomicity(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, Config{}, Deps{})
		exec := func(stmt string) {
			t.Helper()
			if _, err := f.db.ExecContext(context.Background(), stmt); err != nil {
				t.Fatalf("%s: %v", stmt, err)
			}
		}
		img := f.uploadImage(jpegBytes(t, 400, 400), field("visibility", "public"))
		data := pngBytes(t, 64, 64)
		s := f.sessionFor("a.png", "image/png", data, map[string]any{"visibility": "public"})
		f.put(s, data)
		count := func() int {
			t.Helper()
			var n int
			if err := f.db.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM assets`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		assets, files := count(), len(f.objectFiles())

		exec(`ALTER TABLE outbox RENAME TO outbox_gone`)
		// uploadAsset: a 500, no row, and its bytes are deleted again.
		f.upload("editor", filePart("p.jpg", "image/jpeg", jpegBytes(t, 100, 100)), field("visibility", "public")).fails(t, http.StatusInternalServerError, "")
		if n := count(); n != assets {
			t.Errorf("%d assets after a failed upload, want %d", n, assets)
		}
		if n := len(f.objectFiles()); n != files {
			t.Errorf("%d stored objects after a failed upload, want %d: %v", n, files, f.objectFiles())
		}
		// completeUpload: a 500, still pending at version 1.
		f.do(http.MethodPost, completePath(s.AssetId), "editor", nil).fails(t, http.StatusInternalServerError, "")
		if got, etag := f.get(s.AssetId); got.Status != mediaapi.Pending || etag != `"1"` {
			t.Errorf("after a failed completion: %s %s", got.Status, etag)
		}
		// updateAsset: a 500, unchanged.
		f.do(http.MethodPatch, assetPath(img.Id), "editor", map[string]any{"visibility": "private"}).fails(t, http.StatusInternalServerError, "")
		if got, etag := f.get(img.Id); got.Visibility != mediaapi.Public || etag != `"1"` {
			t.Errorf("after a failed update: %s %s", got.Visibility, etag)
		}
		// The worker: no thumbnails recorded, still pending (the rendered files may stay: the next
		// pass writes them again at the same keys).
		f.svc.thumbnails(context.Background())
		if row := f.row(img.Id); row.ThumbnailState != asset.ThumbnailStatePending || row.Version != 1 || len(row.Thumbnails) != 0 {
			t.Errorf("after a failed record of thumbnails: %s v%d %v", row.ThumbnailState, row.Version, row.Thumbnails)
		}
		exec(`ALTER TABLE outbox_gone RENAME TO outbox`)
		if evs := f.allEvents(); len(evs) != 1 || evs[0].rec.AggregateID != img.Id.String() {
			t.Fatalf("events %+v, want only the first upload's", evs)
		}

		// Without the failure each goes through, with its event.
		f.do(http.MethodPost, completePath(s.AssetId), "editor", nil).must(t, http.StatusOK, nil)
		f.lastUpdate(s.AssetId, 1)
		f.do(http.MethodPatch, assetPath(img.Id), "editor", map[string]any{"visibility": "private"}).must(t, http.StatusOK, nil)
		f.svc.thumbnails(context.Background())
		got, _ := f.get(img.Id)
		if len(got.Thumbnails) != 1 || got.Version != 3 {
			t.Fatalf("asset %+v", got)
		}
		f.checkUpdate(f.lastUpdate(img.Id, 3), got, 3, false, nil)
		var p mediaapi.Asset
		f.upload("editor", filePart("p.jpg", "image/jpeg", jpegBytes(t, 100, 100)), field("visibility", "public")).must(t, http.StatusCreated, &p)
		f.checkUpdate(f.lastUpdate(p.Id, 1), p, 1, true, nil)
	})
}
