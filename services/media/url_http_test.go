package media

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/gen/openapi/mediaapi"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
)

// TestAssetURLs checks the delivery URLs of public and private assets and what the local store
// serves through them.
func TestAssetURLs(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, Config{}, Deps{})
		unsigned := func(key string) string { return f.srv.URL + "/media/" + key }
		urlOf := func(a mediaapi.Asset, query string) *response {
			return f.do(http.MethodGet, assetPath(a.Id, "url")+query, "editor", nil)
		}

		// A public asset: its CDN URL, no expiry, and the local store serves it unsigned.
		pubData := jpegBytes(t, 1000, 500)
		pub := f.uploadImage(pubData, field("visibility", "public"))
		if pub.Visibility != mediaapi.Public || pub.PublicUrl == nil || *pub.PublicUrl != publicBase+"/"+pub.StorageKey {
			t.Fatalf("public asset: visibility %s public_url %v, want %s", pub.Visibility, pub.PublicUrl, publicBase+"/"+pub.StorageKey)
		}
		var u mediaapi.AssetUrl
		urlOf(pub, "?ttl_seconds=600").must(t, http.StatusOK, &u)
		if u.Url != *pub.PublicUrl || u.ExpiresAt != nil {
			t.Errorf("public url %+v, want %s without expires_at", u, *pub.PublicUrl)
		}
		if code, body, _ := httpDo(t, http.MethodGet, unsigned(pub.StorageKey), nil, nil); code != http.StatusOK || !bytes.Equal(body, pubData) {
			t.Errorf("unsigned GET of a public asset: %d (%d bytes)", code, len(body))
		}

		// A private asset: a signed URL that expires; unsigned reads are refused.
		data := jpegBytes(t, 1200, 800)
		priv := f.uploadImage(data)
		urlOf(priv, "?ttl_seconds=900").must(t, http.StatusOK, &u)
		if u.ExpiresAt == nil || !u.ExpiresAt.Equal(testStart.Add(900*time.Second)) {
			t.Errorf("expires_at %v, want %s", u.ExpiresAt, testStart.Add(900*time.Second))
		}
		if !strings.HasPrefix(u.Url, f.srv.URL+"/media/"+priv.StorageKey+"?") || !strings.Contains(u.Url, "sig=") {
			t.Errorf("signed url %s", u.Url)
		}
		code, body, hdr := httpDo(t, http.MethodGet, u.Url, nil, nil)
		if code != http.StatusOK || !bytes.Equal(body, data) || hdr.Get("Content-Type") != "image/jpeg" {
			t.Errorf("signed GET: %d %s (%d bytes, want the %d uploaded)", code, hdr.Get("Content-Type"), len(body), len(data))
		}
		if code, _, _ := httpDo(t, http.MethodGet, unsigned(priv.StorageKey), nil, nil); code != http.StatusForbidden {
			t.Errorf("unsigned GET of a private asset: %d, want 403", code)
		}
		if code, _, _ := httpDo(t, http.MethodGet, strings.Replace(u.Url, "original.jpg", "original.png", 1), nil, nil); code != http.StatusForbidden {
			t.Errorf("signed URL used for another key: %d, want 403", code)
		}
		// Without ttl_seconds the URL lasts an hour.
		var def mediaapi.AssetUrl
		urlOf(priv, "").must(t, http.StatusOK, &def)
		if def.ExpiresAt == nil || !def.ExpiresAt.Equal(testStart.Add(time.Hour)) {
			t.Errorf("default expires_at %v, want an hour", def.ExpiresAt)
		}
		urlOf(priv, "?ttl_seconds=10").fails(t, http.StatusBadRequest, "query.ttl_seconds")

		// Thumbnails: none yet, then the worker makes small and medium, but never large.
		urlOf(priv, "?thumbnail=small").fails(t, http.StatusNotFound, "")
		f.svc.thumbnails(context.Background())
		urlOf(priv, "?thumbnail=large").fails(t, http.StatusNotFound, "")
		var th mediaapi.AssetUrl
		urlOf(priv, "?thumbnail=medium").must(t, http.StatusOK, &th)
		if !strings.Contains(th.Url, "/media/private/assets/"+priv.Id.String()+"/medium.jpg?") || th.ExpiresAt == nil {
			t.Errorf("medium thumbnail url %+v", th)
		}
		code, body, _ = httpDo(t, http.MethodGet, th.Url, nil, nil)
		if code != http.StatusOK {
			t.Fatalf("signed GET of a thumbnail: %d %s", code, body)
		}
		if w, h := decodeJPEG(t, body); w != 640 || h != 427 {
			t.Errorf("medium thumbnail %d×%d", w, h)
		}
		if code, _, _ := httpDo(t, http.MethodGet, unsigned("private/assets/"+priv.Id.String()+"/medium.jpg"), nil, nil); code != http.StatusForbidden {
			t.Errorf("unsigned GET of a private thumbnail: %d, want 403", code)
		}
		// The public asset's thumbnails are public too, with their CDN URLs.
		pubNow, _ := f.get(pub.Id)
		if len(pubNow.Thumbnails) != 2 {
			t.Fatalf("public thumbnails %+v", pubNow.Thumbnails)
		}
		for _, th := range pubNow.Thumbnails {
			if th.Url == nil || *th.Url != publicBase+"/"+th.StorageKey {
				t.Errorf("public thumbnail url %v", th.Url)
			}
			if code, _, _ := httpDo(t, http.MethodGet, unsigned(th.StorageKey), nil, nil); code != http.StatusOK {
				t.Errorf("unsigned GET of a public thumbnail: %d", code)
			}
		}
		var pth mediaapi.AssetUrl
		urlOf(pub, "?thumbnail=small").must(t, http.StatusOK, &pth)
		if pth.Url != publicBase+"/public/assets/"+pub.Id.String()+"/small.jpg" || pth.ExpiresAt != nil {
			t.Errorf("public thumbnail url %+v", pth)
		}

		// The signed URL stops working once it expires (the store shares the clock).
		f.clock.advance(901 * time.Second)
		if code, _, _ := httpDo(t, http.MethodGet, u.Url, nil, nil); code != http.StatusForbidden {
			t.Errorf("expired signed GET: %d, want 403", code)
		}

		// Making the public asset private withdraws unsigned access; and back.
		f.do(http.MethodPatch, assetPath(pub.Id), "editor", map[string]any{"visibility": "private"}).must(t, http.StatusOK, nil)
		if code, _, _ := httpDo(t, http.MethodGet, unsigned(pub.StorageKey), nil, nil); code != http.StatusForbidden {
			t.Errorf("unsigned GET after making it private: %d, want 403", code)
		}
		var after mediaapi.Asset
		f.do(http.MethodPatch, assetPath(priv.Id), "editor", map[string]any{"visibility": "public"}).must(t, http.StatusOK, &after)
		if after.StorageKey != "public/assets/"+priv.Id.String()+"/original.jpg" || after.PublicUrl == nil || *after.PublicUrl != publicBase+"/"+after.StorageKey {
			t.Errorf("storage_key %s public_url %v after making it public", after.StorageKey, after.PublicUrl)
		}
		if code, body, _ := httpDo(t, http.MethodGet, unsigned(after.StorageKey), nil, nil); code != http.StatusOK || !bytes.Equal(body, data) {
			t.Errorf("unsigned GET after making it public: %d", code)
		}

		// A pending asset has no URL yet; an unknown one none at all.
		sess := f.sessionFor("clip.mp4", "video/mp4", mp4Bytes(1000), map[string]any{"visibility": "public"})
		var pending mediaapi.Asset
		f.do(http.MethodGet, assetPath(sess.AssetId), "editor", nil).must(t, http.StatusOK, &pending)
		if pending.PublicUrl != nil {
			t.Errorf("a pending public asset has a public_url %s", *pending.PublicUrl)
		}
		f.do(http.MethodGet, assetPath(sess.AssetId, "url"), "editor", nil).fails(t, http.StatusConflict, "")
		if code, _, _ := httpDo(t, http.MethodGet, unsigned(pending.StorageKey), nil, nil); code != http.StatusForbidden {
			t.Errorf("unsigned GET of a pending public asset: %d, want 403", code)
		}
		f.do(http.MethodGet, "/api/v1/media/assets/0193a4b9-2a3b-7c4d-8e5f-6a7b8c9d0e1f/url", "editor", nil).fails(t, http.StatusNotFound, "")
		f.do(http.MethodGet, assetPath(priv.Id, "url"), "user", nil).fails(t, http.StatusForbidden, "")
		f.do(http.MethodGet, assetPath(priv.Id, "url"), "", nil).fails(t, http.StatusUnauthorized, "")
	})
}

