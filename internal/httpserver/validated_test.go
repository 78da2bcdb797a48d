package httpserver

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/mediamesh/mediamesh/gen/openapi/discoveryapi"
	"github.com/mediamesh/mediamesh/internal/contract"
)

// TestValidatedByGateway: the guard validates every request against its operation, except one
// that a gateway of this process marked validated for that very operation.
func TestValidatedByGateway(t *testing.T) {
	ran := 0
	h, err := API(slog.New(slog.DiscardHandler), discoveryapi.GetSpec, nil, func(e *echo.Echo, mws OperationMiddlewares) {
		e.POST("/api/v1/discovery/events", func(c echo.Context) error { ran++; return c.NoContent(http.StatusAccepted) }, mws["recordEngagement"]...)
	})
	if err != nil {
		t.Fatal(err)
	}
	post := func(mark string) int {
		req := httptest.NewRequest(http.MethodPost, "/api/v1/discovery/events", strings.NewReader(`{"events": "not a list"}`))
		req.Header.Set("Content-Type", "application/json")
		if mark != "" {
			req = req.WithContext(contract.WithValidated(req.Context(), mark))
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	if code := post(""); code != http.StatusUnprocessableEntity && code != http.StatusBadRequest || ran != 0 {
		t.Fatalf("an invalid body: %d, handler ran %d times", code, ran)
	}
	if code := post("listTrending"); code != http.StatusUnprocessableEntity && code != http.StatusBadRequest || ran != 0 {
		t.Fatalf("an invalid body marked validated for another operation: %d, handler ran %d times", code, ran)
	}
	if code := post("recordEngagement"); code != http.StatusAccepted || ran != 1 {
		t.Fatalf("a body a gateway validated: %d, handler ran %d times", code, ran)
	}
}
