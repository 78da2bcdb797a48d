package media

import (
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

// TestUpdateAsset applies merge patches, with and without If-Match.
func TestUpdateAsset(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, Config{}, Deps{})
		a := f.uploadImage(jpegBytes(t, 64, 32), field("alt_text", "old"))
		patch := func(body any, headers ...string) *response {
			return f.do(http.MethodPatch, assetPath(a.Id), "editor", body, headers...)
		}

		f.clock.advance(time.Second)
		var got mediaapi.Asset
		r := patch(map[string]any{"alt_text": "نص بديل"}, "If-Match", `"1"`)
		r.must(t, http.StatusOK, &got)
		if got.AltText == nil || *got.AltText != "نص بديل" || got.Version != 2 || r.header.Get("ETag") != `"2"` {
			t.Errorf("after alt_text: %+v ETag %s", got, r.header.Get("ETag"))
		}
		if got.Visibility != mediaapi.Private || got.PublicUrl != nil || got.AttachedTo != nil || got.Status != mediaapi.Ready ||
			got.ChecksumSha256 != a.ChecksumSha256 || !got.CreatedAt.Equal(a.CreatedAt) || !got.UpdatedAt.Equal(testStart.Add(time.Second)) {
			t.Errorf("a merge patch changed other fields: %+v", got)
		}

		// A stale If-Match changes nothing.
		patch(map[string]any{"alt_text": "lost"}, "If-Match", `"1"`).fails(t, http.StatusPreconditionFailed, "")
		if now, etag := f.get(a.Id); *now.AltText != "نص بديل" || etag != `"2"` {
			t.Errorf("a stale patch applied: %v %s", *now.AltText, etag)
		}
		// Weak and listed tags match, as does *.
		patch(map[string]any{"alt_text": "w"}, "If-Match", `W/"2"`).must(t, http.StatusOK, nil)
		patch(map[string]any{"alt_text": "l"}, "If-Match", `"1", "3"`).must(t, http.StatusOK, nil)
		patch(map[string]any{"alt_text": "s"}, "If-Match", `*`).must(t, http.StatusOK, nil)

		// Attach, then detach with null.
		episode := uuid.Must(uuid.NewV7())
		patch(map[string]any{"attached_to": map[string]any{"content_type": "episode", "content_id": episode}}).must(t, http.StatusOK, &got)
		if got.AttachedTo == nil || got.AttachedTo.ContentType != mediaapi.Episode || got.AttachedTo.ContentId != episode || got.Version != 6 {
			t.Errorf("attached: %+v", got)
		}
		if l := f.list("content_id=" + episode.String()); len(l.Items) != 1 {
			t.Errorf("list by content: %d", len(l.Items))
		}
		patch(`{"attached_to": null}`).must(t, http.StatusOK, &got)
		if got.AttachedTo != nil || got.Version != 7 || got.AltText == nil || *got.AltText != "s" {
			t.Errorf("detached: %+v", got)
		}
		if l := f.list("content_id=" + episode.String()); len(l.Items) != 0 {
			t.Errorf("still listed under the content: %+v", l.Items)
		}

		// Visibility: public sets public_url (and moves the bytes under the public prefix), private
		// withdraws it.
		patch(map[string]any{"visibility": "public"}).must(t, http.StatusOK, &got)
		if got.Visibility != mediaapi.Public || got.StorageKey != keyFor(a.StorageKey, asset.VisibilityPublic) || got.PublicUrl == nil || *got.PublicUrl != publicBase+"/"+got.StorageKey {
			t.Errorf("public: %+v", got)
		}
		patch(map[string]any{"visibility": "private"}).must(t, http.StatusOK, &got)
		if got.PublicUrl != nil || got.Version != 9 {
			t.Errorf("private: %+v", got)
		}

		// Invalid patches.
		patch(map[string]any{}).fails(t, http.StatusUnprocessableEntity, "")
		patch(`{"attached_to": {"content_type": "program"}}`).fails(t, http.StatusUnprocessableEntity, "")
		patch(map[string]any{"visibility": "secret"}).fails(t, http.StatusUnprocessableEntity, "")
		patch(map[string]any{"alt_text": "bell\x07"}).fails(t, http.StatusUnprocessableEntity, "alt_text")
		patch(map[string]any{"status": "ready"}).fails(t, http.StatusUnprocessableEntity, "")
		patch(`{"alt_text":`).fails(t, http.StatusBadRequest, "")
		f.do(http.MethodPatch, assetPath(a.Id), "user", map[string]any{"alt_text": "x"}).fails(t, http.StatusForbidden, "")
		f.do(http.MethodPatch, assetPath(a.Id), "", map[string]any{"alt_text": "x"}).fails(t, http.StatusUnauthorized, "")
		f.do(http.MethodPatch, assetPath(uuid.Must(uuid.NewV7())), "editor", map[string]any{"alt_text": "x"}).fails(t, http.StatusNotFound, "")
		if _, etag := f.get(a.Id); etag != `"9"` {
			t.Errorf("refused patches changed the asset: ETag %s", etag)
		}
	})
}

