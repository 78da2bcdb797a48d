package metadata

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"slices"
	"time"

	entsql "entgo.io/ent/dialect/sql"
	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/ent/metadatadb"
	"github.com/mediamesh/mediamesh/ent/metadatadb/category"
	"github.com/mediamesh/mediamesh/ent/metadatadb/metadataversion"
	"github.com/mediamesh/mediamesh/gen/openapi/metadataapi"
	"github.com/mediamesh/mediamesh/internal/apierror"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/etag"
)

// maxWriteAttempts bounds the retries of a metadata write that lost the race for its version
// number to a concurrent write of the same content item. Every round lets at least one writer
// through, so only more than this many simultaneous writers to one item can exhaust it.
const maxWriteAttempts = 16

// noMetadata is the answer for a content item without metadata.
func noMetadata() error { return apierror.NotFound("the content item has no metadata") }

// toMetadata renders version v for the API.
func toMetadata(v *metadatadb.MetadataVersion) metadataapi.Metadata {
	c := contentOf(v)
	m := metadataapi.Metadata{
		ContentId:       v.ContentID,
		ContentType:     metadataapi.ContentType(c.ContentType),
		Version:         v.Version,
		Title:           c.Title,
		Description:     c.Description,
		CategoryId:      c.CategoryID,
		Language:        c.Language,
		DurationSeconds: c.DurationSeconds,
		Tags:            c.Tags,
		Extra:           make(metadataapi.ExtraFields, len(c.Extra)),
		UpdatedBy:       v.UpdatedBy,
		UpdatedAt:       v.UpdatedAt.UTC(),
		CreatedAt:       v.CreatedAt.UTC(),
	}
	if c.PublishDate != nil {
		t := c.PublishDate.UTC()
		m.PublishDate = &t
	}
	for i, e := range c.Extra {
		m.Extra[i] = metadataapi.ExtraField{Key: e.Key, Value: e.Value}
	}
	return m
}

// latest returns the current version of a content item, or nil when it has no metadata.
func latest(ctx context.Context, c *metadatadb.Client, contentID uuid.UUID) (*metadatadb.MetadataVersion, error) {
	v, err := c.MetadataVersion.Query().
		Where(metadataversion.ContentIDEQ(contentID)).
		Order(metadataversion.ByVersion(entsql.OrderDesc())).
		First(ctx)
	if metadatadb.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("metadata: read the current version: %w", err)
	}
	return v, nil
}

// GetMetadata implements metadataapi.StrictServerInterface: the current version.
func (s *Service) GetMetadata(ctx context.Context, req metadataapi.GetMetadataRequestObject) (metadataapi.GetMetadataResponseObject, error) {
	v, err := latest(ctx, s.read, req.ContentId)
	if err != nil {
		return nil, err
	}
	if v == nil {
		return nil, noMetadata()
	}
	tag := etag.Version(int64(v.Version))
	return metadataapi.GetMetadata200JSONResponse{Body: toMetadata(v), Headers: metadataapi.GetMetadata200ResponseHeaders{ETag: &tag}}, nil
}

