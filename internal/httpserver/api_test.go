package httpserver

import (
	"testing"
	"unicode"

	"github.com/getkin/kin-openapi/openapi3"

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
