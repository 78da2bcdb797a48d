package media

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/ent/mediadb"
	"github.com/mediamesh/mediamesh/ent/mediadb/asset"
	"github.com/mediamesh/mediamesh/gen/openapi/mediaapi"
	"github.com/mediamesh/mediamesh/internal/apierror"
	"github.com/mediamesh/mediamesh/internal/cursor"
	"github.com/mediamesh/mediamesh/internal/etag"
	"github.com/mediamesh/mediamesh/internal/humantext"
)

// errStale is a compare-and-swap that lost: the asset changed since it was read.
var errStale = errors.New("media: the asset changed concurrently")

func noAsset() error { return apierror.NotFound("no asset with this id") }

// tag is the ETag of a.
func tag(a *mediadb.Asset) string { return etag.Version(int64(a.Version)) }

// publicURL is the CDN URL of key.
func (s *Service) publicURL(key string) string {
	parts := strings.Split(key, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return s.cfg.PublicBaseURL + "/" + strings.Join(parts, "/")
}

// deliverable reports whether anyone may be shown the URLs of a: it is public and ready.
func deliverable(a *mediadb.Asset) bool {
	return a.Visibility == asset.VisibilityPublic && a.Status == asset.StatusReady
}

// toAsset renders a for the API: URLs only for public, ready assets.
func (s *Service) toAsset(a *mediadb.Asset) mediaapi.Asset {
	public := deliverable(a)
	out := mediaapi.Asset{
		Id: a.ID, Kind: mediaapi.AssetKind(a.Kind), ContentType: a.ContentType, Filename: a.Filename,
		SizeBytes: a.SizeBytes, ChecksumSha256: a.ChecksumSha256, StorageKey: a.StorageKey,
		Visibility: mediaapi.Visibility(a.Visibility), Status: mediaapi.AssetStatus(a.Status),
		FailureReason: a.FailureReason, Width: a.Width, Height: a.Height, AltText: a.AltText,
		Thumbnails: []mediaapi.Thumbnail{}, Version: a.Version, CreatedBy: a.CreatedBy,
		CreatedAt: a.CreatedAt.UTC(), UpdatedAt: a.UpdatedAt.UTC(),
	}
	if public {
		u := s.publicURL(a.StorageKey)
		out.PublicUrl = &u
	}
	if a.AttachedID != nil && a.AttachedType != nil {
		out.AttachedTo = &mediaapi.AssetAttachment{ContentType: mediaapi.AttachmentContentType(*a.AttachedType), ContentId: *a.AttachedID}
	}
	for _, t := range a.Thumbnails {
		th := mediaapi.Thumbnail{Size: mediaapi.ThumbnailSize(t.Size), Width: int32(t.Width), Height: int32(t.Height), StorageKey: t.StorageKey}
		if public {
			u := s.publicURL(t.StorageKey)
			th.Url = &u
		}
		out.Thumbnails = append(out.Thumbnails, th)
	}
	return out
}

// assetCursor is the position after an asset in the list, newest first.
type assetCursor struct {
	CreatedAt *time.Time `json:"created_at"`
	ID        *uuid.UUID `json:"id"`
}

func badCursor() error {
	const msg = "not a cursor from this list; pass page.next_cursor unchanged"
	return apierror.BadRequest("query.cursor: "+msg, apierror.FieldError{Field: "query.cursor", Message: msg, Code: "invalid"})
}

// ListAssets implements mediaapi.StrictServerInterface: assets newest first, filtered.
func (s *Service) ListAssets(ctx context.Context, req mediaapi.ListAssetsRequestObject) (mediaapi.ListAssetsResponseObject, error) {
	p := req.Params
	limit := 20
	if p.Limit != nil {
		limit = int(*p.Limit)
	}
	q := s.read.Asset.Query()
	if p.Kind != nil {
		q = q.Where(asset.KindEQ(asset.Kind(*p.Kind)))
	}
	if p.Status != nil {
		q = q.Where(asset.StatusEQ(asset.Status(*p.Status)))
	}
	if p.Visibility != nil {
		q = q.Where(asset.VisibilityEQ(asset.Visibility(*p.Visibility)))
	}
	if p.ContentId != nil {
		q = q.Where(asset.AttachedIDEQ(*p.ContentId))
	}
	if p.Cursor != nil {
		var c assetCursor
		if err := cursor.Decode(*p.Cursor, &c); err != nil || c.CreatedAt == nil || c.ID == nil {
			return nil, badCursor()
		}
		q = q.Where(asset.Or(asset.CreatedAtLT(*c.CreatedAt), asset.And(asset.CreatedAtEQ(*c.CreatedAt), asset.IDLT(*c.ID))))
	}
	rows, err := q.Order(mediadb.Desc(asset.FieldCreatedAt), mediadb.Desc(asset.FieldID)).Limit(limit + 1).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("media: list assets: %w", err)
	}
	page := mediaapi.ListAssets200JSONResponse{Items: []mediaapi.Asset{}}
	for _, a := range rows[:min(limit, len(rows))] {
		page.Items = append(page.Items, s.toAsset(a))
	}
	if len(rows) > limit {
		last := rows[limit-1]
		next := cursor.Encode(assetCursor{CreatedAt: &last.CreatedAt, ID: &last.ID})
		page.Page.NextCursor, page.Page.HasMore = &next, true
	}
	return page, nil
}

