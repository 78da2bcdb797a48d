package cms

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/internal/apierror"
	"github.com/mediamesh/mediamesh/internal/httpclient"
)

// References to other services. category_id must name a category of the metadata service; the
// asset ids (cover_asset_id, media_asset_id, thumbnail_asset_id) are accepted as any UUID and
// stored as given, because the media service that owns assets does not exist yet: once it does,
// they get the same check as categories.

// metadataRetryAfter is the Retry-After of a 503 when the metadata service gave none.
const metadataRetryAfter = 5 * time.Second

// checkCategory asks the metadata service whether the category exists, as the caller (its
// Authorization header is forwarded). Unknown: 422 on category_id. Unreachable, failing or
// refusing: 503 with Retry-After, and the caller writes nothing.
func (s *Service) checkCategory(ctx context.Context, id uuid.UUID) error {
	resp, err := s.meta.GetCategoryWithResponse(ctx, id, forwardAuthorization)
	if err != nil {
		retry := metadataRetryAfter
		var rejected *httpclient.RejectedError
		if errors.As(err, &rejected) {
			retry = rejected.RetryAfter
		}
		s.log.WarnContext(ctx, "metadata service unavailable", "error", err)
		return apierror.Unavailable("the metadata service is unavailable, so the category cannot be checked; retry later", retry)
	}
	switch resp.StatusCode() {
	case http.StatusOK:
		return nil
	case http.StatusNotFound:
		return apierror.Validation("category_id: no such category", apierror.FieldError{Field: "category_id", Message: "no such category", Code: "not_found"})
	}
	s.log.WarnContext(ctx, "metadata service refused a category lookup", "status", resp.StatusCode())
	return apierror.Unavailable("the metadata service could not check the category; retry later", retryAfter(resp.HTTPResponse))
}

// retryAfter is the delay a response asks for in Retry-After (seconds), or metadataRetryAfter.
func retryAfter(resp *http.Response) time.Duration {
	if resp != nil {
		if n, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && n > 0 && n <= 3600 {
			return time.Duration(n) * time.Second
		}
	}
	return metadataRetryAfter
}
