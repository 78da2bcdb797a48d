// Command bundle builds the public gateway OpenAPI documents from the service contracts.
//
//	go run ./tools/bundle -out gen/openapi/bundle
//
// For each gateway it merges the paths and components of the service specs it fronts into one
// self-contained OpenAPI 3.0.3 JSON document (no external refs), tags every operation with
// `x-service`, internalizes common.yaml components under their own names, merges identical
// components and renames differing ones with the same name to <Svc><Name>. It also writes
// bundle.go, which embeds the documents.
//
// A service may have several major versions of its contract side by side: `vN/<service>.yaml`
// (for example specs/openapi/v2/discovery.yaml, paths under /api/v2/) is a source of its own in
// the gateway's list, whose operations are tagged with the service's name, so the same upstream
// serves every version. A versioned copy of a component that differs from another source's is
// renamed <Service>VN<Name>. When a gateway's paths span more than one major version, each version
// also gets a view of its own, <gateway>.vN.json (its paths and what they reference), for the
// docs' version picker; the gateway itself enforces the whole document.
package main

import (
	"context"
	"flag"
	"fmt"
	"go/format"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// gateway is one public API: the services it fronts, in precedence order.
type gateway struct {
	Gateway  string // the gateway's name in the module table (app/modules.go)
	Name     string // output file base name
	Var      string // Go variable in bundle.go
	Title    string
	Services []string // the module table's services fronted by the gateway, in table order, then their vN/ contracts (withServices)
}

// gateways are the gateways' documents; which services each one fronts is the module table's.
var gateways = []gateway{
	{Gateway: "discovery-gateway", Name: "discovery", Var: "Discovery", Title: "MediaMesh Discovery Gateway API"},
	{Gateway: "cms-gateway", Name: "cms", Var: "CMS", Title: "MediaMesh CMS Gateway API"},
}

const commonSrc = "common"

var componentKinds = []string{"schemas", "responses", "parameters", "examples", "requestBodies", "headers", "securitySchemes", "links", "callbacks"}

var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

func main() {
	specDir := flag.String("specs", "specs/openapi", "directory holding common.yaml and <service>.yaml")
	outDir := flag.String("out", "gen/openapi/bundle", "output directory")
	appDir := flag.String("app", "app", "directory of the composition root, whose module table says which services each gateway fronts")
	flag.Parse()
	gws, err := withServices(gateways, *appDir, *specDir)
	if err == nil {
		err = run(*specDir, *outDir, gws)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "bundle: %v\n", err)
		os.Exit(1)
	}
}

func run(specDir, outDir string, gws []gateway) error {
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return err
	}
	common, err := loadTree(filepath.Join(specDir, "common.yaml"))
	if err != nil {
		return err
	}
	validated := map[string]bool{}
	views := map[string][]string{} // gateway -> its major versions, when more than one
	for _, gw := range gws {
		for _, svc := range gw.Services {
			if validated[svc] {
				continue
			}
			if err := validateSource(filepath.Join(specDir, svc+".yaml")); err != nil {
				return err
			}
			validated[svc] = true
		}
		doc, renames, err := bundleGateway(specDir, gw, common)
		if err != nil {
			return fmt.Errorf("gateway %s: %w", gw.Name, err)
		}
		for _, r := range renames {
			fmt.Fprintf(os.Stderr, "bundle: %s: renamed %s\n", gw.Name, r)
		}
		data, err := marshalJSON(doc)
		if err != nil {
			return fmt.Errorf("gateway %s: %w", gw.Name, err)
		}
		if err := validateBundle(data); err != nil {
			return fmt.Errorf("gateway %s: bundled document is invalid: %w", gw.Name, err)
		}
		if err := os.WriteFile(filepath.Join(outDir, gw.Name+".json"), data, 0o644); err != nil {
			return err
		}
		versions := majorVersions(doc)
		if len(versions) < 2 {
			continue
		}
		views[gw.Name] = versions
		for _, v := range versions {
			data, err := marshalJSON(versionView(doc, v))
			if err != nil {
				return fmt.Errorf("gateway %s %s: %w", gw.Name, v, err)
			}
			if err := validateBundle(data); err != nil {
				return fmt.Errorf("gateway %s: the %s view is invalid: %w", gw.Name, v, err)
			}
			if err := os.WriteFile(filepath.Join(outDir, gw.Name+"."+v+".json"), data, 0o644); err != nil {
				return err
			}
		}
	}
	src, err := embedSource(gws, views)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(outDir, "bundle.go"), src, 0o644)
}