// GetAsset implements mediaapi.StrictServerInterface.
func (s *Service) GetAsset(ctx context.Context, req mediaapi.GetAssetRequestObject) (mediaapi.GetAssetResponseObject, error) {
	a, err := s.read.Asset.Get(ctx, req.AssetId)
	if mediadb.IsNotFound(err) {
		return nil, noAsset()
	}
	if err != nil {
		return nil, fmt.Errorf("media: read an asset: %w", err)
	}
	return mediaapi.GetAsset200JSONResponse{Body: s.toAsset(a), Headers: mediaapi.GetAsset200ResponseHeaders{ETag: tag(a)}}, nil
}

// current reads asset id for a change in a transaction: 404 when it does not exist, 412 when an
// If-Match header does not match it.
func current(ctx context.Context, c *mediadb.Client, id uuid.UUID, ifMatch *string) (*mediadb.Asset, error) {
	a, err := c.Asset.Get(ctx, id)
	if mediadb.IsNotFound(err) {
		return nil, noAsset()
	}
	if err != nil {
		return nil, fmt.Errorf("media: read an asset: %w", err)
	}
	if ifMatch != nil && !etag.Match(*ifMatch, tag(a)) {
		return nil, apierror.PreconditionFailed("current ETag is " + tag(a))
	}
	return a, nil
}

// UpdateAsset implements mediaapi.StrictServerInterface: a merge patch of alt text, visibility and
// attachment, as a compare-and-swap on the version. Every update of a ready asset writes its
// asset.updated event in the same transaction (the delivery may have changed; consumers compare
// versions).
//
// A change of visibility moves the asset's objects to the other visibility's key prefix (see
// layout.go), so public_url follows and only public bytes stay readable without a signature. The
// order never loses an object nor leaves the row naming a key that holds none: the row is updated
// first (the compare-and-swap also locks it until the commit, so no concurrent change of the same
// asset can move its objects meanwhile), then the objects are copied to their new keys inside the
// transaction (a failed copy rolls it back, and the copies made so far are deleted), the
// transaction commits, and only then are the old keys deleted. A failure after a copy leaves at
// worst an orphan object, which is logged with its key.
func (s *Service) UpdateAsset(ctx context.Context, req mediaapi.UpdateAssetRequestObject) (mediaapi.UpdateAssetResponseObject, error) {
	b := req.Body
	if b.AltText == nil && b.Visibility == nil && !b.AttachedTo.IsSpecified() {
		const msg = "send at least one of alt_text, visibility, attached_to"
		return nil, apierror.Validation(msg, apierror.FieldError{Field: "body", Message: msg, Code: "minProperties"})
	}
	if b.AltText != nil {
		if err := checkText("alt_text", *b.AltText); err != nil {
			return nil, err
		}
	}
	if b.Visibility != nil && *b.Visibility != mediaapi.Public && *b.Visibility != mediaapi.Private {
		const msg = "must be public or private"
		return nil, apierror.Validation("visibility: "+msg, apierror.FieldError{Field: "visibility", Message: msg, Code: "enum"})
	}
	var (
		out       *mediadb.Asset
		moved     move
		committed bool // the transaction's function succeeded: an error after it is the commit's
	)
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		moved, committed = nil, false
		c := s.txClient(tx)
		cur, err := current(ctx, c, req.AssetId, req.Params.IfMatch)
		if err != nil {
			return err
		}
		u := c.Asset.UpdateOneID(cur.ID).Where(asset.Version(cur.Version)).AddVersion(1).SetUpdatedAt(s.clock())
		if b.AltText != nil {
			u.SetAltText(*b.AltText)
		}
		var m move
		if b.Visibility != nil {
			v := asset.Visibility(*b.Visibility)
			key, thumbs, mv := relocation(cur, v)
			u.SetVisibility(v).SetStorageKey(key).SetThumbnails(thumbs)
			m = mv
		}
		if b.AttachedTo.IsSpecified() {
			u.ClearAttachPending() // an upload session's attach_as was about the attachment it replaces
			if b.AttachedTo.IsNull() {
				u.ClearAttachedType().ClearAttachedID()
			} else {
				at := b.AttachedTo.MustGet()
				u.SetAttachedType(asset.AttachedType(at.ContentType)).SetAttachedID(at.ContentId).ClearOrphanedAt()
			}
		}
		out, err = u.Save(ctx)
		if mediadb.IsNotFound(err) {
			return errStale
		}
		if err != nil {
			return err
		}
		if err := s.copyObjects(ctx, cur.ID, m); err != nil {
			return err
		}
		moved = m
		if err := s.assetUpdated(ctx, tx, out); err != nil {
			s.undoCopies(ctx, cur.ID, m)
			return err
		}
		committed = true
		return nil
	})
	if err != nil && committed {
		// The commit failed, or its outcome is unknown: the row may name the old keys or the new
		// ones, so both stay; the ones it does not name are orphans.
		for _, mv := range moved {
			s.log.ErrorContext(ctx, "a visibility change failed to commit after copying: one of these keys is an orphan object",
				"asset_id", req.AssetId, "old_key", mv[0], "new_key", mv[1], "error", err)
		}
	}
	if errors.Is(err, errStale) {
		return nil, apierror.PreconditionFailed("the asset changed while it was being updated; read it again")
	}
	if err != nil {
		return nil, storeError("update an asset", err)
	}
	s.dropOld(ctx, out.ID, moved)
	return mediaapi.UpdateAsset200JSONResponse{Body: s.toAsset(out), Headers: mediaapi.UpdateAsset200ResponseHeaders{ETag: tag(out)}}, nil
}

