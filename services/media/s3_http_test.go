package media

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/ent/mediadb/asset"
	"github.com/mediamesh/mediamesh/gen/openapi/mediaapi"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
	"github.com/mediamesh/mediamesh/internal/objectstore"
	"github.com/mediamesh/mediamesh/internal/objectstore/objectstoretest"
)

// TestS3UploadSessionAndThumbnails runs the upload-session flow and the thumbnail worker on a real
// S3 service (VersityGW): a presigned PUT straight to S3, completion, thumbnails, signed reads and
// deletion.
func TestS3UploadSessionAndThumbnails(t *testing.T) {
	cfg := objectstoretest.StartVersity(t)
	store, err := objectstore.NewS3(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		// S3 signs with the real clock: start the service's there too.
		start := time.Now().UTC().Truncate(time.Second)
		f := newFixture(t, db, Config{}, Deps{Store: store, Now: func() time.Time { return start }})
		data := jpegBytes(t, 1600, 900)

		s := f.sessionFor("poster.jpg", "image/jpeg", data, nil)
		if !strings.HasPrefix(s.UploadUrl, cfg.Endpoint+"/"+cfg.Bucket+"/"+stagingKey(s.AssetId)+"?") ||
			!strings.Contains(s.UploadUrl, "X-Amz-Signature=") || s.Headers["Content-Type"] != "image/jpeg" {
			t.Errorf("session %+v", s)
		}
		f.do(http.MethodPost, completePath(s.AssetId), "editor", nil).fails(t, http.StatusConflict, "")
		if code, body, _ := httpDo(t, http.MethodPut, s.UploadUrl, data, map[string]string{"Content-Type": "image/png"}); code < 400 {
			t.Errorf("PUT with another Content-Type than signed: %d %s", code, body)
		}
		f.put(s, data)
		var a mediaapi.Asset
		f.do(http.MethodPost, completePath(s.AssetId), "editor", nil).must(t, http.StatusOK, &a)
		if a.Status != mediaapi.Ready || a.Width == nil || *a.Width != 1600 || *a.Height != 900 || a.Version != 2 {
			t.Fatalf("completed %+v", a)
		}
		if info, ok := f.stored(a.StorageKey); !ok || info.Size != int64(len(data)) || info.ContentType != "image/jpeg" {
			t.Errorf("original in S3: %+v %v", info, ok)
		}
		// The pre-signed URL still takes a PUT until it expires; the checked original stays as it was.
		f.put(s, jpegBytes(t, 8, 8))
		if info, ok := f.stored(a.StorageKey); !ok || info.Size != int64(len(data)) {
			t.Errorf("original in S3 after a later PUT to the upload URL: %+v %v", info, ok)
		}
		if _, ok := f.stored(stagingKey(a.Id)); !ok {
			t.Error("the later PUT did not land at the staging key")
		}

		f.svc.thumbnails(context.Background())
		a, _ = f.get(a.Id)
		want := map[mediaapi.ThumbnailSize][2]int32{mediaapi.Small: {320, 180}, mediaapi.Medium: {640, 360}, mediaapi.Large: {1280, 720}}
		if len(a.Thumbnails) != 3 || a.Version != 3 {
			t.Fatalf("thumbnails %+v version %d", a.Thumbnails, a.Version)
		}
		var keys []string
		for _, th := range a.Thumbnails {
			if d := want[th.Size]; th.Width != d[0] || th.Height != d[1] {
				t.Errorf("%s: %d×%d, want %v", th.Size, th.Width, th.Height, d)
			}
			info, ok := f.stored(th.StorageKey)
			if !ok || info.ContentType != "image/jpeg" {
				t.Fatalf("thumbnail %s in S3: %+v %v", th.StorageKey, info, ok)
			}
			if w, h := decodeJPEG(t, f.mustStore(th.StorageKey)); w != int(th.Width) || h != int(th.Height) {
				t.Errorf("stored %s is %d×%d", th.Size, w, h)
			}
			keys = append(keys, th.StorageKey)
		}

		// A presigned GET of S3 reads the original and a thumbnail.
		var u mediaapi.AssetUrl
		f.do(http.MethodGet, assetPath(a.Id, "url")+"?ttl_seconds=300", "editor", nil).must(t, http.StatusOK, &u)
		if u.ExpiresAt == nil || !u.ExpiresAt.Equal(start.Add(5*time.Minute)) {
			t.Errorf("expires_at %v", u.ExpiresAt)
		}
		if code, body, _ := httpDo(t, http.MethodGet, u.Url, nil, nil); code != http.StatusOK || !bytes.Equal(body, data) {
			t.Errorf("presigned GET: %d (%d bytes)", code, len(body))
		}
		f.do(http.MethodGet, assetPath(a.Id, "url")+"?thumbnail=large", "editor", nil).must(t, http.StatusOK, &u)
		code, body, _ := httpDo(t, http.MethodGet, u.Url, nil, nil)
		if code != http.StatusOK {
			t.Fatalf("presigned GET of the large thumbnail: %d", code)
		}
		if w, h := decodeJPEG(t, body); w != 1280 || h != 720 {
			t.Errorf("large thumbnail %d×%d", w, h)
		}

		// A mismatching upload fails and its object is deleted from S3.
		other := jpegBytes(t, 100, 100)
		bad := f.sessionFor("bad.jpg", "image/jpeg", data, nil)
		f.put(bad, append(bytes.Clone(other), make([]byte, len(data)-len(other))...))
		f.do(http.MethodPost, completePath(bad.AssetId), "editor", nil).fails(t, http.StatusConflict, "")
		if failed, _ := f.get(bad.AssetId); failed.Status != mediaapi.Failed {
			t.Errorf("status %s", failed.Status)
		}
		f.mustNotStore(storageKey(bad.AssetId, "image/jpeg", asset.VisibilityPrivate))

		// Deleting removes the original and thumbnails from S3.
		f.do(http.MethodDelete, assetPath(a.Id), "editor", nil).must(t, http.StatusNoContent, nil)
		f.mustNotStore(append(keys, a.StorageKey)...)
		f.deletedOnce(a.Id, reasonDeleted, &editorID, "", nil)
	})
}

