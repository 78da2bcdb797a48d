package media

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mediamesh/mediamesh/ent/mediadb/asset"
	"github.com/mediamesh/mediamesh/ent/mediadb/schema"
	"github.com/mediamesh/mediamesh/gen/openapi/mediaapi"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
)

// toLegacy puts asset a back where it was stored before the public/private layout: its objects
// (the original when withOriginal, its thumbnails always) at the unprefixed keys "assets/<id>/...",
// and its row naming them. It returns the asset as it now reads.
func (f *fixture) toLegacy(a mediaapi.Asset, withOriginal bool) mediaapi.Asset {
	f.t.Helper()
	ctx := context.Background()
	row := f.row(a.Id)
	thumbs := make([]schema.ThumbnailRecord, len(row.Thumbnails))
	for i, th := range row.Thumbnails {
		thumbs[i] = th
		thumbs[i].StorageKey = unprefixed(th.StorageKey)
		if err := f.store.Move(ctx, th.StorageKey, thumbs[i].StorageKey); err != nil {
			f.t.Fatal(err)
		}
	}
	u := f.svc.read.Asset.UpdateOne(row).SetThumbnails(thumbs)
	if withOriginal {
		if row.Status == asset.StatusReady {
			if err := f.store.Move(ctx, row.StorageKey, unprefixed(row.StorageKey)); err != nil {
				f.t.Fatal(err)
			}
		}
		u.SetStorageKey(unprefixed(row.StorageKey))
	}
	if err := u.Exec(ctx); err != nil {
		f.t.Fatal(err)
	}
	out, _ := f.get(a.Id)
	return out
}