// validateSource loads a service spec with kin-openapi (resolving common.yaml) and validates it, so
// that a broken source is reported against its own file rather than against the bundle.
func validateSource(file string) error {
	loader := openapi3.NewLoader()
	loader.IsExternalRefsAllowed = true
	doc, err := loader.LoadFromFile(file)
	if err != nil {
		return fmt.Errorf("%s: load: %w", file, err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return fmt.Errorf("%s: invalid: %w", file, err)
	}
	return nil
}

// validateBundle checks that a bundled document has no external refs and that kin-openapi loads and
// validates it on its own.
func validateBundle(data []byte) error {
	loader := openapi3.NewLoader()
	loader.IsExternalRefsAllowed = false
	doc, err := loader.LoadFromDataWithPath(data, &url.URL{Path: "bundle.json"})
	if err != nil {
		return err
	}
	return doc.Validate(context.Background())
}

func embedSource(gws []gateway, views map[string][]string) ([]byte, error) {
	var b strings.Builder
	b.WriteString("// Code generated by tools/bundle. DO NOT EDIT.\n\n")
	b.WriteString("// Package bundle embeds the public gateway OpenAPI documents, bundled from the service\n")
	b.WriteString("// contracts in specs/openapi (served at /openapi.json).\n")
	b.WriteString("package bundle\n\nimport _ \"embed\"\n")
	for _, gw := range gws {
		fmt.Fprintf(&b, "\n// %s is the OpenAPI document of the %s (services: %s).\n//\n//go:embed %s.json\nvar %s []byte\n",
			gw.Var, gw.Title, strings.Join(gw.Services, ", "), gw.Name, gw.Var)
		if len(views[gw.Name]) == 0 {
			continue
		}
		var entries []string
		for _, v := range views[gw.Name] {
			name := gw.Var + strings.ToUpper(v[:1]) + v[1:]
			fmt.Fprintf(&b, "\n// %s is the %s view of %s: the paths under /api/%s/ and what they reference.\n//\n//go:embed %s.%s.json\nvar %s []byte\n",
				name, v, gw.Var, v, gw.Name, v, name)
			entries = append(entries, fmt.Sprintf("{%q, %s}", v, name))
		}
		fmt.Fprintf(&b, "\n// %sVersions lists %s's major versions in order, each with its view (the docs' version picker).\nvar %sVersions = []Version{%s}\n",
			gw.Var, gw.Var, gw.Var, strings.Join(entries, ", "))
	}
	if len(views) > 0 {
		b.WriteString("\n// Version is one major version of a gateway's API and its OpenAPI view.\ntype Version struct {\n\tName string // v1, v2, ...\n\tSpec []byte\n}\n")
	}
	return format.Source([]byte(b.String()))
}

// compKey identifies a component in one source document.
type compKey struct{ src, kind, name string }

type bundler struct {
	gw       gateway
	srcs     []string                  // common first, then the services in gateway order
	trees    map[string]map[string]any // source -> document
	comps    map[compKey]any           // every component of every source
	final    map[compKey]string        // component -> name in the bundle
	fromSvc  map[string]bool           // "kind/name" in the bundle that some service declares
	renamedF map[compKey]bool
}

// bundleGateway returns the bundled document and the renames it made ("kind/Name (svc) -> NewName").
func bundleGateway(specDir string, gw gateway, common map[string]any) (map[string]any, []string, error) {
	b := &bundler{
		gw:       gw,
		srcs:     []string{commonSrc},
		trees:    map[string]map[string]any{commonSrc: common},
		comps:    map[compKey]any{},
		final:    map[compKey]string{},
		fromSvc:  map[string]bool{},
		renamedF: map[compKey]bool{},
	}
	for _, svc := range gw.Services {
		if svc == commonSrc {
			return nil, nil, fmt.Errorf("a service cannot be called %q", commonSrc)
		}
		t, err := loadTree(filepath.Join(specDir, svc+".yaml"))
		if err != nil {
			return nil, nil, err
		}
		b.srcs = append(b.srcs, svc)
		b.trees[svc] = t
	}
	for _, src := range b.srcs {
		comps, _ := b.trees[src]["components"].(map[string]any)
		for kind, v := range comps {
			if strings.HasPrefix(kind, "x-") {
				continue
			}
			if !slices.Contains(componentKinds, kind) {
				return nil, nil, fmt.Errorf("%s: unknown components section %q", b.file(src), kind)
			}
			m, _ := v.(map[string]any)
			for name, c := range m {
				if storageOnly(c) {
					continue // a shared storage schema (specs/storage): entgen's, never bundled
				}
				k := compKey{src, kind, name}
				b.comps[k] = c
				b.final[k] = name
			}
		}
	}
	if err := b.resolveNames(); err != nil {
		return nil, nil, err
	}
	components, err := b.components()
	if err != nil {
		return nil, nil, err
	}
	paths, opTags, err := b.paths()
	if err != nil {
		return nil, nil, err
	}
	doc := map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{
			"title":   gw.Title,
			"version": "1.0.0",
			"description": fmt.Sprintf("Public API of the MediaMesh %s gateway, bundled by tools/bundle from the %s service contracts. "+
				"Each operation's `x-service` names the service that implements it.", gw.Name, strings.Join(gw.Services, ", ")),
		},
		"servers": []any{map[string]any{"url": "/"}},
		"paths":   paths,
	}
	if len(components) > 0 {
		doc["components"] = components
	}
	if tags := b.tags(opTags); len(tags) > 0 {
		doc["tags"] = tags
	}
	b.prune(doc)
	return doc, b.Renames(), nil
}

