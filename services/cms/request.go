package cms

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/mediamesh/mediamesh/gen/openapi/cmsapi"
	"github.com/mediamesh/mediamesh/internal/apierror"
	"github.com/mediamesh/mediamesh/internal/authn"
	entitytag "github.com/mediamesh/mediamesh/internal/etag"
	"github.com/mediamesh/mediamesh/internal/httpserver"
)

// requestMeta is what the service keeps of the HTTP request beyond its generated request object.
type requestMeta struct {
	authorization string // forwarded to the metadata and media services
	requestID     string // recorded in audit entries; "" when unknown
}

type requestMetaKey struct{}

// requestIDRE is the shape of a request id the service records (the one httpserver accepts).
var requestIDRE = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// captureRequest keeps the Authorization header and the request id in the request context, for
// the handlers, which see only the context.
func captureRequest(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		m := requestMeta{authorization: r.Header.Get("Authorization"), requestID: httpserver.RequestIDFrom(r.Context())}
		if m.requestID == "" {
			if id := r.Header.Get(httpserver.RequestIDHeader); requestIDRE.MatchString(id) {
				m.requestID = id
			}
		}
		c.SetRequest(r.WithContext(context.WithValue(r.Context(), requestMetaKey{}, m)))
		return next(c)
	}
}

func metaFrom(ctx context.Context) requestMeta {
	m, _ := ctx.Value(requestMetaKey{}).(requestMeta)
	return m
}

// forwardAuthorization is a request editor of the generated clients (metadata, media) that sends
// the caller's own Authorization header, so the other service authorizes the call as the caller.
func forwardAuthorization(ctx context.Context, req *http.Request) error {
	if h := metaFrom(ctx).authorization; h != "" {
		req.Header.Set("Authorization", h)
	}
	return nil
}

// actor is who makes a change: a user, or the system (the scheduler).
type actor struct {
	id        uuid.UUID  // uuid.Nil for the system
	roles     []string   // the roles the audit trail records
	requestID *string    // nil when unknown or for the system
	apiKey    *uuid.UUID // the API key the caller acted with; nil for a person's token
	system    bool
}

// systemActor makes the changes nobody requested: scheduled publications and purges.
var systemActor = actor{id: uuid.Nil, roles: []string{}, system: true}

// actorFrom returns the authenticated caller of the request; the handler middleware has
// authenticated and authorized it already.
func actorFrom(ctx context.Context) (actor, error) {
	p, ok := authn.FromContext(ctx)
	if !ok {
		return actor{}, apierror.Unauthorized("this operation needs a bearer token")
	}
	id, err := uuid.Parse(p.Subject)
	if err != nil {
		return actor{}, apierror.Unauthorized("the token's subject is not a user id")
	}
	roles := make([]string, 0, len(p.Roles))
	for _, r := range p.Roles {
		if cmsapi.Role(r).Valid() {
			roles = append(roles, r)
		}
	}
	slices.Sort(roles)
	a := actor{id: id, roles: slices.Compact(roles)}
	if rid := metaFrom(ctx).requestID; rid != "" {
		a.requestID = &rid
	}
	if key, err := uuid.Parse(p.KeyID); err == nil {
		a.apiKey = &key
	}
	return a, nil
}

// eventActor is the actor_id of an event: null for the system.
func (a actor) eventActor() *string {
	if a.system {
		return nil
	}
	id := a.id.String()
	return &id
}

// etag is the strong entity tag of a version: the quoted number (internal/etag).
func etag(version int32) string { return entitytag.Version(int64(version)) }

// checkIfMatch compares an If-Match header with the current version: nil when the header is
// absent, `*`, or lists the version's entity tag (weak or strong, internal/etag.Match); 412
// otherwise.
func checkIfMatch(ifMatch *string, version int32) error {
	if ifMatch == nil {
		return nil
	}
	want := etag(version)
	if entitytag.Match(*ifMatch, want) {
		return nil
	}
	return apierror.PreconditionFailed(fmt.Sprintf("If-Match does not match the current version %s", want))
}