// TestPublicKey checks which keys the local store may serve without a signature.
func TestPublicKey(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, Config{}, Deps{})
		pub := f.uploadImage(jpegBytes(t, 700, 350), field("visibility", "public"))
		priv := f.uploadImage(jpegBytes(t, 700, 350))
		f.svc.thumbnails(context.Background())
		ctx := context.Background()
		for key, want := range map[string]bool{
			pub.StorageKey: true,
			"public/assets/" + pub.Id.String() + "/small.jpg":  true,
			"public/assets/" + pub.Id.String() + "/medium.jpg": true,
			"public/assets/" + pub.Id.String() + "/large.jpg":  false, // never made
			"public/assets/" + pub.Id.String() + "/other.jpg":  false,
			"private/assets/" + pub.Id.String() + "/small.jpg": false, // not where the row says
			"assets/" + pub.Id.String() + "/small.jpg":         false,
			priv.StorageKey: false,
			"private/assets/" + priv.Id.String() + "/small.jpg":      false,
			"public/assets/" + priv.Id.String() + "/original.jpg":    false,
			"public/assets/not-a-uuid/original.jpg":                  false,
			"other/" + pub.Id.String() + "/original.jpg":             false,
			"public/assets/" + pub.Id.String():                       false,
			"public/assets/" + pub.Id.String() + "/a/original.jpg":   false,
			"public/public/assets/" + pub.Id.String() + "/small.jpg": false,
		} {
			if got := f.svc.PublicKey(ctx, key); got != want {
				t.Errorf("PublicKey(%q) = %v, want %v", key, got, want)
			}
		}
	})
}
