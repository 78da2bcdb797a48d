package media

import (
	"bytes"
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/ent/mediadb/asset"
	"github.com/mediamesh/mediamesh/gen/openapi/mediaapi"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
)

// TestUploadSession runs the large-upload flow: a session, a PUT to the store, completion.
func TestUploadSession(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, Config{UploadSessionTTL: 30 * time.Minute}, Deps{})
		data := pngBytes(t, 800, 600)
		episode := uuid.Must(uuid.NewV7())
		s, r := f.session(map[string]any{
			"filename": "الحلقة-الأولى.png", "content_type": "image/png", "size_bytes": len(data), "checksum_sha256": sum(data),
			"alt_text": "غلاف", "attached_to": map[string]any{"content_type": "episode", "content_id": episode.String()},
		})
		if got, want := r.header.Get("Location"), assetPath(s.AssetId); got != want {
			t.Errorf("Location %q, want %q", got, want)
		}
		if s.Method != mediaapi.PUT || !maps1(s.Headers, "Content-Type", "image/png") || !s.ExpiresAt.Equal(testStart.Add(30*time.Minute)) {
			t.Errorf("session %+v", s)
		}
		if !strings.HasPrefix(s.UploadUrl, f.srv.URL+"/media/"+stagingKey(s.AssetId)+"?") {
			t.Errorf("upload url %s", s.UploadUrl)
		}
		pending, etag := f.get(s.AssetId)
		if pending.Status != mediaapi.Pending || etag != `"1"` || pending.Width != nil || pending.Kind != mediaapi.Image ||
			pending.Filename != "الحلقة-الأولى.png" || pending.SizeBytes != int64(len(data)) || pending.ChecksumSha256 != sum(data) ||
			pending.AttachedTo == nil || pending.AttachedTo.ContentId != episode || pending.AttachedTo.ContentType != mediaapi.Episode ||
			pending.AltText == nil || *pending.AltText != "غلاف" || pending.CreatedBy != editorID {
			t.Errorf("pending asset %+v", pending)
		}
		if l := f.list("status=pending"); len(l.Items) != 1 || l.Items[0].Id != s.AssetId {
			t.Errorf("pending list %+v", l.Items)
		}

		// The PUT must carry the signed Content-Type.
		if code, _, _ := httpDo(t, http.MethodPut, s.UploadUrl, data, map[string]string{"Content-Type": "image/jpeg"}); code != http.StatusForbidden {
			t.Errorf("PUT with another Content-Type: %d, want 403", code)
		}
		f.put(s, data)
		f.clock.advance(time.Minute)
		var a mediaapi.Asset
		r = f.do(http.MethodPost, completePath(s.AssetId), "editor", nil)
		r.must(t, http.StatusOK, &a)
		if a.Status != mediaapi.Ready || a.Width == nil || *a.Width != 800 || *a.Height != 600 || a.Version != 2 || r.header.Get("ETag") != `"2"` {
			t.Errorf("completed asset %+v ETag %s", a, r.header.Get("ETag"))
		}
		if !a.UpdatedAt.Equal(testStart.Add(time.Minute)) || !a.CreatedAt.Equal(testStart) {
			t.Errorf("created %s updated %s", a.CreatedAt, a.UpdatedAt)
		}
		if row := f.row(a.Id); row.UploadExpiresAt != nil || row.ThumbnailState != asset.ThumbnailStatePending {
			t.Errorf("row after completion: upload_expires_at %v thumbnail state %s", row.UploadExpiresAt, row.ThumbnailState)
		}
		// The URL still takes a PUT until it expires, but what it receives never reaches the checked
		// object, and the cleanup deletes it once the URL has expired.
		other := pngBytes(t, 16, 16)
		f.put(s, other)
		if info, ok := f.stored(a.StorageKey); !ok || info.Size != int64(len(data)) {
			t.Errorf("the checked original after a later PUT: %+v %v, want its %d bytes", info, ok, len(data))
		}
		if _, ok := f.stored(stagingKey(a.Id)); !ok {
			t.Fatal("the later PUT was not stored at the staging key")
		}
		// Completing again is a no-op.
		var again mediaapi.Asset
		f.do(http.MethodPost, completePath(s.AssetId), "editor", nil).must(t, http.StatusOK, &again)
		if again.Version != 2 || again.Status != mediaapi.Ready {
			t.Errorf("second completion %+v", again)
		}
		// The expiry no longer applies: the cleanup keeps a ready asset, and deletes what the URL
		// received after the completion.
		f.clock.advance(time.Hour)
		f.svc.cleanup(context.Background())
		f.get(s.AssetId)
		if _, ok := f.stored(stagingKey(a.Id)); ok {
			t.Error("what the URL received after the completion is still stored after it expired")
		}
		if info, ok := f.stored(a.StorageKey); !ok || info.Size != int64(len(data)) {
			t.Errorf("the original after the cleanup: %+v %v", info, ok)
		}
		// Thumbnails follow.
		f.svc.thumbnails(context.Background())
		done, _ := f.get(s.AssetId)
		if len(done.Thumbnails) != 2 || done.Thumbnails[0].Width != 320 || done.Thumbnails[0].Height != 240 ||
			done.Thumbnails[1].Width != 640 || done.Thumbnails[1].Height != 480 || done.Version != 3 {
			t.Errorf("thumbnails %+v version %d", done.Thumbnails, done.Version)
		}
		for _, th := range done.Thumbnails {
			if _, ok := f.stored(th.StorageKey); !ok {
				t.Errorf("thumbnail %s not stored", th.StorageKey)
			}
		}
		if len(f.deletions()) != 0 {
			t.Errorf("events %+v", f.deletions())
		}
		// The completion and the thumbnails each announced the asset's delivery: private, no URLs.
		if evs := f.updatesOf(a.Id); len(evs) != 2 {
			t.Errorf("asset.updated events %+v, want the completion's and the thumbnails'", evs)
		} else {
			f.checkUpdate(evs[0], a, 2, false, nil)
			f.checkUpdate(evs[1], done, 3, false, nil)
		}
	})
}

