package e2e

import (
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/mediamesh/mediamesh/app"
	"github.com/mediamesh/mediamesh/gen/openapi/bundle"
	"github.com/mediamesh/mediamesh/internal/humantext"
	"github.com/mediamesh/mediamesh/internal/policy"
	"github.com/mediamesh/mediamesh/internal/testenv"
)

// textField is a request body field that holds human text: its path into the body (an array's
// items as "0") and the shared pattern it follows.
type textField struct {
	path    []string
	pattern string
}

// textFields lists the fields of s whose schema (or one of its allOf parts) has one of the shared
// human-text patterns.
func textFields(s *openapi3.Schema, path []string, out *[]textField) {
	if s == nil || len(path) > 6 {
		return
	}
	patterns := []string{humantext.LinePattern, humantext.BlockPattern, humantext.TagPattern}
	if slices.Contains(patterns, s.Pattern) {
		*out = append(*out, textField{path: slices.Clone(path), pattern: s.Pattern})
		return
	}
	for _, part := range s.AllOf {
		if part.Value != nil && slices.Contains(patterns, part.Value.Pattern) {
			*out = append(*out, textField{path: slices.Clone(path), pattern: part.Value.Pattern})
			return
		}
	}
	for name, p := range s.Properties {
		textFields(p.Value, append(path, name), out)
	}
	if s.Items != nil {
		textFields(s.Items.Value, append(path, "0"), out)
	}
}

// bodyWith is a JSON body that holds v at path (an array for each "0").
func bodyWith(path []string, v any) any {
	if len(path) == 0 {
		return v
	}
	inner := bodyWith(path[1:], v)
	if path[0] == "0" {
		return []any{inner}
	}
	return map[string]any{path[0]: inner}
}

// TestHumanTextEverywhere walks every JSON request body of the CMS gateway's contract, finds each
// field that references a shared text schema (HumanText, HumanTextBlock, Tag), and sends it text of
// only invisible characters and text with a control character, through the gateway and straight to
// the service that owns the operation: both answer 422 naming the field, with the code the services
// give. So every human-text field follows one rule, whichever way a request comes in.
func TestHumanTextEverywhere(t *testing.T) {
	cfg := app.Default()
	cfg.Target = append(append([]string{}, app.AllServices...), app.AllGateways...)
	cfg.Gateway.DiscoveryAddr, cfg.Gateway.CMSAddr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Gateway.RateLimits = false
	cfg.DataDir = t.TempDir()
	cfg.Auth.AdminPassword = "text admin password"
	for _, s := range app.AllServices {
		cfg.Services.Endpoint(s).Addr = testenv.FreeAddr(t)
	}
	urls, _, _ := start(t, cfg)
	gateway := urls["cms gateway"]
	token := login(t, gateway, "admin@mediamesh.local", "text admin password")

	doc, err := openapi3.NewLoader().LoadFromData(bundle.CMS)
	if err != nil {
		t.Fatal(err)
	}
	ops, err := policy.FromDoc(doc)
	if err != nil {
		t.Fatal(err)
	}
	samples := map[string]string{humantext.CodeBlank: "\u200b\u202e\u2060", humantext.CodeInvalidCharacter: "a\u0017"}
	var covered []string
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.RequestBody == nil || op.RequestBody.Value.Content.Get("application/json") == nil {
				continue
			}
			var fields []textField
			textFields(op.RequestBody.Value.Content.Get("application/json").Schema.Value, nil, &fields)
			owner := "http://" + cfg.Services.Endpoint(ops[op.OperationID].Service).Addr
			for _, f := range fields {
				name := strings.Join(f.path, ".")
				covered = append(covered, op.OperationID+" "+name)
				for code, v := range samples {
					body, _ := json.Marshal(bodyWith(f.path, v))
					for via, base := range map[string]string{"gateway": gateway, "service": owner} {
						status, out := call(t, method, base+fillPath(path), token, string(body))
						var p struct {
							Errors []struct{ Field, Code string } `json:"errors"`
						}
						_ = json.Unmarshal([]byte(out), &p)
						found := false
						for _, e := range p.Errors {
							found = found || e.Field == name && e.Code == code
						}
						if status != 422 || !found {
							t.Errorf("%s %s = %q via %s: %d %s, want 422 %s on %s", op.OperationID, name, v, via, status, out, code, name)
						}
					}
				}
			}
		}
	}
	sort.Strings(covered)
	for _, want := range []string{
		"createProgram title", "createProgram summary", "createProgram tags.0", "updateProgram title", "updateProgram summary", "updateProgram tags.0",
		"createEpisode title", "createEpisode summary", "updateEpisode title", "updateEpisode summary",
		"putMetadata title", "putMetadata description", "putMetadata tags.0", "putMetadata extra.0.value",
		"createCategory names.en", "createCategory names.ar", "updateCategory names.en", "updateCategory names.ar",
		"updateAsset alt_text", "createUploadSession alt_text",
		"createSource name", "updateSource name",
		"registerUser display_name", "createUser display_name", "updateMe display_name", "updateUser display_name",
	} {
		if !slices.Contains(covered, want) {
			t.Errorf("%s does not follow a shared text schema", want)
		}
	}
	t.Logf("%d human-text fields: %s", len(covered), strings.Join(covered, ", "))
}
