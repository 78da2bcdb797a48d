// Command postmangen writes Postman v2.1 collections and environments from the bundled gateway specs.
//
//	go run ./tools/postmangen -in gen/openapi/bundle -out postman
//
// For every <gateway>.json in -in it writes <gateway>.postman_collection.json: one folder per tag (per
// tag and major version for /api/v2/ and later, "v2 programs"; the <gateway>.vN.json views are skipped), one
// request per operation (named by its summary) against {{<gateway>_url}}, bearer auth
// {{access_token}} on secured operations, and a test script asserting that the status is one the
// operation documents and that error responses are application/problem+json. Requests chain through
// OpenAPI links (a create stores the new id for the get, update and delete that follow) and an
// operation answering an access_token stores it in {{access_token}}. It also writes
// environments/embedded.postman_environment.json and environments/split.postman_environment.json.
// Ids are UUIDv5s derived from names, so output is stable.
package main

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

const collectionSchema = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"

// gatewayPorts are the gateway listen ports; the same in embedded and split mode.
var gatewayPorts = map[string]int{"discovery": 8080, "cms": 8081}

var modes = []string{"embedded", "split"}

var methodOrder = []string{"post", "get", "put", "patch", "delete", "head", "options", "trace"}

func main() {
	in := flag.String("in", "gen/openapi/bundle", "directory holding the bundled gateway specs (<gateway>.json)")
	out := flag.String("out", "postman", "output directory")
	flag.Parse()
	if err := run(*in, *out); err != nil {
		fmt.Fprintf(os.Stderr, "postmangen: %v\n", err)
		os.Exit(1)
	}
}

func run(inDir, outDir string) error {
	files, err := filepath.Glob(filepath.Join(inDir, "*.json"))
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return fmt.Errorf("no bundled specs (*.json) in %s; run tools/bundle first", inDir)
	}
	sort.Strings(files)
	if err := os.MkdirAll(filepath.Join(outDir, "environments"), 0o755); err != nil {
		return err
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".json")
		if strings.Contains(name, ".") {
			continue // <gateway>.vN.json: one major version's view for the docs; the collection has them all
		}
		if _, ok := gatewayPorts[name]; !ok {
			return fmt.Errorf("%s: unknown gateway %q (known: %s)", file, name, strings.Join(sortedKeys(gatewayPorts), ", "))
		}
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromFile(file)
		if err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		if err := doc.Validate(context.Background()); err != nil {
			return fmt.Errorf("%s: invalid: %w", file, err)
		}
		coll, err := collection(name, doc)
		if err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		if err := writeJSON(filepath.Join(outDir, name+".postman_collection.json"), coll); err != nil {
			return err
		}
	}
	for _, mode := range modes {
		if err := writeJSON(filepath.Join(outDir, "environments", mode+".postman_environment.json"), environment(mode)); err != nil {
			return err
		}
	}
	return nil
}

func environment(mode string) map[string]any {
	values := []any{
		map[string]any{"key": "access_token", "value": "", "type": "secret", "enabled": true},
	}
	for _, gw := range sortedKeys(gatewayPorts) {
		values = append(values, map[string]any{
			"key": gw + "_url", "value": fmt.Sprintf("http://127.0.0.1:%d", gatewayPorts[gw]), "type": "default", "enabled": true,
		})
	}
	values = append(values, map[string]any{"key": "mode", "value": mode, "type": "default", "enabled": true})
	return map[string]any{
		"id":                      uuid5("environment/" + mode),
		"name":                    "MediaMesh (" + mode + ")",
		"values":                  values,
		"_postman_variable_scope": "environment",
	}
}

type operation struct {
	path, method string
	op           *openapi3.Operation
	params       []*openapi3.Parameter // path-level merged with operation-level
}