// PutMetadata implements metadataapi.StrictServerInterface: it records the body as the next
// version, unless it equals the current one. Checks run in this order: If-Match (412), the fields
// (422, every invalid one), content_type against the first version (409).
func (s *Service) PutMetadata(ctx context.Context, req metadataapi.PutMetadataRequestObject) (metadataapi.PutMetadataResponseObject, error) {
	by, err := author(ctx)
	if err != nil {
		return nil, err
	}
	in, errs := s.normalize(req.Body)
	var (
		v       *metadatadb.MetadataVersion
		created bool
	)
	for attempt := 1; ; attempt++ {
		v, created, err = s.writeVersion(ctx, req.ContentId, in, errs, by, req.Params.IfMatch)
		if err == nil {
			break
		}
		if !database.IsUniqueViolation(err) {
			return nil, err
		}
		if attempt == maxWriteAttempts {
			return nil, apierror.Unavailable("too many concurrent writes to this content item's metadata; retry", time.Second)
		}
		s.log.DebugContext(ctx, "metadata version taken by a concurrent write; retrying", "content_id", req.ContentId, "attempt", attempt)
	}
	tag := etag.Version(int64(v.Version))
	if created {
		loc := "/api/v1/metadata/items/" + v.ContentID.String()
		return metadataapi.PutMetadata201JSONResponse{Body: toMetadata(v), Headers: metadataapi.PutMetadata201ResponseHeaders{ETag: &tag, Location: &loc}}, nil
	}
	return metadataapi.PutMetadata200JSONResponse{Body: toMetadata(v), Headers: metadataapi.PutMetadata200ResponseHeaders{ETag: &tag}}, nil
}

// writeVersion runs one attempt of a PUT in a transaction. It returns the version the content item
// is at afterwards and whether this attempt created version 1. A concurrent writer that took the
// same version number first makes the insert fail on the unique (content_id, version) index; the
// caller sees database.IsUniqueViolation and tries again, re-reading the current version (so an
// If-Match that was current then is now stale and gets 412).
func (s *Service) writeVersion(ctx context.Context, contentID uuid.UUID, in input, static fieldErrors, by uuid.UUID, ifMatchHeader *string) (*metadatadb.MetadataVersion, bool, error) {
	var (
		out     *metadatadb.MetadataVersion
		created bool
	)
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		c := s.txClient(tx)
		cur, err := latest(ctx, c, contentID)
		if err != nil {
			return err
		}
		if ifMatchHeader != nil {
			if cur == nil {
				return apierror.PreconditionFailed("If-Match was sent but the content item has no metadata yet")
			}
			if tag := etag.Version(int64(cur.Version)); !etag.Match(*ifMatchHeader, tag) {
				return apierror.PreconditionFailed("current version is " + tag)
			}
		}
		errs := slices.Clone(static)
		if in.CategoryID != nil {
			// Shared: a category delete (exclusive) waits for this write, and sees its reference.
			if err := s.lockTaxonomy(ctx, tx, true); err != nil {
				return err
			}
			ok, err := c.Category.Query().Where(category.IDEQ(*in.CategoryID)).Exist(ctx)
			if err != nil {
				return fmt.Errorf("metadata: look up the category: %w", err)
			}
			if !ok {
				errs.add("category_id", "unknown_reference", "unknown category")
			}
		}
		if err := errs.err(); err != nil {
			return err
		}
		next, createdAt := int32(1), in.now
		if cur != nil {
			if string(cur.ContentType) != in.ContentType {
				return apierror.Conflict(fmt.Sprintf("content_type is %s, fixed by the first version", cur.ContentType))
			}
			if len(changes(contentOf(cur), in.content)) == 0 {
				out = cur
				return nil
			}
			if cur.Version == math.MaxInt32 {
				return apierror.Conflict("the content item has reached the highest version number")
			}
			next, createdAt = cur.Version+1, cur.CreatedAt
		}
		out, err = c.MetadataVersion.Create().
			SetContentID(contentID).
			SetContentType(metadataversion.ContentType(in.ContentType)).
			SetVersion(next).
			SetTitle(in.Title).
			SetNillableDescription(in.Description).
			SetNillableCategoryID(in.CategoryID).
			SetLanguage(in.Language).
			SetNillableDurationSeconds(in.DurationSeconds).
			SetNillablePublishDate(in.PublishDate).
			SetTags(in.Tags).
			SetExtra(in.Extra).
			SetUpdatedBy(by).
			SetUpdatedAt(in.now).
			SetCreatedAt(createdAt).
			Save(ctx)
		if err != nil {
			return storeError("insert a metadata version", err)
		}
		created = next == 1
		return nil
	})
	return out, created, err
}
