package main

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

type edit struct {
	File    string `yaml:"file"`
	Set     []any  `yaml:"set"`
	Value   any    `yaml:"value"`
	Delete  []any  `yaml:"delete"`
	Rename  []any  `yaml:"rename"`
	From    string `yaml:"from"`
	To      string `yaml:"to"`
	Remove  bool   `yaml:"remove"`
	Content string `yaml:"content"`
}

type testCase struct {
	Name  string   `yaml:"name"`
	Rule  string   `yaml:"rule"`
	Edits []edit   `yaml:"edits"`
	Want  []string `yaml:"want"`
}

func TestCases(t *testing.T) {
	data, err := os.ReadFile("testdata/cases.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cases []testCase
	if err := yaml.Unmarshal(data, &cases); err != nil {
		t.Fatal(err)
	}
	passing, failing := map[string]bool{}, map[string]bool{}
	for _, tc := range cases {
		if len(tc.Want) == 0 {
			passing[tc.Rule] = true
		} else {
			failing[tc.Rule] = true
		}
		t.Run(tc.Name, func(t *testing.T) {
			current := t.TempDir()
			copyTree(t, "testdata/base", current)
			for _, e := range tc.Edits {
				if err := apply(current, e); err != nil {
					t.Fatalf("edit %+v: %v", e, err)
				}
			}
			got, _, err := check("testdata/base", current)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, "\n") != strings.Join(tc.Want, "\n") {
				t.Errorf("violations:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tc.Want, "\n  "))
			}
		})
	}
	for rule := range failing {
		if !passing[rule] && rule != "baseline" {
			t.Errorf("rule %q has no passing case", rule)
		}
	}
	for rule := range passing {
		if !failing[rule] && rule != "baseline" {
			t.Errorf("rule %q has no failing case", rule)
		}
	}
}

func TestRelease(t *testing.T) {
	released := filepath.Join(t.TempDir(), "released")
	// A stale file from an earlier release disappears.
	if err := os.MkdirAll(filepath.Join(released, "avro", "old"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(released, "avro", "old", "gone.avsc"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	n, err := releaseSpecs("testdata/base", released)
	if err != nil {
		t.Fatal(err)
	}
	if n != 4 {
		t.Errorf("released %d files, want 4", n)
	}
	for _, f := range []string{"openapi/common.yaml", "openapi/svc.yaml", "avro/demo/thing.created.avsc", "avro/demo/thing.deleted.avsc"} {
		if !exists(filepath.Join(released, f)) {
			t.Errorf("%s not released", f)
		}
	}
	if exists(filepath.Join(released, "avro", "old", "gone.avsc")) {
		t.Error("stale released file kept")
	}
	got, summary, err := check(released, "testdata/base")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Errorf("fresh release is incompatible with itself: %v", got)
	}
	if summary != "2 OpenAPI contract(s) and 2 Avro schema(s)" {
		t.Errorf("summary %q", summary)
	}
}

func TestMissingReleased(t *testing.T) {
	_, _, err := check(filepath.Join(t.TempDir(), "nope"), "testdata/base")
	if err == nil || !strings.Contains(err.Error(), "-release") {
		t.Fatalf("err = %v", err)
	}
}

func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		return copyFile(p, filepath.Join(dst, rel))
	})
	if err != nil {
		t.Fatal(err)
	}
}

// apply performs one edit on the tree rooted at dir.
func apply(dir string, e edit) error {
	file := filepath.Join(dir, filepath.FromSlash(e.File))
	switch {
	case e.Remove:
		return os.Remove(file)
	case e.Content != "":
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			return err
		}
		return os.WriteFile(file, []byte(e.Content), 0o644)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var doc any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return err
	}
	switch {
	case e.Set != nil:
		doc, err = setPath(doc, e.Set, e.Value)
	case e.Delete != nil:
		doc, err = deletePath(doc, e.Delete)
	case e.Rename != nil:
		var m any
		m, err = getPath(doc, e.Rename)
		if err == nil {
			mm, ok := m.(map[string]any)
			if !ok {
				return fmt.Errorf("rename: %v is not a map", e.Rename)
			}
			if _, ok := mm[e.From]; !ok {
				return fmt.Errorf("rename: no key %q", e.From)
			}
			mm[e.To] = mm[e.From]
			delete(mm, e.From)
		}
	default:
		return fmt.Errorf("edit does nothing")
	}
	if err != nil {
		return err
	}
	if strings.HasSuffix(file, ".avsc") {
		data, err = json.MarshalIndent(doc, "", "  ")
	} else {
		data, err = yaml.Marshal(doc)
	}
	if err != nil {
		return err
	}
	return os.WriteFile(file, data, 0o644)
}

