package mediatype

import (
	"os"
	"slices"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestAllowListMatchesSpec keeps the allow-list and the kinds equal to the contract's
// UploadContentType and AssetKind enums.
func TestAllowListMatchesSpec(t *testing.T) {
	raw, err := os.ReadFile("../../../specs/openapi/media.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var spec struct {
		Components struct {
			Schemas map[string]struct {
				Enum []string `yaml:"enum"`
			} `yaml:"schemas"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(raw, &spec); err != nil {
		t.Fatal(err)
	}
	types := spec.Components.Schemas["UploadContentType"].Enum
	kinds := spec.Components.Schemas["AssetKind"].Enum
	if len(types) == 0 || len(kinds) == 0 {
		t.Fatal("UploadContentType or AssetKind enum missing from the spec")
	}
	for _, ct := range types {
		if _, ok := allowed[ct]; !ok {
			t.Errorf("the spec allows %q, the allow-list does not", ct)
		}
	}
	usedKinds := map[Kind]bool{}
	for ct, kind := range allowed {
		if !slices.Contains(types, ct) {
			t.Errorf("the allow-list has %q, the spec does not", ct)
		}
		if !slices.Contains(kinds, string(kind)) {
			t.Errorf("%q has kind %q, not an AssetKind of the spec", ct, kind)
		}
		usedKinds[kind] = true
	}
	for _, k := range []Kind{KindImage, KindVideo, KindAudio} {
		if !slices.Contains(kinds, string(k)) || !usedKinds[k] {
			t.Errorf("kind %q is not an AssetKind of the spec, or no allowed type has it", k)
		}
	}
	if len(usedKinds) != len(kinds) {
		t.Errorf("the allow-list uses kinds %v, the spec has %v", usedKinds, kinds)
	}
}
