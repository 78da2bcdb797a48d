// Command implemented prints the operationIds of a gateway bundle whose owning service defines the
// operation itself (as opposed to inheriting the generated 501 from <svc>api.Unimplemented). The
// contract tests fuzz exactly these operations.
//
// With -tags it prints instead the tags (Postman folders) whose operations are all implemented.
//
// Usage: go run ./tools/implemented -bundle gen/openapi/bundle/cms.json [-services services] [-tags]
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
	tags := flag.Bool("tags", false, "print the tags whose operations are all implemented")
	flag.Parse()
	ops, err := scan(*bundle, *services)
	if err != nil {
		fmt.Fprintln(os.Stderr, "implemented:", err)
		os.Exit(1)
	}
	out := ops.ids()
	if *tags {
		out = ops.completeTags()
	}
	for _, id := range out {
		fmt.Println(id)
	}
}

type operation struct {
	ID          string   `json:"operationId"`
	Service     string   `json:"x-service"`
	Tags        []string `json:"tags"`
	implemented bool
}

type operations []operation

// ids returns the implemented operationIds, sorted.
func (ops operations) ids() []string {
	var out []string
	for _, op := range ops {
		if op.implemented {
			out = append(out, op.ID)
		}
	}
	sort.Strings(out)
	return out
}

// completeTags returns the tags all of whose operations are implemented, sorted.
func (ops operations) completeTags() []string {
	complete := map[string]bool{}
	for _, op := range ops {
		for _, t := range op.Tags {
			if _, seen := complete[t]; !seen {
				complete[t] = true
			}
			complete[t] = complete[t] && op.implemented
		}
	}
	var out []string
	for t, ok := range complete {
		if ok {
			out = append(out, t)
		}
	}
	sort.Strings(out)
	return out
}

func implemented(bundlePath, servicesDir string) ([]string, error) {
	ops, err := scan(bundlePath, servicesDir)
	return ops.ids(), err
}

func scan(bundlePath, servicesDir string) (operations, error) {
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
	var out operations
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
			op.implemented = methods[op.Service][normalize(op.ID)]
			out = append(out, op)
		}
	}
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
