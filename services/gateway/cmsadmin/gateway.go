// Package cmsadmin is the internal CMS gateway (:8081): the bundled contract of the cms, metadata,
// media, ingest and auth services, enforced by the generic policy gateway, with its docs.
package cmsadmin

import (
	"net/http"

	"github.com/mediamesh/mediamesh/gen/openapi/bundle"
	"github.com/mediamesh/mediamesh/internal/gateway"
)

// New returns the gateway's handler; cfg brings the upstreams, verifier, limiter and log.
func New(cfg gateway.Config) (http.Handler, error) {
	cfg.Name, cfg.Spec = "cms-gateway", bundle.CMS
	gw, err := gateway.New(cfg)
	if err != nil {
		return nil, err
	}
	return gateway.Mux(gw, bundle.CMS, "MediaMesh CMS Gateway API"), nil
}
