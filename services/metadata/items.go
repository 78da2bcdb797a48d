package metadata

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	entsql "entgo.io/ent/dialect/sql"
	"github.com/google/uuid"
	"github.com/oapi-codegen/nullable"

	"github.com/mediamesh/mediamesh/ent/metadatadb"
	"github.com/mediamesh/mediamesh/ent/metadatadb/metadataversion"
	"github.com/mediamesh/mediamesh/gen/openapi/cmsapi"
	"github.com/mediamesh/mediamesh/gen/openapi/metadataapi"
	"github.com/mediamesh/mediamesh/internal/apierror"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/etag"
	"github.com/mediamesh/mediamesh/internal/httpclient"
	"github.com/mediamesh/mediamesh/internal/telemetry"
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

// PutMetadata implements metadataapi.StrictServerInterface: it writes the body through the CMS,
// which owns the descriptive fields, and records the CMS's answer as the next version, unless it
// equals the current one. Checks run in this order: the content item (422 unknown, 409 wrong type
// or soft-deleted), If-Match (412), the fields (422, every invalid one); then the CMS's own.
func (s *Service) PutMetadata(ctx context.Context, req metadataapi.PutMetadataRequestObject) (metadataapi.PutMetadataResponseObject, error) {
	by, err := author(ctx)
	if err != nil {
		return nil, err
	}
	in, errs := s.normalize(req.Body)
	item, err := s.read.ContentItem.Get(ctx, req.ContentId)
	switch {
	case metadatadb.IsNotFound(err):
		return nil, unknownContent()
	case err != nil:
		return nil, fmt.Errorf("metadata: read the content item: %w", err)
	case item.State == statePurged:
		return nil, unknownContent()
	case string(item.ContentType) != in.ContentType:
		return nil, apierror.Conflict(fmt.Sprintf("content_type: the content item is a %s", item.ContentType))
	case item.State == stateDeleted:
		return nil, apierror.Conflict("the content item is deleted in the CMS")
	}
	cur, err := latest(ctx, s.read, req.ContentId)
	if err != nil {
		return nil, err
	}
	if req.Params.IfMatch != nil {
		if cur == nil {
			return nil, apierror.PreconditionFailed("If-Match was sent but the content item has no metadata yet")
		}
		if tag := etag.Version(int64(cur.Version)); !etag.Match(*req.Params.IfMatch, tag) {
			return nil, apierror.PreconditionFailed("current version is " + tag)
		}
	}
	switch in.ContentType {
	case ContentTypeProgram:
		if in.DurationSeconds != nil {
			errs.add("duration_seconds", "not_applicable", "a program has no duration; its episodes do")
		}
	case ContentTypeEpisode:
		if in.CategoryID != nil {
			errs.add("category_id", "not_applicable", "an episode has no category of its own; it is found by its program's")
		}
		if len(in.Tags) > 0 {
			errs.add("tags", "not_applicable", "an episode has no tags of its own; it is found by its program's")
		}
	}
	if in.PublishDate != nil && !slices.ContainsFunc(errs, func(e apierror.FieldError) bool { return e.Field == "publish_date" }) {
		var now *time.Time
		if cur != nil {
			now = cur.PublishDate
		}
		if now == nil || !now.Equal(*in.PublishDate) {
			errs.add("publish_date", "read_only", "is set by publishing in the CMS; leave it out or send the current value")
		}
	}
	if err := errs.err(); err != nil {
		return nil, err
	}
	st, err := s.writeThroughCMS(ctx, req.ContentId, item.CmsVersion, in, req.Params.IfMatch != nil, by)
	if err != nil {
		return nil, err
	}
	var (
		v   *metadatadb.MetadataVersion
		rec recorded
	)
	for attempt := 1; ; attempt++ {
		err = s.db.InTx(ctx, func(tx *sql.Tx) error {
			var err error
			v, rec, err = s.recordState(ctx, tx, st, false, nil)
			return err
		})
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
	if v == nil { // purged while the CMS answered
		return nil, unknownContent()
	}
	tag := etag.Version(int64(v.Version))
	if rec.first {
		loc := "/api/v1/metadata/items/" + v.ContentID.String()
		return metadataapi.PutMetadata201JSONResponse{Body: toMetadata(v), Headers: metadataapi.PutMetadata201ResponseHeaders{ETag: &tag, Location: &loc}}, nil
	}
	return metadataapi.PutMetadata200JSONResponse{Body: toMetadata(v), Headers: metadataapi.PutMetadata200ResponseHeaders{ETag: &tag}}, nil
}

// writeThroughCMS sends the descriptive fields of in to the CMS as a merge patch that sets every
// one of them (a full replacement: an empty summary and a null category or duration clear them),
// as the caller, and returns what the CMS answered. With conditional, the patch carries the CMS
// version this service last saw as If-Match, so a change in the CMS since answers 412.
func (s *Service) writeThroughCMS(ctx context.Context, id uuid.UUID, cmsVersion int64, in input, conditional bool, by uuid.UUID) (cmsState, error) {
	var ifMatch *string
	if conditional {
		tag := etag.Version(cmsVersion)
		ifMatch = &tag
	}
	summary := ""
	if in.Description != nil {
		summary = *in.Description
	}
	extra := cmsExtra(in.Extra)
	trace := telemetry.TraceID(ctx)
	switch in.ContentType {
	case ContentTypeProgram:
		tags := slices.Clone(in.Tags)
		body := cmsapi.ProgramUpdate{Title: &in.Title, Summary: &summary, Language: &in.Language, Tags: &tags, Extra: &extra}
		if in.CategoryID != nil {
			body.CategoryId = nullable.NewNullableWithValue(*in.CategoryID)
		} else {
			body.CategoryId = nullable.NewNullNullable[uuid.UUID]()
		}
		resp, err := s.cms.UpdateProgramWithResponse(ctx, id, &cmsapi.UpdateProgramParams{IfMatch: ifMatch}, body, asCaller)
		if err != nil {
			return cmsState{}, s.cmsUnavailable(ctx, err)
		}
		if resp.JSON200 == nil {
			return cmsState{}, cmsRefused(resp.HTTPResponse, resp.Body)
		}
		return programState(resp.JSON200, by, trace), nil
	default:
		body := cmsapi.EpisodeUpdate{Title: &in.Title, Summary: &summary, Language: &in.Language, Extra: &extra}
		if in.DurationSeconds != nil {
			body.DurationSeconds = nullable.NewNullableWithValue(*in.DurationSeconds)
		} else {
			body.DurationSeconds = nullable.NewNullNullable[int32]()
		}
		resp, err := s.cms.UpdateEpisodeWithResponse(ctx, id, &cmsapi.UpdateEpisodeParams{IfMatch: ifMatch}, body, asCaller)
		if err != nil {
			return cmsState{}, s.cmsUnavailable(ctx, err)
		}
		if resp.JSON200 == nil {
			return cmsState{}, cmsRefused(resp.HTTPResponse, resp.Body)
		}
		return episodeState(resp.JSON200, by, trace), nil
	}
}

// cmsUnavailable is the 503 of a CMS that cannot be reached; nothing was written.
func (s *Service) cmsUnavailable(ctx context.Context, err error) error {
	retry := cmsRetryAfter
	var rejected *httpclient.RejectedError
	if errors.As(err, &rejected) && rejected.RetryAfter > 0 {
		retry = rejected.RetryAfter
	}
	s.log.WarnContext(ctx, "cms unavailable", "error", err)
	return apierror.Unavailable("the CMS is unavailable, so the metadata cannot be written; retry later", retry)
}
