// Package metadata is the metadata service: versioned metadata of every content item and the managed category taxonomy.
// It implements the generated strict server of specs/openapi/metadata.yaml; operations it does not define
// yet answer 501 through the embedded metadataapi.Unimplemented.
package metadata

import (
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/mediamesh/mediamesh/gen/openapi/metadataapi"
	"github.com/mediamesh/mediamesh/internal/authn"
	"github.com/mediamesh/mediamesh/internal/httpserver"
)

// Service implements metadataapi.StrictServerInterface.
type Service struct {
	metadataapi.Unimplemented
}

var _ metadataapi.StrictServerInterface = (*Service)(nil)

// New returns the service.
func New() *Service { return &Service{} }

// Handler serves the service's operations, each guarded by the policy its contract declares.
func (s *Service) Handler(log *slog.Logger, v authn.Verifier) (http.Handler, error) {
	return httpserver.API(log, metadataapi.GetSpec, v, func(e *echo.Echo, mws httpserver.OperationMiddlewares) {
		metadataapi.Register(e, s, mws)
	})
}
