package gateway

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/mediamesh/mediamesh/internal/contract"
)

// TestUpstreamSeesValidated: the gateway marks a request it validated for its operation, so an
// in-process service skips validating it again (contract.Validated).
func TestUpstreamSeesValidated(t *testing.T) {
	var saw []bool
	up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		saw = append(saw, contract.Validated(r.Context(), "listThings"), contract.Validated(r.Context(), "getThing"))
	})
	gw, err := New(Config{Name: "test", Spec: []byte(spec), Upstreams: map[string]http.Handler{"things": up, "other": up}, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	gw.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/things?limit=5", nil))
	if rec.Code != http.StatusOK || len(saw) != 2 || !saw[0] || saw[1] {
		t.Fatalf("upstream saw validated(listThings, getThing) = %v, status %d", saw, rec.Code)
	}
}
