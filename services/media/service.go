// Package media is the media service: media assets: uploads, storage, checksums, thumbnails and CDN URLs.
// It implements the generated strict server of specs/openapi/media.yaml; operations it does not define
// yet answer 501 through the embedded mediaapi.Unimplemented.
package media

import (
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/mediamesh/mediamesh/gen/openapi/mediaapi"
	"github.com/mediamesh/mediamesh/internal/authn"
	"github.com/mediamesh/mediamesh/internal/httpserver"
)

// Service implements mediaapi.StrictServerInterface.
type Service struct {
	mediaapi.Unimplemented
}

var _ mediaapi.StrictServerInterface = (*Service)(nil)

// New returns the service.
func New() *Service { return &Service{} }

// Handler serves the service's operations, each guarded by the policy its contract declares.
func (s *Service) Handler(log *slog.Logger, v authn.Verifier) (http.Handler, error) {
	return httpserver.API(log, mediaapi.GetSpec, v, func(e *echo.Echo, mws httpserver.OperationMiddlewares) {
		mediaapi.Register(e, s, mws)
	})
}