// TestDeleteAsset deletes an asset with its thumbnails and event.
func TestDeleteAsset(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, Config{}, Deps{})
		program := uuid.Must(uuid.NewV7())
		a := f.uploadImage(jpegBytes(t, 1400, 700), field("attach_content_type", "program"), field("attach_content_id", program.String()))
		keep := f.uploadImage(jpegBytes(t, 700, 700))
		f.svc.thumbnails(context.Background())
		a, etag := f.get(a.Id)
		if len(a.Thumbnails) != 3 {
			t.Fatalf("thumbnails %+v, want three for a 1400 px image", a.Thumbnails)
		}
		keys := []string{a.StorageKey}
		for _, th := range a.Thumbnails {
			keys = append(keys, th.StorageKey)
			if _, ok := f.stored(th.StorageKey); !ok {
				t.Fatalf("%s not stored", th.StorageKey)
			}
		}

		// A stale If-Match deletes nothing.
		f.do(http.MethodDelete, assetPath(a.Id), "editor", nil, "If-Match", `"1"`).fails(t, http.StatusPreconditionFailed, "")
		f.get(a.Id)
		if len(f.deletions()) != 0 {
			t.Fatal("a refused delete emitted an event")
		}
		f.do(http.MethodDelete, assetPath(a.Id), "user", nil).fails(t, http.StatusForbidden, "")
		f.do(http.MethodDelete, assetPath(a.Id), "", nil).fails(t, http.StatusUnauthorized, "")

		r := f.do(http.MethodDelete, assetPath(a.Id), "editor", nil, "If-Match", etag)
		if r.code != http.StatusNoContent || len(r.body) != 0 {
			t.Fatalf("delete: %d %s", r.code, r.body)
		}
		f.gone(a.Id)
		f.mustNotStore(keys...)
		ev := f.deletedOnce(a.Id, reasonDeleted, &editorID, "program", &program)
		if !ev.OccurredAt.Equal(testStart) {
			t.Errorf("occurred_at %s, want %s", ev.OccurredAt, testStart)
		}
		// The other asset is untouched.
		if k, _ := f.get(keep.Id); len(k.Thumbnails) != 2 {
			t.Errorf("the other asset: %+v", k)
		}
		if _, ok := f.stored(keep.StorageKey); !ok {
			t.Error("the other asset's bytes were deleted")
		}

		// A second delete is a 404 and emits nothing.
		f.do(http.MethodDelete, assetPath(a.Id), "editor", nil).fails(t, http.StatusNotFound, "")
		if n := len(f.deletions()); n != 1 {
			t.Errorf("%d events, want 1", n)
		}

		// Deleting a pending asset cancels its session.
		data := pngBytes(t, 10, 10)
		s := f.sessionFor("x.png", "image/png", data, nil)
		f.do(http.MethodDelete, assetPath(s.AssetId), "admin", nil).must(t, http.StatusNoContent, nil)
		f.gone(s.AssetId)
		f.deletedOnce(s.AssetId, reasonDeleted, &adminID, "", nil)
		f.do(http.MethodPost, completePath(s.AssetId), "editor", nil).fails(t, http.StatusNotFound, "")
	})
}
