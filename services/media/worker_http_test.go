package media

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/ent/mediadb/asset"
	"github.com/mediamesh/mediamesh/gen/openapi/mediaapi"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
	"github.com/mediamesh/mediamesh/internal/objectstore"
)

// flakyStore wraps a store: Open fails for the keys in broken, and every Open is counted; after
// limit Opens it calls stop (to end a worker pass that does not end by itself).
type flakyStore struct {
	objectstore.Store
	mu     sync.Mutex
	broken map[string]bool
	opens  atomic.Int64
	limit  int64
	stop   func()
}

func (s *flakyStore) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	if n := s.opens.Add(1); s.limit > 0 && n >= s.limit && s.stop != nil {
		s.stop()
	}
	s.mu.Lock()
	bad := s.broken[key]
	s.mu.Unlock()
	if bad {
		return nil, errors.New("flaky: connection reset")
	}
	return s.Store.Open(ctx, key)
}

func (s *flakyStore) setBroken(keys map[string]bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.broken = keys
}

// TestThumbnailWorkerStates covers what the worker records for images it cannot thumbnail, and
// that a failed read is retried on the next pass.
func TestThumbnailWorkerStates(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, Config{}, Deps{})
		flaky := &flakyStore{Store: f.store}
		f.svc.store = flaky

		// A PNG whose pixel data is damaged: it sniffs and has dimensions, but does not decode.
		good := pngBytes(t, 400, 300)
		damaged := append([]byte(nil), good[:60]...)
		var corrupt mediaapi.Asset
		f.upload("editor", filePart("bad.png", "image/png", damaged)).must(t, http.StatusCreated, &corrupt)
		if corrupt.Width == nil || *corrupt.Width != 400 {
			t.Fatalf("damaged PNG: %+v", corrupt)
		}
		retry := f.uploadImage(jpegBytes(t, 500, 500))
		flaky.setBroken(map[string]bool{retry.StorageKey: true})

		f.svc.thumbnails(context.Background())
		if row := f.row(corrupt.Id); row.ThumbnailState != asset.ThumbnailStateFailed || len(row.Thumbnails) != 0 || row.Version != 2 {
			t.Errorf("undecodable image: state %s thumbnails %v version %d, want failed at 2", row.ThumbnailState, row.Thumbnails, row.Version)
		}
		if a, _ := f.get(corrupt.Id); a.Status != mediaapi.Ready || len(a.Thumbnails) != 0 {
			t.Errorf("an image without thumbnails stays usable: %+v", a)
		}
		if row := f.row(retry.Id); row.ThumbnailState != asset.ThumbnailStatePending || row.Version != 1 {
			t.Errorf("unreadable original: state %s version %d, want still pending", row.ThumbnailState, row.Version)
		}

		flaky.setBroken(nil)
		f.svc.thumbnails(context.Background())
		if row := f.row(retry.Id); row.ThumbnailState != asset.ThumbnailStateDone || len(row.Thumbnails) != 1 {
			t.Errorf("after the retry: state %s thumbnails %d", row.ThumbnailState, len(row.Thumbnails))
		}
		if row := f.row(corrupt.Id); row.Version != 2 {
			t.Error("the failed image was tried again")
		}
	})
}

// TestThumbnailWorkerRaces checks that the worker's record is a compare-and-swap: an asset that
// changed while its thumbnails were rendered keeps the change and gets its thumbnails on the next
// pass.
func TestThumbnailWorkerRaces(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, Config{}, Deps{})
		a := f.uploadImage(jpegBytes(t, 400, 400))
		row := f.row(a.Id)
		f.do(http.MethodPatch, assetPath(a.Id), "editor", map[string]any{"alt_text": "changed"}).must(t, http.StatusOK, nil)
		f.svc.makeThumbnails(context.Background(), row) // renders from the stale row
		now, etag := f.get(a.Id)
		if etag != `"2"` || now.AltText == nil || *now.AltText != "changed" || len(now.Thumbnails) != 0 {
			t.Errorf("the stale record overwrote the change: %+v %s", now, etag)
		}
		if evs := f.updatesOf(a.Id); len(evs) != 2 || evs[1].Version != 2 {
			t.Errorf("the stale record wrote an event: %+v", evs)
		}
		f.svc.thumbnails(context.Background())
		if now, _ := f.get(a.Id); len(now.Thumbnails) != 1 || *now.AltText != "changed" || now.Version != 3 {
			t.Errorf("next pass: %+v", now)
		}
	})
}