func (b *bundler) file(src string) string { return src + ".yaml" }

// serviceOf is the service a source belongs to: "discovery" for discovery.yaml and v2/discovery.yaml.
func serviceOf(src string) string { return path.Base(src) }

// svcPrefix is the prefix of a source's renamed components: Discovery, or DiscoveryV2 for v2/discovery.
func svcPrefix(src string) string {
	if src == "" {
		return ""
	}
	svc := serviceOf(src)
	p := strings.ToUpper(svc[:1]) + svc[1:]
	if dir := path.Dir(src); dir != "." {
		p += strings.ToUpper(dir[:1]) + dir[1:]
	}
	return p
}

// resolveNames decides the bundle name of every component. Same-named components with the same content
// (after their refs are rewritten) merge; otherwise each service's copy becomes <Svc><Name>, except
// that a common.yaml component keeps its name (and so does a service copy identical to it). Renaming
// changes the content of components that reference the renamed one, so this repeats until stable.
func (b *bundler) resolveNames() error {
	groups := map[[2]string][]compKey{}
	for k := range b.comps {
		g := [2]string{k.kind, k.name}
		groups[g] = append(groups[g], k)
	}
	order := func(src string) int { return slices.Index(b.srcs, src) }
	var names [][2]string
	for g, ks := range groups {
		if len(ks) > 1 {
			sort.Slice(ks, func(i, j int) bool { return order(ks[i].src) < order(ks[j].src) })
			names = append(names, g)
		}
	}
	sort.Slice(names, func(i, j int) bool {
		if names[i][0] != names[j][0] {
			return names[i][0] < names[j][0]
		}
		return names[i][1] < names[j][1]
	})
	for {
		changed := false
		for _, g := range names {
			ks := groups[g]
			contents := make([]string, len(ks))
			for i, k := range ks {
				v, err := b.rewrite(deepCopy(b.comps[k]), k.src)
				if err != nil {
					return err
				}
				contents[i] = canonical(v)
			}
			same := true
			for _, c := range contents[1:] {
				same = same && c == contents[0]
			}
			if same {
				continue
			}
			if g[0] == "securitySchemes" {
				return fmt.Errorf("security scheme %q differs between %s; declare it identically in every spec", g[1], srcList(ks))
			}
			base := ""
			if ks[0].src == commonSrc {
				base = contents[0]
			}
			for i, k := range ks {
				if k.src == commonSrc || contents[i] == base || b.renamedF[k] {
					continue
				}
				newName := svcPrefix(k.src) + k.name
				for _, src := range b.srcs {
					if _, taken := b.comps[compKey{src, k.kind, newName}]; taken {
						return fmt.Errorf("%s %q differs between %s, and the new name %q for %s's copy is already taken in %s",
							singular(k.kind), k.name, srcList(ks), newName, k.src, b.file(src))
					}
				}
				b.final[k] = newName
				b.renamedF[k] = true
				changed = true
			}
		}
		if !changed {
			return nil
		}
	}
}

