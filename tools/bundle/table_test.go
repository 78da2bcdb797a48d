package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mediamesh/mediamesh/app"
)

// TestGatewaysFromModuleTable: the services each gateway's document bundles are those the
// composition root routes through it (app.Modules, built from the same table at run time), in the
// table's order, then their other major versions' contracts.
func TestGatewaysFromModuleTable(t *testing.T) {
	gws, err := withServices(gateways, "../../app", "../../specs/openapi")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{}
	for _, m := range app.Modules() {
		if m.Kind == "gateway" {
			want[m.Name] = m.Fronts
		}
	}
	if len(gws) != len(want) {
		t.Fatalf("tools/bundle documents %d gateways, the module table %d", len(gws), len(want))
	}
	for _, gw := range gws {
		var plain []string
		for _, s := range gw.Services {
			if !strings.Contains(s, "/") {
				plain = append(plain, s)
			}
		}
		if !slices.Equal(plain, want[gw.Gateway]) {
			t.Errorf("%s bundles %v, the composition root routes %v", gw.Gateway, gw.Services, want[gw.Gateway])
		}
	}
	if i := slices.IndexFunc(gws, func(g gateway) bool { return g.Gateway == "discovery-gateway" }); i < 0 || !slices.Contains(gws[i].Services, "v2/discovery") {
		t.Errorf("the discovery gateway's sources miss v2/discovery: %v", gws)
	}
}

// TestToyModuleIsBundled: a service added to the module table with one line, fronted by a gateway,
// joins that gateway's document (and a gateway the tool does not know is refused).
func TestToyModuleIsBundled(t *testing.T) {
	src, err := os.ReadFile("../../app/modules.go")
	if err != nil {
		t.Fatal(err)
	}
	targets, err := os.ReadFile("../../app/targets.go")
	if err != nil {
		t.Fatal(err)
	}
	const anchor = "var modules = []module{\n"
	if !strings.Contains(string(src), anchor) {
		t.Fatalf("app/modules.go has no %q", anchor)
	}
	write := func(line string) string {
		dir := t.TempDir()
		toy := strings.Replace(string(src), anchor, anchor+line+"\n", 1)
		if err := os.WriteFile(filepath.Join(dir, "modules.go"), []byte(toy), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "targets.go"), targets, 0o644); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	fronts, err := tableFronts(write(`	{name: "toy", addr: ":9199", fronted: []string{GatewayCMS}, build: nil},`))
	if err != nil {
		t.Fatal(err)
	}
	if got := fronts["cms-gateway"]; len(got) == 0 || got[0] != "toy" || !slices.Contains(got, "cms") {
		t.Errorf("cms-gateway fronts %v, want the toy first, then the table's others", got)
	}
	if _, err := withServices(gateways, write(`	{name: "toy", fronted: []string{"admin-gateway"}},`), "../../specs/openapi"); err == nil || !strings.Contains(err.Error(), "admin-gateway") {
		t.Errorf("a gateway tools/bundle does not list: %v, want it named", err)
	}
	if _, err := tableFronts(write(`	{name: toyName, fronted: []string{GatewayCMS}},`)); err == nil {
		t.Error("a name that is no string constant was accepted")
	}
}