// DeleteAsset implements mediaapi.StrictServerInterface: the row and its asset.deleted event in
// one transaction, then the bytes.
func (s *Service) DeleteAsset(ctx context.Context, req mediaapi.DeleteAssetRequestObject) (mediaapi.DeleteAssetResponseObject, error) {
	var gone *mediadb.Asset
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		c := s.txClient(tx)
		cur, err := current(ctx, c, req.AssetId, req.Params.IfMatch)
		if err != nil {
			return err
		}
		gone = cur
		return s.deleteRow(ctx, c, tx, cur, reasonDeleted)
	})
	if errors.Is(err, errStale) {
		return nil, apierror.PreconditionFailed("the asset changed while it was being deleted; read it again")
	}
	if err != nil {
		return nil, storeError("delete an asset", err)
	}
	s.deleteObjects(ctx, gone)
	return mediaapi.DeleteAsset204Response{}, nil
}

// deleteRow deletes cur if it is still the stored version, with its asset.deleted event.
func (s *Service) deleteRow(ctx context.Context, c *mediadb.Client, tx *sql.Tx, cur *mediadb.Asset, reason string) error {
	n, err := c.Asset.Delete().Where(asset.ID(cur.ID), asset.Version(cur.Version)).Exec(ctx)
	if err != nil {
		return err
	}
	if n == 0 {
		return errStale
	}
	// A pending upload's URL stays usable until it expires: the object it may still receive is
	// deleted by the cleanup once it has.
	if cur.Status == asset.StatusPending && cur.UploadExpiresAt != nil && cur.UploadExpiresAt.After(s.clock()) {
		for _, k := range stagingKeys(cur.ID) {
			if err := c.UploadTombstone.Create().SetStorageKey(k).SetDeleteAfter(cur.UploadExpiresAt.Add(time.Minute)).Exec(ctx); err != nil {
				return err
			}
		}
	}
	return s.assetDeleted(ctx, tx, cur, reason)
}