func srcList(ks []compKey) string {
	var s []string
	for _, k := range ks {
		s = append(s, k.src+".yaml")
	}
	return strings.Join(s, ", ")
}

func singular(kind string) string {
	s := strings.TrimSuffix(kind, "s")
	if kind == "schemas" {
		s = "schema"
	}
	return s
}

// Renames lists the components renamed in the bundle, as "kind/Name (svc) -> NewName", sorted.
func (b *bundler) Renames() []string {
	var out []string
	for k := range b.renamedF {
		out = append(out, fmt.Sprintf("%s/%s (%s) -> %s", k.kind, k.name, k.src, b.final[k]))
	}
	sort.Strings(out)
	return out
}

func (b *bundler) components() (map[string]any, error) {
	out := map[string]any{}
	keys := make([]compKey, 0, len(b.comps))
	for k := range b.comps {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, c := keys[i], keys[j]
		if a.kind != c.kind {
			return a.kind < c.kind
		}
		if a.name != c.name {
			return a.name < c.name
		}
		return slices.Index(b.srcs, a.src) < slices.Index(b.srcs, c.src)
	})
	for _, k := range keys {
		v, err := b.rewrite(deepCopy(b.comps[k]), k.src)
		if err != nil {
			return nil, err
		}
		name := b.final[k]
		section, _ := out[k.kind].(map[string]any)
		if section == nil {
			section = map[string]any{}
			out[k.kind] = section
		}
		if prev, ok := section[name]; ok && canonical(prev) != canonical(v) {
			return nil, fmt.Errorf("internal error: two different %s end up as %q", k.kind, name)
		}
		section[name] = v
		if k.src != commonSrc {
			b.fromSvc[k.kind+"/"+name] = true
		}
	}
	return out, nil
}

