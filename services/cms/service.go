// Package cms is the cms service: programs and episodes: their lifecycle from draft to published to archived, scheduling and the audit trail.
// It implements the generated strict server of specs/openapi/cms.yaml; operations it does not define
// yet answer 501 through the embedded cmsapi.Unimplemented.
package cms

import (
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/mediamesh/mediamesh/gen/openapi/cmsapi"
	"github.com/mediamesh/mediamesh/internal/authn"
	"github.com/mediamesh/mediamesh/internal/httpserver"
)

// Service implements cmsapi.StrictServerInterface.
type Service struct {
	cmsapi.Unimplemented
}

var _ cmsapi.StrictServerInterface = (*Service)(nil)

// New returns the service.
func New() *Service { return &Service{} }

// Handler serves the service's operations, each guarded by the policy its contract declares.
func (s *Service) Handler(log *slog.Logger, v authn.Verifier) (http.Handler, error) {
	return httpserver.API(log, cmsapi.GetSpec, v, func(e *echo.Echo, mws httpserver.OperationMiddlewares) {
		cmsapi.Register(e, s, mws)
	})
}
