package media

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/mediamesh/mediamesh/ent/mediadb/asset"
	"github.com/mediamesh/mediamesh/ent/mediadb/schema"
	"github.com/mediamesh/mediamesh/gen/openapi/mediaapi"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
	"github.com/mediamesh/mediamesh/internal/objectstore"
)

// keysOfAsset lists the keys an asset's row names: the original, then the thumbnails.
func keysOfAsset(a mediaapi.Asset) []string {
	keys := []string{a.StorageKey}
	for _, th := range a.Thumbnails {
		keys = append(keys, th.StorageKey)
	}
	return keys
}

// filesOf lists the local store's files of asset id, under any layout.
func (f *fixture) filesOf(id string) []string {
	f.t.Helper()
	var out []string
	for _, k := range f.objectFiles() {
		if strings.Contains(k, "assets/"+id+"/") {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// anonymousGet is the status of an unsigned GET of key from the local store.
func (f *fixture) anonymousGet(key string) (int, []byte) {
	f.t.Helper()
	code, body, _ := httpDo(f.t, http.MethodGet, f.srv.URL+"/media/"+key, nil, nil)
	return code, body
}

// TestVisibilityMovesObjects: on local disk a public asset's original and thumbnails live under
// public/, a private one's under private/; changing the visibility moves every object, public_url
// and the asset.updated event follow, and only the public prefix is served without a signature.
func TestVisibilityMovesObjects(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, Config{}, Deps{})
		data := jpegBytes(t, 900, 600)
		a := f.uploadImage(data, field("visibility", "public"))
		other := f.uploadImage(jpegBytes(t, 300, 200)) // private, never changed
		f.svc.thumbnails(context.Background())
		a, _ = f.get(a.Id)
		id := a.Id.String()
		layout := func(prefix string) []string {
			return []string{prefix + "assets/" + id + "/original.jpg", prefix + "assets/" + id + "/small.jpg", prefix + "assets/" + id + "/medium.jpg"}
		}
		sorted := func(keys []string) []string { return slices.Sorted(slices.Values(keys)) }
		pub, priv := layout(PublicPrefix), layout(PrivatePrefix)
		if got := keysOfAsset(a); !slices.Equal(got, pub) {
			t.Fatalf("public asset's keys %v, want %v", got, pub)
		}
		if got := f.filesOf(id); !slices.Equal(got, sorted(pub)) {
			t.Fatalf("files %v, want %v", got, sorted(pub))
		}
		if !strings.HasPrefix(other.StorageKey, PrivatePrefix) {
			t.Errorf("private asset at %s", other.StorageKey)
		}
		for _, k := range pub {
			if code, _ := f.anonymousGet(k); code != http.StatusOK {
				t.Errorf("anonymous GET of %s = %d, want 200", k, code)
			}
		}
		if code, _ := f.anonymousGet(other.StorageKey); code != http.StatusForbidden {
			t.Errorf("anonymous GET of the private %s = %d, want 403", other.StorageKey, code)
		}

		// Public -> private: every object moves, nothing is left under public/.
		var got mediaapi.Asset
		f.do(http.MethodPatch, assetPath(a.Id), "editor", map[string]any{"visibility": "private"}).must(t, http.StatusOK, &got)
		if keys := keysOfAsset(got); !slices.Equal(keys, priv) || got.PublicUrl != nil {
			t.Fatalf("after making it private: keys %v public_url %v", keys, got.PublicUrl)
		}
		if files := f.filesOf(id); !slices.Equal(files, sorted(priv)) {
			t.Errorf("files after making it private %v, want %v", files, sorted(priv))
		}
		if !bytes.Equal(f.mustStore(got.StorageKey), data) {
			t.Error("the moved original differs")
		}
		for _, k := range append(slices.Clone(pub), priv...) {
			if code, _ := f.anonymousGet(k); code != http.StatusForbidden {
				t.Errorf("anonymous GET of %s after making it private = %d, want 403", k, code)
			}
		}
		var u mediaapi.AssetUrl
		f.do(http.MethodGet, assetPath(a.Id, "url"), "editor", nil).must(t, http.StatusOK, &u)
		if code, body, _ := httpDo(t, http.MethodGet, u.Url, nil, nil); code != http.StatusOK || !bytes.Equal(body, data) ||
			!strings.Contains(u.Url, "/media/"+priv[0]+"?") {
			t.Errorf("signed GET %s: %d (%d bytes)", u.Url, code, len(body))
		}
		f.checkUpdate(f.lastUpdate(a.Id, 3), got, 3, false, nil)

		// Private -> public: back under public/, public_url with it.
		f.do(http.MethodPatch, assetPath(a.Id), "editor", map[string]any{"visibility": "public"}).must(t, http.StatusOK, &got)
		if keys := keysOfAsset(got); !slices.Equal(keys, pub) || got.PublicUrl == nil || *got.PublicUrl != publicBase+"/"+pub[0] {
			t.Fatalf("after making it public: keys %v public_url %v", keys, got.PublicUrl)
		}
		for _, th := range got.Thumbnails {
			if th.Url == nil || *th.Url != publicBase+"/"+th.StorageKey {
				t.Errorf("thumbnail url %v", th.Url)
			}
		}
		if files := f.filesOf(id); !slices.Equal(files, sorted(pub)) {
			t.Errorf("files after making it public %v, want %v", files, sorted(pub))
		}
		if code, body := f.anonymousGet(pub[0]); code != http.StatusOK || !bytes.Equal(body, data) {
			t.Errorf("anonymous GET after making it public: %d", code)
		}
		f.checkUpdate(f.lastUpdate(a.Id, 4), got, 4, true, thumbnailURLs(got))

		// The same visibility again moves nothing.
		f.do(http.MethodPatch, assetPath(a.Id), "editor", map[string]any{"visibility": "public"}).must(t, http.StatusOK, &got)
		if keys := keysOfAsset(got); !slices.Equal(keys, pub) || got.Version != 5 {
			t.Errorf("public again: keys %v version %d", keys, got.Version)
		}
		if files := f.filesOf(id); !slices.Equal(files, sorted(pub)) {
			t.Errorf("files after public again %v", files)
		}
		// The other asset was not touched.
		if now, _ := f.get(other.Id); now.StorageKey != other.StorageKey || !bytes.Equal(f.mustStore(other.StorageKey), jpegBytes(t, 300, 200)) {
			t.Errorf("the other asset: %s", now.StorageKey)
		}
	})
}

