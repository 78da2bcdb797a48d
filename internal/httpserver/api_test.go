package httpserver

import (
	"maps"
	"net/http"
	"net/http/httptest"
	"testing"
	"unicode"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/labstack/echo/v4"

	"github.com/mediamesh/mediamesh/gen/openapi/authapi"
	"github.com/mediamesh/mediamesh/gen/openapi/cmsapi"
	"github.com/mediamesh/mediamesh/gen/openapi/discoveryapi"
	"github.com/mediamesh/mediamesh/gen/openapi/ingestapi"
	"github.com/mediamesh/mediamesh/gen/openapi/mediaapi"
	"github.com/mediamesh/mediamesh/gen/openapi/metadataapi"
	"github.com/mediamesh/mediamesh/gen/openapi/searchapi"
	discoveryv2 "github.com/mediamesh/mediamesh/gen/openapi/v2/discoveryapi"
)

// TestEmbeddedOperationIDs holds every service's embedded contract to the operationIds as the
// contract spells them (camelCase): API keys each operation's guard by them, and the generated
// RegisterHandlersWithOptions looks the middleware up by the contract's spelling. A cfg.yaml without
// preserve-original-operation-id-casing-in-embedded-spec embeds Go names (GetMe) instead, and the
// service would run its operations unguarded.
func TestEmbeddedOperationIDs(t *testing.T) {
	specs := map[string]func() (*openapi3.T, error){
		"auth": authapi.GetSpec, "cms": cmsapi.GetSpec, "discovery": discoveryapi.GetSpec, "discovery v2": discoveryv2.GetSpec,
		"ingest": ingestapi.GetSpec, "media": mediaapi.GetSpec, "metadata": metadataapi.GetSpec, "search": searchapi.GetSpec,
	}
	for name, spec := range specs {
		doc, err := spec()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		n := 0
		for path, item := range doc.Paths.Map() {
			for method, op := range item.Operations() {
				n++
				if op.OperationID == "" || !unicode.IsLower(rune(op.OperationID[0])) {
					t.Errorf("%s: %s %s: embedded operationId %q, want the contract's camelCase", name, method, path, op.OperationID)
				}
			}
		}
		if n == 0 {
			t.Errorf("%s: no operations", name)
		}
	}
}

// TestPathParams: the guard validates the path parameters echo matched, unescaped once, whether or
// not the request keeps an escaped form of its path (URL.RawPath, set when it holds %2F).
func TestPathParams(t *testing.T) {
	e := echo.New()
	var got map[string]string
	e.GET("/items/:id/parts/:part", func(c echo.Context) error { got = pathParams(c); return nil })
	for target, want := range map[string]map[string]string{
		"/items/42/parts/a":             {"id": "42", "part": "a"},
		"/items/a%20b/parts/c%C3%A9":    {"id": "a b", "part": "cé"},
		"/items/a%2Fb/parts/100%25":     {"id": "a/b", "part": "100%"},
		"/items/a%2Fb/parts/x%2520y%2F": {"id": "a/b", "part": "x%20y/"},
	} {
		got = nil
		e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, target, nil))
		if !maps.Equal(got, want) {
			t.Errorf("%s: params %v, want %v", target, got, want)
		}
	}
}
