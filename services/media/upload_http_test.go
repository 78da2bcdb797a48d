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

// TestUploadAssetImage uploads a JPEG through the API (with a lying file name and part type), then
// runs the thumbnail worker once.
func TestUploadAssetImage(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, Config{}, Deps{})
		data := jpegBytes(t, 1200, 800)
		r := f.upload("editor", filePart("cover.png", "image/png", data), field("alt_text", "صورة الغلاف"))
		var a mediaapi.Asset
		r.must(t, http.StatusCreated, &a)

		if got, want := r.header.Get("Location"), "/api/v1/media/assets/"+a.Id.String(); got != want {
			t.Errorf("Location %q, want %q", got, want)
		}
		if got := r.header.Get("ETag"); got != `"1"` {
			t.Errorf("ETag %s, want \"1\"", got)
		}
		if a.Id.Version() != 7 {
			t.Errorf("id %s is not a UUID v7", a.Id)
		}
		if a.Kind != mediaapi.Image || a.ContentType != "image/jpeg" {
			t.Errorf("kind %s content type %s, want image image/jpeg (the bytes decide)", a.Kind, a.ContentType)
		}
		if a.Filename != "cover.png" {
			t.Errorf("filename %q, want the part's file name", a.Filename)
		}
		if a.ChecksumSha256 != sum(data) || a.SizeBytes != int64(len(data)) {
			t.Errorf("checksum %s size %d, want %s %d", a.ChecksumSha256, a.SizeBytes, sum(data), len(data))
		}
		if a.Width == nil || a.Height == nil || *a.Width != 1200 || *a.Height != 800 {
			t.Errorf("dimensions %v×%v, want 1200×800", a.Width, a.Height)
		}
		if a.Status != mediaapi.Ready || a.Visibility != mediaapi.Private || a.PublicUrl != nil {
			t.Errorf("status %s visibility %s public_url %v, want ready, private, none", a.Status, a.Visibility, a.PublicUrl)
		}
		if a.Thumbnails == nil || len(a.Thumbnails) != 0 {
			t.Errorf("thumbnails %v, want []", a.Thumbnails)
		}
		if !strings.Contains(string(r.body), `"thumbnails":[]`) {
			t.Errorf("thumbnails not rendered as []: %s", r.body)
		}
		if a.AltText == nil || *a.AltText != "صورة الغلاف" {
			t.Errorf("alt text %v", a.AltText)
		}
		if a.Version != 1 || a.CreatedBy != editorID || !a.CreatedAt.Equal(testStart) || !a.UpdatedAt.Equal(testStart) || a.AttachedTo != nil || a.FailureReason != nil {
			t.Errorf("asset %+v", a)
		}
		if want := "private/assets/" + a.Id.String() + "/original.jpg"; a.StorageKey != want {
			t.Errorf("storage key %s, want %s", a.StorageKey, want)
		}
		if got := f.mustStore(a.StorageKey); !bytes.Equal(got, data) {
			t.Error("the store does not hold the uploaded bytes")
		}
		if info, _ := f.stored(a.StorageKey); info.ContentType != "image/jpeg" {
			t.Errorf("stored with content type %s", info.ContentType)
		}
		if row := f.row(a.Id); row.ThumbnailState != asset.ThumbnailStatePending {
			t.Errorf("thumbnail state %s, want pending", row.ThumbnailState)
		}

		// The worker makes the thumbnails: never upscaled, so no large one for a 1200 px image.
		f.clock.advance(time.Second)
		f.svc.thumbnails(context.Background())
		got, etag := f.get(a.Id)
		if got.Version != 2 || etag != `"2"` {
			t.Errorf("version %d ETag %s after the thumbnails, want 2", got.Version, etag)
		}
		want := []struct {
			size mediaapi.ThumbnailSize
			w, h int32
		}{{mediaapi.Small, 320, 213}, {mediaapi.Medium, 640, 427}}
		if len(got.Thumbnails) != len(want) {
			t.Fatalf("thumbnails %+v, want small and medium", got.Thumbnails)
		}
		for i, w := range want {
			th := got.Thumbnails[i]
			if th.Size != w.size || th.Width != w.w || th.Height != w.h || th.Url != nil {
				t.Errorf("thumbnail %d: %+v, want %s %d×%d without url (private)", i, th, w.size, w.w, w.h)
			}
			if key := "private/assets/" + a.Id.String() + "/" + string(w.size) + ".jpg"; th.StorageKey != key {
				t.Errorf("thumbnail key %s, want %s", th.StorageKey, key)
			}
			info, ok := f.stored(th.StorageKey)
			if !ok || info.ContentType != "image/jpeg" {
				t.Fatalf("thumbnail %s stored %v as %q", th.StorageKey, ok, info.ContentType)
			}
			if gw, gh := decodeJPEG(t, f.mustStore(th.StorageKey)); gw != int(w.w) || gh != int(w.h) {
				t.Errorf("stored %s is %d×%d, want %d×%d", th.Size, gw, gh, w.w, w.h)
			}
		}
		if f.row(a.Id).ThumbnailState != asset.ThumbnailStateDone {
			t.Error("thumbnail state not done")
		}
		if !got.UpdatedAt.After(got.CreatedAt) {
			t.Errorf("updated_at %s not after created_at %s", got.UpdatedAt, got.CreatedAt)
		}
		// The original is untouched; a second pass has nothing to do.
		f.svc.thumbnails(context.Background())
		if again, _ := f.get(a.Id); again.Version != 2 {
			t.Errorf("a second worker pass changed the asset (version %d)", again.Version)
		}
		if files := f.objectFiles(); len(files) != 3 {
			t.Errorf("store holds %v, want the original and two thumbnails", files)
		}
	})
}

