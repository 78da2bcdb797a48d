// Package search is the search service: full-text search over published content, with filters and facets.
// It implements the generated strict server of specs/openapi/search.yaml; operations it does not define
// yet answer 501 through the embedded searchapi.Unimplemented.
package search

import (
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/mediamesh/mediamesh/gen/openapi/searchapi"
	"github.com/mediamesh/mediamesh/internal/authn"
	"github.com/mediamesh/mediamesh/internal/httpserver"
)

// Service implements searchapi.StrictServerInterface.
type Service struct {
	searchapi.Unimplemented
}

var _ searchapi.StrictServerInterface = (*Service)(nil)

// New returns the service.
func New() *Service { return &Service{} }

// Handler serves the service's operations, each guarded by the policy its contract declares.
func (s *Service) Handler(log *slog.Logger, v authn.Verifier) (http.Handler, error) {
	return httpserver.API(log, searchapi.GetSpec, v, func(e *echo.Echo, mws httpserver.OperationMiddlewares) {
		searchapi.Register(e, s, mws)
	})
}
