package media

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/ent/mediadb/asset"
	"github.com/mediamesh/mediamesh/gen/openapi/mediaapi"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
	"github.com/mediamesh/mediamesh/internal/objectstore"
)

// openHook calls onOpen with each key it has just opened: the completion's checks read the uploaded
// object through Open, so onOpen runs while they are under way.
type openHook struct {
	objectstore.Store
	mu     sync.Mutex
	onOpen func(key string)
}

func (h *openHook) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	h.mu.Lock()
	fn := h.onOpen
	h.mu.Unlock()
	rc, err := h.Store.Open(ctx, key)
	if err == nil && fn != nil {
		fn(key)
	}
	return rc, err
}

func (h *openHook) set(fn func(key string)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.onOpen = fn
}

// stagedCompletion runs a public upload session on f, whose store is wrapped by hook, with
// anonymous(key) the status of an unsigned GET of key from the store: the URL writes under private/,
// what it received is refused to anonymous GETs before and during the checks, nothing is under the
// public key until they pass, and after the completion the public key answers 200 with the checked
// bytes while a later PUT to the URL lands at the staging key only.
func stagedCompletion(t *testing.T, f *fixture, hook *openHook, anonymous func(key string) (int, []byte)) {
	data := jpegBytes(t, 640, 360)
	s := f.sessionFor("cover.jpg", "image/jpeg", data, map[string]any{"visibility": "public"})
	pending, _ := f.get(s.AssetId)
	staging := stagingKey(s.AssetId)
	if !strings.HasPrefix(staging, PrivatePrefix) || !strings.Contains(s.UploadUrl, "/"+staging+"?") {
		t.Fatalf("upload URL %s, want one of the staging key %s under %s", s.UploadUrl, staging, PrivatePrefix)
	}
	if !strings.HasPrefix(pending.StorageKey, PublicPrefix) {
		t.Fatalf("pending public asset at %s", pending.StorageKey)
	}
	f.put(s, data)
	if code, _ := anonymous(staging); code != http.StatusForbidden {
		t.Errorf("anonymous GET of the staging key %s during the session: %d, want 403", staging, code)
	}
	f.mustNotStore(pending.StorageKey)

	// While the checks read the bytes, they are under private/ and refused to anonymous GETs, and
	// nothing is at the public key.
	var reads []string
	hook.set(func(key string) {
		reads = append(reads, key)
		if !strings.HasPrefix(key, PrivatePrefix) {
			t.Errorf("the checks read %s, outside %s", key, PrivatePrefix)
		}
		if code, _ := anonymous(key); code != http.StatusForbidden {
			t.Errorf("anonymous GET of %s during the checks: %d, want 403", key, code)
		}
		if _, ok := f.stored(pending.StorageKey); ok {
			t.Errorf("the public key %s holds an object during the checks", pending.StorageKey)
		}
		if code, _ := anonymous(pending.StorageKey); code == http.StatusOK {
			t.Errorf("anonymous GET of the public key during the checks: 200")
		}
	})
	var a mediaapi.Asset
	f.do(http.MethodPost, completePath(s.AssetId), "editor", nil).must(t, http.StatusOK, &a)
	hook.set(nil)
	if len(reads) == 0 {
		t.Fatal("the completion read nothing through the store")
	}
	if a.Status != mediaapi.Ready || a.StorageKey != pending.StorageKey || a.PublicUrl == nil {
		t.Fatalf("completed %+v", a)
	}
	if code, body := anonymous(a.StorageKey); code != http.StatusOK || !bytes.Equal(body, data) {
		t.Errorf("anonymous GET of the public key after the completion: %d (%d bytes), want 200 with the checked bytes", code, len(body))
	}
	f.mustNotStore(staging, keyFor(a.StorageKey, asset.VisibilityPrivate))

	// A PUT to the URL after the completion lands at the staging key, never at the served object.
	later := jpegBytes(t, 8, 8)
	f.put(s, later)
	if got := f.mustStore(staging); !bytes.Equal(got, later) {
		t.Error("the later PUT is not at the staging key")
	}
	if code, body := anonymous(a.StorageKey); code != http.StatusOK || !bytes.Equal(body, data) {
		t.Errorf("the public object after a later PUT to the URL: %d (%d bytes)", code, len(body))
	}
	if code, _ := anonymous(staging); code != http.StatusForbidden {
		t.Errorf("anonymous GET of what the URL received after the completion: %d, want 403", code)
	}
	var again mediaapi.Asset
	f.do(http.MethodPost, completePath(s.AssetId), "editor", nil).must(t, http.StatusOK, &again)
	if again.Version != a.Version || !bytes.Equal(f.mustStore(a.StorageKey), data) {
		t.Errorf("a second completion changed the asset: version %d", again.Version)
	}

	// A public upload that fails its checks never reaches the public key.
	bad := f.sessionFor("bad.jpg", "image/jpeg", data, map[string]any{"visibility": "public"})
	badAsset, _ := f.get(bad.AssetId)
	f.put(bad, append(jpegBytes(t, 16, 16), make([]byte, 64)...))
	f.do(http.MethodPost, completePath(bad.AssetId), "editor", nil).fails(t, http.StatusConflict, "")
	f.mustNotStore(badAsset.StorageKey, keyFor(badAsset.StorageKey, asset.VisibilityPrivate), stagingKey(bad.AssetId))
	if code, _ := anonymous(badAsset.StorageKey); code == http.StatusOK {
		t.Error("anonymous GET of a failed upload's public key: 200")
	}
}