// TestUploadSessionVideo completes a video upload: ready, without dimensions or thumbnails.
func TestUploadSessionVideo(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, Config{}, Deps{})
		data := mp4Bytes(70_000)
		s := f.sessionFor("clip.mp4", "video/mp4", data, map[string]any{"visibility": "public"})
		f.put(s, data)
		var a mediaapi.Asset
		f.do(http.MethodPost, completePath(s.AssetId), "admin", nil, "If-Match", `"1"`).must(t, http.StatusOK, &a)
		if a.Status != mediaapi.Ready || a.Kind != mediaapi.Video || a.Width != nil || a.PublicUrl == nil || *a.PublicUrl != publicBase+"/"+a.StorageKey {
			t.Errorf("video %+v", a)
		}
		if st := f.row(a.Id).ThumbnailState; st != asset.ThumbnailStateNone {
			t.Errorf("thumbnail state %s", st)
		}
		if !bytes.Equal(f.mustStore(a.StorageKey), data) {
			t.Error("stored bytes differ")
		}
	})
}

// TestUploadSessionFailures covers completions that cannot make the asset ready.
func TestUploadSessionFailures(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, Config{}, Deps{})
		data := pngBytes(t, 200, 100)
		complete := func(id uuid.UUID, headers ...string) *response {
			return f.do(http.MethodPost, completePath(id), "editor", nil, headers...)
		}
		failed := func(id uuid.UUID, reason string) {
			t.Helper()
			a, etag := f.get(id)
			if a.Status != mediaapi.Failed || a.FailureReason == nil || !strings.Contains(*a.FailureReason, reason) || a.Version != 2 || etag != `"2"` {
				t.Errorf("asset %s: status %s reason %v version %d, want failed (%q) at version 2", id, a.Status, a.FailureReason, a.Version, reason)
			}
			f.mustNotStore(a.StorageKey)
			if row := f.row(id); row.UploadExpiresAt != nil {
				t.Errorf("a failed asset keeps upload_expires_at %v", row.UploadExpiresAt)
			}
			// Failed is final: completing again is still a 409, with the reason.
			if p := complete(id).fails(t, http.StatusConflict, ""); !strings.Contains(p.Detail, reason) {
				t.Errorf("second completion detail %q", p.Detail)
			}
			f.do(http.MethodGet, assetPath(id, "url"), "editor", nil).fails(t, http.StatusConflict, "")
		}

		t.Run("nothing uploaded", func(t *testing.T) {
			s := f.sessionFor("a.png", "image/png", data, nil)
			complete(s.AssetId).fails(t, http.StatusConflict, "")
			if a, etag := f.get(s.AssetId); a.Status != mediaapi.Pending || etag != `"1"` {
				t.Errorf("after an early completion: %s %s, want still pending", a.Status, etag)
			}
			// It can still be completed after the PUT.
			f.put(s, data)
			complete(s.AssetId).must(t, http.StatusOK, nil)
		})
		t.Run("checksum", func(t *testing.T) {
			other := bytes.Clone(data)
			other[len(other)-5] ^= 0xff // same size, other bytes
			s := f.sessionFor("a.png", "image/png", data, nil)
			f.put(s, other)
			complete(s.AssetId).fails(t, http.StatusConflict, "")
			failed(s.AssetId, "SHA-256")
		})
		t.Run("size", func(t *testing.T) {
			s := f.sessionFor("a.png", "image/png", append(bytes.Clone(data), 0), nil)
			f.put(s, data)
			complete(s.AssetId).fails(t, http.StatusConflict, "")
			failed(s.AssetId, "bytes")
		})
		t.Run("type", func(t *testing.T) {
			s := f.sessionFor("a.mp4", "video/mp4", data, nil) // matching size and checksum, PNG bytes
			f.put(s, data)
			if p := complete(s.AssetId).fails(t, http.StatusConflict, ""); !strings.Contains(p.Detail, "image/png") {
				t.Errorf("detail %q does not name what was found", p.Detail)
			}
			failed(s.AssetId, "video/mp4")
		})
		t.Run("unsupported bytes", func(t *testing.T) {
			pdf := []byte("%PDF-1.7\n%%EOF\n")
			s := f.sessionFor("a.png", "image/png", pdf, nil)
			f.put(s, pdf)
			complete(s.AssetId).fails(t, http.StatusConflict, "")
			failed(s.AssetId, "no supported type")
		})
		t.Run("stale If-Match", func(t *testing.T) {
			s := f.sessionFor("a.png", "image/png", data, nil)
			f.put(s, data)
			complete(s.AssetId, "If-Match", `"7"`).fails(t, http.StatusPreconditionFailed, "")
			if a, _ := f.get(s.AssetId); a.Status != mediaapi.Pending {
				t.Errorf("status %s after a stale completion", a.Status)
			}
		})
		t.Run("unknown asset", func(t *testing.T) {
			complete(uuid.Must(uuid.NewV7())).fails(t, http.StatusNotFound, "")
			f.do(http.MethodPost, "/api/v1/media/uploads/nope/complete", "editor", nil).fails(t, http.StatusBadRequest, "path.assetId")
		})
		t.Run("roles", func(t *testing.T) {
			s := f.sessionFor("a.png", "image/png", data, nil)
			f.put(s, data)
			f.do(http.MethodPost, completePath(s.AssetId), "user", nil).fails(t, http.StatusForbidden, "")
			f.do(http.MethodPost, completePath(s.AssetId), "", nil).fails(t, http.StatusUnauthorized, "")
			if a, _ := f.get(s.AssetId); a.Status != mediaapi.Pending {
				t.Errorf("status %s", a.Status)
			}
		})
		// Only the one completion that succeeded (nothing uploaded, then uploaded) wrote an event.
		if evs := f.allEvents(); len(evs) != 1 || evs[0].updated == nil || evs[0].updated.Version != 2 {
			t.Errorf("failures emitted events: %+v", evs)
		}
	})
}

