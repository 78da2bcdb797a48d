package media

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/oapi-codegen/nullable"

	"github.com/mediamesh/mediamesh/ent/mediadb"
	"github.com/mediamesh/mediamesh/ent/mediadb/asset"
	"github.com/mediamesh/mediamesh/gen/openapi/cmsapi"
	"github.com/mediamesh/mediamesh/gen/openapi/mediaapi"
	"github.com/mediamesh/mediamesh/internal/apierror"
	"github.com/mediamesh/mediamesh/internal/httpclient"
	"github.com/mediamesh/mediamesh/internal/httpserver"
)

// An upload's attach_as puts the asset where it is to be shown: a field of the program or episode
// it is attached to, which the CMS owns. The service sets it through the CMS API as the caller (the
// caller's Authorization or X-API-Key is forwarded), so the CMS's roles and scopes decide, and
// the upload succeeds only when the field is set. Nothing is stored when it cannot be: the content
// is read first (does it exist, is it deleted, may the caller read it, is the CMS up); the asset
// is then stored and committed (the CMS checks the asset it is given with the media service), and
// the field set; should that fail, the asset is deleted again before the answer.
//
// An upload session checks the content when it is opened and keeps the role (attach_pending); its
// completion sets the field once the asset is ready. A failure there keeps the asset (up to 5 GiB
// of bytes) and its pending role: the completion answers the CMS's refusal, and completing again
// tries again.

// CMSClient is what the service needs of the CMS: reading a program or an episode and setting its
// cover, thumbnail or media asset. The generated cmsapi.ClientWithResponsesInterface satisfies it.
type CMSClient interface {
	GetProgramWithResponse(ctx context.Context, programId cmsapi.ProgramId, reqEditors ...cmsapi.RequestEditorFn) (*cmsapi.GetProgramResponse, error)
	UpdateProgramWithResponse(ctx context.Context, programId cmsapi.ProgramId, params *cmsapi.UpdateProgramParams, body cmsapi.UpdateProgramJSONRequestBody, reqEditors ...cmsapi.RequestEditorFn) (*cmsapi.UpdateProgramResponse, error)
	GetEpisodeWithResponse(ctx context.Context, episodeId cmsapi.EpisodeId, reqEditors ...cmsapi.RequestEditorFn) (*cmsapi.GetEpisodeResponse, error)
	UpdateEpisodeWithResponse(ctx context.Context, episodeId cmsapi.EpisodeId, params *cmsapi.UpdateEpisodeParams, body cmsapi.UpdateEpisodeJSONRequestBody, reqEditors ...cmsapi.RequestEditorFn) (*cmsapi.UpdateEpisodeResponse, error)
}

// cmsRetryAfter is the Retry-After of a 503 when the CMS gave none.
const cmsRetryAfter = 5 * time.Second

// The roles of attach_as.
const (
	roleCover     = "cover"
	roleThumbnail = "thumbnail"
	roleMedia     = "media"
)

// placement is where an upload is to be shown: a CMS field of a program or an episode.
type placement struct {
	content asset.AttachedType // program or episode
	id      uuid.UUID
	idField string       // the request field that names the content: attach_content_id, attached_to.content_id
	role    string       // cover, thumbnail, media
	field   string       // the CMS field: cover_asset_id, thumbnail_asset_id, media_asset_id
	kinds   []asset.Kind // the kinds of asset the field takes
}

// noun is how answers name the content: "program 0193...".
func (p placement) noun() string { return string(p.content) + " " + p.id.String() }

// placementOf checks attach_as against the attachment it goes with and returns the placement; nil
// without attach_as.
func placementOf(u *upload) (*placement, error) {
	if u.attachAs == nil {
		return nil, nil
	}
	if u.attachType == nil {
		return nil, fieldError("attach_as", "needs attach_content_type and attach_content_id", "dependentRequired")
	}
	return newPlacement(asset.AttachedType(*u.attachType), *u.attachID, "attach_content_id", *u.attachAs)
}