// faultyStore fails Copy from the copyFailsAt-th call on (0: never) and every Delete of a key in
// deleteFails.
type faultyStore struct {
	objectstore.Store
	mu          sync.Mutex
	copies      int
	copyFailsAt int
	deleteFails map[string]bool
}

func (s *faultyStore) Copy(ctx context.Context, src, dst string) error {
	s.mu.Lock()
	s.copies++
	fail := s.copyFailsAt > 0 && s.copies >= s.copyFailsAt
	s.mu.Unlock()
	if fail {
		return errors.New("faulty: connection reset")
	}
	return s.Store.Copy(ctx, src, dst)
}

func (s *faultyStore) Delete(ctx context.Context, key string) error {
	s.mu.Lock()
	fail := s.deleteFails[key]
	s.mu.Unlock()
	if fail {
		return errors.New("faulty: connection reset")
	}
	return s.Store.Delete(ctx, key)
}

// lockedBuffer collects log output.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestVisibilityMoveFailures: a copy that fails rolls the change back (the row, its version and
// every object as before, the copies made so far deleted); a delete of an old key that fails after
// the commit leaves the row at its new keys and the old object as an orphan, logged with its key.
func TestVisibilityMoveFailures(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, Config{}, Deps{})
		logs := &lockedBuffer{}
		f.svc.log = slog.New(slog.NewTextHandler(logs, nil))
		faulty := &faultyStore{Store: f.store, deleteFails: map[string]bool{}}
		f.svc.store = faulty
		data := jpegBytes(t, 900, 600)
		a := f.uploadImage(data)
		f.svc.thumbnails(context.Background())
		a, _ = f.get(a.Id)
		before := f.filesOf(a.Id.String())
		if len(before) != 3 {
			t.Fatalf("files %v", before)
		}

		// The second copy (a thumbnail) fails: 500, nothing changed, the first copy deleted.
		faulty.copyFailsAt = 2
		f.do(http.MethodPatch, assetPath(a.Id), "editor", map[string]any{"visibility": "public"}).fails(t, http.StatusInternalServerError, "")
		if faulty.copies != 2 {
			t.Errorf("%d copies, want 2 (the second failed)", faulty.copies)
		}
		now, _ := f.get(a.Id)
		if now.Visibility != mediaapi.Private || now.Version != a.Version || !slices.Equal(keysOfAsset(now), keysOfAsset(a)) {
			t.Errorf("after a failed copy: %s version %d keys %v", now.Visibility, now.Version, keysOfAsset(now))
		}
		if files := f.filesOf(a.Id.String()); !slices.Equal(files, before) {
			t.Errorf("files after a failed copy %v, want %v", files, before)
		}
		if n := len(f.updatesOf(a.Id)); n != 2 { // upload, thumbnails
			t.Errorf("%d asset.updated events, want 2", n)
		}

		// The copies succeed and the commit too, but the old original cannot be deleted.
		faulty.copyFailsAt = 0
		faulty.deleteFails[a.StorageKey] = true
		var got mediaapi.Asset
		f.do(http.MethodPatch, assetPath(a.Id), "editor", map[string]any{"visibility": "public"}).must(t, http.StatusOK, &got)
		if got.StorageKey != keyFor(a.StorageKey, asset.VisibilityPublic) || !bytes.Equal(f.mustStore(got.StorageKey), data) {
			t.Errorf("after the move: %s", got.StorageKey)
		}
		for _, k := range keysOfAsset(got) {
			f.mustStore(k)
		}
		if !bytes.Equal(f.mustStore(a.StorageKey), data) {
			t.Error("the old original whose delete failed is gone")
		}
		f.mustNotStore(keysOfAsset(a)[1:]...)
		if l := logs.String(); !strings.Contains(l, "orphan") || !strings.Contains(l, "key="+a.StorageKey) {
			t.Errorf("no warning naming the orphan %s:\n%s", a.StorageKey, l)
		}
		if code, _ := f.anonymousGet(a.StorageKey); code != http.StatusForbidden {
			t.Errorf("anonymous GET of the private orphan = %d, want 403", code)
		}
	})
}

