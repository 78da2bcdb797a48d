package cms

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/oapi-codegen/nullable"

	"github.com/mediamesh/mediamesh/gen/openapi/mediaapi"
	"github.com/mediamesh/mediamesh/internal/apierror"
	"github.com/mediamesh/mediamesh/internal/httpclient"
)

// References to other services. category_id must name a category of the metadata service;
// cover_asset_id and thumbnail_asset_id an image asset of the media service, media_asset_id a
// video or audio asset. Each is checked when a request sets it (a null clears it without asking,
// and an update that repeats the stored id does not ask again), as the caller: its Authorization
// header is forwarded, so the other service authorizes the lookup as the caller. When the other
// service cannot answer, the request fails with 503 and nothing is written. When the media
// service deletes an asset, its asset.deleted event clears the references to it (see consumer.go).

// lookupRetryAfter is the Retry-After of a 503 when the service asked gave none.
const lookupRetryAfter = 5 * time.Second

// reference is a reference to a resource of another service, as the answers about it name it.
type reference struct {
	service string // the service that owns the resource: metadata, media
	noun    string // what the resource is: category, asset
	field   string // the request field that names it
}

// lookup interprets the outcome of the GET of a referenced resource: found is true on 200 and
// false on 404 (the caller answers 422 on the field). An unreachable, failing or refusing service
// (any other status) is a 503 with Retry-After; the caller then writes nothing.
func (s *Service) lookup(ctx context.Context, r reference, resp *http.Response, err error) (found bool, _ error) {
	if err != nil {
		retry := lookupRetryAfter
		var rejected *httpclient.RejectedError
		if errors.As(err, &rejected) {
			retry = rejected.RetryAfter
		}
		s.log.WarnContext(ctx, r.service+" service unavailable", "error", err)
		return false, apierror.Unavailable("the "+r.service+" service is unavailable, so the "+r.noun+" cannot be checked; retry later", retry)
	}
	status := 0
	if resp != nil {
		status = resp.StatusCode
	}
	switch status {
	case http.StatusOK:
		return true, nil
	case http.StatusNotFound:
		return false, nil
	}
	s.log.WarnContext(ctx, r.service+" service refused a "+r.noun+" lookup", "status", status)
	return false, apierror.Unavailable("the "+r.service+" service could not check the "+r.noun+"; retry later", retryAfter(resp))
}

// notFound is the 422 of a reference to a resource that does not exist.
func (r reference) notFound() apierror.FieldError {
	return apierror.FieldError{Field: r.field, Message: "no such " + r.noun, Code: "not_found"}
}

// checkCategory asks the metadata service whether the category exists. Unknown: 422 on
// category_id. Unreachable, failing or refusing: 503 with Retry-After.
func (s *Service) checkCategory(ctx context.Context, id uuid.UUID) error {
	r := reference{service: "metadata", noun: "category", field: "category_id"}
	resp, err := s.meta.GetCategoryWithResponse(ctx, id, forwardAuthorization)
	var hr *http.Response
	if err == nil {
		hr = resp.HTTPResponse
	}
	found, err := s.lookup(ctx, r, hr, err)
	if err != nil || found {
		return err
	}
	fe := r.notFound()
	return apierror.Validation(fe.Field+": "+fe.Message, fe)
}

// assetRef is an asset reference a request sets: the field, the asset and the kinds it may be.
type assetRef struct {
	field    string
	id       *uuid.UUID // nil: not set by the request, cleared or unchanged; not checked
	kinds    []mediaapi.AssetKind
	wrongMsg string // the message of a 422 on an asset of another kind
}

// imageRef is a reference to an image asset: cover_asset_id, thumbnail_asset_id.
func imageRef(field string, id *uuid.UUID) assetRef {
	return assetRef{field: field, id: id, kinds: []mediaapi.AssetKind{mediaapi.Image}, wrongMsg: "must be an image asset"}
}

// playableRef is a reference to a video or audio asset: media_asset_id.
func playableRef(field string, id *uuid.UUID) assetRef {
	return assetRef{field: field, id: id, kinds: []mediaapi.AssetKind{mediaapi.Video, mediaapi.Audio}, wrongMsg: "must be a video or audio asset"}
}

// checkAssets asks the media service about each asset the request sets, one after the other.
// Unknown assets (code not_found) and assets of the wrong kind (code kind) are one 422 naming
// every such field. Unreachable, failing or refusing: 503 with Retry-After at the first lookup
// that fails.
func (s *Service) checkAssets(ctx context.Context, refs ...assetRef) error {
	var fe fieldErrors
	for _, a := range refs {
		if a.id == nil {
			continue
		}
		r := reference{service: "media", noun: "asset", field: a.field}
		resp, err := s.media.GetAssetWithResponse(ctx, *a.id, forwardAuthorization)
		var hr *http.Response
		if err == nil {
			hr = resp.HTTPResponse
		}
		found, err := s.lookup(ctx, r, hr, err)
		switch {
		case err != nil:
			return err
		case !found:
			fe = append(fe, r.notFound())
		case resp.JSON200 == nil:
			s.log.WarnContext(ctx, "media service answered an asset lookup without an asset", "asset", *a.id)
			return apierror.Unavailable("the media service could not check the asset; retry later", lookupRetryAfter)
		case !slices.Contains(a.kinds, resp.JSON200.Kind):
			fe.add(a.field, "kind", a.wrongMsg)
		}
	}
	return fe.err()
}

// changedAsset is the asset an update's nullable field sets, when it sets one other than the
// stored id cur; nil when the field is absent, null (clearing needs no check) or unchanged.
func changedAsset(n nullable.Nullable[uuid.UUID], cur *uuid.UUID) *uuid.UUID {
	id, err := n.Get()
	if err != nil || (cur != nil && *cur == id) {
		return nil
	}
	return &id
}

// retryAfter is the delay a response asks for in Retry-After (seconds), or lookupRetryAfter.
func retryAfter(resp *http.Response) time.Duration {
	if resp != nil {
		if n, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && n > 0 && n <= 3600 {
			return time.Duration(n) * time.Second
		}
	}
	return lookupRetryAfter
}
