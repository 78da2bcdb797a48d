package media

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path"
	"time"

	"github.com/mediamesh/mediamesh/ent/mediadb"
	"github.com/mediamesh/mediamesh/ent/mediadb/asset"
	"github.com/mediamesh/mediamesh/ent/mediadb/predicate"
	"github.com/mediamesh/mediamesh/ent/mediadb/schema"
	"github.com/mediamesh/mediamesh/ent/mediadb/uploadtombstone"
	"github.com/mediamesh/mediamesh/services/media/thumbnail"
)

// maxThumbnailHeight is the largest thumbnail height the contract allows.
const maxThumbnailHeight = 4096

// workBatch is how many assets one pass of the worker handles per kind of work.
const workBatch = 20

// Run makes the thumbnails of new images and reclaims expired upload sessions and old orphans, until
// ctx ends. Several processes may run it: each change is a compare-and-swap on the asset's version,
// and thumbnails of one asset always land at the same keys. At its start it also moves the assets
// stored before the public/private layout into it, in the background (migrateLayout): neither the
// service's readiness nor the rest of this work waits for it.
func (s *Service) Run(ctx context.Context) error {
	migrated := make(chan struct{})
	go func() {
		defer close(migrated)
		s.migrateLayout(ctx)
	}()
	defer func() { <-migrated }()
	t := time.NewTicker(s.cfg.WorkInterval)
	defer t.Stop()
	for {
		s.thumbnails(ctx)
		s.cleanup(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-s.wake:
		}
	}
}

// thumbnails makes the thumbnails of the images waiting for them.
func (s *Service) thumbnails(ctx context.Context) {
	for ctx.Err() == nil {
		rows, err := s.read.Asset.Query().Where(asset.ThumbnailStateEQ(asset.ThumbnailStatePending), asset.StatusEQ(asset.StatusReady)).
			Order(mediadb.Asc(asset.FieldCreatedAt)).Limit(workBatch).All(ctx)
		if err != nil {
			s.log.WarnContext(ctx, "could not look for images without thumbnails", "error", err)
			return
		}
		made := 0
		for _, a := range rows {
			if s.makeThumbnails(ctx, a) {
				made++
			}
		}
		// A full batch that made no progress (the store is down) is left for the next tick.
		if len(rows) < workBatch || made == 0 {
			return
		}
	}
}

// makeThumbnails renders, stores and records the thumbnails of a, with its asset.updated event in
// the same transaction, and reports whether it recorded an outcome. An image that cannot be decoded
// is recorded `failed` (it stays usable; it just has no thumbnails). The record is a
// compare-and-swap on the version: when a changed meanwhile nothing is written, and it is still
// pending for the next query, which reads it afresh (this counts as progress, as it always has).
//
// The thumbnails are stored after the compare-and-swap, inside its transaction, which holds the
// asset's row: they land next to the original where the row still says it is, never under the
// prefix of a visibility the asset has just left (a change of visibility moves the objects its row
// names while it holds the row, see UpdateAsset).
func (s *Service) makeThumbnails(ctx context.Context, a *mediadb.Asset) bool {
	state, renditions, err := s.render(ctx, a)
	if err != nil {
		s.log.WarnContext(ctx, "thumbnails not made; retrying later", "asset_id", a.ID, "error", err)
		return false
	}
	records := make([]schema.ThumbnailRecord, 0, len(renditions))
	for _, r := range renditions {
		key := path.Join(path.Dir(a.StorageKey), r.Size+".jpg")
		records = append(records, schema.ThumbnailRecord{Size: r.Size, Width: int64(r.Width), Height: int64(r.Height), StorageKey: key, ContentType: r.ContentType})
	}
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		out, err := s.txClient(tx).Asset.UpdateOneID(a.ID).Where(asset.Version(a.Version)).
			SetThumbnailState(state).SetThumbnails(records).AddVersion(1).SetUpdatedAt(s.clock()).Save(ctx)
		if mediadb.IsNotFound(err) {
			return errStale
		}
		if err != nil {
			return err
		}
		for i, r := range renditions {
			if err := s.store.Put(ctx, records[i].StorageKey, bytes.NewReader(r.Data), int64(len(r.Data)), r.ContentType); err != nil {
				return fmt.Errorf("store the %s thumbnail: %w", r.Size, err)
			}
		}
		return s.assetUpdated(ctx, tx, out)
	})
	switch {
	case errors.Is(err, errStale):
		s.log.DebugContext(ctx, "thumbnails not recorded: the asset changed meanwhile", "asset_id", a.ID)
	case err != nil:
		s.log.WarnContext(ctx, "could not record thumbnails", "asset_id", a.ID, "error", err)
		return false
	}
	return true
}