// TestUploadAssetKinds checks that the kind and type come from the bytes for video and audio too,
// and that a PNG keeps its type; only thumbnailable images wait for thumbnails.
func TestUploadAssetKinds(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, Config{}, Deps{})
		for _, c := range []struct {
			name, partType string
			data           []byte
			kind           mediaapi.AssetKind
			ct, ext        string
			w, h           int32
			thumbs         asset.ThumbnailState
		}{
			{"clip.bin", "image/gif", mp4Bytes(4096), mediaapi.Video, "video/mp4", ".mp4", 0, 0, asset.ThumbnailStateNone},
			{"sound.mp4", "video/mp4", wavBytes(2048), mediaapi.Audio, "audio/wav", ".wav", 0, 0, asset.ThumbnailStateNone},
			{"logo.jpg", "image/jpeg", pngBytes(t, 300, 100), mediaapi.Image, "image/png", ".png", 300, 100, asset.ThumbnailStatePending},
		} {
			var a mediaapi.Asset
			f.upload("admin", filePart(c.name, c.partType, c.data), field("visibility", "public")).must(t, http.StatusCreated, &a)
			if a.Kind != c.kind || a.ContentType != c.ct || !strings.HasSuffix(a.StorageKey, "/original"+c.ext) {
				t.Errorf("%s: kind %s type %s key %s, want %s %s *%s", c.name, a.Kind, a.ContentType, a.StorageKey, c.kind, c.ct, c.ext)
			}
			if c.w == 0 && (a.Width != nil || a.Height != nil) {
				t.Errorf("%s: dimensions %v×%v, want none", c.name, a.Width, a.Height)
			}
			if c.w != 0 && (a.Width == nil || *a.Width != c.w || *a.Height != c.h) {
				t.Errorf("%s: dimensions %v×%v, want %d×%d", c.name, a.Width, a.Height, c.w, c.h)
			}
			if a.CreatedBy != adminID {
				t.Errorf("created_by %s, want the admin", a.CreatedBy)
			}
			if st := f.row(a.Id).ThumbnailState; st != c.thumbs {
				t.Errorf("%s: thumbnail state %s, want %s", c.name, st, c.thumbs)
			}
		}
		// A 300 px PNG is narrower than every size: one rendition at its own size, named small.
		f.svc.thumbnails(context.Background())
		l := f.list("kind=image")
		if len(l.Items) != 1 || len(l.Items[0].Thumbnails) != 1 {
			t.Fatalf("images %+v", l.Items)
		}
		th := l.Items[0].Thumbnails[0]
		if th.Size != mediaapi.Small || th.Width != 300 || th.Height != 100 || th.Url == nil || *th.Url != publicBase+"/"+th.StorageKey {
			t.Errorf("thumbnail %+v, want small 300×100 with its public url", th)
		}
	})
}

