package httpserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/mediamesh/mediamesh/internal/apierror"
	"github.com/mediamesh/mediamesh/internal/database"
)

// NewEcho returns an echo instance whose every error, from routing, parameter binding or a handler,
// is rendered as a Problem by apierror. 5xx causes are logged, never sent.
func NewEcho(log *slog.Logger) *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		if errors.Is(err, context.Canceled) && c.Request().Context().Err() != nil {
			// The client went away before the answer (a load generator stopping, a browser
			// navigating on): nobody reads it, and it is no server failure to log or alert on.
			// 499, nginx's "client closed request", is what the access log and metrics record.
			c.Response().WriteHeader(StatusClientClosedRequest)
			return
		}
		pe := FromEcho(err, c.Response().Header().Values(echo.HeaderAllow))
		if pe.Status >= 500 && pe.Status != http.StatusNotImplemented {
			log.ErrorContext(c.Request().Context(), "request failed", "error", err, "path", c.Request().URL.Path)
		}
		apierror.Write(c.Response(), c.Request(), pe)
	}
	return e
}

// StatusClientClosedRequest is the status recorded for a request whose client went away before
// the answer was ready (nginx's 499); nothing is sent.
const StatusClientClosedRequest = 499

var paramRE = regexp.MustCompile(`(?:parameter|header parameter) '?([A-Za-z0-9_.-]+)'?`)

// FromEcho maps echo's own errors (routing, binding) to Problems.
func FromEcho(err error, allow []string) *apierror.Error {
	var he *echo.HTTPError
	if !errors.As(err, &he) {
		var ae *apierror.Error
		if !errors.As(err, &ae) && database.IsUnavailable(err) {
			return apierror.Unavailable("the database is unavailable; retry shortly", 2*time.Second)
		}
		return apierror.From(err)
	}
	msg := fmt.Sprint(he.Message)
	switch he.Code {
	case http.StatusNotFound:
		return apierror.NotFound("no resource at this path")
	case http.StatusMethodNotAllowed:
		return apierror.MethodNotAllowed(allow)
	case http.StatusBadRequest:
		if m := paramRE.FindStringSubmatch(msg); m != nil {
			return apierror.BadRequest(msg, apierror.FieldError{Field: m[1], Message: msg, Code: "invalid"})
		}
		return apierror.BadRequest(msg)
	case http.StatusUnsupportedMediaType:
		return apierror.UnsupportedMediaType(msg)
	case http.StatusRequestEntityTooLarge:
		return apierror.PayloadTooLarge(msg)
	case http.StatusUnauthorized:
		return apierror.Unauthorized(msg)
	case http.StatusForbidden:
		return apierror.Forbidden(msg)
	}
	if he.Code >= 500 {
		return apierror.Internal(err)
	}
	e := apierror.BadRequest(msg)
	e.Status, e.Title = he.Code, http.StatusText(he.Code)
	return e
}