// paths merges the path items of every service, adds x-service, and moves a spec's top-level
// security onto its operations (the bundle has none at the top level).
func (b *bundler) paths() (map[string]any, []string, error) {
	out := map[string]any{}
	owner := map[string]string{} // "METHOD path" or "path" -> service
	opIDs := map[string]string{} // operationId -> "svc METHOD path"
	var opTags []string
	for _, svc := range b.srcs[1:] {
		tree := b.trees[svc]
		topSecurity, hasTopSecurity := tree["security"]
		paths, _ := tree["paths"].(map[string]any)
		for _, p := range sortedKeys(paths) {
			item, ok := paths[p].(map[string]any)
			if !ok {
				return nil, nil, fmt.Errorf("%s: path %s is not an object", b.file(svc), p)
			}
			if _, ok := item["$ref"]; ok {
				return nil, nil, fmt.Errorf("%s: path %s: path item $ref is not supported", b.file(svc), p)
			}
			rw, err := b.rewrite(deepCopy(item), svc)
			if err != nil {
				return nil, nil, err
			}
			item = rw.(map[string]any)
			merged, _ := out[p].(map[string]any)
			if merged == nil {
				merged = map[string]any{}
				out[p] = merged
			}
			for _, field := range sortedKeys(item) {
				v := item[field]
				if !slices.Contains(httpMethods, field) {
					if prev, ok := merged[field]; ok && canonical(prev) != canonical(v) {
						return nil, nil, fmt.Errorf("path %s: %q differs between %s and %s", p, field, owner[p]+".yaml", b.file(svc))
					}
					merged[field] = v
					continue
				}
				op, ok := v.(map[string]any)
				if !ok {
					return nil, nil, fmt.Errorf("%s: %s %s is not an object", b.file(svc), strings.ToUpper(field), p)
				}
				where := strings.ToUpper(field) + " " + p
				if prev, ok := owner[where]; ok {
					return nil, nil, fmt.Errorf("%s is declared by both %s.yaml and %s", where, prev, b.file(svc))
				}
				owner[where] = svc
				if id, _ := op["operationId"].(string); id != "" {
					if prev, ok := opIDs[id]; ok {
						return nil, nil, fmt.Errorf("operationId %q is used by both %s and %s %s", id, prev, svc+".yaml", where)
					}
					opIDs[id] = svc + ".yaml " + where
				}
				if _, ok := op["security"]; !ok && hasTopSecurity {
					op["security"] = deepCopy(topSecurity)
				}
				op["x-service"] = serviceOf(svc)
				if tags, ok := op["tags"].([]any); ok {
					for _, t := range tags {
						if s, ok := t.(string); ok {
							opTags = append(opTags, s)
						}
					}
				}
				merged[field] = op
			}
			if _, ok := owner[p]; !ok {
				owner[p] = svc
			}
		}
	}
	return out, opTags, nil
}

// tags is the union of the declared tags (first declaration wins, in gateway order) plus any tag an
// operation uses without declaring it, sorted by name.
func (b *bundler) tags(opTags []string) []any {
	byName := map[string]any{}
	for _, svc := range b.srcs[1:] {
		tags, _ := b.trees[svc]["tags"].([]any)
		for _, t := range tags {
			m, ok := t.(map[string]any)
			if !ok {
				continue
			}
			name, _ := m["name"].(string)
			if _, seen := byName[name]; !seen && name != "" {
				byName[name] = deepCopy(m)
			}
		}
	}
	for _, t := range opTags {
		if _, seen := byName[t]; !seen {
			byName[t] = map[string]any{"name": t}
		}
	}
	var out []any
	for _, name := range sortedKeys(byName) {
		out = append(out, byName[name])
	}
	return out
}

// storageOnly reports whether component c is nothing but a $ref into specs/storage, the storage
// schemas that services share (specs/storage/readmodel.yaml): how services store data, which no
// operation uses, like the x-ent schemas the bundle drops.
func storageOnly(c any) bool {
	m, _ := c.(map[string]any)
	ref, _ := m["$ref"].(string)
	return len(m) == 1 && strings.HasPrefix(ref, "../storage/")
}

// parseRef maps a $ref found in src to the component it names and the pointer beyond it.
func (b *bundler) parseRef(src, ref string) (compKey, string, error) {
	file, frag, _ := strings.Cut(ref, "#")
	target := src
	if file != "" {
		clean := path.Join(path.Dir(b.file(src)), file) // relative to the source's own file
		switch {
		case clean == "common.yaml":
			target = commonSrc
		case clean == b.file(src):
			target = src
		default:
			return compKey{}, "", fmt.Errorf("%s: $ref %q: only refs into the same file or common.yaml are supported", b.file(src), ref)
		}
	}
	const prefix = "/components/"
	if !strings.HasPrefix(frag, prefix) {
		return compKey{}, "", fmt.Errorf("%s: $ref %q does not point into components", b.file(src), ref)
	}
	parts := strings.SplitN(frag[len(prefix):], "/", 3)
	if len(parts) < 2 || parts[1] == "" {
		return compKey{}, "", fmt.Errorf("%s: $ref %q does not name a component", b.file(src), ref)
	}
	k := compKey{target, parts[0], unescapePointer(parts[1])}
	rest := ""
	if len(parts) == 3 {
		rest = "/" + parts[2]
	}
	if _, ok := b.comps[k]; !ok {
		return compKey{}, "", fmt.Errorf("%s: $ref %q: no such component in %s", b.file(src), ref, b.file(target))
	}
	return k, rest, nil
}