// TestVisibilityLegacyKeys: assets stored before the prefixes (at assets/<id>/...) are read where
// their rows say, a public one unsigned and a private one through its signed URL, and move into the
// layout at their next change of visibility.
func TestVisibilityLegacyKeys(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, Config{}, Deps{})
		ctx := context.Background()
		// Put an asset back into the old layout: objects at the unprefixed keys, the row naming them.
		legacy := func(a mediaapi.Asset) mediaapi.Asset {
			row := f.row(a.Id)
			thumbs := make([]schema.ThumbnailRecord, len(row.Thumbnails))
			for i, th := range row.Thumbnails {
				thumbs[i] = th
				thumbs[i].StorageKey = unprefixed(th.StorageKey)
			}
			for _, k := range keysOfAsset(a) {
				if err := f.store.Move(ctx, k, unprefixed(k)); err != nil {
					t.Fatal(err)
				}
			}
			if err := f.svc.read.Asset.UpdateOne(row).SetStorageKey(unprefixed(row.StorageKey)).SetThumbnails(thumbs).Exec(ctx); err != nil {
				t.Fatal(err)
			}
			out, _ := f.get(a.Id)
			return out
		}
		pubData, privData := jpegBytes(t, 700, 400), jpegBytes(t, 640, 480)
		pub := f.uploadImage(pubData, field("visibility", "public"))
		priv := f.uploadImage(privData)
		f.svc.thumbnails(ctx)
		pub, _ = f.get(pub.Id)
		priv, _ = f.get(priv.Id)
		pub, priv = legacy(pub), legacy(priv)
		if !strings.HasPrefix(pub.StorageKey, "assets/") || len(pub.Thumbnails) != 2 || !strings.HasPrefix(pub.Thumbnails[0].StorageKey, "assets/") {
			t.Fatalf("legacy asset %s %+v", pub.StorageKey, pub.Thumbnails)
		}

		// Read where the rows say.
		if pub.PublicUrl == nil || *pub.PublicUrl != publicBase+"/"+pub.StorageKey {
			t.Errorf("legacy public_url %v", pub.PublicUrl)
		}
		for _, k := range keysOfAsset(pub) {
			if code, _ := f.anonymousGet(k); code != http.StatusOK {
				t.Errorf("anonymous GET of the legacy public %s = %d", k, code)
			}
		}
		if code, _ := f.anonymousGet(priv.StorageKey); code != http.StatusForbidden {
			t.Errorf("anonymous GET of the legacy private %s = %d", priv.StorageKey, code)
		}
		var u mediaapi.AssetUrl
		f.do(http.MethodGet, assetPath(priv.Id, "url"), "editor", nil).must(t, http.StatusOK, &u)
		if code, body, _ := httpDo(t, http.MethodGet, u.Url, nil, nil); code != http.StatusOK || !bytes.Equal(body, privData) {
			t.Errorf("signed GET of the legacy private asset: %d", code)
		}
		// A change of anything but visibility leaves them where they are.
		var got mediaapi.Asset
		f.do(http.MethodPatch, assetPath(pub.Id), "editor", map[string]any{"alt_text": "غلاف"}).must(t, http.StatusOK, &got)
		if got.StorageKey != pub.StorageKey {
			t.Errorf("an alt text change moved the asset to %s", got.StorageKey)
		}

		// The next visibility change, even to the same value, moves them into the layout.
		f.do(http.MethodPatch, assetPath(pub.Id), "editor", map[string]any{"visibility": "public"}).must(t, http.StatusOK, &got)
		if keys := keysOfAsset(got); keys[0] != PublicPrefix+pub.StorageKey || keys[1] != PublicPrefix+pub.Thumbnails[0].StorageKey {
			t.Errorf("legacy public asset after visibility public: %v", keys)
		}
		f.mustNotStore(keysOfAsset(pub)...)
		if code, body := f.anonymousGet(got.StorageKey); code != http.StatusOK || !bytes.Equal(body, pubData) {
			t.Errorf("anonymous GET after the move: %d", code)
		}
		f.do(http.MethodPatch, assetPath(priv.Id), "editor", map[string]any{"visibility": "public"}).must(t, http.StatusOK, &got)
		if got.StorageKey != PublicPrefix+priv.StorageKey || got.PublicUrl == nil || *got.PublicUrl != publicBase+"/"+got.StorageKey {
			t.Errorf("legacy private asset made public: %s %v", got.StorageKey, got.PublicUrl)
		}
		f.mustNotStore(keysOfAsset(priv)...)
		if files := f.filesOf(priv.Id.String()); len(files) != len(keysOfAsset(priv)) || !strings.HasPrefix(files[0], PublicPrefix) {
			t.Errorf("files %v", files)
		}
	})
}