// migrated is the value of mediamesh_media_layout_migrated_total{outcome} in reg (-1: no such
// series).
func migrated(t *testing.T, reg *prometheus.Registry, outcome string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range families {
		if mf.GetName() != "mediamesh_media_layout_migrated_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "outcome" && l.GetValue() == outcome {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return -1
}

// withLayoutBatch sets the layout migration's batch size for the test.
func withLayoutBatch(t *testing.T, n int) {
	old := layoutBatch
	layoutBatch = n
	t.Cleanup(func() { layoutBatch = old })
}

// TestLayoutMigration: on local disk, assets stored before the layout (a public and a private
// ready one with thumbnails, one whose thumbnails alone are outside it, a pending one) are moved
// into the layout of their visibility by migrateLayout, in batches: rows updated (version, keys,
// asset.updated with the new URLs), objects moved with their bytes, nothing left at the old keys,
// the public one served without a signature and the private one not. Assets already in the layout
// are not touched, and a second run changes nothing.
func TestLayoutMigration(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		withLayoutBatch(t, 2)
		reg := prometheus.NewRegistry()
		f := newFixture(t, db, Config{}, Deps{Registerer: reg})
		logs := &lockedBuffer{}
		f.svc.log = slog.New(slog.NewTextHandler(logs, nil))
		ctx := context.Background()
		pubData, privData, thumbData := jpegBytes(t, 900, 600), jpegBytes(t, 640, 480), jpegBytes(t, 1000, 750)
		pub := f.uploadImage(pubData, field("visibility", "public"))
		priv := f.uploadImage(privData)
		current := f.uploadImage(jpegBytes(t, 300, 200), field("visibility", "public"))
		thumbOnly := f.uploadImage(thumbData)
		f.svc.thumbnails(ctx)
		current, _ = f.get(current.Id)
		s := f.sessionFor("later.png", "image/png", pngBytes(t, 32, 32), map[string]any{"visibility": "public"})
		pending, _ := f.get(s.AssetId)
		pub, priv = f.toLegacy(pub, true), f.toLegacy(priv, true)
		thumbOnly = f.toLegacy(thumbOnly, false)
		pending = f.toLegacy(pending, true)
		if len(pub.Thumbnails) != 2 || len(thumbOnly.Thumbnails) != 2 || !strings.HasPrefix(pub.StorageKey, "assets/") ||
			!strings.HasPrefix(thumbOnly.StorageKey, PrivatePrefix) || !strings.HasPrefix(thumbOnly.Thumbnails[0].StorageKey, "assets/") ||
			!strings.HasPrefix(pending.StorageKey, "assets/") {
			t.Fatalf("seeded %s %+v / %s %+v / %s", pub.StorageKey, pub.Thumbnails, thumbOnly.StorageKey, thumbOnly.Thumbnails, pending.StorageKey)
		}
		updatesBefore := len(f.updatesOf(pub.Id))

		f.svc.migrateLayout(ctx)

		check := func(before mediaapi.Asset, v asset.Visibility, data []byte) mediaapi.Asset {
			t.Helper()
			now, _ := f.get(before.Id)
			if now.Version != before.Version+1 {
				t.Errorf("asset %s: version %d, want %d", before.Id, now.Version, before.Version+1)
			}
			old, moved := keysOfAsset(before), keysOfAsset(now)
			for i, k := range moved {
				if want := keyFor(old[i], v); k != want {
					t.Errorf("asset %s: key %s, want %s", before.Id, k, want)
				}
				f.mustStore(k)
			}
			for _, k := range old {
				if !strings.HasPrefix(k, prefixOf(v)) {
					f.mustNotStore(k)
				}
			}
			if !bytes.Equal(f.mustStore(now.StorageKey), data) {
				t.Errorf("asset %s: the moved original differs", before.Id)
			}
			return now
		}
		pubNow := check(pub, asset.VisibilityPublic, pubData)
		privNow := check(priv, asset.VisibilityPrivate, privData)
		thumbNow := check(thumbOnly, asset.VisibilityPrivate, thumbData)
		if thumbNow.StorageKey != thumbOnly.StorageKey {
			t.Errorf("an original already in the layout moved to %s", thumbNow.StorageKey)
		}
		for _, k := range keysOfAsset(pubNow) {
			if code, _ := f.anonymousGet(k); code != http.StatusOK {
				t.Errorf("anonymous GET of the migrated public %s: %d, want 200", k, code)
			}
		}
		for _, k := range keysOfAsset(privNow) {
			if code, _ := f.anonymousGet(k); code != http.StatusForbidden {
				t.Errorf("anonymous GET of the migrated private %s: %d, want 403", k, code)
			}
		}
		if evs := f.updatesOf(pub.Id); len(evs) != updatesBefore+1 {
			t.Errorf("%d asset.updated events of the public asset, want %d", len(evs), updatesBefore+1)
		} else {
			f.checkUpdate(evs[len(evs)-1], pubNow, int64(pubNow.Version), true, thumbnailURLs(pubNow))
		}
		if n := f.svc.read.UploadTombstone.Query().CountX(ctx); n != 0 {
			t.Errorf("%d upload tombstones left after old keys that were deleted", n)
		}
		// The pending asset's key moved (its bytes are still to come) and its upload completes there.
		pendingNow, _ := f.get(pending.Id)
		if pendingNow.StorageKey != PublicPrefix+pending.StorageKey || pendingNow.Version != pending.Version+1 {
			t.Errorf("pending asset: %s version %d", pendingNow.StorageKey, pendingNow.Version)
		}
		f.put(s, pngBytes(t, 32, 32))
		var done mediaapi.Asset
		f.do(http.MethodPost, completePath(s.AssetId), "editor", nil).must(t, http.StatusOK, &done)
		if code, body := f.anonymousGet(done.StorageKey); code != http.StatusOK || !bytes.Equal(body, pngBytes(t, 32, 32)) {
			t.Errorf("the completed upload of the migrated pending asset: %d", code)
		}
		// Untouched: the asset already in the layout.
		if now, _ := f.get(current.Id); now.Version != current.Version || now.StorageKey != current.StorageKey {
			t.Errorf("an asset in the layout changed: version %d key %s", now.Version, now.StorageKey)
		}
		if got := migrated(t, reg, relayoutMoved); got != 4 {
			t.Errorf("moved counter %v, want 4", got)
		}
		if got := migrated(t, reg, relayoutFailed); got != 0 {
			t.Errorf("failed counter %v, want 0", got)
		}
		l := logs.String()
		if n := strings.Count(l, "layout migration: batch done"); n != 2 {
			t.Errorf("%d batch lines, want 2 (4 assets, 2 a batch):\n%s", n, l)
		}
		if !strings.Contains(l, "layout migration: done") || !strings.Contains(l, "moved=4 failed=0") {
			t.Errorf("no summary line:\n%s", l)
		}

		// Idempotent: nothing is left to move.
		f.svc.migrateLayout(ctx)
		for _, a := range []mediaapi.Asset{pubNow, privNow, thumbNow, current} {
			if now, _ := f.get(a.Id); now.Version != a.Version {
				t.Errorf("a second run changed asset %s: version %d, want %d", a.Id, now.Version, a.Version)
			}
		}
		if n := strings.Count(logs.String(), "layout migration: batch done"); n != 2 {
			t.Errorf("a second run logged batches: %d lines", n)
		}
		if got := migrated(t, reg, relayoutMoved); got != 4 {
			t.Errorf("moved counter after a second run %v, want 4", got)
		}
	})
}