func collection(gw string, doc *openapi3.T) (map[string]any, error) {
	byTag := map[string][]operation{}
	seenIDs := map[string]string{}
	for _, p := range doc.Paths.InMatchingOrder() {
		item := doc.Paths.Value(p)
		for method, op := range item.Operations() {
			method = strings.ToLower(method)
			where := strings.ToUpper(method) + " " + p
			if op.OperationID == "" {
				return nil, fmt.Errorf("%s has no operationId", where)
			}
			if prev, ok := seenIDs[op.OperationID]; ok {
				return nil, fmt.Errorf("operationId %q is used by %s and %s", op.OperationID, prev, where)
			}
			seenIDs[op.OperationID] = where
			tag := "untagged"
			if len(op.Tags) > 0 {
				tag = op.Tags[0]
			}
			if m := laterVersion.FindStringSubmatch(p); m != nil {
				tag = m[1] + " " + tag // a later major version's operations get folders of their own
			}
			byTag[tag] = append(byTag[tag], operation{path: p, method: method, op: op, params: mergeParams(item.Parameters, op.Parameters)})
		}
	}
	tagNames := sortedKeys(byTag)
	// Folders whose operations issue an access token come first, so a run logs in before it calls
	// secured operations.
	sort.SliceStable(tagNames, func(i, j int) bool {
		return issuesToken(byTag[tagNames[i]]) && !issuesToken(byTag[tagNames[j]])
	})
	vars := map[string]string{}
	linked := bodyLinkTargets(doc)
	var folders []any
	for _, tag := range tagNames {
		ops := byTag[tag]
		sort.Slice(ops, func(i, j int) bool {
			if ops[i].path != ops[j].path {
				return ops[i].path < ops[j].path
			}
			return slices.Index(methodOrder, ops[i].method) < slices.Index(methodOrder, ops[j].method)
		})
		ops = afterBodyLinkSources(ops, linked)
		var items []any
		for _, o := range ops {
			item, err := requestItem(gw, doc, o, sortedKeys(linked[o.op.OperationID]), vars)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", strings.ToUpper(o.method), o.path, err)
			}
			items = append(items, item)
		}
		folder := map[string]any{
			"id":   uuid5(gw + "/tag/" + tag),
			"name": tag,
			"item": items,
		}
		if t := doc.Tags.Get(tag[strings.LastIndex(tag, " ")+1:]); t != nil && t.Description != "" {
			folder["description"] = t.Description
		}
		folders = append(folders, folder)
	}
	var variables []any
	for _, k := range sortedKeys(vars) {
		variables = append(variables, map[string]any{"key": k, "value": vars[k], "type": "string"})
	}
	info := map[string]any{
		"_postman_id": uuid5("collection/" + gw),
		"name":        doc.Info.Title,
		"schema":      collectionSchema,
	}
	if doc.Info.Description != "" {
		info["description"] = doc.Info.Description
	}
	coll := map[string]any{"info": info, "item": folders}
	if len(variables) > 0 {
		coll["variable"] = variables
	}
	return coll, nil
}

// laterVersion matches the paths of a major version after v1 (/api/v2/...).
var laterVersion = regexp.MustCompile(`^/api/(v[2-9]|v[1-9][0-9]+)/`)

func mergeParams(pathLevel, opLevel openapi3.Parameters) []*openapi3.Parameter {
	var out []*openapi3.Parameter
	overridden := map[string]bool{}
	for _, p := range opLevel {
		if p.Value != nil {
			overridden[p.Value.In+"/"+p.Value.Name] = true
		}
	}
	for _, p := range pathLevel {
		if p.Value != nil && !overridden[p.Value.In+"/"+p.Value.Name] {
			out = append(out, p.Value)
		}
	}
	for _, p := range opLevel {
		if p.Value != nil {
			out = append(out, p.Value)
		}
	}
	return out
}

func issuesToken(ops []operation) bool {
	for _, o := range ops {
		if tokenStatus(o.op) != "" {
			return true
		}
	}
	return false
}

// tokenStatus is the first 2xx status whose JSON body has a top-level access_token property.
func tokenStatus(op *openapi3.Operation) string {
	for _, code := range statusCodes(op) {
		if !strings.HasPrefix(code, "2") {
			continue
		}
		if s := jsonSchema(op.Responses.Value(code).Value.Content); s != nil && hasProperty(s, "access_token") {
			return code
		}
	}
	return ""
}

func hasProperty(s *openapi3.Schema, name string) bool {
	if s.Properties[name] != nil {
		return true
	}
	for _, sub := range s.AllOf {
		if sub.Value != nil && hasProperty(sub.Value, name) {
			return true
		}
	}
	return false
}

func statusCodes(op *openapi3.Operation) []string {
	if op.Responses == nil {
		return nil
	}
	var codes []string
	for code := range op.Responses.Map() {
		if code != "default" {
			codes = append(codes, code)
		}
	}
	sort.Strings(codes)
	return codes
}

