package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

func checkOpenAPI(releasedDir, currentDir string) (result, error) {
	files, err := releasedFiles(releasedDir, "openapi", func(rel string) bool {
		return (strings.Count(rel, "/") == 1 || majorVersionDir.MatchString(rel)) && strings.HasSuffix(rel, ".yaml")
	})
	if err != nil {
		return result{}, err
	}
	res := result{files: len(files)}
	for _, rel := range files {
		cur := filepath.Join(currentDir, filepath.FromSlash(rel))
		if !exists(cur) {
			res.violations = append(res.violations, violation(rel, "", "contract removed"))
			continue
		}
		rdoc, err := loadDoc(filepath.Join(releasedDir, filepath.FromSlash(rel)))
		if err != nil {
			return result{}, fmt.Errorf("released %s: %w", rel, err)
		}
		cdoc, err := loadDoc(cur)
		if err != nil {
			return result{}, fmt.Errorf("current %s: %w", rel, err)
		}
		c := &comparer{file: rel, seen: map[[2]*openapi3.Schema]bool{}}
		c.docs(rdoc, cdoc)
		res.violations = append(res.violations, c.violations...)
	}
	return res, nil
}

// loadDoc loads a contract and resolves its refs, including those into common.yaml.
func loadDoc(path string) (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	loader.IsExternalRefsAllowed = true
	return loader.LoadFromFile(path)
}

type comparer struct {
	file       string
	violations []string
	seen       map[[2]*openapi3.Schema]bool
}

func (c *comparer) add(where, format string, args ...any) {
	c.violations = append(c.violations, violation(c.file, where, format, args...))
}

// majorVersionDir matches the contracts of a later major version, openapi/vN/<service>.yaml (v1 is
// openapi/<service>.yaml); each is checked against its own release like v1.
var majorVersionDir = regexp.MustCompile(`^openapi/v[0-9]+/[^/]+$`)

var templateParamRE = regexp.MustCompile(`\{[^}]*\}`)

func normalizePath(p string) string { return templateParamRE.ReplaceAllString(p, "{}") }

func pathParamNames(p string) []string {
	var out []string
	for _, m := range templateParamRE.FindAllString(p, -1) {
		out = append(out, strings.Trim(m, "{}"))
	}
	return out
}

func (c *comparer) docs(r, cur *openapi3.T) {
	if r.Paths == nil {
		return
	}
	byNorm := map[string]string{}
	if cur.Paths != nil {
		for _, p := range cur.Paths.InMatchingOrder() {
			byNorm[normalizePath(p)] = p
		}
	}
	rPaths := r.Paths.InMatchingOrder()
	sort.Strings(rPaths)
	for _, p := range rPaths {
		rItem := r.Paths.Value(p)
		cp, ok := byNorm[normalizePath(p)]
		if !ok {
			c.add("", "path %s removed", p)
			continue
		}
		cItem := cur.Paths.Value(cp)
		rOps := rItem.Operations()
		methods := make([]string, 0, len(rOps))
		for m := range rOps {
			methods = append(methods, m)
		}
		sort.Strings(methods)
		for _, m := range methods {
			where := m + " " + p
			cOp := cItem.GetOperation(m)
			if cOp == nil {
				c.add("", "operation %s removed", where)
				continue
			}
			c.operation(where, p, cp, rItem, cItem, rOps[m], cOp)
		}
	}
}

func paramKey(p *openapi3.Parameter) string {
	name := p.Name
	if p.In == openapi3.ParameterInHeader {
		name = strings.ToLower(name)
	}
	return p.In + "." + name
}

func mergedParams(item *openapi3.PathItem, op *openapi3.Operation) map[string]*openapi3.Parameter {
	out := map[string]*openapi3.Parameter{}
	for _, list := range []openapi3.Parameters{item.Parameters, op.Parameters} {
		for _, p := range list {
			if p != nil && p.Value != nil {
				out[paramKey(p.Value)] = p.Value
			}
		}
	}
	return out
}