// sessionPlacement is placementOf for an upload session's attached_to and attach_as.
func sessionPlacement(b *mediaapi.UploadSessionCreate) (*placement, error) {
	if b.AttachAs == nil {
		return nil, nil
	}
	if b.AttachedTo == nil {
		return nil, fieldError("attach_as", "needs attached_to", "dependentRequired")
	}
	return newPlacement(asset.AttachedType(b.AttachedTo.ContentType), b.AttachedTo.ContentId, "attached_to.content_id", string(*b.AttachAs))
}

// pendingPlacement is the placement an asset still has to get (attach_pending); nil when none, or
// when it is no longer attached to content that has such a field.
func pendingPlacement(a *mediadb.Asset) *placement {
	if a.AttachPending == nil || a.AttachedType == nil || a.AttachedID == nil {
		return nil
	}
	p, err := newPlacement(*a.AttachedType, *a.AttachedID, "attached_to.content_id", string(*a.AttachPending))
	if err != nil {
		return nil
	}
	return p
}

// newPlacement is the placement of role on the content, or a 422 on attach_as when the content
// has no such field.
func newPlacement(content asset.AttachedType, id uuid.UUID, idField, role string) (*placement, error) {
	p := placement{content: content, id: id, idField: idField, role: role}
	switch {
	case p.role == roleCover && p.content == asset.AttachedTypeProgram:
		p.field, p.kinds = "cover_asset_id", []asset.Kind{asset.KindImage}
	case p.role == roleThumbnail && p.content == asset.AttachedTypeEpisode:
		p.field, p.kinds = "thumbnail_asset_id", []asset.Kind{asset.KindImage}
	case p.role == roleMedia && p.content == asset.AttachedTypeEpisode:
		p.field, p.kinds = "media_asset_id", []asset.Kind{asset.KindVideo, asset.KindAudio}
	case p.role == roleCover || p.role == roleThumbnail || p.role == roleMedia:
		return nil, fieldError("attach_as", "a program takes a cover; an episode a thumbnail or media", "attach_as")
	default:
		return nil, fieldError("attach_as", "must be cover, thumbnail or media", "enum")
	}
	return &p, nil
}

// checkKind refuses a file of a kind the field does not take, before anything is stored.
func (p placement) checkKind(kind asset.Kind) error {
	if slices.Contains(p.kinds, kind) {
		return nil
	}
	want := "an image"
	if p.role == roleMedia {
		want = "a video or audio file"
	}
	return fieldError("attach_as", fmt.Sprintf("the %s %s needs %s, not a %s file", string(p.content), p.role, want, kind), "kind")
}

// checkContent reads the content from the CMS as the caller: it must exist (422 on
// attach_content_id) and not be soft-deleted (409); a CMS that refuses the caller is 403, one that
// is unreachable or failing 503.
func (s *Service) checkContent(ctx context.Context, p placement) error {
	var (
		resp    *http.Response
		deleted bool
		err     error
	)
	if p.content == asset.AttachedTypeProgram {
		var r *cmsapi.GetProgramResponse
		if r, err = s.cms.GetProgramWithResponse(ctx, p.id, forwardCaller); err == nil {
			resp, deleted = r.HTTPResponse, r.JSON200 != nil && r.JSON200.DeletedAt != nil
		}
	} else {
		var r *cmsapi.GetEpisodeResponse
		if r, err = s.cms.GetEpisodeWithResponse(ctx, p.id, forwardCaller); err == nil {
			resp, deleted = r.HTTPResponse, r.JSON200 != nil && r.JSON200.DeletedAt != nil
		}
	}
	if err := s.cmsOutcome(ctx, p, "read", resp, err); err != nil {
		return err
	}
	if deleted {
		return apierror.Conflict("the " + p.noun() + " is deleted; restore it before showing an upload on it")
	}
	return nil
}

