package media

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	entsql "entgo.io/ent/dialect/sql"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mediamesh/mediamesh/ent/mediadb"
	"github.com/mediamesh/mediamesh/ent/mediadb/asset"
	"github.com/mediamesh/mediamesh/ent/mediadb/predicate"
)

// layoutBatch is how many assets one batch of the layout migration reads (a variable for the tests).
var layoutBatch = 100

// Outcomes of the layout migration, the values of the outcome label of its counter.
const (
	relayoutMoved  = "moved"
	relayoutFailed = "failed"
)

// relayoutMetric counts the assets the layout migration handled, by outcome (both exported from 0).
func relayoutMetric() *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "mediamesh_media_layout_migrated_total",
		Help: "Assets stored before the public/private layout that the media service moved into it (outcome=moved), or failed to move (outcome=failed; retried at the next start).",
	}, []string{"outcome"})
	c.WithLabelValues(relayoutMoved)
	c.WithLabelValues(relayoutFailed)
	return c
}

// outsideLayout selects the assets whose original or a thumbnail is outside the public/private
// layout. The thumbnails column is JSON; as text, a key in it follows a quote, so a legacy key
// ("assets/...") shows as `"assets/`, which a key in the layout ("public/assets/...") never does.
// outOfLayout is the exact check of each row found.
func outsideLayout() predicate.Asset {
	return asset.Or(
		asset.Not(asset.Or(asset.StorageKeyHasPrefix(PublicPrefix), asset.StorageKeyHasPrefix(PrivatePrefix))),
		predicate.Asset(func(sel *entsql.Selector) {
			sel.Where(entsql.P(func(b *entsql.Builder) {
				b.WriteString("CAST(" + sel.C(asset.FieldThumbnails) + " AS TEXT) LIKE ").Arg(`%"` + legacyRoot + `%`)
			}))
		}),
	)
}

// migrateLayout moves the assets stored before the public/private layout (at "assets/<id>/...",
// see layout.go) into the layout of their current visibility, a batch at a time, until none is left
// or ctx ends. Each asset moves as in a change of visibility (see relayout): copies first, the row
// updated under its lock, the old keys deleted after the commit. It is idempotent and resumable: an
// asset moved is no longer selected, and one whose move was interrupted still is (or, if its row was
// committed, the old keys it left are upload tombstones the cleanup deletes). Several processes may
// run it at once: each move is a compare-and-swap on the asset's version. An asset that fails is
// logged and left for the next start. It logs one line per batch that found assets, and a summary.
func (s *Service) migrateLayout(ctx context.Context) {
	var (
		after          uuid.UUID // keyset: the last id looked at, so an asset that fails is not retried in this run
		moved, failed  int
		batches, found int
	)
	for ctx.Err() == nil {
		rows, err := s.read.Asset.Query().
			Where(outsideLayout(), asset.IDGT(after)).
			Order(mediadb.Asc(asset.FieldID)).Limit(layoutBatch).All(ctx)
		if err != nil {
			if ctx.Err() == nil {
				s.log.WarnContext(ctx, "layout migration: could not look for assets outside the public/private layout; retried at the next start", "error", err)
			}
			return
		}
		if len(rows) == 0 {
			break
		}
		batches++
		bm, bf := 0, 0
		for _, a := range rows {
			after = a.ID
			if !outOfLayout(a) {
				continue
			}
			found++
			ok, err := s.relayout(ctx, a)
			switch {
			case err != nil:
				bf++
				s.relayouts.WithLabelValues(relayoutFailed).Inc()
				s.log.WarnContext(ctx, "layout migration: an asset could not be moved into the layout; retried at the next start",
					"asset_id", a.ID, "storage_key", a.StorageKey, "error", err)
			case ok:
				bm++
				s.relayouts.WithLabelValues(relayoutMoved).Inc()
			}
		}
		moved, failed = moved+bm, failed+bf
		s.log.InfoContext(ctx, "layout migration: batch done", "batch", batches, "assets", len(rows), "moved", bm, "failed", bf)
		if len(rows) < layoutBatch {
			break
		}
	}
	if ctx.Err() != nil {
		s.log.InfoContext(ctx, "layout migration: stopped; it goes on at the next start", "moved", moved, "failed", failed)
		return
	}
	if found == 0 {
		s.log.DebugContext(ctx, "layout migration: every asset is in the public/private layout")
		return
	}
	s.log.InfoContext(ctx, "layout migration: done", "batches", batches, "moved", moved, "failed", failed)
}