// render makes the thumbnails of a (those the contract allows: at most 4096 px high). An error is
// worth retrying (the original could not be read); an undecodable image is state failed.
func (s *Service) render(ctx context.Context, a *mediadb.Asset) (asset.ThumbnailState, []thumbnail.Rendition, error) {
	rc, err := s.store.Open(ctx, a.StorageKey)
	if err != nil {
		return "", nil, fmt.Errorf("read the original: %w", err)
	}
	defer rc.Close()
	renditions, err := thumbnail.Generate(rc, s.cfg.ThumbnailSizes)
	switch {
	case errors.Is(err, thumbnail.ErrCorrupt) || errors.Is(err, thumbnail.ErrUnsupported) || errors.Is(err, thumbnail.ErrTooLarge):
		s.log.InfoContext(ctx, "image cannot be thumbnailed", "asset_id", a.ID, "error", err)
		return asset.ThumbnailStateFailed, nil, nil
	case err != nil:
		return "", nil, fmt.Errorf("read the original: %w", err)
	}
	kept := renditions[:0]
	for _, r := range renditions {
		if r.Height <= maxThumbnailHeight { // a very tall image: the contract's thumbnails are at most 4096 px high
			kept = append(kept, r)
		}
	}
	return asset.ThumbnailStateDone, kept, nil
}

// cleanup deletes the pending assets whose upload session expired and the orphans older than the
// grace period, with their bytes and an asset.deleted event each.
func (s *Service) cleanup(ctx context.Context) {
	now := s.clock()
	s.reclaim(ctx, reasonUploadExpired, asset.StatusEQ(asset.StatusPending), asset.UploadExpiresAtLT(now))
	s.reclaim(ctx, reasonOrphaned, asset.OrphanedAtLT(now.Add(-s.cfg.OrphanGrace)), asset.AttachedIDIsNil())
	s.sweepTombstones(ctx, now)
}

// sweepTombstones deletes the objects of deleted upload sessions whose pre-signed URLs have expired.
func (s *Service) sweepTombstones(ctx context.Context, now time.Time) {
	due, err := s.read.UploadTombstone.Query().Where(uploadtombstone.DeleteAfterLT(now)).Limit(100).All(ctx)
	if err != nil {
		s.log.WarnContext(ctx, "could not look for expired upload sessions", "error", err)
		return
	}
	for _, t := range due {
		if err := s.store.Delete(ctx, t.StorageKey); err != nil {
			s.log.WarnContext(ctx, "could not delete the object of a cancelled upload", "key", t.StorageKey, "error", err)
			continue
		}
		if err := s.read.UploadTombstone.DeleteOne(t).Exec(ctx); err != nil && !mediadb.IsNotFound(err) {
			s.log.WarnContext(ctx, "could not drop an upload tombstone", "key", t.StorageKey, "error", err)
		}
	}
}

// reclaim deletes the assets matching where, a batch at a time.
func (s *Service) reclaim(ctx context.Context, reason string, where ...predicate.Asset) {
	for ctx.Err() == nil {
		rows, err := s.read.Asset.Query().Where(where...).Limit(workBatch).All(ctx)
		if err != nil {
			s.log.WarnContext(ctx, "could not look for assets to reclaim", "reason", reason, "error", err)
			return
		}
		for _, a := range rows {
			err := s.db.InTx(ctx, func(tx *sql.Tx) error { return s.deleteRow(ctx, s.txClient(tx), tx, a, reason) })
			switch {
			case errors.Is(err, errStale): // changed meanwhile (completed, re-attached): look again next pass
				continue
			case err != nil:
				s.log.WarnContext(ctx, "could not reclaim an asset", "asset_id", a.ID, "reason", reason, "error", err)
				return
			}
			s.deleteObjects(ctx, a)
			s.log.InfoContext(ctx, "asset reclaimed", "asset_id", a.ID, "reason", reason)
		}
		if len(rows) < workBatch {
			return
		}
	}
}
