package httpserver

import (
	"fmt"
	"log/slog"
	"net/http"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/labstack/echo/v4"

	"github.com/mediamesh/mediamesh/internal/authn"
	"github.com/mediamesh/mediamesh/internal/policy"
)

// OperationMiddlewares maps an operationId to the echo middleware that runs before it.
type OperationMiddlewares = map[string][]echo.MiddlewareFunc

// API builds the handler of one service: an echo instance with Problem errors, and every operation
// guarded by the policy its contract declares (defence in depth: the gateway checked it already).
// register attaches the generated strict server with the given per-operation middleware.
func API(log *slog.Logger, spec func() (*openapi3.T, error), v authn.Verifier, register func(*echo.Echo, OperationMiddlewares)) (http.Handler, error) {
	doc, err := spec()
	if err != nil {
		return nil, fmt.Errorf("load embedded contract: %w", err)
	}
	ops, err := policy.FromDoc(doc)
	if err != nil {
		return nil, err
	}
	mws := OperationMiddlewares{}
	for id, op := range ops {
		mws[id] = []echo.MiddlewareFunc{authorize(v, op)}
	}
	e := NewEcho(log)
	register(e, mws)
	return e, nil
}

func authorize(v authn.Verifier, op *policy.Operation) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			p, err := authn.Authorize(v, op, c.Request())
			if err != nil {
				return err
			}
			if p != nil {
				c.SetRequest(c.Request().WithContext(authn.WithPrincipal(c.Request().Context(), p)))
			}
			return next(c)
		}
	}
}