// TestUploadSessionRejected covers sessions refused when opened.
func TestUploadSessionRejected(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, Config{MaxUpload: 1 << 20}, Deps{})
		good := func() map[string]any {
			return map[string]any{"filename": "a.mp4", "content_type": "video/mp4", "size_bytes": 1000, "checksum_sha256": sum([]byte("x"))}
		}
		with := func(k string, v any) map[string]any {
			b := good()
			if v == nil {
				delete(b, k)
			} else {
				b[k] = v
			}
			return b
		}
		for _, c := range []struct {
			name   string
			token  string
			body   map[string]any
			status int
			field  string
		}{
			{"pdf", "editor", with("content_type", "application/pdf"), http.StatusUnprocessableEntity, "content_type"},
			{"over MaxUpload", "editor", with("size_bytes", 1<<20+1), http.StatusUnprocessableEntity, "size_bytes"},
			{"over 5 GiB", "editor", with("size_bytes", int64(5<<30)+1), http.StatusUnprocessableEntity, "size_bytes"},
			{"zero size", "editor", with("size_bytes", 0), http.StatusUnprocessableEntity, "size_bytes"},
			{"upper-case checksum", "editor", with("checksum_sha256", strings.ToUpper(sum([]byte("x")))), http.StatusUnprocessableEntity, "checksum_sha256"},
			{"no checksum", "editor", with("checksum_sha256", nil), http.StatusUnprocessableEntity, "checksum_sha256"},
			{"slash in filename", "editor", with("filename", "../a.mp4"), http.StatusUnprocessableEntity, "filename"},
			{"control in alt text", "editor", with("alt_text", "a\x00b"), http.StatusUnprocessableEntity, "alt_text"},
			{"half attachment", "editor", with("attached_to", map[string]any{"content_type": "program"}), http.StatusUnprocessableEntity, "attached_to.content_id"},
			{"user", "user", good(), http.StatusForbidden, ""},
			{"no token", "", good(), http.StatusUnauthorized, ""},
		} {
			t.Run(c.name, func(t *testing.T) {
				f.do(http.MethodPost, "/api/v1/media/uploads", c.token, c.body).fails(t, c.status, c.field)
			})
		}
		if l := f.list(""); len(l.Items) != 0 {
			t.Errorf("refused sessions left assets: %+v", l.Items)
		}
		// At MaxUpload exactly it opens.
		f.session(with("size_bytes", 1<<20))
	})
}

