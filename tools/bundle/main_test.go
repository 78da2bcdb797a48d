package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

var testGateways = []gateway{
	{Name: "one", Var: "One", Title: "MediaMesh Test Gateway API", Services: []string{"alpha", "beta"}},
	{Name: "two", Var: "Two", Title: "MediaMesh Second Test Gateway API", Services: []string{"beta"}},
}

func TestBundleGolden(t *testing.T) {
	out := t.TempDir()
	if err := run("testdata/specs", out, testGateways); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"one.json", "two.json", "bundle.go"} {
		got, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		golden := filepath.Join("testdata", "golden", name+".golden")
		if *update {
			if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(golden, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run go test ./tools/bundle -update)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from %s; run go test ./tools/bundle -update and review the diff", name, golden)
		}
	}
}

func TestBundleDeterministic(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	for _, dir := range []string{a, b} {
		if err := run("testdata/specs", dir, testGateways); err != nil {
			t.Fatal(err)
		}
	}
	x, _ := os.ReadFile(filepath.Join(a, "one.json"))
	y, _ := os.ReadFile(filepath.Join(b, "one.json"))
	if !bytes.Equal(x, y) {
		t.Fatal("two runs produced different output")
	}
}

func TestBundleResolves(t *testing.T) {
	out := t.TempDir()
	if err := run("testdata/specs", out, testGateways); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(out, "one.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(data, []byte("}\n")) {
		t.Error("no trailing newline")
	}
	loader := openapi3.NewLoader() // external refs not allowed: the bundle must be self-contained
	doc, err := loader.LoadFromData(data)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), ".yaml#") {
		t.Error("bundle still has external refs")
	}

	schemaRef := func(p, method, status string) *openapi3.SchemaRef {
		t.Helper()
		op := doc.Paths.Value(p).GetOperation(method)
		if op == nil {
			t.Fatalf("%s %s missing", method, p)
		}
		return op.Responses.Value(status).Value.Content.Get("application/json").Schema
	}
	tests := []struct {
		path, method, status string
		wantRef              string
		wantProp             string // a property the resolved schema must have
	}{
		{"/api/v1/alpha/items/{itemId}", "GET", "200", "#/components/schemas/AlphaItem", "name"},
		{"/api/v1/alpha/items", "GET", "200", "#/components/schemas/AlphaItemList", "items"},
		{"/api/v1/beta/widgets", "GET", "200", "#/components/schemas/BetaItemList", "items"},
		{"/api/v1/beta/widgets", "POST", "201", "#/components/schemas/BetaItem", "label"},
		{"/api/v1/beta/pages", "GET", "200", "#/components/schemas/BetaPageInfo", "number"},
	}
	for _, tt := range tests {
		ref := schemaRef(tt.path, tt.method, tt.status)
		if ref.Ref != tt.wantRef {
			t.Errorf("%s %s: ref %q, want %q", tt.method, tt.path, ref.Ref, tt.wantRef)
		}
		if ref.Value == nil || ref.Value.Properties[tt.wantProp] == nil {
			t.Errorf("%s %s: %s does not resolve to a schema with %q", tt.method, tt.path, tt.wantRef, tt.wantProp)
		}
	}
	// Propagated rename: BetaItemList's items point at BetaItem, AlphaItemList's at AlphaItem.
	if got := doc.Components.Schemas["BetaItemList"].Value.Properties["items"].Value.Items.Ref; got != "#/components/schemas/BetaItem" {
		t.Errorf("BetaItemList items ref %q", got)
	}
	// common.yaml components keep their names; unused ones are dropped.
	if got := doc.Components.Schemas["AlphaItemList"].Value.Properties["page"].Ref; got != "#/components/schemas/PageInfo" {
		t.Errorf("AlphaItemList page ref %q", got)
	}
	for _, name := range []string{"Problem", "FieldError", "Id", "PageInfo"} {
		if doc.Components.Schemas[name] == nil {
			t.Errorf("common schema %s missing", name)
		}
	}
	if doc.Components.Schemas["Unused"] != nil {
		t.Error("unreferenced common schema Unused was kept")
	}
	// Identical components merge under one name.
	for _, name := range []string{"NotFound", "Problem"} {
		if doc.Components.Responses[name] == nil {
			t.Errorf("merged response %s missing", name)
		}
		if doc.Components.Responses["Alpha"+name] != nil || doc.Components.Responses["Beta"+name] != nil {
			t.Errorf("identical response %s was renamed", name)
		}
	}
	// x-service, pushed-down security, servers and tags.
	get := doc.Paths.Value("/api/v1/alpha/items/{itemId}").Get
	if get.Extensions["x-service"] != "alpha" {
		t.Errorf("x-service = %v", get.Extensions["x-service"])
	}
	if get.Security == nil || len(*get.Security) != 1 {
		t.Errorf("top-level security was not moved onto getAlphaItem: %v", get.Security)
	}
	if list := doc.Paths.Value("/api/v1/alpha/items").Get; list.Security == nil || len(*list.Security) != 0 {
		t.Errorf("public listAlphaItems security = %v, want []", list.Security)
	}
	if len(doc.Security) != 0 {
		t.Errorf("bundle has top-level security %v", doc.Security)
	}
	if len(doc.Servers) != 1 || doc.Servers[0].URL != "/" {
		t.Errorf("servers = %v", doc.Servers)
	}
	var tags []string
	for _, tag := range doc.Tags {
		tags = append(tags, tag.Name)
	}
	if got := strings.Join(tags, ","); got != "items,paging,widgets" {
		t.Errorf("tags = %s", got)
	}
	if d := doc.Tags.Get("items").Description; d != "Items as alpha sees them." {
		t.Errorf("items description %q", d)
	}
}