// TestLayoutMigrationFailures: a copy that fails leaves the asset as it was (row and objects at the
// legacy keys, no copy left), counted and logged as failed, and the next run moves it, also over the
// copies an interrupted run left at the new keys; an old key that cannot be deleted after the commit
// keeps its upload tombstone, and the cleanup deletes it.
func TestLayoutMigrationFailures(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		reg := prometheus.NewRegistry()
		f := newFixture(t, db, Config{}, Deps{Registerer: reg})
		logs := &lockedBuffer{}
		f.svc.log = slog.New(slog.NewTextHandler(logs, nil))
		ctx := context.Background()
		pubData, privData := jpegBytes(t, 500, 300), jpegBytes(t, 300, 500)
		pub := f.uploadImage(pubData, field("visibility", "public"))
		priv := f.uploadImage(privData)
		f.svc.thumbnails(ctx)
		pub, priv = f.toLegacy(pub, true), f.toLegacy(priv, true)
		faulty := &faultyStore{Store: f.store, copyFailsAt: 1, deleteFails: map[string]bool{}}
		f.svc.store = faulty

		f.svc.migrateLayout(ctx)
		for _, a := range []mediaapi.Asset{pub, priv} {
			now, _ := f.get(a.Id)
			if now.Version != a.Version || now.StorageKey != a.StorageKey {
				t.Errorf("asset %s after a failed copy: %s version %d", a.Id, now.StorageKey, now.Version)
			}
			for _, k := range keysOfAsset(a) {
				f.mustStore(k)
				f.mustNotStore(keyFor(k, asset.Visibility(a.Visibility)))
			}
		}
		if got := migrated(t, reg, relayoutFailed); got != 2 {
			t.Errorf("failed counter %v, want 2", got)
		}
		if l := logs.String(); !strings.Contains(l, "could not be moved into the layout") || !strings.Contains(l, "moved=0 failed=2") {
			t.Errorf("failures not logged:\n%s", l)
		}

		// A run that crashed after its copies, before its commit, left copies at the new keys.
		for _, k := range keysOfAsset(pub) {
			if err := f.store.Copy(ctx, k, keyFor(k, asset.VisibilityPublic)); err != nil {
				t.Fatal(err)
			}
		}
		faulty.copyFailsAt = 0
		faulty.deleteFails[priv.StorageKey] = true
		f.svc.migrateLayout(ctx)
		pubNow, _ := f.get(pub.Id)
		privNow, _ := f.get(priv.Id)
		if pubNow.StorageKey != keyFor(pub.StorageKey, asset.VisibilityPublic) || !bytes.Equal(f.mustStore(pubNow.StorageKey), pubData) {
			t.Errorf("public asset after the second run: %s", pubNow.StorageKey)
		}
		if privNow.StorageKey != keyFor(priv.StorageKey, asset.VisibilityPrivate) || !bytes.Equal(f.mustStore(privNow.StorageKey), privData) {
			t.Errorf("private asset after the second run: %s", privNow.StorageKey)
		}
		f.mustNotStore(keysOfAsset(pub)...)
		f.mustNotStore(keysOfAsset(priv)[1:]...)
		f.mustStore(priv.StorageKey) // its delete failed
		if l := logs.String(); !strings.Contains(l, "the cleanup retries") || !strings.Contains(l, "key="+priv.StorageKey) {
			t.Errorf("the failed delete is not logged with its key:\n%s", l)
		}
		if got := migrated(t, reg, relayoutMoved); got != 2 {
			t.Errorf("moved counter %v, want 2", got)
		}
		tombs := f.svc.read.UploadTombstone.Query().AllX(ctx)
		if len(tombs) != 1 || tombs[0].StorageKey != priv.StorageKey {
			t.Fatalf("tombstones %+v, want the one of %s", tombs, priv.StorageKey)
		}
		delete(faulty.deleteFails, priv.StorageKey)
		f.clock.advance(time.Second)
		f.svc.cleanup(ctx)
		f.mustNotStore(priv.StorageKey)
		if n := f.svc.read.UploadTombstone.Query().CountX(ctx); n != 0 {
			t.Errorf("%d tombstones after the cleanup", n)
		}
		if !bytes.Equal(f.mustStore(privNow.StorageKey), privData) {
			t.Error("the cleanup touched the migrated original")
		}
	})
}