func getPath(doc any, path []any) (any, error) {
	cur := doc
	for _, k := range path {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[fmt.Sprint(k)]
			if !ok {
				return nil, fmt.Errorf("no key %v", k)
			}
			cur = v
		case []any:
			i, ok := k.(int)
			if !ok || i < 0 || i >= len(c) {
				return nil, fmt.Errorf("bad index %v", k)
			}
			cur = c[i]
		default:
			return nil, fmt.Errorf("cannot index %T with %v", cur, k)
		}
	}
	return cur, nil
}

func setPath(doc any, path []any, value any) (any, error) {
	if len(path) == 0 {
		return value, nil
	}
	parent, err := getPath(doc, path[:len(path)-1])
	if err != nil {
		return nil, err
	}
	last := path[len(path)-1]
	switch p := parent.(type) {
	case map[string]any:
		p[fmt.Sprint(last)] = value
	case []any:
		i, ok := last.(int)
		switch {
		case ok && i >= 0 && i < len(p):
			p[i] = value
		case ok && i == len(p):
			return setPath(doc, path[:len(path)-1], append(p, value))
		default:
			return nil, fmt.Errorf("bad index %v", last)
		}
	default:
		return nil, fmt.Errorf("cannot set in %T", parent)
	}
	return doc, nil
}

func deletePath(doc any, path []any) (any, error) {
	parent, err := getPath(doc, path[:len(path)-1])
	if err != nil {
		return nil, err
	}
	last := path[len(path)-1]
	switch p := parent.(type) {
	case map[string]any:
		if _, ok := p[fmt.Sprint(last)]; !ok {
			return nil, fmt.Errorf("no key %v", last)
		}
		delete(p, fmt.Sprint(last))
		return doc, nil
	case []any:
		i, ok := last.(int)
		if !ok || i < 0 || i >= len(p) {
			return nil, fmt.Errorf("bad index %v", last)
		}
		return setPath(doc, path[:len(path)-1], append(p[:i:i], p[i+1:]...))
	}
	return nil, fmt.Errorf("cannot delete from %T", parent)
}

// TestReleaseMajorVersion: a later major version (openapi/v2/svc.yaml, referring to ../common.yaml)
// is released beside v1 and from then on checked against its own release.
func TestReleaseMajorVersion(t *testing.T) {
	current := filepath.Join(t.TempDir(), "current")
	released := filepath.Join(t.TempDir(), "released")
	svc, err := os.ReadFile("testdata/base/openapi/svc.yaml")
	if err != nil {
		t.Fatal(err)
	}
	v2 := strings.ReplaceAll(strings.ReplaceAll(string(svc), "'common.yaml#", "'../common.yaml#"), "/api/v1/", "/api/v2/")
	for f, data := range map[string]string{"openapi/svc.yaml": string(svc), "openapi/v2/svc.yaml": v2} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(current, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(current, f), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := copyFile("testdata/base/openapi/common.yaml", filepath.Join(current, "openapi", "common.yaml")); err != nil {
		t.Fatal(err)
	}
	// Before v2's release only v1 is compared.
	if err := os.MkdirAll(filepath.Join(released, "openapi"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"common.yaml", "svc.yaml"} {
		if err := copyFile(filepath.Join(current, "openapi", f), filepath.Join(released, "openapi", f)); err != nil {
			t.Fatal(err)
		}
	}
	if _, summary, err := check(released, current); err != nil || summary != "2 OpenAPI contract(s) and 0 Avro schema(s)" {
		t.Fatalf("before the v2 release: %q, %v", summary, err)
	}
	if _, err := releaseSpecs(current, released); err != nil {
		t.Fatal(err)
	}
	if !exists(filepath.Join(released, "openapi", "v2", "svc.yaml")) {
		t.Fatal("openapi/v2/svc.yaml not released")
	}
	got, summary, err := check(released, current)
	if err != nil || len(got) != 0 || summary != "3 OpenAPI contract(s) and 0 Avro schema(s)" {
		t.Fatalf("after the v2 release: %v %q %v", got, summary, err)
	}
	// A released v2 path that goes is a violation of v2's file (in a tree of its own: kin-openapi
	// caches what it read by file name).
	broken := strings.Replace(v2, "  /api/v2/svc/things:\n", "  /api/v2/svc/stuff:\n", 1)
	if broken == v2 {
		t.Fatal("the v2 contract has no /api/v2/svc/things")
	}
	next := filepath.Join(t.TempDir(), "next")
	for f, data := range map[string]string{"openapi/svc.yaml": string(svc), "openapi/v2/svc.yaml": broken} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(next, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(next, f), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := copyFile("testdata/base/openapi/common.yaml", filepath.Join(next, "openapi", "common.yaml")); err != nil {
		t.Fatal(err)
	}
	got, _, err = check(released, next)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 || !strings.HasPrefix(got[0], "openapi/v2/svc.yaml: ") {
		t.Fatalf("a removed v2 path: %v", got)
	}
}
