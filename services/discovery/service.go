// Package discovery is the discovery service: the public read model of published programs, episodes and categories.
// It implements the generated strict server of specs/openapi/discovery.yaml; operations it does not define
// yet answer 501 through the embedded discoveryapi.Unimplemented.
package discovery

import (
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/mediamesh/mediamesh/gen/openapi/discoveryapi"
	"github.com/mediamesh/mediamesh/internal/authn"
	"github.com/mediamesh/mediamesh/internal/httpserver"
)

// Service implements discoveryapi.StrictServerInterface.
type Service struct {
	discoveryapi.Unimplemented
}

var _ discoveryapi.StrictServerInterface = (*Service)(nil)

// New returns the service.
func New() *Service { return &Service{} }

// Handler serves the service's operations, each guarded by the policy its contract declares.
func (s *Service) Handler(log *slog.Logger, v authn.Verifier) (http.Handler, error) {
	return httpserver.API(log, discoveryapi.GetSpec, v, func(e *echo.Echo, mws httpserver.OperationMiddlewares) {
		discoveryapi.Register(e, s, mws)
	})
}
