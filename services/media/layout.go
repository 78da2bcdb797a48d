package media

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/ent/mediadb"
	"github.com/mediamesh/mediamesh/ent/mediadb/asset"
	"github.com/mediamesh/mediamesh/ent/mediadb/schema"
	"github.com/mediamesh/mediamesh/internal/objectstore"
)

// The key layout of the media store. The bytes of public assets live under PublicPrefix, those of
// private ones under PrivatePrefix: "public/assets/<id>/original.jpg", "private/assets/<id>/small.jpg".
// Only PublicPrefix may be readable without a signature (on S3 a bucket policy scoped to it, see
// objectstore.S3.SetPublicRead); private bytes are reached through signed URLs only.
//
// Before the prefixes every asset lived at "assets/<id>/...". Such keys stay valid: the asset row's
// storage_key (and each thumbnail's) is authoritative, so an asset is read where its row says.
// Run moves such assets into the layout of their visibility in the background (see
// migrateLayout), and a change of visibility (even to the same value) moves one at once.
const (
	PublicPrefix  = "public/"
	PrivatePrefix = "private/"
	legacyRoot    = "assets/"
)

// inLayout reports whether key is under the public or the private prefix.
func inLayout(key string) bool {
	return strings.HasPrefix(key, PublicPrefix) || strings.HasPrefix(key, PrivatePrefix)
}

// outOfLayout reports whether a's original or one of its thumbnails is outside the layout.
func outOfLayout(a *mediadb.Asset) bool {
	if !inLayout(a.StorageKey) {
		return true
	}
	for _, t := range a.Thumbnails {
		if !inLayout(t.StorageKey) {
			return true
		}
	}
	return false
}

// stagingKey is where an upload session's pre-signed URL puts asset id's bytes: under the private
// prefix, so nothing the URL receives is readable without a signature. Completing the upload moves
// them to the asset's key under the private prefix and checks them there (no URL reaches that key,
// so nothing written to the URL afterwards, until it expires, can reach the checked object), and
// only then, for a public asset, copies them under the public prefix.
func stagingKey(id uuid.UUID) string {
	return PrivatePrefix + path.Join("staging", id.String())
}

// legacyStagingKey is where the URLs of upload sessions opened before the staging key moved under
// the private prefix put their bytes.
func legacyStagingKey(id uuid.UUID) string {
	return path.Join("uploads", id.String())
}

// stagingKeys lists every key an upload session's URL of asset id may write to.
func stagingKeys(id uuid.UUID) []string { return []string{stagingKey(id), legacyStagingKey(id)} }

// prefixOf is the key prefix of assets of visibility v.
func prefixOf(v asset.Visibility) string {
	if v == asset.VisibilityPublic {
		return PublicPrefix
	}
	return PrivatePrefix
}

// storageKey is where the original of asset id with content type ct and visibility v is stored.
func storageKey(id uuid.UUID, ct string, v asset.Visibility) string {
	return prefixOf(v) + path.Join("assets", id.String(), "original"+extension(ct))
}

// unprefixed is key without its visibility prefix: "assets/<id>/<name>" under any layout.
func unprefixed(key string) string {
	for _, p := range []string{PublicPrefix, PrivatePrefix} {
		if rest, ok := strings.CutPrefix(key, p); ok {
			return rest
		}
	}
	return key
}

// keyFor is key (an asset's original or thumbnail, under any layout) as stored for visibility v.
func keyFor(key string, v asset.Visibility) string { return prefixOf(v) + unprefixed(key) }

// otherLayouts lists key under the layouts other than its own: the other visibility's prefix and
// the unprefixed layout of before. Only a pending asset's bytes can be there (see takeUpload).
func otherLayouts(key string) []string {
	var out []string
	for _, k := range []string{PublicPrefix + unprefixed(key), PrivatePrefix + unprefixed(key), unprefixed(key)} {
		if k != key {
			out = append(out, k)
		}
	}
	return out
}

// move is the relocation of an asset's objects to other keys (the layout of another visibility, the
// layout from the legacy keys, the public key from the checked one): each pair is (from, to).
type move [][2]string

// relocation returns the keys of a (original, then thumbnails) for visibility v, with the objects to
// copy: those not already at their key, and none unless a is ready (a pending asset's bytes are
// at its staging key, a failed one's are deleted).
func relocation(a *mediadb.Asset, v asset.Visibility) (key string, thumbs []schema.ThumbnailRecord, moves move) {
	ready := a.Status == asset.StatusReady
	key = keyFor(a.StorageKey, v)
	if ready && key != a.StorageKey {
		moves = append(moves, [2]string{a.StorageKey, key})
	}
	thumbs = make([]schema.ThumbnailRecord, len(a.Thumbnails))
	for i, t := range a.Thumbnails {
		thumbs[i] = t
		thumbs[i].StorageKey = keyFor(t.StorageKey, v)
		if ready && thumbs[i].StorageKey != t.StorageKey {
			moves = append(moves, [2]string{t.StorageKey, thumbs[i].StorageKey})
		}
	}
	return key, thumbs, moves
}

// copyObjects copies every object of m to its new key. On a failure it deletes the copies it made
// (the caller is still inside the transaction that holds the asset's row, so no one else can have
// taken those keys meanwhile) and returns the error; a copy it cannot delete is logged.
func (s *Service) copyObjects(ctx context.Context, id uuid.UUID, m move) error {
	for i, mv := range m {
		err := s.store.Copy(ctx, mv[0], mv[1])
		if err == nil {
			continue
		}
		s.undoCopies(ctx, id, m[:i])
		if errors.Is(err, objectstore.ErrNotFound) {
			return fmt.Errorf("media: the object %s of asset %s is missing from the store: %w", mv[0], id, err)
		}
		return fmt.Errorf("media: copy %s to %s: %w", mv[0], mv[1], err)
	}
	return nil
}

// undoCopies deletes the copies of m, made for a move that is being rolled back (the caller still
// holds the asset's row). A copy it cannot delete is logged: an orphan object, which,
// when it is under the public prefix, stays readable until it is deleted by hand.
func (s *Service) undoCopies(ctx context.Context, id uuid.UUID, m move) {
	for _, mv := range m {
		if err := s.store.Delete(context.WithoutCancel(ctx), mv[1]); err != nil {
			s.log.ErrorContext(ctx, "a copy made for a move of an asset's objects that failed could not be deleted: an orphan object",
				"asset_id", id, "key", mv[1], "error", err)
		}
	}
}

// dropOld deletes the objects a committed move left at their former keys. A failure leaves an
// orphan (nothing refers to it), which is logged with its key.
func (s *Service) dropOld(ctx context.Context, id uuid.UUID, m move) {
	for _, mv := range m {
		if err := s.store.Delete(context.WithoutCancel(ctx), mv[0]); err != nil {
			s.log.WarnContext(ctx, "an object left at its former key by a move of an asset's objects could not be deleted: an orphan object",
				"asset_id", id, "key", mv[0], "error", err)
		}
	}
}
