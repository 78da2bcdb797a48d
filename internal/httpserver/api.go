package httpserver

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel/trace"

	"github.com/mediamesh/mediamesh/internal/authn"
	"github.com/mediamesh/mediamesh/internal/contract"
	"github.com/mediamesh/mediamesh/internal/policy"
	"github.com/mediamesh/mediamesh/internal/telemetry"
)

// OperationMiddlewares maps an operationId to the echo middleware that runs before it.
type OperationMiddlewares = map[string][]echo.MiddlewareFunc

// API builds the handler of one service: an echo instance with Problem errors, and every operation
// guarded by the policy its contract declares and validated against it, before parameter binding
// (defence in depth: a service reached directly is as strict as through its gateway).
// register attaches the generated strict server with the given per-operation middleware.
func API(log *slog.Logger, spec func() (*openapi3.T, error), v authn.Verifier, register func(*echo.Echo, OperationMiddlewares)) (http.Handler, error) {
	doc, err := spec()
	if err != nil {
		return nil, fmt.Errorf("load embedded contract: %w", err)
	}
	c, err := contract.New(doc)
	if err != nil {
		return nil, err
	}
	mws := OperationMiddlewares{}
	for id, op := range c.Operations() {
		mws[id] = []echo.MiddlewareFunc{guard(c, v, op)}
	}
	e := NewEcho(log)
	register(e, mws)
	return e, nil
}

// guard authenticates and authorizes the request for op, then validates it against the contract.
func guard(ct *contract.Contract, v authn.Verifier, op *policy.Operation) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		// The embedded contract keeps the operationIds as the contract spells them (getMe), which
		// logs and metrics use, like the gateways.
		label := op.ID
		return func(c echo.Context) error {
			ctx, span := telemetry.Tracer().Start(c.Request().Context(), "service "+label, trace.WithSpanKind(trace.SpanKindInternal))
			defer span.End()
			c.SetRequest(c.Request().WithContext(ctx))
			SetOperation(ctx, label)
			p, err := authn.Authorize(v, op, c.Request())
			if err != nil {
				return err
			}
			r := c.Request()
			if p != nil {
				SetUser(r.Context(), p.Subject)
				SetAPIKey(r.Context(), p.KeyID)
				r = r.WithContext(authn.WithPrincipal(r.Context(), p))
				c.SetRequest(r)
			}
			// echo has matched the route already (it runs this middleware on op's route only). A
			// request that a gateway of this process validated against the same operation is not
			// validated twice; one that came over the network always is.
			if !contract.Validated(r.Context(), op.ID) {
				if err := ct.Validate(r, ct.Matched(op.ID, pathParams(c))); err != nil {
					return err
				}
			}
			return next(c)
		}
	}
}

// pathParams are the path parameters echo matched, unescaped as the contract router unescapes them:
// echo matches the escaped path when the request has one (URL.RawPath).
func pathParams(c echo.Context) map[string]string {
	names := c.ParamNames()
	if len(names) == 0 {
		return nil
	}
	values := c.ParamValues()
	params := make(map[string]string, len(names))
	for i, name := range names {
		v := values[i]
		if c.Request().URL.RawPath != "" {
			if u, err := url.PathUnescape(v); err == nil {
				v = u
			}
		}
		params[name] = v
	}
	return params
}