func (b *bundler) localRef(k compKey, rest string) string {
	return "#/components/" + k.kind + "/" + escapePointer(b.final[k]) + rest
}

// namedMaps are the keys whose value maps are keyed by names (properties, media types, status codes,
// component names), not by OpenAPI keywords.
var namedMaps = map[string]bool{
	"properties": true, "patternProperties": true, "responses": true, "examples": true, "schemas": true,
	"parameters": true, "headers": true, "links": true, "callbacks": true, "content": true,
	"requestBodies": true, "securitySchemes": true, "encoding": true, "variables": true, "paths": true,
}

// rewrite turns every $ref (and discriminator mapping) of a subtree of src into a local ref to the
// component's bundle name. Literal values (example, default, enum, value) are left alone.
func (b *bundler) rewrite(v any, src string) (any, error) {
	var walk func(v any, named bool) error
	walk = func(v any, named bool) error {
		switch t := v.(type) {
		case map[string]any:
			for key, e := range t {
				if named {
					if err := walk(e, false); err != nil {
						return err
					}
					continue
				}
				switch key {
				case "$ref":
					ref, ok := e.(string)
					if !ok {
						return fmt.Errorf("%s: $ref is not a string", b.file(src))
					}
					k, rest, err := b.parseRef(src, ref)
					if err != nil {
						return err
					}
					t[key] = b.localRef(k, rest)
				case "example", "default", "enum", "value":
					// literal values (value: of an Example object)
				case "discriminator":
					if d, ok := e.(map[string]any); ok {
						if err := b.rewriteMapping(d, src); err != nil {
							return err
						}
					}
				default:
					if err := walk(e, namedMaps[key]); err != nil {
						return err
					}
				}
			}
		case []any:
			for _, e := range t {
				if err := walk(e, false); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk(v, false); err != nil {
		return nil, err
	}
	return v, nil
}

func (b *bundler) rewriteMapping(d map[string]any, src string) error {
	m, _ := d["mapping"].(map[string]any)
	for key, e := range m {
		s, ok := e.(string)
		if !ok {
			continue
		}
		ref := s
		if !strings.Contains(s, "#") && !strings.Contains(s, "/") {
			ref = "#/components/schemas/" + escapePointer(s)
		}
		k, rest, err := b.parseRef(src, ref)
		if err != nil {
			return err
		}
		m[key] = b.localRef(k, rest)
	}
	return nil
}

// prune drops the components that nothing in the bundle references: common.yaml's, and schemas
// no operation uses (such as the storage-only schemas of the services). It also drops the x-ent
// annotations: how a service stores data is not part of the public contract.
func (b *bundler) prune(doc map[string]any) {
	comps, _ := doc["components"].(map[string]any)
	if comps == nil {
		return
	}
	reach := map[string]bool{}
	var queue []any
	queue = append(queue, doc["paths"])
	for kind, sec := range comps {
		m, _ := sec.(map[string]any)
		for name, v := range m {
			if kind == "schemas" {
				if schema, ok := v.(map[string]any); ok {
					delete(schema, "x-ent")
				}
				continue // a schema is kept only when something kept references it
			}
			if b.fromSvc[kind+"/"+name] || kind == "securitySchemes" {
				reach[kind+"/"+name] = true
				queue = append(queue, v)
			}
		}
	}
	var visit func(v any)
	visit = func(v any) {
		switch t := v.(type) {
		case map[string]any:
			for key, e := range t {
				if s, ok := e.(string); ok && (key == "$ref" || strings.HasPrefix(s, "#/components/")) {
					if rest, ok := strings.CutPrefix(s, "#/components/"); ok {
						parts := strings.SplitN(rest, "/", 3)
						if len(parts) >= 2 {
							id := parts[0] + "/" + unescapePointer(parts[1])
							if !reach[id] {
								reach[id] = true
								if sec, ok := comps[parts[0]].(map[string]any); ok {
									queue = append(queue, sec[unescapePointer(parts[1])])
								}
							}
						}
					}
					continue
				}
				visit(e)
			}
		case []any:
			for _, e := range t {
				visit(e)
			}
		}
	}
	for len(queue) > 0 {
		v := queue[0]
		queue = queue[1:]
		visit(v)
	}
	for kind, sec := range comps {
		m, _ := sec.(map[string]any)
		for name := range m {
			if !reach[kind+"/"+name] {
				delete(m, name)
			}
		}
		if len(m) == 0 {
			delete(comps, kind)
		}
	}
	if len(comps) == 0 {
		delete(doc, "components")
	}
}

func unescapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
}

func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

var versionPrefix = regexp.MustCompile(`^/api/(v[0-9]+)/`)

// majorVersions lists the major versions (v1, v2, ...) of doc's paths, in order.
func majorVersions(doc map[string]any) []string {
	seen := map[string]bool{}
	paths, _ := doc["paths"].(map[string]any)
	for p := range paths {
		if m := versionPrefix.FindStringSubmatch(p); m != nil {
			seen[m[1]] = true
		}
	}
	out := sortedKeys(seen)
	sort.Slice(out, func(i, j int) bool {
		a, _ := strconv.Atoi(out[i][1:])
		c, _ := strconv.Atoi(out[j][1:])
		return a < c
	})
	return out
}

// versionView is doc with only the paths of one major version and the components they reach (and
// the security schemes), titled for it.
func versionView(doc map[string]any, version string) map[string]any {
	view := deepCopy(doc).(map[string]any)
	paths, _ := view["paths"].(map[string]any)
	for p := range paths {
		if m := versionPrefix.FindStringSubmatch(p); m == nil || m[1] != version {
			delete(paths, p)
		}
	}
	info, _ := view["info"].(map[string]any)
	info["description"] = fmt.Sprintf("The %s paths of the %s; the gateway serves every major version side by side (/openapi.json holds them all).", version, info["title"])
	info["title"] = fmt.Sprintf("%s (%s)", info["title"], version)
	info["version"] = version[1:] + ".0.0"
	comps, _ := view["components"].(map[string]any)
	reach := map[string]bool{}
	var visit func(v any)
	visit = func(v any) {
		switch t := v.(type) {
		case map[string]any:
			for key, e := range t {
				if s, ok := e.(string); ok && key == "$ref" {
					if rest, ok := strings.CutPrefix(s, "#/components/"); ok {
						parts := strings.SplitN(rest, "/", 3)
						if len(parts) < 2 {
							continue
						}
						if id := parts[0] + "/" + parts[1]; !reach[id] {
							reach[id] = true
							if sec, ok := comps[parts[0]].(map[string]any); ok {
								visit(sec[unescapePointer(parts[1])])
							}
						}
					}
					continue
				}
				visit(e)
			}
		case []any:
			for _, e := range t {
				visit(e)
			}
		}
	}
	visit(paths)
	for kind, sec := range comps {
		m, _ := sec.(map[string]any)
		for name := range m {
			if kind != "securitySchemes" && !reach[kind+"/"+escapePointer(name)] {
				delete(m, name)
			}
		}
		if len(m) == 0 {
			delete(comps, kind)
		}
	}
	used := map[string]bool{}
	for _, item := range paths {
		for _, op := range item.(map[string]any) {
			if o, ok := op.(map[string]any); ok {
				tags, _ := o["tags"].([]any)
				for _, t := range tags {
					used[fmt.Sprint(t)] = true
				}
			}
		}
	}
	tags, _ := view["tags"].([]any)
	var kept []any
	for _, t := range tags {
		if m, ok := t.(map[string]any); ok && used[fmt.Sprint(m["name"])] {
			kept = append(kept, t)
		}
	}
	view["tags"] = kept
	return view
}
