package media

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"path"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/ent/mediadb"
	"github.com/mediamesh/mediamesh/ent/mediadb/asset"
	"github.com/mediamesh/mediamesh/gen/openapi/mediaapi"
	"github.com/mediamesh/mediamesh/internal/apierror"
	"github.com/mediamesh/mediamesh/internal/authn"
	"github.com/mediamesh/mediamesh/internal/objectstore"
	"github.com/mediamesh/mediamesh/services/media/mediatype"
	"github.com/mediamesh/mediamesh/services/media/thumbnail"
)

// headLen is how much of a file is kept to sniff its type and read its dimensions: image headers
// (with EXIF) fit in it.
const headLen = 64 << 10

// creator is the id of the caller, who becomes created_by.
func creator(ctx context.Context) (uuid.UUID, error) {
	if p, ok := authn.FromContext(ctx); ok {
		if id, err := uuid.Parse(p.Subject); err == nil {
			return id, nil
		}
	}
	return uuid.Nil, apierror.Unauthorized("the access token names no user")
}

// thumbnailable reports whether thumbnails can be made of a content type.
func thumbnailable(ct string) bool {
	switch ct {
	case "image/jpeg", "image/png", "image/gif", "image/webp":
		return true
	}
	return false
}

// cleanFilename is the base name of a client's file name, or a name from the id and type when it
// has none.
func cleanFilename(name string, id uuid.UUID, ct string) string {
	name = strings.TrimSpace(path.Base(strings.ReplaceAll(name, `\`, "/")))
	if name == "." || name == "/" || name == "" || !utf8.ValidString(name) || strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return id.String() + extension(ct)
	}
	if utf8.RuneCountInString(name) > 255 {
		name = string([]rune(name)[:255])
	}
	return name
}

// upload is what a multipart upload carried.
type upload struct {
	data                []byte
	filename            string
	visibility, altText *string
	attachType          *string
	attachID            *uuid.UUID
	attachAs            *string // cover, thumbnail, media: the CMS field to set (attach.go)
}

func fieldError(field, msg, code string) error {
	return apierror.Validation(field+": "+msg, apierror.FieldError{Field: field, Message: msg, Code: code})
}

// readUpload reads the parts of a multipart upload; the file is kept in memory (at most
// MaxDirectUpload bytes).
func (s *Service) readUpload(r *multipart.Reader) (*upload, error) {
	var u upload
	seen := false
	for {
		p, err := r.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, apierror.BadRequest("the multipart body is malformed: " + err.Error())
		}
		name := p.FormName()
		if name == "file" {
			u.data, err = io.ReadAll(io.LimitReader(p, s.cfg.MaxDirectUpload+1))
			if err != nil {
				return nil, apierror.BadRequest("could not read the file part: " + err.Error())
			}
			if int64(len(u.data)) > s.cfg.MaxDirectUpload {
				return nil, apierror.PayloadTooLarge(fmt.Sprintf("uploads through this endpoint are limited to %d bytes; use POST /api/v1/media/uploads", s.cfg.MaxDirectUpload))
			}
			u.filename, seen = p.FileName(), true
			continue
		}
		v, err := io.ReadAll(io.LimitReader(p, 4<<10))
		if err != nil {
			return nil, apierror.BadRequest("could not read the part " + name)
		}
		val := string(v)
		switch name {
		case "visibility":
			u.visibility = &val
		case "alt_text":
			u.altText = &val
		case "attach_content_type":
			u.attachType = &val
		case "attach_content_id":
			id, err := uuid.Parse(val)
			if err != nil {
				return nil, fieldError("attach_content_id", "must be a UUID", "format")
			}
			u.attachID = &id
		case "attach_as":
			u.attachAs = &val
		default:
			return nil, fieldError(name, "is not a field of an upload", "additionalProperties")
		}
	}
	if !seen {
		return nil, fieldError("file", "is required", "required")
	}
	if u.visibility != nil && *u.visibility != string(asset.VisibilityPublic) && *u.visibility != string(asset.VisibilityPrivate) {
		return nil, fieldError("visibility", "must be public or private", "enum")
	}
	if u.attachType != nil && *u.attachType != string(asset.AttachedTypeProgram) && *u.attachType != string(asset.AttachedTypeEpisode) {
		return nil, fieldError("attach_content_type", "must be program or episode", "enum")
	}
	if (u.attachType == nil) != (u.attachID == nil) {
		return nil, fieldError("attach_content_id", "attach_content_type and attach_content_id go together", "dependentRequired")
	}
	if u.altText != nil {
		if utf8.RuneCountInString(*u.altText) > 500 {
			return nil, fieldError("alt_text", "must be at most 500 characters", "maxLength")
		}
		if err := checkText("alt_text", *u.altText); err != nil {
			return nil, err
		}
	}
	return &u, nil
}

// UploadAsset implements mediaapi.StrictServerInterface: a small file in one request, typed by its
// bytes, stored, and recorded `ready` with its asset.updated event in one transaction. When the
// transaction fails the stored bytes are deleted again. With attach_as the content is checked with
// the CMS before anything is stored and its field set after the commit; when that fails the asset
// is deleted again (attach.go).
func (s *Service) UploadAsset(ctx context.Context, req mediaapi.UploadAssetRequestObject) (mediaapi.UploadAssetResponseObject, error) {
	by, err := creator(ctx)
	if err != nil {
		return nil, err
	}
	if req.Body == nil {
		return nil, apierror.UnsupportedMediaType("the body must be multipart/form-data")
	}
	u, err := s.readUpload(req.Body)
	if err != nil {
		return nil, err
	}
	place, err := placementOf(u)
	if err != nil {
		return nil, err
	}
	ct, kind, ok := mediatype.Sniff(u.data[:min(len(u.data), mediatype.SniffLen)])
	if !ok {
		return nil, apierror.UnsupportedMediaType("the file is not an image, video or audio file of a supported type (JPEG, PNG, WebP, GIF, AVIF, MP4, WebM, QuickTime, MP3, M4A, AAC, Ogg, WAV, FLAC)",
			apierror.FieldError{Field: "file", Message: "unsupported content type", Code: "content_type"})
	}
	if place != nil {
		if err := place.checkKind(asset.Kind(kind)); err != nil {
			return nil, err
		}
		if err := s.checkContent(ctx, *place); err != nil {
			return nil, err
		}
	}
	id := uuid.Must(uuid.NewV7())
	sum := sha256.Sum256(u.data)
	visibility := asset.VisibilityPrivate
	if u.visibility != nil {
		visibility = asset.Visibility(*u.visibility)
	}
	key := storageKey(id, ct, visibility)
	width, height, thumbs := imageFacts(asset.Kind(kind), ct, u.data)
	now := s.clock()
	if err := s.store.Put(ctx, key, bytes.NewReader(u.data), int64(len(u.data)), ct); err != nil {
		return nil, fmt.Errorf("media: store the upload: %w", err)
	}
	var out *mediadb.Asset
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		c := s.txClient(tx).Asset.Create().
			SetID(id).SetKind(asset.Kind(kind)).SetContentType(ct).SetFilename(cleanFilename(u.filename, id, ct)).
			SetSizeBytes(int64(len(u.data))).SetChecksumSha256(hex.EncodeToString(sum[:])).SetStorageKey(key).
			SetVisibility(visibility).SetStatus(asset.StatusReady).SetThumbnailState(thumbs).
			SetNillableWidth(width).SetNillableHeight(height).
			SetThumbnails(nil).SetVersion(1).SetCreatedBy(by).SetCreatedAt(now).SetUpdatedAt(now).
			SetNillableAltText(u.altText)
		if u.attachID != nil {
			c.SetAttachedType(asset.AttachedType(*u.attachType)).SetAttachedID(*u.attachID)
		}
		var err error
		out, err = c.Save(ctx)
		return s.saved(ctx, tx, out, err)
	})
	if err != nil {
		if derr := s.store.Delete(context.WithoutCancel(ctx), key); derr != nil {
			s.log.WarnContext(ctx, "could not delete the bytes of a failed upload", "key", key, "error", derr)
		}
		return nil, storeError("record an upload", err)
	}
	s.kick()
	if place != nil {
		if err := s.place(ctx, *place, out.ID); err != nil {
			s.withdraw(ctx, out.ID)
			return nil, err
		}
	}
	return mediaapi.UploadAsset201JSONResponse{Body: s.toAsset(out), Headers: mediaapi.UploadAsset201ResponseHeaders{ETag: tag(out), Location: "/api/v1/media/assets/" + out.ID.String()}}, nil
}

// CreateUploadSession implements mediaapi.StrictServerInterface: a pending asset and a pre-signed
// URL to PUT its bytes straight to the store.
func (s *Service) CreateUploadSession(ctx context.Context, req mediaapi.CreateUploadSessionRequestObject) (mediaapi.CreateUploadSessionResponseObject, error) {
	by, err := creator(ctx)
	if err != nil {
		return nil, err
	}
	b := req.Body
	ct := string(b.ContentType)
	kind, ok := mediatype.Allowed(ct)
	if !ok {
		return nil, fieldError("content_type", "is not a supported media type", "enum")
	}
	if b.SizeBytes > s.cfg.MaxUpload {
		return nil, fieldError("size_bytes", fmt.Sprintf("must be at most %d", s.cfg.MaxUpload), "maximum")
	}
	if b.AltText != nil {
		if err := checkText("alt_text", *b.AltText); err != nil {
			return nil, err
		}
	}
	place, err := sessionPlacement(b)
	if err != nil {
		return nil, err
	}
	if place != nil {
		if err := place.checkKind(asset.Kind(kind)); err != nil {
			return nil, err
		}
		if err := s.checkContent(ctx, *place); err != nil {
			return nil, err
		}
	}
	id := uuid.Must(uuid.NewV7())
	visibility := asset.VisibilityPrivate
	if b.Visibility != nil {
		visibility = asset.Visibility(*b.Visibility)
	}
	key := storageKey(id, ct, visibility)
	now := s.clock()
	expires := now.Add(s.cfg.UploadSessionTTL)
	uploadURL, headers, err := s.store.PresignPut(ctx, stagingKey(id), ct, s.cfg.UploadSessionTTL)
	if err != nil {
		return nil, fmt.Errorf("media: sign an upload URL: %w", err)
	}
	c := s.read.Asset.Create().
		SetID(id).SetKind(asset.Kind(kind)).SetContentType(ct).SetFilename(cleanFilename(b.Filename, id, ct)).
		SetSizeBytes(b.SizeBytes).SetChecksumSha256(string(b.ChecksumSha256)).SetStorageKey(key).
		SetVisibility(visibility).SetStatus(asset.StatusPending).SetThumbnailState(asset.ThumbnailStateNone).
		SetThumbnails(nil).SetUploadExpiresAt(expires).SetVersion(1).SetCreatedBy(by).SetCreatedAt(now).SetUpdatedAt(now).
		SetNillableAltText(b.AltText)
	if b.AttachedTo != nil {
		c.SetAttachedType(asset.AttachedType(b.AttachedTo.ContentType)).SetAttachedID(b.AttachedTo.ContentId)
	}
	if place != nil {
		c.SetAttachPending(asset.AttachPending(place.role))
	}
	if _, err := c.Save(ctx); err != nil {
		return nil, storeError("open an upload session", err)
	}
	return mediaapi.CreateUploadSession201JSONResponse{
		Body:    mediaapi.UploadSession{AssetId: id, UploadUrl: uploadURL, Method: mediaapi.PUT, Headers: headers, ExpiresAt: expires},
		Headers: mediaapi.CreateUploadSession201ResponseHeaders{Location: "/api/v1/media/assets/" + id.String()},
	}, nil
}

// CompleteUpload implements mediaapi.StrictServerInterface: checks the uploaded object's size,
// SHA-256 and type against the declaration and makes the asset ready, with its asset.updated event
// in the same transaction, or failed (no event: a failed asset has no delivery).
//
// The bytes are checked under the private prefix, where nothing is readable without a signature:
// takeUpload moves them from the staging key to the asset's key in the private layout (checkKey),
// which no pre-signed URL reaches. A private asset stays there. A public one is copied to its key
// under the public prefix only once checked, in the order of a change of visibility: the row is
// made ready (which holds it until the commit), the checked object is copied inside the
// transaction (a failed copy rolls it back), and the private copy is deleted after the commit.
func (s *Service) CompleteUpload(ctx context.Context, req mediaapi.CompleteUploadRequestObject) (mediaapi.CompleteUploadResponseObject, error) {
	a, err := current(ctx, s.read, req.AssetId, req.Params.IfMatch)
	if err != nil {
		return nil, err
	}
	switch {
	case a.Status == asset.StatusReady:
		if err := s.settle(ctx, a); err != nil {
			return nil, err
		}
		return mediaapi.CompleteUpload200JSONResponse{Body: s.toAsset(a), Headers: mediaapi.CompleteUpload200ResponseHeaders{ETag: tag(a)}}, nil
	case a.Status == asset.StatusFailed:
		return nil, apierror.Conflict("the upload failed: " + deref(a.FailureReason))
	case a.UploadExpiresAt != nil && s.now().After(*a.UploadExpiresAt):
		return nil, apierror.Conflict("the upload session expired; open a new one")
	}
	checked := checkKey(a)
	if err := s.takeUpload(ctx, a, checked); err != nil {
		return nil, err
	}
	info, err := s.store.Stat(ctx, checked)
	if errors.Is(err, objectstore.ErrNotFound) {
		return nil, apierror.Conflict("nothing has been uploaded to the session's URL yet")
	}
	if err != nil {
		return nil, fmt.Errorf("media: look at the uploaded object: %w", err)
	}
	if info.Size != a.SizeBytes {
		return nil, s.fail(ctx, a, fmt.Sprintf("the uploaded object has %d bytes, not the declared %d", info.Size, a.SizeBytes))
	}
	sum, head, err := s.digest(ctx, checked)
	if err != nil {
		return nil, err
	}
	if sum != a.ChecksumSha256 {
		return nil, s.fail(ctx, a, "the uploaded object's SHA-256 does not match the declared checksum")
	}
	ct, _, ok := mediatype.Sniff(head[:min(len(head), mediatype.SniffLen)])
	if !ok || ct != a.ContentType {
		found := "of no supported type"
		if ok {
			found = ct
		}
		return nil, s.fail(ctx, a, fmt.Sprintf("the uploaded bytes are %s, not the declared %s", found, a.ContentType))
	}
	width, height, thumbs := imageFacts(a.Kind, a.ContentType, head)
	var (
		out       *mediadb.Asset
		publish   move // the checked object to copy to the public key: none for a private asset
		committed bool
	)
	if checked != a.StorageKey {
		publish = move{{checked, a.StorageKey}}
	}
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		committed = false
		var err error
		out, err = s.txClient(tx).Asset.UpdateOneID(a.ID).Where(asset.Version(a.Version), asset.StatusEQ(asset.StatusPending)).
			SetStatus(asset.StatusReady).ClearUploadExpiresAt().SetThumbnailState(thumbs).
			SetNillableWidth(width).SetNillableHeight(height).AddVersion(1).SetUpdatedAt(s.clock()).Save(ctx)
		if err := s.saved(ctx, tx, out, err); err != nil {
			return err
		}
		if publish != nil {
			// A concurrent completion may have moved other bytes onto the checked key since they
			// were checked: publish only what was checked.
			now, err := s.store.Stat(ctx, checked)
			if err != nil {
				return fmt.Errorf("media: look at the checked object: %w", err)
			}
			if now.ETag != info.ETag || now.Size != info.Size {
				return errReplaced
			}
			if err := s.copyObjects(ctx, a.ID, publish); err != nil {
				return err
			}
		}
		committed = true
		return nil
	})
	if err != nil && committed && publish != nil {
		s.log.ErrorContext(ctx, "a completion failed to commit after publishing the checked bytes: the public key may be an orphan object",
			"asset_id", a.ID, "checked_key", checked, "public_key", a.StorageKey, "error", err)
	}
	if errors.Is(err, errStale) {
		return nil, apierror.PreconditionFailed("the asset changed while the upload was being completed; read it again")
	}
	if errors.Is(err, errReplaced) {
		return nil, apierror.Conflict("the uploaded object changed while it was being checked; complete the upload again")
	}
	if err != nil {
		return nil, storeError("complete an upload", err)
	}
	s.dropOld(ctx, a.ID, publish)
	s.kick()
	if err := s.settle(ctx, out); err != nil {
		return nil, err
	}
	return mediaapi.CompleteUpload200JSONResponse{Body: s.toAsset(out), Headers: mediaapi.CompleteUpload200ResponseHeaders{ETag: tag(out)}}, nil
}

// errReplaced is an uploaded object that changed between its checks and its publication.
var errReplaced = errors.New("media: the checked object was replaced")

// checkKey is where the bytes of pending asset a are checked: its key in the private layout, which
// no pre-signed URL reaches and nothing reads without a signature.
func checkKey(a *mediadb.Asset) string { return keyFor(a.StorageKey, asset.VisibilityPrivate) }

// takeUpload moves what the session's URL received to dst (the asset's checkKey), where the checks
// read it and no pre-signed URL reaches, and leaves an upload tombstone so that anything the URL
// receives later is deleted once it has expired. Nothing at the staging key is no error here: an
// earlier completion may have moved it (the checks then find the object at dst), or nothing was
// uploaded (they find none). A completion by an earlier version, which checked the bytes at the
// asset's storage key, may have left them under another layout: they are moved to dst.
func (s *Service) takeUpload(ctx context.Context, a *mediadb.Asset, dst string) error {
	for _, src := range stagingKeys(a.ID) {
		err := s.store.Move(ctx, src, dst)
		if errors.Is(err, objectstore.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("media: take the uploaded object: %w", err)
		}
		if a.UploadExpiresAt == nil {
			return nil
		}
		err = s.read.UploadTombstone.Create().SetStorageKey(src).SetDeleteAfter(a.UploadExpiresAt.Add(time.Minute)).Exec(ctx)
		if err != nil {
			return storeError("record the upload URL's expiry", err)
		}
		return nil
	}
	switch _, err := s.store.Stat(ctx, dst); {
	case err == nil:
		return nil
	case !errors.Is(err, objectstore.ErrNotFound):
		return fmt.Errorf("media: look for the uploaded object: %w", err)
	}
	for _, k := range otherLayouts(dst) {
		err := s.store.Move(ctx, k, dst)
		if err == nil {
			return nil
		}
		if !errors.Is(err, objectstore.ErrNotFound) {
			return fmt.Errorf("media: take the uploaded object: %w", err)
		}
	}
	return nil
}

// imageFacts is what the first bytes of an original of kind and content type ct tell: an image's
// dimensions (nil when they cannot be read or exceed 65535), and whether its thumbnails are to be
// made (pending) or not (none).
func imageFacts(kind asset.Kind, ct string, head []byte) (width, height *int32, thumbs asset.ThumbnailState) {
	thumbs = asset.ThumbnailStateNone
	if kind != asset.KindImage {
		return nil, nil, thumbs
	}
	if w, h, ok := thumbnail.Dimensions(bytes.NewReader(head)); ok && w <= 65535 && h <= 65535 {
		width, height = new(int32(w)), new(int32(h))
	}
	if thumbnailable(ct) {
		thumbs = asset.ThumbnailStatePending
	}
	return width, height, thumbs
}

// digest streams the object at key: its SHA-256 in hex and its first headLen bytes.
func (s *Service) digest(ctx context.Context, key string) (string, []byte, error) {
	rc, err := s.store.Open(ctx, key)
	if err != nil {
		return "", nil, fmt.Errorf("media: read the uploaded object: %w", err)
	}
	defer rc.Close()
	h := sha256.New()
	head := &bytes.Buffer{}
	if _, err := io.Copy(h, io.TeeReader(rc, &limitedWriter{w: head, n: headLen})); err != nil {
		return "", nil, fmt.Errorf("media: read the uploaded object: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), head.Bytes(), nil
}

// fail marks pending asset a failed for reason and deletes its bytes; the answer is a 409 with
// the reason.
func (s *Service) fail(ctx context.Context, a *mediadb.Asset, reason string) error {
	_, err := s.read.Asset.Update().Where(asset.ID(a.ID), asset.Version(a.Version), asset.StatusEQ(asset.StatusPending)).
		SetStatus(asset.StatusFailed).SetFailureReason(reason).ClearUploadExpiresAt().AddVersion(1).SetUpdatedAt(s.clock()).Save(ctx)
	if err != nil {
		return storeError("record a failed upload", err)
	}
	for _, k := range []string{checkKey(a), a.StorageKey} {
		if err := s.store.Delete(context.WithoutCancel(ctx), k); err != nil {
			s.log.WarnContext(ctx, "could not delete the bytes of a failed upload", "asset_id", a.ID, "key", k, "error", err)
		}
	}
	return apierror.Conflict(reason)
}

// limitedWriter keeps the first n bytes written to it and drops the rest.
type limitedWriter struct {
	w *bytes.Buffer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if room := l.n - l.w.Len(); room > 0 {
		l.w.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