// place sets the content's field to the asset id through the CMS, as the caller. No If-Match is
// sent: the change is one field, whatever else an editor changed meanwhile.
func (s *Service) place(ctx context.Context, p placement, id uuid.UUID) error {
	var (
		resp *http.Response
		err  error
	)
	v := nullable.NewNullableWithValue(id)
	switch p.role {
	case roleCover:
		var r *cmsapi.UpdateProgramResponse
		if r, err = s.cms.UpdateProgramWithResponse(ctx, p.id, nil, cmsapi.UpdateProgramJSONRequestBody{CoverAssetId: v}, forwardCaller); err == nil {
			resp = r.HTTPResponse
		}
	case roleThumbnail:
		var r *cmsapi.UpdateEpisodeResponse
		if r, err = s.cms.UpdateEpisodeWithResponse(ctx, p.id, nil, cmsapi.UpdateEpisodeJSONRequestBody{ThumbnailAssetId: v}, forwardCaller); err == nil {
			resp = r.HTTPResponse
		}
	default:
		var r *cmsapi.UpdateEpisodeResponse
		if r, err = s.cms.UpdateEpisodeWithResponse(ctx, p.id, nil, cmsapi.UpdateEpisodeJSONRequestBody{MediaAssetId: v}, forwardCaller); err == nil {
			resp = r.HTTPResponse
		}
	}
	return s.cmsOutcome(ctx, p, "set "+p.field+" of", resp, err)
}

// cmsOutcome turns the CMS's answer to a read or change of the content into the upload's: nil on
// 200; 422 on the field naming the content when it does not exist; 403 when the CMS refuses the
// caller; 409 when the content is soft-deleted; 422 on attach_as when the CMS refuses the change
// itself; 503 with Retry-After when the CMS is unreachable or failing.
func (s *Service) cmsOutcome(ctx context.Context, p placement, what string, resp *http.Response, err error) error {
	if err != nil {
		retry := cmsRetryAfter
		var rejected *httpclient.RejectedError
		if errors.As(err, &rejected) {
			retry = rejected.RetryAfter
		}
		s.log.WarnContext(ctx, "CMS unavailable for an upload's attach_as", "content", p.noun(), "error", err)
		return apierror.Unavailable(fmt.Sprintf("the CMS is unavailable, so the asset cannot be set as the %s's %s; nothing was stored, retry later", string(p.content), p.role), retry)
	}
	status := 0
	if resp != nil {
		status = resp.StatusCode
	}
	switch status {
	case http.StatusOK:
		return nil
	case http.StatusNotFound:
		return fieldError(p.idField, "no such "+string(p.content), "not_found")
	case http.StatusUnauthorized, http.StatusForbidden:
		return apierror.Forbidden(fmt.Sprintf("the CMS does not let you change the %s, so the asset cannot be its %s", p.noun(), p.role))
	case http.StatusConflict:
		return apierror.Conflict("the " + p.noun() + " is deleted; restore it before showing an upload on it")
	case http.StatusUnprocessableEntity:
		return fieldError("attach_as", fmt.Sprintf("the CMS refused the asset as the %s's %s", string(p.content), p.role), "refused")
	}
	s.log.WarnContext(ctx, "CMS refused an upload's attach_as", "content", p.noun(), "what", what, "status", status)
	return apierror.Unavailable(fmt.Sprintf("the CMS could not %s the %s; nothing was stored, retry later", what, p.noun()), retryAfter(resp))
}

// retryAfter is the delay a response asks for in Retry-After (seconds), or cmsRetryAfter.
func retryAfter(resp *http.Response) time.Duration {
	if resp != nil {
		if n, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && n > 0 && n <= 3600 {
			return time.Duration(n) * time.Second
		}
	}
	return cmsRetryAfter
}

