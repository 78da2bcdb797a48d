// Package auth is the auth service: users, sessions (login, refresh, logout), roles and the JWKS the platform verifies tokens with.
// It implements the generated strict server of specs/openapi/auth.yaml; operations it does not define
// yet answer 501 through the embedded authapi.Unimplemented.
package auth

import (
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/mediamesh/mediamesh/gen/openapi/authapi"
	"github.com/mediamesh/mediamesh/internal/authn"
	"github.com/mediamesh/mediamesh/internal/httpserver"
)

// Service implements authapi.StrictServerInterface.
type Service struct {
	authapi.Unimplemented
}

var _ authapi.StrictServerInterface = (*Service)(nil)

// New returns the service.
func New() *Service { return &Service{} }

// Handler serves the service's operations, each guarded by the policy its contract declares.
func (s *Service) Handler(log *slog.Logger, v authn.Verifier) (http.Handler, error) {
	return httpserver.API(log, authapi.GetSpec, v, func(e *echo.Echo, mws httpserver.OperationMiddlewares) {
		authapi.Register(e, s, mws)
	})
}
