package httpserver

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

// A handler that fails because its client went away is recorded as 499 and logged as no failure;
// a cancellation that is not the request's own (a dependency's context) stays a 500.
func TestClientClosedRequest(t *testing.T) {
	var logs bytes.Buffer
	e := NewEcho(slog.New(slog.NewJSONHandler(&logs, nil)))
	e.GET("/slow", func(c echo.Context) error {
		return fmt.Errorf("list programs: %w", c.Request().Context().Err())
	})
	e.GET("/dependency", func(c echo.Context) error {
		return fmt.Errorf("call metadata: %w", context.Canceled)
	})

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/slow", nil).WithContext(ctx))
	if rec.Code != StatusClientClosedRequest || rec.Body.Len() != 0 {
		t.Errorf("client gone: status %d, body %q; want 499 and nothing", rec.Code, rec.Body)
	}
	if strings.Contains(logs.String(), "request failed") {
		t.Errorf("a client that went away was logged as a failure: %s", logs.String())
	}

	rec = httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/dependency", nil))
	if rec.Code != http.StatusInternalServerError {
		t.Errorf("a dependency's cancellation with the client still there: status %d, want 500", rec.Code)
	}
	if !strings.Contains(logs.String(), "request failed") {
		t.Error("a server failure was not logged")
	}
}
