package metadata

import (
	"context"
	"fmt"

	entsql "entgo.io/ent/dialect/sql"
	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/ent/metadatadb"
	"github.com/mediamesh/mediamesh/ent/metadatadb/metadataversion"
	"github.com/mediamesh/mediamesh/gen/openapi/metadataapi"
	"github.com/mediamesh/mediamesh/internal/apierror"
	"github.com/mediamesh/mediamesh/internal/cursor"
	"github.com/mediamesh/mediamesh/internal/etag"
)

// Page sizes: the contract's default and maximum.
const (
	defaultLimit = 20
	maxLimit     = 100
)

// pageLimit returns the page size a request asks for. The contract validation has already refused
// a size outside 1..maxLimit; the clamp keeps the slicing below safe regardless.
func pageLimit(limit *int32) int {
	if limit == nil || *limit < 1 {
		return defaultLimit
	}
	return min(int(*limit), maxLimit)
}

// hasMetadata reports whether a content item has at least one version.
func (s *Service) hasMetadata(ctx context.Context, contentID uuid.UUID) (bool, error) {
	ok, err := s.read.MetadataVersion.Query().Where(metadataversion.ContentIDEQ(contentID)).Exist(ctx)
	if err != nil {
		return false, fmt.Errorf("metadata: look up the content item: %w", err)
	}
	return ok, nil
}

// ListMetadataVersions implements metadataapi.StrictServerInterface: the history, newest first.
// A page reads one version more than it shows: it tells whether there is a next page and is the
// previous version of the page's last entry, so changed_fields needs no extra query. A version
// without a previous one in the result is version 1 (numbers are contiguous), compared with
// nothing: it lists every field it set.
func (s *Service) ListMetadataVersions(ctx context.Context, req metadataapi.ListMetadataVersionsRequestObject) (metadataapi.ListMetadataVersionsResponseObject, error) {
	limit := pageLimit(req.Params.Limit)
	q := s.read.MetadataVersion.Query().Where(metadataversion.ContentIDEQ(req.ContentId))
	if req.Params.Cursor != nil {
		after, err := decodeVersionCursor(*req.Params.Cursor)
		if err != nil {
			return nil, err
		}
		q = q.Where(metadataversion.VersionLT(after))
	}
	rows, err := q.Order(metadataversion.ByVersion(entsql.OrderDesc())).Limit(limit + 1).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("metadata: list versions: %w", err)
	}
	if len(rows) == 0 {
		ok, err := s.hasMetadata(ctx, req.ContentId)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, noMetadata()
		}
	}
	page := metadataapi.ListMetadataVersions200JSONResponse{Items: []metadataapi.MetadataVersionSummary{}}
	for i, v := range rows[:min(limit, len(rows))] {
		var prev content
		if i+1 < len(rows) {
			prev = contentOf(rows[i+1])
		}
		page.Items = append(page.Items, metadataapi.MetadataVersionSummary{
			Version:       v.Version,
			ChangedBy:     v.UpdatedBy,
			ChangedAt:     v.UpdatedAt.UTC(),
			ChangedFields: changedFields(prev, contentOf(v)),
		})
	}
	if len(rows) > limit {
		next := cursor.Encode(versionCursor{Version: &rows[limit-1].Version})
		page.Page.NextCursor, page.Page.HasMore = &next, true
	}
	return page, nil
}

// GetMetadataVersion implements metadataapi.StrictServerInterface: one version as recorded.
func (s *Service) GetMetadataVersion(ctx context.Context, req metadataapi.GetMetadataVersionRequestObject) (metadataapi.GetMetadataVersionResponseObject, error) {
	vs, err := s.versions(ctx, req.ContentId, req.Version)
	if err != nil {
		return nil, err
	}
	v := vs[req.Version]
	tag := etag.Version(int64(v.Version))
	return metadataapi.GetMetadataVersion200JSONResponse{Body: toMetadata(v), Headers: metadataapi.GetMetadataVersion200ResponseHeaders{ETag: &tag}}, nil
}

// DiffMetadataVersions implements metadataapi.StrictServerInterface: the fields that differ from
// version from to version to, rendered as text (see content.render).
func (s *Service) DiffMetadataVersions(ctx context.Context, req metadataapi.DiffMetadataVersionsRequestObject) (metadataapi.DiffMetadataVersionsResponseObject, error) {
	from, to := req.Params.From, req.Params.To
	vs, err := s.versions(ctx, req.ContentId, from, to)
	if err != nil {
		return nil, err
	}
	return metadataapi.DiffMetadataVersions200JSONResponse{
		ContentId: req.ContentId,
		From:      from,
		To:        to,
		Changes:   changes(contentOf(vs[from]), contentOf(vs[to])),
	}, nil
}

// versions reads the given versions of a content item, by number; 404 when the item has no
// metadata or one of them does not exist.
func (s *Service) versions(ctx context.Context, contentID uuid.UUID, numbers ...int32) (map[int32]*metadatadb.MetadataVersion, error) {
	rows, err := s.read.MetadataVersion.Query().
		Where(metadataversion.ContentIDEQ(contentID), metadataversion.VersionIn(numbers...)).
		All(ctx)
	if err != nil {
		return nil, fmt.Errorf("metadata: read versions: %w", err)
	}
	out := make(map[int32]*metadatadb.MetadataVersion, len(rows))
	for _, v := range rows {
		out[v.Version] = v
	}
	for _, n := range numbers {
		if out[n] != nil {
			continue
		}
		ok, err := s.hasMetadata(ctx, contentID)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, noMetadata()
		}
		return nil, apierror.NotFound(fmt.Sprintf("the content item has no version %d", n))
	}
	return out, nil
}