// settle sets the field an upload session's asset is still to be set as (attach_pending), as the
// caller of its completion, and then forgets it; nil when there is none. On failure the asset keeps
// it, so that completing again tries again.
func (s *Service) settle(ctx context.Context, a *mediadb.Asset) error {
	if a.AttachPending == nil {
		return nil
	}
	if p := pendingPlacement(a); p != nil {
		if err := s.place(ctx, *p, a.ID); err != nil {
			return err
		}
	}
	err := s.read.Asset.Update().Where(asset.ID(a.ID), asset.AttachPendingEQ(*a.AttachPending)).ClearAttachPending().Exec(ctx)
	if err != nil {
		return storeError("record a completed attach_as", err)
	}
	a.AttachPending = nil
	return nil
}

// withdraw deletes an upload whose placement failed: its row (with its asset.deleted event) and
// its bytes. The thumbnail worker may have changed the row since the upload's commit, so a stale
// version is read again; a failure is logged (the asset then stays, attached but not shown).
func (s *Service) withdraw(ctx context.Context, id uuid.UUID) {
	ctx = context.WithoutCancel(ctx)
	for range 5 {
		var gone *mediadb.Asset
		err := s.db.InTx(ctx, func(tx *sql.Tx) error {
			c := s.txClient(tx)
			cur, err := c.Asset.Get(ctx, id)
			if err != nil {
				return err
			}
			gone = cur
			return s.deleteRow(ctx, c, tx, cur, reasonDeleted)
		})
		if errors.Is(err, errStale) {
			continue
		}
		if err != nil {
			s.log.ErrorContext(ctx, "could not withdraw an upload whose attach_as failed", "asset_id", id, "error", err)
			return
		}
		s.deleteObjects(ctx, gone)
		return
	}
	s.log.ErrorContext(ctx, "could not withdraw an upload whose attach_as failed: it kept changing", "asset_id", id)
}

// caller is the identity of a request, as the CMS is to see it: the caller's credentials, the
// client's address (an API key's allowed ranges are checked against it where the key is
// exchanged) and the request id.
type caller struct {
	authorization, apiKey, client, requestID string
}

type callerKey struct{}

// requestIDRE is the shape of a request id the service forwards (the one httpserver accepts).
var requestIDRE = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// apiKeyHeader carries an API key (the other way to send one is `Authorization: ApiKey ...`).
const apiKeyHeader = "X-API-Key"

// captureCaller keeps the caller's credentials and request id in the request context, for the
// calls to the CMS, which the handlers make from the context alone.
func captureCaller(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		cl := caller{authorization: r.Header.Get("Authorization"), apiKey: r.Header.Get(apiKeyHeader),
			client: httpserver.ClientFrom(r.Context()), requestID: httpserver.RequestIDFrom(r.Context())}
		if id := r.Header.Get(httpserver.RequestIDHeader); cl.requestID == "" && requestIDRE.MatchString(id) {
			cl.requestID = id // a handler served without the server's middleware (in tests)
		}
		c.SetRequest(r.WithContext(context.WithValue(r.Context(), callerKey{}, cl)))
		return next(c)
	}
}

// forwardCaller is a request editor of the CMS client that sends the caller's own credentials, the
// client's address (X-Forwarded-For, which the CMS believes from the internal networks a service
// calls from) and the request id, so the CMS authorizes the change as the caller.
func forwardCaller(ctx context.Context, req *http.Request) error {
	cl, _ := ctx.Value(callerKey{}).(caller)
	if cl.authorization != "" {
		req.Header.Set("Authorization", cl.authorization)
	}
	if cl.apiKey != "" {
		req.Header.Set(apiKeyHeader, cl.apiKey)
	}
	if cl.client != "" {
		req.Header.Set("X-Forwarded-For", cl.client)
	}
	if cl.requestID != "" {
		req.Header.Set(httpserver.RequestIDHeader, cl.requestID)
	}
	return nil
}