// TestUploadSessionExpired lets a session run out: completion is refused, the local store refuses
// the PUT, and the cleanup reclaims the asset with an asset.deleted event.
func TestUploadSessionExpired(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, Config{UploadSessionTTL: 10 * time.Minute}, Deps{})
		data := pngBytes(t, 64, 64)
		program := uuid.Must(uuid.NewV7())
		never := f.sessionFor("never.png", "image/png", data, map[string]any{"attached_to": map[string]any{"content_type": "program", "content_id": program.String()}})
		late := f.sessionFor("late.png", "image/png", data, nil)
		f.put(late, data) // uploaded but never completed
		onTime := f.sessionFor("ok.png", "image/png", data, nil)
		f.put(onTime, data)
		f.do(http.MethodPost, completePath(onTime.AssetId), "editor", nil).must(t, http.StatusOK, nil)

		// At the expiry instant nothing is reclaimed yet.
		f.clock.advance(10 * time.Minute)
		f.svc.cleanup(context.Background())
		for _, id := range []uuid.UUID{never.AssetId, late.AssetId, onTime.AssetId} {
			f.get(id)
		}
		if len(f.deletions()) != 0 {
			t.Fatalf("events before the expiry: %+v", f.deletions())
		}

		f.clock.advance(time.Second)
		if code, _, _ := httpDo(t, http.MethodPut, never.UploadUrl, data, never.Headers); code != http.StatusForbidden {
			t.Errorf("PUT after the expiry: %d, want 403", code)
		}
		if p := f.do(http.MethodPost, completePath(late.AssetId), "editor", nil).fails(t, http.StatusConflict, ""); !strings.Contains(p.Detail, "expired") {
			t.Errorf("detail %q", p.Detail)
		}
		if a, _ := f.get(late.AssetId); a.Status != mediaapi.Pending {
			t.Errorf("an expired completion changed the status to %s", a.Status)
		}
		f.svc.cleanup(context.Background())
		f.gone(never.AssetId)
		f.gone(late.AssetId)
		f.mustNotStore(storageKey(late.AssetId, "image/png", asset.VisibilityPrivate))
		f.deletedOnce(never.AssetId, reasonUploadExpired, nil, "program", &program)
		f.deletedOnce(late.AssetId, reasonUploadExpired, nil, "", nil)
		if a, _ := f.get(onTime.AssetId); a.Status != mediaapi.Ready {
			t.Errorf("the completed asset: %s", a.Status)
		}
		if files := f.objectFiles(); !slices.Equal(files, []string{storageKey(onTime.AssetId, "image/png", asset.VisibilityPrivate)}) {
			t.Errorf("store holds %v", files)
		}
		// Idempotent: another pass changes nothing.
		f.svc.cleanup(context.Background())
		if n := len(f.deletions()); n != 2 {
			t.Errorf("%d events after a second cleanup, want 2", n)
		}
	})
}

func maps1(m map[string]string, k, v string) bool { return len(m) == 1 && m[k] == v }
