package discovery

import (
	"context"
	"fmt"
	"net/url"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/ent/discoverydb"
	"github.com/mediamesh/mediamesh/ent/discoverydb/asset"
	"github.com/mediamesh/mediamesh/gen/events/mediaevents"
)

// maxURLLength is the longest URL the contract lets the read model show (cover_url, media_url and
// thumbnail_url declare maxLength 2048), which is also the limit of the asset table's columns.
const maxURLLength = 2048

// thumbnailSizes are the sizes of an asset's thumbnails, in the order the read model prefers
// them as the thumbnail to show.
var thumbnailSizes = []string{"medium", "small", "large"}

// assetUpdated applies asset.updated: the asset's visibility and URLs, unless the stored version
// is at least as new. Every asset is stored, referenced by content or not (yet): the content
// event that references it may come later, from another topic.
func (p *projection) assetUpdated(ctx context.Context, e *mediaevents.AssetUpdated) error {
	id, err := uuid.Parse(e.AggregateID)
	if err != nil {
		return fmt.Errorf("asset id %q: %w", e.AggregateID, err)
	}
	original := p.showableURL(ctx, id, "public_url", e.PublicURL)
	thumbnail := p.thumbnailURL(ctx, id, e, original)
	old, err := p.c.Asset.Get(ctx, id)
	switch {
	case discoverydb.IsNotFound(err):
		err = p.c.Asset.Create().SetID(id).SetPublic(e.Public).
			SetNillableURL(original).SetNillableThumbnailURL(thumbnail).SetVersion(e.Version).Exec(ctx)
	case err != nil:
	case e.Version <= old.Version:
		p.log.DebugContext(ctx, "asset event ignored", "id", id, "version", e.Version, "stored", old.Version)
		return nil
	default:
		if old.Public && !e.Public {
			p.changed.takedown = true // what showed it must not be served again, even stale
		}
		u := p.c.Asset.UpdateOneID(id).SetPublic(e.Public).SetVersion(e.Version)
		if original != nil {
			u.SetURL(*original)
		} else {
			u.ClearURL()
		}
		if thumbnail != nil {
			u.SetThumbnailURL(*thumbnail)
		} else {
			u.ClearThumbnailURL()
		}
		err = u.Exec(ctx)
	}
	if err != nil {
		return fmt.Errorf("store asset %s: %w", id, err)
	}
	return nil
}

// assetDeleted applies asset.deleted: the asset's URLs are no longer shown. Content keeps its
// asset ids (the CMS clears them with content.updated events of its own).
func (p *projection) assetDeleted(ctx context.Context, aggregateID string) error {
	id, err := uuid.Parse(aggregateID)
	if err != nil {
		return fmt.Errorf("asset id %q: %w", aggregateID, err)
	}
	if err := p.c.Asset.DeleteOneID(id).Exec(ctx); err != nil && !discoverydb.IsNotFound(err) {
		return fmt.Errorf("delete asset %s: %w", id, err)
	}
	return nil
}

// thumbnailURL picks the URL to show as the thumbnail of the asset of e: its medium thumbnail,
// else its small one, else its large one, else the original (the showable original URL) of an
// image. Readers map an asset kind they do not know to image, as the event's schema asks.
func (p *projection) thumbnailURL(ctx context.Context, id uuid.UUID, e *mediaevents.AssetUpdated, original *string) *string {
	for _, size := range thumbnailSizes {
		if u, ok := e.Thumbnails[size]; ok {
			if shown := p.showableURL(ctx, id, "thumbnails."+size, &u); shown != nil {
				return shown
			}
		}
	}
	switch e.Kind {
	case mediaevents.AssetKindVideo, mediaevents.AssetKindAudio:
		return nil
	}
	return original
}

// showableURL returns u when the contract lets the read model show it (an absolute URL of at most
// maxURLLength characters), else nil; a URL it cannot show is logged and left out rather than
// failing the event, whose other URLs stay useful.
func (p *projection) showableURL(ctx context.Context, id uuid.UUID, field string, u *string) *string {
	if u == nil || *u == "" {
		return nil
	}
	parsed, err := url.Parse(*u)
	if err != nil || !parsed.IsAbs() || utf8.RuneCountInString(*u) > maxURLLength {
		p.log.WarnContext(ctx, "asset URL left out: not an absolute URL of at most 2048 characters", "id", id, "field", field)
		return nil
	}
	return u
}

// assets returns the stored assets of ids (nil ids are skipped), in one query whatever their
// number; an unknown id has no entry.
func (s *Service) assets(ctx context.Context, ids ...*uuid.UUID) (map[uuid.UUID]*discoverydb.Asset, error) {
	seen := make(map[uuid.UUID]bool, len(ids))
	want := make([]uuid.UUID, 0, len(ids))
	for _, id := range ids {
		if id != nil && !seen[*id] {
			seen[*id] = true
			want = append(want, *id)
		}
	}
	out := make(map[uuid.UUID]*discoverydb.Asset, len(want))
	if len(want) == 0 {
		return out, nil
	}
	rows, err := s.read.Asset.Query().Where(asset.IDIn(want...)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("read assets: %w", err)
	}
	for _, a := range rows {
		out[a.ID] = a
	}
	return out, nil
}

// episodeAssets returns the stored thumbnail and media assets of rows, in one query.
func (s *Service) episodeAssets(ctx context.Context, rows []*discoverydb.Episode) (map[uuid.UUID]*discoverydb.Asset, error) {
	ids := make([]*uuid.UUID, 0, 2*len(rows))
	for _, r := range rows {
		ids = append(ids, r.ThumbnailAssetID, r.MediaAssetID)
	}
	return s.assets(ctx, ids...)
}

// assetURL returns the URL of the asset id of assets that may be shown: its original, or its
// thumbnail when thumbnail is set. It is nil without an asset id, for an asset the read model
// does not hold (never announced or deleted), for one that is not public, and for one without
// that URL.
func assetURL(assets map[uuid.UUID]*discoverydb.Asset, id *uuid.UUID, thumbnail bool) *string {
	if id == nil {
		return nil
	}
	a, ok := assets[*id]
	if !ok || !a.Public {
		return nil
	}
	if thumbnail {
		return a.ThumbnailURL
	}
	return a.URL
}