// TestUploadAssetRejected checks the refusals of uploadAsset, and that none stores anything.
func TestUploadAssetRejected(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		const limit = 64 << 10
		f := newFixture(t, db, Config{MaxDirectUpload: limit}, Deps{})
		img := jpegBytes(t, 120, 80)
		padded := func(n int) []byte { // a JPEG followed by junk is still a JPEG
			return append(slices.Clone(img), bytes.Repeat([]byte{0}, n-len(img))...)
		}
		pdf := []byte("%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n")
		for _, c := range []struct {
			name   string
			token  string
			parts  []part
			status int
			field  string
		}{
			{"pdf named jpg", "editor", []part{filePart("doc.jpg", "image/jpeg", pdf)}, http.StatusUnsupportedMediaType, "file"},
			{"pdf as png", "editor", []part{filePart("doc.pdf", "image/png", pdf)}, http.StatusUnsupportedMediaType, "file"},
			{"html", "editor", []part{filePart("x.gif", "image/gif", []byte("<html><script>alert(1)</script></html>"))}, http.StatusUnsupportedMediaType, "file"},
			{"empty file", "editor", []part{filePart("x.jpg", "image/jpeg", nil)}, http.StatusUnsupportedMediaType, "file"},
			{"over the limit", "editor", []part{filePart("big.jpg", "image/jpeg", padded(limit+1))}, http.StatusRequestEntityTooLarge, ""},
			{"type without id", "editor", []part{filePart("a.jpg", "image/jpeg", img), field("attach_content_type", "program")}, http.StatusUnprocessableEntity, "attach_content_id"},
			{"id without type", "editor", []part{filePart("a.jpg", "image/jpeg", img), field("attach_content_id", uuid.NewString())}, http.StatusUnprocessableEntity, "attach_content_id"},
			{"no file", "editor", []part{field("alt_text", "x")}, http.StatusUnprocessableEntity, "file"},
			{"control characters", "editor", []part{filePart("a.jpg", "image/jpeg", img), field("alt_text", "bad\x07text")}, http.StatusUnprocessableEntity, "alt_text"},
			{"user", "user", []part{filePart("a.jpg", "image/jpeg", img)}, http.StatusForbidden, ""},
			{"no token", "", []part{filePart("a.jpg", "image/jpeg", img)}, http.StatusUnauthorized, ""},
			{"bad token", "nope", []part{filePart("a.jpg", "image/jpeg", img)}, http.StatusUnauthorized, ""},
		} {
			t.Run(c.name, func(t *testing.T) {
				p := f.upload(c.token, c.parts...).fails(t, c.status, c.field)
				if c.status == http.StatusRequestEntityTooLarge && !strings.Contains(p.Detail, "/api/v1/media/uploads") {
					t.Errorf("413 detail %q does not point at upload sessions", p.Detail)
				}
			})
		}
		// A PDF whose part says application/pdf: the contract's multipart encoding (the allow-list
		// of part Content-Types in media.yaml) refuses it with a 400 before the service sniffs it,
		// although the contract promises 415 for unsupported types. Either way it is refused.
		if r := f.upload("editor", filePart("doc.pdf", "application/pdf", pdf)); r.code != http.StatusUnsupportedMediaType && r.code != http.StatusBadRequest {
			t.Errorf("honest PDF: %d %s", r.code, r.body)
		} else {
			r.fails(t, r.code, "")
		}
		if l := f.list(""); len(l.Items) != 0 {
			t.Errorf("rejected uploads were recorded: %+v", l.Items)
		}
		if files := f.objectFiles(); len(files) != 0 {
			t.Errorf("rejected uploads were stored: %v", files)
		}

		// Exactly at the limit is accepted.
		var a mediaapi.Asset
		f.upload("editor", filePart("edge.jpg", "image/jpeg", padded(limit))).must(t, http.StatusCreated, &a)
		if a.SizeBytes != limit || a.Width == nil || *a.Width != 120 {
			t.Errorf("asset at the limit: %+v", a)
		}
		if files := f.objectFiles(); len(files) != 1 || files[0] != a.StorageKey {
			t.Errorf("store holds %v, want only %s", files, a.StorageKey)
		}
	})
}

// TestUploadAssetAttached uploads an attached, public asset.
func TestUploadAssetAttached(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, Config{}, Deps{})
		program := uuid.Must(uuid.NewV7())
		a := f.uploadImage(jpegBytes(t, 64, 48), field("attach_content_type", "program"), field("attach_content_id", program.String()), field("visibility", "public"))
		if a.AttachedTo == nil || a.AttachedTo.ContentType != mediaapi.Program || a.AttachedTo.ContentId != program {
			t.Errorf("attached_to %+v, want program %s", a.AttachedTo, program)
		}
		if a.PublicUrl == nil || *a.PublicUrl != publicBase+"/"+a.StorageKey {
			t.Errorf("public_url %v", a.PublicUrl)
		}
		if l := f.list("content_id=" + program.String()); len(l.Items) != 1 || l.Items[0].Id != a.Id {
			t.Errorf("list by content: %+v", l.Items)
		}
		f.upload("editor", filePart("a.jpg", "image/jpeg", jpegBytes(t, 8, 8)), field("attach_content_type", "channel"), field("attach_content_id", program.String())).
			fails(t, http.StatusUnprocessableEntity, "attach_content_type")
		f.upload("editor", filePart("a.jpg", "image/jpeg", jpegBytes(t, 8, 8)), field("visibility", "secret")).
			fails(t, http.StatusUnprocessableEntity, "visibility")
		if n := len(f.list("").Items); n != 1 {
			t.Errorf("%d assets, want 1", n)
		}
	})
}
