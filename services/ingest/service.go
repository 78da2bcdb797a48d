// Package ingest is the ingest service: ingest sources (RSS/Atom, YouTube, JSON APIs) and their runs.
// It implements the generated strict server of specs/openapi/ingest.yaml; operations it does not define
// yet answer 501 through the embedded ingestapi.Unimplemented.
package ingest

import (
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/mediamesh/mediamesh/gen/openapi/ingestapi"
	"github.com/mediamesh/mediamesh/internal/authn"
	"github.com/mediamesh/mediamesh/internal/httpserver"
)

// Service implements ingestapi.StrictServerInterface.
type Service struct {
	ingestapi.Unimplemented
}

var _ ingestapi.StrictServerInterface = (*Service)(nil)

// New returns the service.
func New() *Service { return &Service{} }

// Handler serves the service's operations, each guarded by the policy its contract declares.
func (s *Service) Handler(log *slog.Logger, v authn.Verifier) (http.Handler, error) {
	return httpserver.API(log, ingestapi.GetSpec, v, func(e *echo.Echo, mws httpserver.OperationMiddlewares) {
		ingestapi.Register(e, s, mws)
	})
}