// TestLayoutMigrationAtStart: Run moves the legacy assets by itself, in the background.
func TestLayoutMigrationAtStart(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, Config{WorkInterval: time.Hour}, Deps{})
		data := jpegBytes(t, 200, 100)
		a := f.toLegacy(f.uploadImage(data, field("visibility", "public"), field("alt_text", "x")), true)
		ctx, cancel := context.WithCancel(context.Background())
		ran := make(chan error, 1)
		go func() { ran <- f.svc.Run(ctx) }()
		deadline := time.Now().Add(10 * time.Second)
		for f.row(a.Id).StorageKey == a.StorageKey && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		cancel()
		if err := <-ran; err != nil {
			t.Fatal(err)
		}
		now, _ := f.get(a.Id)
		if now.StorageKey != PublicPrefix+a.StorageKey || !bytes.Equal(f.mustStore(now.StorageKey), data) {
			t.Fatalf("after Run: %s", now.StorageKey)
		}
		f.mustNotStore(a.StorageKey)
	})
}

// TestS3LayoutMigration runs the layout migration on VersityGW with the public-prefix bucket
// policy: a legacy public asset answers 403 to anonymous GETs (its keys are outside public/) until
// the migration moves it, then 200 with its bytes, thumbnails included; a legacy private one stays
// 403; the rows name the new keys and nothing is left at the old ones.
func TestS3LayoutMigration(t *testing.T) {
	store, bucketURL := publicReadS3(t)
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, Config{PublicBaseURL: bucketURL}, Deps{Store: store})
		anonymous := func(key string) (int, []byte) { return anonymousGet(t, bucketURL, key) }
		ctx := context.Background()
		pubData, privData := jpegBytes(t, 800, 450), jpegBytes(t, 450, 800)
		pub := f.uploadImage(pubData, field("visibility", "public"))
		priv := f.uploadImage(privData)
		f.svc.thumbnails(ctx)
		pub, priv = f.toLegacy(pub, true), f.toLegacy(priv, true)
		if code, _ := anonymous(pub.StorageKey); code != http.StatusForbidden {
			t.Fatalf("anonymous GET of the legacy public %s: %d, want 403 (outside the public prefix)", pub.StorageKey, code)
		}

		f.svc.migrateLayout(ctx)

		pubNow, _ := f.get(pub.Id)
		privNow, _ := f.get(priv.Id)
		if pubNow.StorageKey != PublicPrefix+pub.StorageKey || pubNow.PublicUrl == nil || *pubNow.PublicUrl != bucketURL+"/"+pubNow.StorageKey {
			t.Fatalf("migrated public asset: %s %v", pubNow.StorageKey, pubNow.PublicUrl)
		}
		if code, body := anonymous(pubNow.StorageKey); code != http.StatusOK || !bytes.Equal(body, pubData) {
			t.Errorf("anonymous GET of the migrated public asset: %d (%d bytes)", code, len(body))
		}
		for _, th := range pubNow.Thumbnails {
			if code, _, _ := httpDo(t, http.MethodGet, *th.Url, nil, nil); code != http.StatusOK || !strings.HasPrefix(th.StorageKey, PublicPrefix) {
				t.Errorf("anonymous GET of the migrated thumbnail %s: %d", th.StorageKey, code)
			}
		}
		if privNow.StorageKey != PrivatePrefix+priv.StorageKey {
			t.Errorf("migrated private asset: %s", privNow.StorageKey)
		}
		for _, k := range keysOfAsset(privNow) {
			if code, _ := anonymous(k); code != http.StatusForbidden {
				t.Errorf("anonymous GET of the migrated private %s: %d, want 403", k, code)
			}
		}
		var u mediaapi.AssetUrl
		f.do(http.MethodGet, assetPath(priv.Id, "url"), "editor", nil).must(t, http.StatusOK, &u)
		if code, body, _ := httpDo(t, http.MethodGet, u.Url, nil, nil); code != http.StatusOK || !bytes.Equal(body, privData) {
			t.Errorf("signed GET of the migrated private asset: %d", code)
		}
		f.mustNotStore(keysOfAsset(pub)...)
		f.mustNotStore(keysOfAsset(priv)...)
	})
}