// TestS3PublicPrivateAnonymous runs the public/private layout on a real S3 service (VersityGW) with
// the prefix-scoped bucket policy mediamesh sets at start: anonymous GETs of a public asset's
// public_url (and its thumbnails) answer 200, of a private asset's keys 403, and after changes of
// visibility both ways the answers follow, with the bytes moved and nothing left at the old keys.
func TestS3PublicPrivateAnonymous(t *testing.T) {
	store, bucketURL := publicReadS3(t)
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, Config{PublicBaseURL: bucketURL}, Deps{Store: store})
		anonymous := func(key string) (int, []byte) { return anonymousGet(t, bucketURL, key) }
		pubData, privData := jpegBytes(t, 800, 450), jpegBytes(t, 700, 400)
		pub := f.uploadImage(pubData, field("visibility", "public"))
		priv := f.uploadImage(privData)
		f.svc.thumbnails(context.Background())
		pub, _ = f.get(pub.Id)
		priv, _ = f.get(priv.Id)
		if len(pub.Thumbnails) == 0 || len(priv.Thumbnails) == 0 {
			t.Fatalf("thumbnails %+v %+v", pub.Thumbnails, priv.Thumbnails)
		}

		// public_url is the bucket URL of a key under public/, and anyone can read it.
		if pub.PublicUrl == nil || *pub.PublicUrl != bucketURL+"/"+pub.StorageKey || !strings.HasPrefix(pub.StorageKey, PublicPrefix) {
			t.Fatalf("public asset: %s %v", pub.StorageKey, pub.PublicUrl)
		}
		if code, body, _ := httpDo(t, http.MethodGet, *pub.PublicUrl, nil, nil); code != http.StatusOK || !bytes.Equal(body, pubData) {
			t.Errorf("anonymous GET of public_url: %d (%d bytes)", code, len(body))
		}
		for _, th := range pub.Thumbnails {
			if code, _, _ := httpDo(t, http.MethodGet, *th.Url, nil, nil); code != http.StatusOK {
				t.Errorf("anonymous GET of the public thumbnail %s: %d", *th.Url, code)
			}
		}
		// A private asset's keys are refused without a signature, readable with one.
		if !strings.HasPrefix(priv.StorageKey, PrivatePrefix) || priv.PublicUrl != nil {
			t.Fatalf("private asset: %s %v", priv.StorageKey, priv.PublicUrl)
		}
		for _, k := range keysOfAsset(priv) {
			if code, _ := anonymous(k); code != http.StatusForbidden {
				t.Errorf("anonymous GET of the private %s: %d, want 403", k, code)
			}
		}
		var u mediaapi.AssetUrl
		f.do(http.MethodGet, assetPath(priv.Id, "url"), "editor", nil).must(t, http.StatusOK, &u)
		if code, body, _ := httpDo(t, http.MethodGet, u.Url, nil, nil); code != http.StatusOK || !bytes.Equal(body, privData) {
			t.Errorf("signed GET of the private asset: %d", code)
		}

		// Both change sides.
		var nowPriv, nowPub mediaapi.Asset
		f.do(http.MethodPatch, assetPath(pub.Id), "editor", map[string]any{"visibility": "private"}).must(t, http.StatusOK, &nowPriv)
		f.do(http.MethodPatch, assetPath(priv.Id), "editor", map[string]any{"visibility": "public"}).must(t, http.StatusOK, &nowPub)
		if nowPriv.PublicUrl != nil || nowPriv.StorageKey != keyFor(pub.StorageKey, asset.VisibilityPrivate) {
			t.Errorf("made private: %s %v", nowPriv.StorageKey, nowPriv.PublicUrl)
		}
		if nowPub.PublicUrl == nil || *nowPub.PublicUrl != bucketURL+"/"+keyFor(priv.StorageKey, asset.VisibilityPublic) {
			t.Errorf("made public: %s %v", nowPub.StorageKey, nowPub.PublicUrl)
		}
		for _, k := range keysOfAsset(nowPriv) {
			if code, _ := anonymous(k); code != http.StatusForbidden {
				t.Errorf("anonymous GET of %s after making it private: %d, want 403", k, code)
			}
		}
		for _, k := range keysOfAsset(pub) { // the former public keys: gone, and not readable
			if code, _ := anonymous(k); code == http.StatusOK {
				t.Errorf("anonymous GET of the former public key %s: 200", k)
			}
		}
		f.mustNotStore(keysOfAsset(pub)...)
		f.mustNotStore(keysOfAsset(priv)...)
		if code, body := anonymous(nowPub.StorageKey); code != http.StatusOK || !bytes.Equal(body, privData) {
			t.Errorf("anonymous GET after making it public: %d (%d bytes)", code, len(body))
		}
		for _, th := range nowPub.Thumbnails {
			if code, _, _ := httpDo(t, http.MethodGet, *th.Url, nil, nil); code != http.StatusOK {
				t.Errorf("anonymous GET of the thumbnail %s made public: %d", *th.Url, code)
			}
		}
		f.do(http.MethodGet, assetPath(pub.Id, "url"), "editor", nil).must(t, http.StatusOK, &u)
		if code, body, _ := httpDo(t, http.MethodGet, u.Url, nil, nil); code != http.StatusOK || !bytes.Equal(body, pubData) {
			t.Errorf("signed GET of the asset made private: %d", code)
		}

		// And back again.
		f.do(http.MethodPatch, assetPath(pub.Id), "editor", map[string]any{"visibility": "public"}).must(t, http.StatusOK, &nowPub)
		if code, body, _ := httpDo(t, http.MethodGet, *nowPub.PublicUrl, nil, nil); code != http.StatusOK || !bytes.Equal(body, pubData) {
			t.Errorf("anonymous GET after making it public again: %d", code)
		}
		f.mustNotStore(keysOfAsset(nowPriv)...)
	})
}

// publicReadS3 starts a VersityGW whose bucket lets anyone read under PublicPrefix (the policy
// mediamesh puts at start) and returns a store on it and the bucket's URL.
func publicReadS3(t *testing.T) (*objectstore.S3, string) {
	t.Helper()
	cfg := objectstoretest.StartVersity(t)
	store, err := objectstore.NewS3(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.SetPublicRead(t.Context(), PublicPrefix); err != nil {
		t.Fatal(err)
	}
	return store, cfg.Endpoint + "/" + cfg.Bucket
}

// anonymousGet is an unsigned GET of key from the bucket at bucketURL: its status and body.
func anonymousGet(t *testing.T, bucketURL, key string) (int, []byte) {
	t.Helper()
	code, body, _ := httpDo(t, http.MethodGet, bucketURL+"/"+key, nil, nil)
	return code, body
}