func paramSchema(p *openapi3.Parameter) *openapi3.Schema {
	if p.Schema != nil {
		return p.Schema.Value
	}
	for _, mt := range sortedKeys(p.Content) {
		if s := p.Content[mt].Schema; s != nil {
			return s.Value
		}
	}
	return nil
}

func (c *comparer) operation(where, rPath, cPath string, rItem, cItem *openapi3.PathItem, r, cur *openapi3.Operation) {
	rParams, cParams := mergedParams(rItem, r), mergedParams(cItem, cur)
	// A path parameter whose name changed keeps its position in the template.
	renamed := map[string]string{} // released key -> current key
	rNames, cNames := pathParamNames(rPath), pathParamNames(cPath)
	for i, n := range rNames {
		if i < len(cNames) && cNames[i] != n {
			renamed["path."+n] = "path." + cNames[i]
		}
	}
	renamedTo := map[string]bool{}
	for _, key := range sortedKeys(rParams) {
		rp := rParams[key]
		label := "parameter " + key
		cp, ok := cParams[key]
		if !ok {
			if to, ok := renamed[key]; ok {
				c.add(where, "%s renamed to %s", label, strings.TrimPrefix(to, "path."))
				renamedTo[to] = true
				continue
			}
			c.add(where, "%s removed or renamed", label)
			continue
		}
		if !rp.Required && cp.Required {
			c.add(where, "%s became required", label)
		}
		c.schema(where, label, "", paramSchema(rp), paramSchema(cp), true)
	}
	for _, key := range sortedKeys(cParams) {
		if _, ok := rParams[key]; ok || renamedTo[key] {
			continue
		}
		if cParams[key].Required {
			c.add(where, "new required parameter %s", key)
		}
	}

	c.requestBody(where, r.RequestBody, cur.RequestBody)

	if r.Responses == nil {
		return
	}
	for _, code := range sortedKeys(r.Responses.Map()) {
		if !strings.HasPrefix(code, "2") {
			continue
		}
		rr := r.Responses.Value(code)
		var cr *openapi3.ResponseRef
		if cur.Responses != nil {
			cr = cur.Responses.Value(code)
		}
		if cr == nil || cr.Value == nil {
			c.add(where, "2xx status %s removed", code)
			continue
		}
		if rr.Value == nil {
			continue
		}
		for _, mt := range sortedKeys(rr.Value.Content) {
			label := "response " + code + " " + mt
			cm := cr.Value.Content[mt]
			if cm == nil {
				c.add(where, "%s: media type removed", label)
				continue
			}
			if rs, cs := rr.Value.Content[mt].Schema, cm.Schema; rs != nil && cs != nil {
				c.schema(where, label, "", rs.Value, cs.Value, false)
			}
		}
	}
}

func (c *comparer) requestBody(where string, r, cur *openapi3.RequestBodyRef) {
	var rb, cb *openapi3.RequestBody
	if r != nil {
		rb = r.Value
	}
	if cur != nil {
		cb = cur.Value
	}
	switch {
	case rb == nil && cb == nil:
		return
	case rb == nil:
		if cb.Required {
			c.add(where, "new required request body")
		}
		return
	case cb == nil:
		c.add(where, "request body removed")
		return
	}
	if !rb.Required && cb.Required {
		c.add(where, "request body became required")
	}
	for _, mt := range sortedKeys(rb.Content) {
		label := "request body " + mt
		cm := cb.Content[mt]
		if cm == nil {
			c.add(where, "%s: media type removed", label)
			continue
		}
		if rs, cs := rb.Content[mt].Schema, cm.Schema; rs != nil && cs != nil {
			c.schema(where, label, "", rs.Value, cs.Value, true)
		}
	}
}

// flat is a schema with its allOf parts merged.
type flat struct {
	typ      string
	props    map[string]*openapi3.Schema
	required map[string]bool
	enum     []any
	hasEnum  bool
	items    *openapi3.Schema
	addl     *openapi3.Schema
}