// TestThumbnailWorkerGivesUpOnAFullBatchOfFailures fills a whole batch with images whose originals
// cannot be read: one pass must try each once and return, not spin on the same batch until its
// context ends.
func TestThumbnailWorkerGivesUpOnAFullBatchOfFailures(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, Config{}, Deps{})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		flaky := &flakyStore{Store: f.store, limit: 10 * workBatch, stop: cancel}
		f.svc.store = flaky
		broken := map[string]bool{}
		for range workBatch {
			broken[f.uploadImage(jpegBytes(t, 8, 8)).StorageKey] = true
		}
		flaky.setBroken(broken)
		f.svc.thumbnails(ctx)
		if n := flaky.opens.Load(); n != workBatch {
			t.Errorf("one pass opened originals %d times, want %d (once each)", n, workBatch)
		}
	})
}

// TestRunWakesOnUpload checks that Run is told at once of new work: an upload or a completion
// signals the wake channel (otherwise thumbnails wait for the next WorkInterval tick).
func TestRunWakesOnUpload(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, Config{WorkInterval: time.Hour}, Deps{})
		drain := func() {
			select {
			case <-f.svc.wake:
			default:
			}
		}
		drain()
		f.uploadImage(jpegBytes(t, 8, 8))
		if len(f.svc.wake) != 1 {
			t.Error("an image upload did not wake the worker")
		}
		data := pngBytes(t, 8, 8)
		s := f.sessionFor("a.png", "image/png", data, nil)
		f.put(s, data)
		drain()
		f.do(http.MethodPost, completePath(s.AssetId), "editor", nil).must(t, http.StatusOK, nil)
		if len(f.svc.wake) != 1 {
			t.Error("a completed image upload did not wake the worker")
		}
	})
}

// TestRun runs the worker loop: it makes thumbnails and reclaims expired sessions, and stops with
// its context.
func TestRun(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, Config{WorkInterval: time.Hour, UploadSessionTTL: time.Minute}, Deps{})
		a := f.uploadImage(jpegBytes(t, 400, 200))
		s := f.sessionFor("x.mp4", "video/mp4", mp4Bytes(100), nil)
		f.clock.advance(2 * time.Minute)

		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- f.svc.Run(ctx) }()
		// Run does one pass at once; a wake makes it do another, after which the work is done.
		// Wait for the pass by sending a second wake: the channel holds one, so this send
		// blocks until Run has taken the first, i.e. finished its first pass.
		f.svc.wake <- struct{}{}
		f.svc.wake <- struct{}{}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run: %v", err)
		}
		if got, _ := f.get(a.Id); len(got.Thumbnails) != 1 || got.Thumbnails[0].Height != 160 {
			t.Errorf("thumbnails %+v", got.Thumbnails)
		}
		f.gone(s.AssetId)
		f.deletedOnce(s.AssetId, reasonUploadExpired, nil, "", nil)
	})
}

// TestDeletePendingLeavesNoBytes deletes a pending asset, then the client uploads to the session's
// URL anyway: nothing may stay in the store without an asset.
func TestDeletePendingLeavesNoBytes(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, Config{}, Deps{})
		data := pngBytes(t, 8, 8)
		s := f.sessionFor("a.png", "image/png", data, nil)
		f.do(http.MethodDelete, assetPath(s.AssetId), "editor", nil).must(t, http.StatusNoContent, nil)
		code, _, _ := httpDo(t, http.MethodPut, s.UploadUrl, data, s.Headers)
		f.clock.advance(2 * time.Hour)
		f.svc.cleanup(context.Background())
		if files := f.objectFiles(); len(files) != 0 {
			t.Errorf("PUT after the delete answered %d and left %s in the store for good", code, strings.Join(files, ", "))
		}
	})
}