func jsonSchema(content openapi3.Content) *openapi3.Schema {
	if mt := pickMediaType(content); mt != "" && isJSON(mt) {
		if s := content[mt].Schema; s != nil {
			return s.Value
		}
	}
	return nil
}

func isJSON(mt string) bool {
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

func pickMediaType(content openapi3.Content) string {
	if len(content) == 0 {
		return ""
	}
	if _, ok := content["application/json"]; ok {
		return "application/json"
	}
	keys := sortedKeys(content)
	for _, pref := range []func(string) bool{
		isJSON,
		func(s string) bool { return s == "multipart/form-data" },
		func(s string) bool { return s == "application/x-www-form-urlencoded" },
	} {
		for _, k := range keys {
			if pref(k) {
				return k
			}
		}
	}
	return keys[0]
}

var pathParamRE = regexp.MustCompile(`\{([^}]+)\}`)

func requestItem(gw string, doc *openapi3.T, o operation, linkedFields []string, vars map[string]string) (map[string]any, error) {
	op := o.op
	id := uuid5(gw + "/operation/" + op.OperationID)
	base := "{{" + gw + "_url}}"

	// URL: path variables are collection variables ({{name}}) seeded from examples, so a create can
	// store the id it got back for the requests that follow.
	var pathVars []any
	for _, p := range o.params {
		if p.In != openapi3.ParameterInPath {
			continue
		}
		if _, ok := vars[p.Name]; !ok {
			vars[p.Name] = scalarString(paramValue(p))
		}
		v := map[string]any{"key": p.Name, "value": "{{" + p.Name + "}}"}
		if p.Description != "" {
			v["description"] = p.Description
		}
		pathVars = append(pathVars, v)
	}
	postmanPath := pathParamRE.ReplaceAllString(o.path, ":$1")
	var segments []any
	for _, s := range strings.Split(strings.TrimPrefix(postmanPath, "/"), "/") {
		segments = append(segments, s)
	}
	var query []any
	var enabledQuery []string
	var headers []any
	for _, p := range o.params {
		switch p.In {
		case openapi3.ParameterInQuery:
			// Arrays: one entry per element (form style, explode by default), or one comma-joined
			// entry when explode is false.
			values := []any{paramValue(p)}
			if arr, ok := values[0].([]any); ok && len(arr) > 0 && (p.Explode == nil || *p.Explode) {
				values = arr
			}
			for _, v := range values {
				q := map[string]any{"key": p.Name, "value": scalarString(v)}
				if p.Description != "" {
					q["description"] = p.Description
				}
				if !p.Required {
					q["disabled"] = true
				} else {
					enabledQuery = append(enabledQuery, url.QueryEscape(p.Name)+"="+scalarString(v))
				}
				query = append(query, q)
			}
		case openapi3.ParameterInHeader:
			h := map[string]any{"key": p.Name, "value": scalarString(paramValue(p))}
			if p.Description != "" {
				h["description"] = p.Description
			}
			if !p.Required {
				h["disabled"] = true
			}
			headers = append(headers, h)
		}
	}
	raw := base + postmanPath
	if len(enabledQuery) > 0 {
		raw += "?" + strings.Join(enabledQuery, "&")
	}
	u := map[string]any{
		"raw":  raw,
		"host": []any{base},
		"path": segments,
	}
	if len(query) > 0 {
		u["query"] = query
	}
	if len(pathVars) > 0 {
		u["variable"] = pathVars
	}

	req := map[string]any{
		"method": strings.ToUpper(o.method),
		"url":    u,
	}
	if op.Description != "" {
		req["description"] = op.Description
	}
	if secured(doc, op) {
		req["auth"] = map[string]any{
			"type":   "bearer",
			"bearer": []any{map[string]any{"key": "token", "value": "{{access_token}}", "type": "string"}},
		}
	} else {
		req["auth"] = map[string]any{"type": "noauth"}
	}
	if op.RequestBody != nil && op.RequestBody.Value != nil {
		body, contentType, err := requestBody(op.RequestBody.Value)
		if err != nil {
			return nil, err
		}
		linkBodyFields(body, op.OperationID, linkedFields, vars)
		if body != nil {
			req["body"] = body
			if contentType != "" {
				headers = append([]any{map[string]any{"key": "Content-Type", "value": contentType}}, headers...)
			}
		}
	}
	if len(headers) > 0 {
		req["header"] = headers
	} else {
		req["header"] = []any{}
	}

	name := op.Summary
	if name == "" {
		name = op.OperationID
	}
	return map[string]any{
		"id":       id,
		"name":     name,
		"request":  req,
		"response": []any{},
		"event": []any{map[string]any{
			"listen": "test",
			"script": map[string]any{
				"id":   uuid5(gw + "/operation/" + op.OperationID + "/test"),
				"type": "text/javascript",
				"exec": testScript(doc, op),
			},
		}},
	}, nil
}

func secured(doc *openapi3.T, op *openapi3.Operation) bool {
	reqs := doc.Security
	if op.Security != nil {
		reqs = *op.Security
	}
	for _, r := range reqs {
		if len(r) > 0 {
			return true
		}
	}
	return false
}

// requestBody returns the Postman body and the Content-Type header to send.
func requestBody(rb *openapi3.RequestBody) (map[string]any, string, error) {
	mt := pickMediaType(rb.Content)
	if mt == "" {
		return nil, "", nil
	}
	media := rb.Content[mt]
	var schema *openapi3.Schema
	if media.Schema != nil {
		schema = media.Schema.Value
	}
	switch {
	case isJSON(mt):
		v, ok := mediaExample(media)
		if !ok {
			v = sample(schema, 0, true)
		}
		raw, err := encodeJSON(v)
		if err != nil {
			return nil, "", err
		}
		return map[string]any{
			"mode":    "raw",
			"raw":     strings.TrimSuffix(string(raw), "\n"),
			"options": map[string]any{"raw": map[string]any{"language": "json"}},
		}, mt, nil
	case mt == "multipart/form-data", mt == "application/x-www-form-urlencoded":
		example, _ := mediaExample(media)
		exMap, _ := example.(map[string]any)
		var fields []any
		if schema != nil {
			for _, name := range sortedKeys(schema.Properties) {
				prop := schema.Properties[name].Value
				if prop == nil || prop.ReadOnly {
					continue
				}
				if mt == "multipart/form-data" && (prop.Format == "binary" || prop.Format == "byte") {
					fields = append(fields, map[string]any{"key": name, "type": "file", "src": []any{}})
					continue
				}
				v, ok := exMap[name]
				if !ok {
					v = sample(prop, 1, true)
				}
				f := map[string]any{"key": name, "value": scalarString(v)}
				if mt == "multipart/form-data" {
					f["type"] = "text"
				}
				fields = append(fields, f)
			}
		}
		if mt == "multipart/form-data" {
			// Postman sets the multipart boundary itself.
			return map[string]any{"mode": "formdata", "formdata": fields}, "", nil
		}
		return map[string]any{"mode": "urlencoded", "urlencoded": fields}, mt, nil
	case isNDJSON(mt):
		// An array schema on an NDJSON body describes its lines (specs/README.md): the example's
		// items go one per line.
		example, _ := mediaExample(media)
		if example == nil {
			example = sample(schema, 0, true)
		}
		items, ok := example.([]any)
		if !ok {
			items = []any{example}
		}
		var b strings.Builder
		for _, it := range items {
			line, err := json.Marshal(it)
			if err != nil {
				return nil, "", err
			}
			b.Write(line)
			b.WriteByte('\n')
		}
		return map[string]any{"mode": "raw", "raw": b.String()}, mt, nil
	default:
		return map[string]any{"mode": "file", "file": map[string]any{"src": ""}}, mt, nil
	}
}

// isNDJSON reports whether mt is newline-delimited JSON.
func isNDJSON(mt string) bool { return mt == "application/x-ndjson" }

func mediaExample(media *openapi3.MediaType) (any, bool) {
	if media.Example != nil {
		return media.Example, true
	}
	for _, k := range sortedKeys(media.Examples) {
		if ex := media.Examples[k]; ex != nil && ex.Value != nil && ex.Value.Value != nil {
			return ex.Value.Value, true
		}
	}
	return nil, false
}

func testScript(doc *openapi3.T, op *openapi3.Operation) []any {
	var codes, ranges []string
	for _, c := range statusCodes(op) {
		if _, err := strconv.Atoi(c); err == nil {
			codes = append(codes, c)
		} else if len(c) == 3 && strings.EqualFold(c[1:], "XX") && c[0] >= '1' && c[0] <= '5' {
			ranges = append(ranges, c[:1])
		}
	}
	var lines []any
	add := func(format string, args ...any) { lines = append(lines, fmt.Sprintf(format, args...)) }
	switch {
	case len(ranges) > 0:
		add(`pm.test("status is documented for %s", function () {`, op.OperationID)
		add(`    var code = pm.response.code;`)
		add(`    var documented = [%s].indexOf(code) >= 0 || [%s].indexOf(Math.floor(code / 100)) >= 0;`, strings.Join(codes, ", "), strings.Join(ranges, ", "))
		add(`    pm.expect(documented, "status " + code + " is not documented").to.be.true;`)
		add(`});`)
	case len(codes) > 0:
		add(`pm.test("status is documented for %s", function () {`, op.OperationID)
		add(`    pm.expect(pm.response.code).to.be.oneOf([%s]);`, strings.Join(codes, ", "))
		add(`});`)
	}
	add(`if (pm.response.code >= 400) {`)
	add(`    pm.test("error response is application/problem+json", function () {`)
	add(`        pm.expect(pm.response.headers.get("Content-Type") || "").to.include("application/problem+json");`)
	add(`    });`)
	add(`}`)
	if code := tokenStatus(op); code != "" {
		add(`if (pm.response.code === %s) {`, code)
		add(`    pm.environment.set("access_token", pm.response.json().access_token);`)
		add(`}`)
	}
	// Links: store the values later requests use as path variables.
	for _, code := range statusCodes(op) {
		if !strings.HasPrefix(code, "2") {
			continue
		}
		resp := op.Responses.Value(code).Value
		sets := map[string]string{}
		for _, ln := range sortedKeys(resp.Links) {
			link := resp.Links[ln].Value
			if link == nil || link.OperationID == "" {
				continue
			}
			target := findOperation(doc, link.OperationID)
			if target == nil {
				continue
			}
			for field, expr := range bodyLinkFields(link) {
				if js := linkExpression(expr); js != "" {
					sets[bodyLinkVar(link.OperationID, field)] = js
				}
			}
			for _, pn := range sortedKeys(link.Parameters) {
				expr, ok := link.Parameters[pn].(string)
				if !ok || !isPathParam(target, pn) {
					continue
				}
				if js := linkExpression(expr); js != "" {
					sets[pn] = js
				}
			}
		}
		if len(sets) == 0 {
			continue
		}
		n, err := strconv.Atoi(code)
		if err != nil {
			continue
		}
		add(`if (pm.response.code === %d) {`, n)
		for _, pn := range sortedKeys(sets) {
			if strings.Contains(sets[pn], "?.") { // an item of a list, which may be empty
				add(`    if (%s !== undefined) {`, sets[pn])
				add(`        pm.collectionVariables.set(%s, %s);`, jsString(pn), sets[pn])
				add(`    }`)
				continue
			}
			add(`    pm.collectionVariables.set(%s, %s);`, jsString(pn), sets[pn])
		}
		add(`}`)
	}
	return lines
}

type located struct {
	op     *openapi3.Operation
	params []*openapi3.Parameter
}

func findOperation(doc *openapi3.T, id string) *located {
	for _, p := range doc.Paths.InMatchingOrder() {
		item := doc.Paths.Value(p)
		for _, op := range item.Operations() {
			if op.OperationID == id {
				return &located{op: op, params: mergeParams(item.Parameters, op.Parameters)}
			}
		}
	}
	return nil
}

func isPathParam(l *located, name string) bool {
	for _, p := range l.params {
		if p.In == openapi3.ParameterInPath && p.Name == name {
			return true
		}
	}
	return false
}

// bodyLinkFields are the top-level request body fields a link fills from the response, by field:
// {"refresh_token": "$response.body#/refresh_token"} (expressions on the request it answered are
// left out: a later request cannot repeat them).
func bodyLinkFields(link *openapi3.Link) map[string]string {
	fields, _ := link.RequestBody.(map[string]any)
	out := map[string]string{}
	for field, v := range fields {
		if expr, ok := v.(string); ok && strings.HasPrefix(expr, "$response.") {
			out[field] = expr
		}
	}
	return out
}

// bodyLinkVar is the collection variable that carries field of operationID's body from the
// response of the request linked to it.
func bodyLinkVar(operationID, field string) string { return operationID + "_" + field }

// bodyLinkTargets are the operations of doc whose body a link fills, each with the fields and
// the operations whose responses carry them.
func bodyLinkTargets(doc *openapi3.T) map[string]map[string][]string {
	out := map[string]map[string][]string{}
	for _, p := range doc.Paths.InMatchingOrder() {
		for _, op := range doc.Paths.Value(p).Operations() {
			for _, code := range sortedKeys(op.Responses.Map()) {
				resp := op.Responses.Value(code).Value
				if resp == nil || !strings.HasPrefix(code, "2") {
					continue
				}
				for _, ln := range sortedKeys(resp.Links) {
					link := resp.Links[ln].Value
					if link == nil || link.OperationID == "" {
						continue
					}
					for field := range bodyLinkFields(link) {
						if out[link.OperationID] == nil {
							out[link.OperationID] = map[string][]string{}
						}
						out[link.OperationID][field] = append(out[link.OperationID][field], op.OperationID)
					}
				}
			}
		}
	}
	return out
}

// afterBodyLinkSources orders ops so that an operation whose body a link of another operation of
// ops fills comes right after that one (login, then refresh with the token login answered, then
// the rest), keeping the order of ops otherwise.
func afterBodyLinkSources(ops []operation, targets map[string]map[string][]string) []operation {
	in := map[string]bool{}
	for _, o := range ops {
		in[o.op.OperationID] = true
	}
	sourceOf := map[string]string{}
	for _, o := range ops {
		for _, sources := range targets[o.op.OperationID] {
			for _, src := range sources {
				if in[src] && src != o.op.OperationID {
					sourceOf[o.op.OperationID] = src
				}
			}
		}
	}
	var out []operation
	var place func(o operation)
	placed := map[string]bool{}
	place = func(o operation) {
		if placed[o.op.OperationID] {
			return
		}
		placed[o.op.OperationID] = true
		out = append(out, o)
		for _, t := range ops {
			if sourceOf[t.op.OperationID] == o.op.OperationID {
				place(t)
			}
		}
	}
	for _, o := range ops {
		if _, linked := sourceOf[o.op.OperationID]; !linked {
			place(o)
		}
	}
	for _, o := range ops { // a cycle of links: whatever is left, in order
		place(o)
	}
	return out
}

// linkBodyFields puts the collection variable of each linked field (bodyLinkVar) into a raw JSON
// body of operationID, and the field's example value as the variable's default in vars, so a run
// that made the linked request sends what it answered and any other run the example.
func linkBodyFields(body map[string]any, operationID string, fields []string, vars map[string]string) {
	raw, ok := body["raw"].(string)
	if !ok || len(fields) == 0 {
		return
	}
	var v map[string]any
	if json.Unmarshal([]byte(raw), &v) != nil {
		return
	}
	for _, field := range fields {
		example, ok := v[field].(string)
		if !ok {
			continue
		}
		name := bodyLinkVar(operationID, field)
		v[field] = "{{" + name + "}}"
		vars[name] = example
	}
	out, err := encodeJSON(v)
	if err == nil {
		body["raw"] = strings.TrimSuffix(string(out), "\n")
	}
}

// linkExpression turns an OpenAPI runtime expression into JavaScript for a Postman test script.
func linkExpression(expr string) string {
	switch {
	case expr == "$response.body":
		return "pm.response.json()"
	case strings.HasPrefix(expr, "$response.body#"):
		js := "pm.response.json()"
		ptr := strings.TrimPrefix(expr, "$response.body#")
		if ptr == "" {
			return js
		}
		inList := false
		for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
			tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
			if inList {
				js += "?."
			}
			js += "[" + jsString(tok) + "]"
			if _, err := strconv.Atoi(tok); err == nil {
				inList = true // past an array index: the list may be shorter
			}
		}
		return js
	case strings.HasPrefix(expr, "$response.header."):
		return "pm.response.headers.get(" + jsString(strings.TrimPrefix(expr, "$response.header.")) + ")"
	}
	return ""
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// paramValue is a parameter's example value, or one derived from its schema.
func paramValue(p *openapi3.Parameter) any {
	if p.Example != nil {
		return p.Example
	}
	for _, k := range sortedKeys(p.Examples) {
		if ex := p.Examples[k]; ex != nil && ex.Value != nil && ex.Value.Value != nil {
			return ex.Value.Value
		}
	}
	if p.Schema != nil {
		return sample(p.Schema.Value, 0, true)
	}
	return ""
}

// sample builds a value from a schema: its example, default or first enum value, else one built from
// its properties, items or type. Read-only properties are left out of request values.
func sample(s *openapi3.Schema, depth int, request bool) any {
	if s == nil || depth > 8 {
		return nil
	}
	if s.Example != nil {
		return s.Example
	}
	if s.Default != nil {
		return s.Default
	}
	if len(s.Enum) > 0 {
		return s.Enum[0]
	}
	if len(s.AllOf) > 0 {
		merged := map[string]any{}
		var last any
		for _, sub := range s.AllOf {
			v := sample(sub.Value, depth+1, request)
			if m, ok := v.(map[string]any); ok {
				for k, e := range m {
					merged[k] = e
				}
			} else if v != nil {
				last = v
			}
		}
		if len(merged) == 0 && last != nil {
			return last
		}
		for _, name := range sortedKeys(s.Properties) {
			if prop := s.Properties[name].Value; prop != nil && !(request && prop.ReadOnly) && !(!request && prop.WriteOnly) {
				merged[name] = sample(prop, depth+1, request)
			}
		}
		return merged
	}
	for _, alts := range []openapi3.SchemaRefs{s.OneOf, s.AnyOf} {
		if len(alts) > 0 {
			return sample(alts[0].Value, depth+1, request)
		}
	}
	switch {
	case s.Type.Is("object") || len(s.Properties) > 0:
		out := map[string]any{}
		for _, name := range sortedKeys(s.Properties) {
			prop := s.Properties[name].Value
			if prop == nil || (request && prop.ReadOnly) || (!request && prop.WriteOnly) {
				continue
			}
			out[name] = sample(prop, depth+1, request)
		}
		return out
	case s.Type.Is("array"):
		if s.Items == nil {
			return []any{}
		}
		return []any{sample(s.Items.Value, depth+1, request)}
	case s.Type.Is("integer"), s.Type.Is("number"):
		v := 0.0
		switch {
		case s.Min != nil:
			v = *s.Min
			if s.ExclusiveMin.IsTrue() {
				v++
			}
		case s.Max != nil && *s.Max < 0:
			v = *s.Max
		}
		if s.Type.Is("integer") {
			return math.Ceil(v)
		}
		return v
	case s.Type.Is("boolean"):
		return true
	case s.Type.Is("string"):
		switch s.Format {
		case "uuid":
			return "00000000-0000-4000-8000-000000000000"
		case "date-time":
			return "2026-01-01T00:00:00Z"
		case "date":
			return "2026-01-01"
		case "email":
			return "user@example.com"
		case "uri", "url":
			return "https://example.com/"
		}
		v := "string"
		for uint64(len(v)) < s.MinLength {
			v += "x"
		}
		if s.MaxLength != nil && uint64(len(v)) > *s.MaxLength {
			v = v[:*s.MaxLength]
		}
		return v
	}
	return nil
}

// scalarString renders a value for a URL, header or form field.
func scalarString(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	case float64:
		if t == math.Trunc(t) && math.Abs(t) < 1e15 {
			return strconv.FormatInt(int64(t), 10)
		}
		return strconv.FormatFloat(t, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(t)
	case []any:
		parts := make([]string, len(t))
		for i, e := range t {
			parts[i] = scalarString(e)
		}
		return strings.Join(parts, ",")
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func writeJSON(path string, v any) error {
	data, err := encodeJSON(v)
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

// uuid5 is an RFC 9562 version 5 UUID of name in the MediaMesh Postman namespace.
func uuid5(name string) string {
	// A fixed namespace UUID chosen for MediaMesh Postman ids; never change it (ids would all change).
	ns := [16]byte{0xc6, 0x1b, 0x3a, 0x0e, 0x56, 0x0f, 0x5b, 0x3d, 0x9a, 0x44, 0x1e, 0x0f, 0x3c, 0x7d, 0x22, 0x61}
	h := sha1.New()
	h.Write(ns[:])
	h.Write([]byte(name))
	sum := h.Sum(nil)
	var u [16]byte
	copy(u[:], sum[:16])
	u[6] = (u[6] & 0x0f) | 0x50
	u[8] = (u[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