// deleteObjects removes the bytes of a deleted asset: the original and its thumbnails. A failure is
// logged: the row is gone, so nothing refers to the bytes any more.
func (s *Service) deleteObjects(ctx context.Context, a *mediadb.Asset) {
	keys := []string{a.StorageKey}
	for _, t := range a.Thumbnails {
		keys = append(keys, t.StorageKey)
	}
	if a.Status == asset.StatusPending {
		// A completion that lost its compare-and-swap to a change of visibility may have left the
		// bytes under the other layout (see takeUpload).
		keys = append(append(keys, stagingKeys(a.ID)...), otherLayouts(a.StorageKey)...)
	}
	for _, k := range keys {
		if err := s.store.Delete(context.WithoutCancel(ctx), k); err != nil {
			s.log.WarnContext(ctx, "could not delete the bytes of a deleted asset", "asset_id", a.ID, "key", k, "error", err)
		}
	}
}

// GetAssetUrl implements mediaapi.StrictServerInterface: the CDN URL of a public asset, or a signed
// URL of a private one.
func (s *Service) GetAssetUrl(ctx context.Context, req mediaapi.GetAssetUrlRequestObject) (mediaapi.GetAssetUrlResponseObject, error) {
	a, err := s.read.Asset.Get(ctx, req.AssetId)
	if mediadb.IsNotFound(err) {
		return nil, noAsset()
	}
	if err != nil {
		return nil, fmt.Errorf("media: read an asset: %w", err)
	}
	if a.Status != asset.StatusReady {
		return nil, apierror.Conflict(fmt.Sprintf("the asset is %s, not ready", a.Status))
	}
	key := a.StorageKey
	if req.Params.Thumbnail != nil {
		key = ""
		for _, t := range a.Thumbnails {
			if t.Size == string(*req.Params.Thumbnail) {
				key = t.StorageKey
			}
		}
		if key == "" {
			return nil, apierror.NotFound(fmt.Sprintf("the asset has no %s thumbnail", *req.Params.Thumbnail))
		}
	}
	if a.Visibility == asset.VisibilityPublic {
		return mediaapi.GetAssetUrl200JSONResponse{Url: s.publicURL(key)}, nil
	}
	ttl := time.Hour
	if req.Params.TtlSeconds != nil {
		ttl = time.Duration(*req.Params.TtlSeconds) * time.Second
	}
	signed, err := s.store.PresignGet(ctx, key, ttl)
	if err != nil {
		return nil, fmt.Errorf("media: sign a URL: %w", err)
	}
	exp := s.now().Add(ttl).UTC().Truncate(time.Second)
	return mediaapi.GetAssetUrl200JSONResponse{Url: signed, ExpiresAt: &exp}, nil
}

// extension is the file extension of an allowed content type.
func extension(ct string) string {
	switch ct {
	case "image/jpeg":
		return ".jpg"
	case "image/png":
		return ".png"
	case "image/webp":
		return ".webp"
	case "image/gif":
		return ".gif"
	case "image/avif":
		return ".avif"
	case "video/mp4":
		return ".mp4"
	case "video/webm":
		return ".webm"
	case "video/quicktime":
		return ".mov"
	case "audio/mpeg":
		return ".mp3"
	case "audio/mp4":
		return ".m4a"
	case "audio/aac":
		return ".aac"
	case "audio/ogg":
		return ".ogg"
	case "audio/wav":
		return ".wav"
	case "audio/flac":
		return ".flac"
	}
	return ""
}

// checkText applies the one rule for human text to multi-line text such as alt text
// (internal/humantext, the contract's HumanTextBlock): no control characters other than tab, line
// feed and carriage return, and, when not empty, something visible.
func checkText(field, v string) error {
	if p := humantext.Check(field, v, humantext.Block); p != nil {
		return apierror.Validation(field+": "+p.Message, *p)
	}
	return nil
}

// PublicKey reports whether key holds bytes of a public, ready asset (its original or one of its
// thumbnails, under the public prefix or the unprefixed layout of before): the local store serves
// those without a signature. Keys under the private prefix never are.
func (s *Service) PublicKey(ctx context.Context, key string) bool {
	if strings.HasPrefix(key, PrivatePrefix) {
		return false
	}
	parts := strings.Split(strings.TrimPrefix(key, PublicPrefix), "/")
	if len(parts) != 3 || parts[0] != "assets" {
		return false
	}
	id, err := uuid.Parse(parts[1])
	if err != nil {
		return false
	}
	a, err := s.read.Asset.Get(ctx, id)
	if err != nil || !deliverable(a) {
		return false
	}
	if a.StorageKey == key {
		return true
	}
	for _, t := range a.Thumbnails {
		if t.StorageKey == key {
			return true
		}
	}
	return false
}