// TestVisibilityOfPendingUpload: a pending asset's visibility change only renames its key (its
// bytes are at the staging key); a completion that lost its compare-and-swap to such a change left
// the bytes under the former prefix, and the next completion takes them from there.
func TestVisibilityOfPendingUpload(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, Config{}, Deps{})
		data := pngBytes(t, 64, 64)
		s := f.sessionFor("a.png", "image/png", data, map[string]any{"visibility": "public"})
		pending, _ := f.get(s.AssetId)
		if pending.StorageKey != PublicPrefix+"assets/"+s.AssetId.String()+"/original.png" {
			t.Fatalf("pending public asset at %s", pending.StorageKey)
		}
		f.put(s, data)
		// The first completion took the bytes to the public key, then lost to the change below.
		if err := f.store.Move(context.Background(), stagingKey(s.AssetId), pending.StorageKey); err != nil {
			t.Fatal(err)
		}
		var got mediaapi.Asset
		f.do(http.MethodPatch, assetPath(s.AssetId), "editor", map[string]any{"visibility": "private"}).must(t, http.StatusOK, &got)
		if got.StorageKey != keyFor(pending.StorageKey, asset.VisibilityPrivate) || got.Status != mediaapi.Pending {
			t.Fatalf("pending asset made private: %s %s", got.StorageKey, got.Status)
		}
		f.do(http.MethodPost, completePath(s.AssetId), "editor", nil).must(t, http.StatusOK, &got)
		if got.Status != mediaapi.Ready || !bytes.Equal(f.mustStore(got.StorageKey), data) {
			t.Fatalf("completed: %s at %s", got.Status, got.StorageKey)
		}
		f.mustNotStore(pending.StorageKey)
		if code, _ := f.anonymousGet(got.StorageKey); code != http.StatusForbidden {
			t.Errorf("anonymous GET of the completed private asset = %d", code)
		}

		// A pending asset that expires is reclaimed with whatever it left under either prefix.
		s2 := f.sessionFor("b.png", "image/png", data, map[string]any{"visibility": "public"})
		p2, _ := f.get(s2.AssetId)
		f.put(s2, data)
		if err := f.store.Move(context.Background(), stagingKey(s2.AssetId), p2.StorageKey); err != nil {
			t.Fatal(err)
		}
		f.do(http.MethodPatch, assetPath(s2.AssetId), "editor", map[string]any{"visibility": "private"}).must(t, http.StatusOK, nil)
		f.do(http.MethodDelete, assetPath(s2.AssetId), "editor", nil).must(t, http.StatusNoContent, nil)
		f.mustNotStore(p2.StorageKey, keyFor(p2.StorageKey, asset.VisibilityPrivate))
	})
}