// TestUploadStagedPrivately: on local disk an upload session's bytes stay under private/ until
// they are checked; only then does a public asset's original appear under public/.
func TestUploadStagedPrivately(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, Config{}, Deps{})
		hook := &openHook{Store: f.store}
		f.svc.store = hook
		stagedCompletion(t, f, hook, f.anonymousGet)
	})
}

// TestS3UploadStagedPrivately runs stagedCompletion on VersityGW with the public-prefix bucket
// policy: the staging key answers 403 to anonymous GETs during the session and the checks, the
// public key 200 with the checked bytes after the completion.
func TestS3UploadStagedPrivately(t *testing.T) {
	store, bucketURL := publicReadS3(t)
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		// S3 signs with the real clock: start the service's there too.
		start := time.Now().UTC().Truncate(time.Second)
		hook := &openHook{Store: store}
		f := newFixture(t, db, Config{PublicBaseURL: bucketURL}, Deps{Store: hook, Now: func() time.Time { return start }})
		stagedCompletion(t, f, hook, func(key string) (int, []byte) { return anonymousGet(t, bucketURL, key) })
	})
}

// TestCompletionPublishFailures: a copy to the public key that fails leaves the asset pending with
// its checked bytes under private/ and nothing under public/, and the next completion publishes
// them; bytes replaced at the checked key while they were checked are not published.
func TestCompletionPublishFailures(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, Config{}, Deps{})
		faulty := &faultyStore{Store: f.store, copyFailsAt: 1, deleteFails: map[string]bool{}}
		hook := &openHook{Store: faulty}
		f.svc.store = hook
		data := pngBytes(t, 120, 90)
		s := f.sessionFor("a.png", "image/png", data, map[string]any{"visibility": "public"})
		pending, _ := f.get(s.AssetId)
		checked := keyFor(pending.StorageKey, asset.VisibilityPrivate)
		f.put(s, data)
		f.do(http.MethodPost, completePath(s.AssetId), "editor", nil).fails(t, http.StatusInternalServerError, "")
		if now, _ := f.get(s.AssetId); now.Status != mediaapi.Pending || now.Version != pending.Version {
			t.Errorf("after a failed publication: %s version %d", now.Status, now.Version)
		}
		f.mustNotStore(pending.StorageKey)
		if !bytes.Equal(f.mustStore(checked), data) {
			t.Error("the checked bytes are not kept under private/")
		}
		if n := len(f.updatesOf(s.AssetId)); n != 0 {
			t.Errorf("%d asset.updated events after a rolled-back completion", n)
		}
		faulty.copyFailsAt = 0
		var a mediaapi.Asset
		f.do(http.MethodPost, completePath(s.AssetId), "editor", nil).must(t, http.StatusOK, &a)
		if a.Status != mediaapi.Ready || !bytes.Equal(f.mustStore(a.StorageKey), data) {
			t.Errorf("completed again: %s", a.Status)
		}
		f.mustNotStore(checked)

		// Other bytes of the same size land at the checked key while the checks read it (a
		// concurrent completion took a later PUT there): they are not published.
		s2 := f.sessionFor("b.png", "image/png", data, map[string]any{"visibility": "public"})
		p2, _ := f.get(s2.AssetId)
		f.put(s2, data)
		other := bytes.Clone(data)
		other[len(other)-1] ^= 0xff
		hook.set(func(key string) {
			hook.set(nil)
			if err := f.store.Put(context.Background(), key, bytes.NewReader(other), int64(len(other)), "image/png"); err != nil {
				t.Error(err)
			}
		})
		if p := f.do(http.MethodPost, completePath(s2.AssetId), "editor", nil).fails(t, http.StatusConflict, ""); !strings.Contains(p.Detail, "changed while it was being checked") {
			t.Errorf("detail %q", p.Detail)
		}
		f.mustNotStore(p2.StorageKey)
		if now, _ := f.get(s2.AssetId); now.Status != mediaapi.Pending {
			t.Errorf("after a replaced object: %s", now.Status)
		}
	})
}