func TestBundleErrors(t *testing.T) {
	tests := []struct {
		name     string
		services []string
		wantErr  string // empty: must succeed
	}{
		{"same path and method", []string{"alpha", "samepath"}, "GET /api/v1/alpha/items is declared by both alpha.yaml and samepath.yaml"},
		{"same operationId", []string{"alpha", "sameid"}, `operationId "getAlphaItem" is used by both alpha.yaml GET /api/v1/alpha/items/{itemId} and sameid.yaml GET /api/v1/sameid/items`},
		{"same path, other method", []string{"alpha", "otherpath"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gws := []gateway{{Name: "gw", Var: "GW", Title: "Test", Services: tt.services}}
			err := run("testdata/dup", t.TempDir(), gws)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestNodeToAnyKeepsStatusKeysAndTimestamps(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "x.yaml")
	src := "responses:\n  200: {description: ok}\nwhen: 2026-11-25T10:00:00Z\nn: 3\nf: 1.5\nb: true\nz: null\nbase: &b {a: 1}\nderived:\n  <<: *b\n  c: 2\n"
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	tree, err := loadTree(file)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := marshalJSON(tree)
	want := `{
  "b": true,
  "base": {
    "a": 1
  },
  "derived": {
    "a": 1,
    "c": 2
  },
  "f": 1.5,
  "n": 3,
  "responses": {
    "200": {
      "description": "ok"
    }
  },
  "when": "2026-11-25T10:00:00Z",
  "z": null
}
`
	if string(got) != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// TestBundleMajorVersions bundles the real contracts: v2/discovery.yaml joins the discovery gateway
// as the discovery service's (x-service), its refs to ../common.yaml resolve, and each major version
// gets a view holding its paths only, embedded as DiscoveryVersions.
func TestBundleMajorVersions(t *testing.T) {
	out := t.TempDir()
	gws, err := withServices(gateways, "../../app", "../../specs/openapi")
	if err != nil {
		t.Fatal(err)
	}
	if err := run("../../specs/openapi", out, gws); err != nil {
		t.Fatal(err)
	}
	read := func(name string) map[string]any {
		t.Helper()
		data, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := json.Unmarshal(data, &doc); err != nil {
			t.Fatal(err)
		}
		return doc
	}
	all := read("discovery.json")
	op := all["paths"].(map[string]any)["/api/v2/discovery/programs"].(map[string]any)["get"].(map[string]any)
	if op["x-service"] != "discovery" || op["operationId"] != "listProgramsV2" {
		t.Errorf("v2 operation in the bundle: %v %v", op["x-service"], op["operationId"])
	}
	for _, v := range []string{"v1", "v2"} {
		view := read("discovery." + v + ".json")
		paths := view["paths"].(map[string]any)
		if len(paths) == 0 {
			t.Fatalf("%s view has no paths", v)
		}
		for p := range paths {
			if !strings.HasPrefix(p, "/api/"+v+"/") {
				t.Errorf("%s view holds %s", v, p)
			}
		}
		schemas := view["components"].(map[string]any)["schemas"].(map[string]any)
		if _, ok := schemas["ContentLanguage"]; ok != (v == "v2") {
			t.Errorf("%s view: ContentLanguage present %v", v, ok)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "cms.v1.json")); err == nil {
		t.Error("a gateway of one major version got a view")
	}
	src, err := os.ReadFile(filepath.Join(out, "bundle.go"))
	if err != nil || !strings.Contains(string(src), `var DiscoveryVersions = []Version{{"v1", DiscoveryV1}, {"v2", DiscoveryV2}}`) {
		t.Errorf("bundle.go: %v\n%s", err, src)
	}
}
