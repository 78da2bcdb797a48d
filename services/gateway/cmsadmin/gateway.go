// Package cmsadmin is the internal CMS gateway (:8081): the bundled contract of the cms, metadata,
// media, ingest and auth services, enforced by the generic policy gateway, with its docs.
package cmsadmin

import (
	"log/slog"
	"net/http"

	"github.com/mediamesh/mediamesh/gen/openapi/bundle"
	"github.com/mediamesh/mediamesh/internal/authn"
	"github.com/mediamesh/mediamesh/internal/gateway"
	"github.com/mediamesh/mediamesh/internal/ratelimit"
)

// Deps are the gateway's dependencies: one upstream per fronted service.
type Deps struct {
	Upstreams map[string]http.Handler
	Verifier  authn.Verifier
	Limiter   ratelimit.Limiter
	Log       *slog.Logger
}

// New returns the gateway's handler.
func New(d Deps) (http.Handler, error) {
	gw, err := gateway.New(gateway.Config{Name: "cms-gateway", Spec: bundle.CMS, Upstreams: d.Upstreams, Verifier: d.Verifier, Limiter: d.Limiter, Log: d.Log})
	if err != nil {
		return nil, err
	}
	return gateway.Mux(gw, bundle.CMS, "MediaMesh CMS Gateway API"), nil
}