// relayout moves asset a into the layout of its visibility and reports whether it moved it (false:
// it was already there, or is gone). The order is that of a change of visibility (UpdateAsset): the
// row is updated first with a compare-and-swap on its version (which holds it until the commit),
// the objects are copied inside the transaction (a failed copy rolls it back and deletes the copies
// made), upload tombstones for the old keys are written with the row (so a crash after the commit
// still gets them deleted, by the cleanup), and the old keys are deleted after the commit. A ready
// asset's asset.updated event carries its new URLs. When the row changed meanwhile it is read again.
func (s *Service) relayout(ctx context.Context, a *mediadb.Asset) (bool, error) {
	for range 3 {
		moved, err := s.relayoutOnce(ctx, a)
		if !errors.Is(err, errStale) {
			return moved, err
		}
		a, err = s.read.Asset.Get(ctx, a.ID)
		if mediadb.IsNotFound(err) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("read the asset again: %w", err)
		}
		if !outOfLayout(a) {
			return false, nil // moved by a change of visibility or another process
		}
	}
	return false, errors.New("the asset kept changing; retried at the next start")
}

// relayoutOnce is one attempt of relayout on the row as read in a.
func (s *Service) relayoutOnce(ctx context.Context, a *mediadb.Asset) (bool, error) {
	key, thumbs, m := relocation(a, a.Visibility)
	var (
		tombstones []uuid.UUID // of m's old keys, in order
		committed  bool
	)
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		tombstones, committed = nil, false
		c := s.txClient(tx)
		now := s.clock()
		out, err := c.Asset.UpdateOneID(a.ID).Where(asset.Version(a.Version)).
			SetStorageKey(key).SetThumbnails(thumbs).AddVersion(1).SetUpdatedAt(now).Save(ctx)
		if mediadb.IsNotFound(err) {
			return errStale
		}
		if err != nil {
			return err
		}
		if err := s.copyObjects(ctx, a.ID, m); err != nil {
			return err
		}
		for _, mv := range m {
			t, err := c.UploadTombstone.Create().SetStorageKey(mv[0]).SetDeleteAfter(now).Save(ctx)
			if err != nil {
				s.undoCopies(ctx, a.ID, m)
				return fmt.Errorf("record the old key %s: %w", mv[0], err)
			}
			tombstones = append(tombstones, t.ID)
		}
		if err := s.assetUpdated(ctx, tx, out); err != nil {
			s.undoCopies(ctx, a.ID, m)
			return err
		}
		committed = true
		return nil
	})
	if err != nil && committed {
		// The outcome of the commit is unknown: the tombstones, if they were committed, get the old
		// keys deleted; otherwise the new ones are orphans.
		for _, mv := range m {
			s.log.ErrorContext(ctx, "layout migration: a move failed to commit after copying: one of these keys is an orphan object",
				"asset_id", a.ID, "old_key", mv[0], "new_key", mv[1], "error", err)
		}
	}
	if err != nil {
		return false, err
	}
	for i, mv := range m {
		if err := s.store.Delete(context.WithoutCancel(ctx), mv[0]); err != nil {
			s.log.WarnContext(ctx, "layout migration: an old key could not be deleted; the cleanup retries (upload tombstone)",
				"asset_id", a.ID, "key", mv[0], "error", err)
			continue
		}
		if err := s.read.UploadTombstone.DeleteOneID(tombstones[i]).Exec(context.WithoutCancel(ctx)); err != nil && !mediadb.IsNotFound(err) {
			s.log.WarnContext(ctx, "layout migration: could not drop the tombstone of a deleted old key", "key", mv[0], "error", err)
		}
	}
	return true, nil
}
