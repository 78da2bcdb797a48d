package media

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/ent/mediadb"
	"github.com/mediamesh/mediamesh/ent/mediadb/asset"
	"github.com/mediamesh/mediamesh/gen/events/contentevents"
	"github.com/mediamesh/mediamesh/gen/events/mediaevents"
	"github.com/mediamesh/mediamesh/internal/authn"
	"github.com/mediamesh/mediamesh/internal/eventbus"
	"github.com/mediamesh/mediamesh/internal/inbox"
	"github.com/mediamesh/mediamesh/internal/outbox"
	"github.com/mediamesh/mediamesh/internal/telemetry"
)

// Reasons of asset.deleted.
const (
	reasonDeleted       = "deleted"
	reasonOrphaned      = "orphaned"
	reasonUploadExpired = "upload_expired"
	reasonContentPurged = "content_purged"
)

// saved finishes a change of an asset in tx: a compare-and-swap that matched no row is errStale;
// a saved asset gets its asset.updated event in the same transaction.
func (s *Service) saved(ctx context.Context, tx *sql.Tx, a *mediadb.Asset, err error) error {
	if mediadb.IsNotFound(err) {
		return errStale
	}
	if err != nil {
		return err
	}
	return s.assetUpdated(ctx, tx, a)
}

// assetDeleted appends the asset.deleted event of a to the outbox within tx.
func (s *Service) assetDeleted(ctx context.Context, tx *sql.Tx, a *mediadb.Asset, reason string) error {
	ev := &mediaevents.AssetDeleted{
		EventID: uuid.Must(uuid.NewV7()).String(), OccurredAt: s.clock(), AggregateID: a.ID.String(),
		TraceID: telemetry.TraceID(ctx), Reason: reason,
	}
	if p, ok := authn.FromContext(ctx); ok && p.Subject != "" {
		ev.ActorID = &p.Subject
	}
	if a.AttachedID != nil && a.AttachedType != nil {
		t, id := string(*a.AttachedType), a.AttachedID.String()
		ev.AttachedType, ev.AttachedID = &t, &id
	}
	if err := outbox.Append(ctx, tx, s.db, ev, nil); err != nil {
		return fmt.Errorf("media: asset.deleted event: %w", err)
	}
	return nil
}

// assetUpdated appends the asset.updated event of a, as the change within tx left it, to the outbox
// within tx: its delivery at its new version. Only a ready asset has a delivery, so for an asset in
// any other status nothing is written. The URLs are those toAsset shows: the CDN URLs of the
// original and of the thumbnails made so far, and only when the asset is public.
func (s *Service) assetUpdated(ctx context.Context, tx *sql.Tx, a *mediadb.Asset) error {
	if a.Status != asset.StatusReady {
		return nil
	}
	ev := &mediaevents.AssetUpdated{
		EventID: uuid.Must(uuid.NewV7()).String(), OccurredAt: a.UpdatedAt.UTC(), AggregateID: a.ID.String(),
		TraceID: telemetry.TraceID(ctx), Kind: string(a.Kind), Public: deliverable(a),
		Thumbnails: map[string]string{}, Version: int64(a.Version),
	}
	if ev.Public {
		u := s.publicURL(a.StorageKey)
		ev.PublicURL = &u
		for _, t := range a.Thumbnails {
			ev.Thumbnails[t.Size] = s.publicURL(t.StorageKey)
		}
	}
	if err := outbox.Append(ctx, tx, s.db, ev, nil); err != nil {
		return fmt.Errorf("media: asset.updated event: %w", err)
	}
	return nil
}

// Topics returns what the service consumes: content.events, for purged programs and episodes.
func (s *Service) Topics() []string { return []string{contentevents.TopicContentEvents} }

// HandleEvent applies content.deleted (hard) events: the assets attached to the purged content are
// orphaned or deleted, by the configured policy. Other events are ignored. Each event is applied
// once (the inbox records its id in the same transaction).
func (s *Service) HandleEvent(ctx context.Context, m eventbus.Message) error {
	eventType, err := eventbus.EventType(m, contentevents.EventTypeForFingerprint)
	if err != nil {
		return fmt.Errorf("media: %s message %q: %w", m.Topic, m.Key, err)
	}
	if eventType != contentevents.TypeContentDeleted {
		return nil
	}
	var e contentevents.ContentDeleted
	if err := eventbus.Decode(m.Value, e.AvroSchema(), &e); err != nil {
		return fmt.Errorf("media: content.deleted event: %w", err)
	}
	if e.Soft {
		return nil // soft-deleted content can still be restored; its assets stay attached
	}
	contentID, err := uuid.Parse(e.AggregateID)
	if err != nil {
		return fmt.Errorf("media: content.deleted event %s: aggregate_id: %w", e.EventID, err)
	}
	var deleted []*mediadb.Asset
	_, err = inbox.Apply(ctx, s.db, ConsumerGroup, e.EventID, func(tx *sql.Tx) error {
		c := s.txClient(tx)
		owned := c.Asset.Query().Where(asset.AttachedIDEQ(contentID), asset.AttachedTypeEQ(asset.AttachedType(e.AggregateType)))
		if s.cfg.OnContentPurge == OnPurgeOrphan {
			_, err := c.Asset.Update().Where(asset.AttachedIDEQ(contentID), asset.AttachedTypeEQ(asset.AttachedType(e.AggregateType))).
				ClearAttachedID().ClearAttachedType().ClearAttachPending().SetOrphanedAt(s.clock()).AddVersion(1).SetUpdatedAt(s.clock()).Save(ctx)
			return err
		}
		rows, err := owned.All(ctx)
		if err != nil {
			return err
		}
		for _, a := range rows {
			if err := s.deleteRow(ctx, c, tx, a, reasonContentPurged); err != nil {
				return err
			}
		}
		deleted = rows
		return nil
	})
	if err != nil {
		return fmt.Errorf("media: apply content.deleted %s: %w", e.EventID, err)
	}
	for _, a := range deleted {
		s.deleteObjects(ctx, a)
	}
	return nil
}
