package metadata

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/mediamesh/mediamesh/ent/metadatadb/schema"
	"github.com/mediamesh/mediamesh/gen/openapi/cmsapi"
	"github.com/mediamesh/mediamesh/internal/apierror"
	"github.com/mediamesh/mediamesh/internal/httpserver"
)

// A PUT is written through the CMS, which owns the descriptive fields, as the caller: the
// caller's Authorization header (and request id) go with the CMS request, so the CMS authorizes
// the change and its audit entry names the caller.

// cmsRetryAfter is the Retry-After of a 503 when the CMS gave none.
const cmsRetryAfter = 2 * time.Second

// caller is what the service keeps of the HTTP request for the calls it makes as the caller.
type caller struct {
	authorization string
	requestID     string
}

type callerKey struct{}

// captureCaller keeps the Authorization header and the request id in the request context.
func captureCaller(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		m := caller{authorization: r.Header.Get("Authorization"), requestID: httpserver.RequestIDFrom(r.Context())}
		if m.requestID == "" {
			m.requestID = r.Header.Get(httpserver.RequestIDHeader)
		}
		c.SetRequest(r.WithContext(context.WithValue(r.Context(), callerKey{}, m)))
		return next(c)
	}
}

// asCaller is a request editor of the CMS client that sends the caller's own Authorization
// header and request id.
func asCaller(ctx context.Context, req *http.Request) error {
	m, _ := ctx.Value(callerKey{}).(caller)
	if m.authorization != "" {
		req.Header.Set("Authorization", m.authorization)
	}
	if m.requestID != "" {
		req.Header.Set(httpserver.RequestIDHeader, m.requestID)
	}
	return nil
}

// cmsExtra renders extra for a CMS request.
func cmsExtra(in []schema.ExtraField) cmsapi.ExtraFields {
	out := make(cmsapi.ExtraFields, len(in))
	for i, e := range in {
		out[i] = cmsapi.ExtraField{Key: e.Key, Value: e.Value}
	}
	return out
}

// extraOf turns the CMS's extra into what a metadata version stores: never nil.
func extraOf(in *cmsapi.ExtraFields) []schema.ExtraField {
	out := []schema.ExtraField{}
	if in != nil {
		for _, e := range *in {
			out = append(out, schema.ExtraField{Key: e.Key, Value: e.Value})
		}
	}
	return out
}

// descriptionOf is the description of a CMS summary: none when empty.
func descriptionOf(summary *string) *string {
	if summary == nil || *summary == "" {
		return nil
	}
	d := *summary
	return &d
}

// publishDateOf is the publish date a content snapshot would carry: the scheduled instant while
// scheduled, else when it was first published (see the CMS's snapshots).
func publishDateOf(status cmsapi.PublicationStatus, scheduled, published *time.Time) *time.Time {
	at := published
	if status == cmsapi.PublicationStatusScheduled && scheduled != nil {
		at = scheduled
	}
	if at == nil {
		return nil
	}
	t := at.UTC().Truncate(time.Millisecond) // the precision of the content events
	return &t
}

// programState is what the CMS answered for a program.
func programState(p *cmsapi.Program, by uuid.UUID, trace string) cmsState {
	tags := append([]string{}, p.Tags...)
	return cmsState{id: p.Id, cmsVersion: int64(p.Version), actor: by, traceID: trace, content: content{
		ContentType: string(ContentTypeProgram), Title: p.Title, Description: descriptionOf(p.Summary), CategoryID: p.CategoryId,
		Language: p.Language, PublishDate: publishDateOf(p.Status, p.ScheduledPublishAt, p.PublishedAt), Tags: tags, Extra: extraOf(p.Extra),
	}}
}

// episodeState is what the CMS answered for an episode.
func episodeState(e *cmsapi.Episode, by uuid.UUID, trace string) cmsState {
	program := e.ProgramId
	return cmsState{id: e.Id, programID: &program, cmsVersion: int64(e.Version), actor: by, traceID: trace, content: content{
		ContentType: string(ContentTypeEpisode), Title: e.Title, Description: descriptionOf(e.Summary), Language: e.Language,
		DurationSeconds: e.DurationSeconds, PublishDate: publishDateOf(e.Status, e.ScheduledPublishAt, e.PublishedAt),
		Tags: []string{}, Extra: extraOf(e.Extra),
	}}
}

// Content types, as the metadata API and the CMS's events name them.
const (
	ContentTypeProgram = "program"
	ContentTypeEpisode = "episode"
)

// cmsProblem is the part of a CMS problem the service passes on.
type cmsProblem struct {
	Detail string                `json:"detail"`
	Errors []apierror.FieldError `json:"errors"`
}

// cmsFields maps the CMS's field names to the metadata API's.
var cmsFields = map[string]string{"summary": "description"}

// cmsRefused turns a CMS answer other than 200 into this service's answer: the caller's own
// mistakes (401, 403, 409, 412, 422, with the fields renamed to the metadata API's) pass through,
// 404 means the item is gone (422 on contentId), and anything else means the CMS cannot take the
// change now (503).
func cmsRefused(resp *http.Response, body []byte) error {
	var p cmsProblem
	_ = json.Unmarshal(body, &p) // a body that is not a problem leaves p empty
	status := 0
	if resp != nil {
		status = resp.StatusCode
	}
	switch status {
	case http.StatusUnauthorized:
		return apierror.Unauthorized(p.Detail)
	case http.StatusForbidden:
		return apierror.Forbidden(p.Detail)
	case http.StatusNotFound:
		return unknownContent()
	case http.StatusConflict:
		return apierror.Conflict(p.Detail)
	case http.StatusPreconditionFailed:
		return apierror.PreconditionFailed("the content item changed in the CMS since; read it again")
	case http.StatusUnprocessableEntity:
		for i, f := range p.Errors {
			name, rest, _ := strings.Cut(f.Field, ".")
			if m, ok := cmsFields[name]; ok {
				p.Errors[i].Field = strings.TrimSuffix(m+"."+rest, ".")
			}
		}
		if len(p.Errors) == 0 {
			p.Errors = []apierror.FieldError{{Field: "body", Message: p.Detail, Code: "invalid"}}
		}
		return apierror.Validation(p.Errors[0].Field+": "+p.Errors[0].Message, p.Errors...)
	}
	retry := cmsRetryAfter
	if resp != nil {
		if n, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && n > 0 && n <= 3600 {
			retry = time.Duration(n) * time.Second
		}
	}
	return apierror.Unavailable("the CMS could not take the change now; retry later", retry)
}

// unknownContent is the 422 of a PUT for an id that names no program or episode.
func unknownContent() error {
	return apierror.Validation("contentId: no such program or episode",
		apierror.FieldError{Field: "contentId", Message: "no such program or episode in the CMS", Code: "not_found"})
}
