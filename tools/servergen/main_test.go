package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestGenerateGolden(t *testing.T) {
	got, err := generate(filepath.Join("testdata", "petapi.go.txt"))
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "server.golden")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (run go test -update):\n%s", golden, got)
	}
}

func TestMissingRegistration(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x.go")
	src := "package x\n\ntype StrictServerInterface interface{ A(); B() }\n\nfunc f() { router.GET(\"/a\", wrapper.A, options.OperationMiddlewares[\"a\"]...) }\n"
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := generate(p); err == nil {
		t.Fatal("want an error when an operation has no route registration")
	}
}

func TestNoInterface(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x.go")
	if err := os.WriteFile(p, []byte("package x\n\ntype Other interface{ A() }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := generate(p); err == nil {
		t.Fatal("want an error for a file without StrictServerInterface")
	}
}
