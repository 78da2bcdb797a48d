// Command implemented prints the operationIds of a gateway bundle whose owning service defines the
// operation itself (as opposed to inheriting the generated 501 from <svc>api.Unimplemented). The
// contract tests fuzz exactly these operations.
//
// Usage: go run ./tools/implemented -bundle gen/openapi/bundle/cms.json [-services services]
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode"
)

func main() {
	bundle := flag.String("bundle", "", "bundled gateway contract (JSON)")
	services := flag.String("services", "services", "directory holding one package per service")
	flag.Parse()
	ids, err := implemented(*bundle, *services)
	if err != nil {
		fmt.Fprintln(os.Stderr, "implemented:", err)
		os.Exit(1)
	}
	for _, id := range ids {
		fmt.Println(id)
	}
}

type operation struct {
	ID      string `json:"operationId"`
	Service string `json:"x-service"`
}

func implemented(bundlePath, servicesDir string) ([]string, error) {
	raw, err := os.ReadFile(bundlePath)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", bundlePath, err)
	}
	methods := map[string]map[string]bool{} // service -> normalized method names
	var out []string
	for _, item := range doc.Paths {
		for key, rawOp := range item {
			if key == "parameters" || strings.HasPrefix(key, "x-") || key == "summary" || key == "description" || key == "servers" {
				continue
			}
			var op operation
			if err := json.Unmarshal(rawOp, &op); err != nil {
				return nil, fmt.Errorf("%s: %w", bundlePath, err)
			}
			if op.Service == "" {
				return nil, fmt.Errorf("operation %s has no x-service", op.ID)
			}
			if methods[op.Service] == nil {
				m, err := serviceMethods(filepath.Join(servicesDir, op.Service))
				if err != nil {
					return nil, err
				}
				methods[op.Service] = m
			}
			if methods[op.Service][normalize(op.ID)] {
				out = append(out, op.ID)
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

// serviceMethods returns the methods declared on the type Service in dir's non-test files.
func serviceMethods(dir string) (map[string]bool, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no Go files in %s", dir)
	}
	names := map[string]bool{}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		for _, d := range file.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Recv == nil || len(fd.Recv.List) != 1 {
				continue
			}
			t := fd.Recv.List[0].Type
			if st, ok := t.(*ast.StarExpr); ok {
				t = st.X
			}
			if id, ok := t.(*ast.Ident); ok && id.Name == "Service" {
				names[normalize(fd.Name.Name)] = true
			}
		}
	}
	return names, nil
}

// normalize folds an operationId and the Go name oapi-codegen makes of it to the same key.
func normalize(s string) string {
	var b strings.Builder
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}
