package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// The services each gateway fronts come from the composition root's module table (`modules` in
// app/modules.go, each line's `fronted`), read from its source: the bundle is generated before
// anything that imports it compiles, so this tool cannot import app (which embeds the bundle).

// tableFronts returns, for each gateway named in the module table of the Go package in appDir,
// the services it fronts in table order. Names are the string constants of the package's files
// (ServiceAuth = "auth", GatewayCMS = "cms-gateway", ...) or string literals.
func tableFronts(appDir string) (map[string][]string, error) {
	paths, err := filepath.Glob(filepath.Join(appDir, "*.go"))
	if err != nil {
		return nil, err
	}
	fset := token.NewFileSet()
	consts := map[string]string{}
	var table *ast.CompositeLit
	for _, path := range paths {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok {
				continue
			}
			for _, spec := range gd.Specs {
				vs, ok := spec.(*ast.ValueSpec)
				if !ok {
					continue
				}
				for i, name := range vs.Names {
					if i >= len(vs.Values) {
						break
					}
					switch {
					case gd.Tok == token.CONST:
						if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
							consts[name.Name], _ = strconv.Unquote(lit.Value)
						}
					case gd.Tok == token.VAR && name.Name == "modules":
						table, _ = vs.Values[i].(*ast.CompositeLit)
					}
				}
			}
		}
	}
	if table == nil {
		return nil, fmt.Errorf("%s: no module table (var modules = []module{...})", appDir)
	}
	str := func(e ast.Expr) (string, error) {
		switch e := e.(type) {
		case *ast.BasicLit:
			if e.Kind == token.STRING {
				return strconv.Unquote(e.Value)
			}
		case *ast.Ident:
			if v, ok := consts[e.Name]; ok {
				return v, nil
			}
		}
		return "", fmt.Errorf("%s: want a string constant or literal", fset.Position(e.Pos()))
	}
	out := map[string][]string{}
	for _, elt := range table.Elts {
		line, ok := elt.(*ast.CompositeLit)
		if !ok {
			return nil, fmt.Errorf("%s: a module table line is not a literal", fset.Position(elt.Pos()))
		}
		var name string
		var fronted []string
		for _, kv := range line.Elts {
			kv, ok := kv.(*ast.KeyValueExpr)
			if !ok {
				return nil, fmt.Errorf("%s: module fields must be named", fset.Position(line.Pos()))
			}
			switch key, _ := kv.Key.(*ast.Ident); {
			case key == nil:
			case key.Name == "name":
				if name, err = str(kv.Value); err != nil {
					return nil, err
				}
			case key.Name == "fronted":
				list, ok := kv.Value.(*ast.CompositeLit)
				if !ok {
					return nil, fmt.Errorf("%s: fronted: want a []string literal", fset.Position(kv.Pos()))
				}
				for _, g := range list.Elts {
					s, err := str(g)
					if err != nil {
						return nil, err
					}
					fronted = append(fronted, s)
				}
			}
		}
		if name == "" {
			return nil, fmt.Errorf("%s: a module without a name", fset.Position(line.Pos()))
		}
		for _, g := range fronted {
			out[g] = append(out[g], name)
		}
	}
	return out, nil
}

var versionDir = regexp.MustCompile(`^v([0-9]+)$`)

// sources returns a gateway's sources: the services it fronts, in table order, then their other
// major versions found in specDir (vN/<service>.yaml), by version and then table order.
func sources(specDir string, services []string) ([]string, error) {
	out := slices.Clone(services)
	dirs, err := os.ReadDir(specDir)
	if err != nil {
		return nil, err
	}
	type versioned struct {
		n   int
		src string
	}
	var more []versioned
	for _, d := range dirs {
		m := versionDir.FindStringSubmatch(d.Name())
		if !d.IsDir() || m == nil {
			continue
		}
		n, _ := strconv.Atoi(m[1])
		for _, s := range services {
			if _, err := os.Stat(filepath.Join(specDir, d.Name(), s+".yaml")); err == nil {
				more = append(more, versioned{n, d.Name() + "/" + s})
			}
		}
	}
	sort.SliceStable(more, func(i, j int) bool { return more[i].n < more[j].n })
	for _, v := range more {
		out = append(out, v.src)
	}
	return out, nil
}

// withServices fills each gateway's Services from the module table of appDir and the contracts of
// specDir; a gateway the table does not name, or a table gateway without an entry here, is an error.
func withServices(gws []gateway, appDir, specDir string) ([]gateway, error) {
	fronts, err := tableFronts(appDir)
	if err != nil {
		return nil, err
	}
	out := make([]gateway, len(gws))
	for i, gw := range gws {
		if len(fronts[gw.Gateway]) == 0 {
			return nil, fmt.Errorf("gateway %s: no module of %s's table is fronted by it", gw.Gateway, appDir)
		}
		gw.Services, err = sources(specDir, fronts[gw.Gateway])
		if err != nil {
			return nil, err
		}
		out[i] = gw
		delete(fronts, gw.Gateway)
	}
	if len(fronts) > 0 {
		var names []string
		for g := range fronts {
			names = append(names, g)
		}
		sort.Strings(names)
		return nil, fmt.Errorf("the module table names gateway %s, which tools/bundle's gateways do not list", strings.Join(names, ", "))
	}
	return out, nil
}