func flatten(s *openapi3.Schema) flat {
	f := flat{props: map[string]*openapi3.Schema{}, required: map[string]bool{}}
	if s.Type != nil && len(*s.Type) > 0 {
		t := append([]string(nil), s.Type.Slice()...)
		sort.Strings(t)
		f.typ = strings.Join(t, "|")
	}
	for name, p := range s.Properties {
		if p != nil && p.Value != nil {
			f.props[name] = p.Value
		}
	}
	for _, r := range s.Required {
		f.required[r] = true
	}
	if len(s.Enum) > 0 {
		f.enum, f.hasEnum = s.Enum, true
	}
	if s.Items != nil {
		f.items = s.Items.Value
	}
	if s.AdditionalProperties.Schema != nil {
		f.addl = s.AdditionalProperties.Schema.Value
	}
	for _, sub := range s.AllOf {
		if sub == nil || sub.Value == nil {
			continue
		}
		fs := flatten(sub.Value)
		if f.typ == "" {
			f.typ = fs.typ
		}
		for name, p := range fs.props {
			if _, ok := f.props[name]; !ok {
				f.props[name] = p
			}
		}
		for r := range fs.required {
			f.required[r] = true
		}
		if !f.hasEnum && fs.hasEnum {
			f.enum, f.hasEnum = fs.enum, true
		}
		if f.items == nil {
			f.items = fs.items
		}
		if f.addl == nil {
			f.addl = fs.addl
		}
	}
	if f.typ == "" {
		switch {
		case len(f.props) > 0:
			f.typ = "object"
		case f.items != nil:
			f.typ = "array"
		}
	}
	return f
}

// schema compares a released schema with the current one. Inputs (parameters, request bodies) must not
// gain required properties; outputs (responses) must keep their properties; both must keep property
// types and enum values.
func (c *comparer) schema(where, label, path string, r, cur *openapi3.Schema, input bool) {
	if r == nil || cur == nil {
		return
	}
	key := [2]*openapi3.Schema{r, cur}
	if c.seen[key] {
		return
	}
	c.seen[key] = true
	defer delete(c.seen, key)

	at := label
	if path != "" {
		at += ": property " + path
	}
	fr, fc := flatten(r), flatten(cur)
	if fr.typ != "" && fc.typ != "" && fr.typ != fc.typ {
		c.add(where, "%s: type changed from %s to %s", at, fr.typ, fc.typ)
		return
	}
	if fr.hasEnum && fc.hasEnum {
		have := map[string]bool{}
		for _, v := range fc.enum {
			have[canonical(v)] = true
		}
		var removed []string
		for _, v := range fr.enum {
			if !have[canonical(v)] {
				removed = append(removed, canonical(v))
			}
		}
		if len(removed) > 0 {
			c.add(where, "%s: enum value(s) %s removed", at, strings.Join(removed, ", "))
		}
	}
	join := func(name string) string {
		if path == "" {
			return name
		}
		return path + "." + name
	}
	if input {
		for _, name := range sortedKeys(fc.required) {
			if fr.required[name] {
				continue
			}
			if p := fc.props[name]; p != nil && p.ReadOnly {
				continue
			}
			if _, existed := fr.props[name]; existed {
				c.add(where, "%s: property %s became required", label, join(name))
			} else {
				c.add(where, "%s: new required property %s", label, join(name))
			}
		}
	}
	for _, name := range sortedKeys(fr.props) {
		rp := fr.props[name]
		cp, ok := fc.props[name]
		if !ok {
			if !input && !rp.WriteOnly {
				c.add(where, "%s: property %s removed", label, join(name))
			}
			continue
		}
		c.schema(where, label, join(name), rp, cp, input)
	}
	if fr.items != nil && fc.items != nil {
		c.schema(where, label, path+"[]", fr.items, fc.items, input)
	}
	if fr.addl != nil && fc.addl != nil {
		c.schema(where, label, path+"{}", fr.addl, fc.addl, input)
	}
}

func canonical(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
