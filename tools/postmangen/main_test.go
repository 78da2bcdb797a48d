package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

var outputs = []string{
	"cms.postman_collection.json",
	"environments/embedded.postman_environment.json",
	"environments/split.postman_environment.json",
}

func TestGolden(t *testing.T) {
	out := t.TempDir()
	if err := run("testdata/in", out); err != nil {
		t.Fatal(err)
	}
	for _, name := range outputs {
		got, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		golden := filepath.Join("testdata", "golden", name)
		if *update {
			if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(golden, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run go test ./tools/postmangen -update)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from %s; run go test ./tools/postmangen -update and review the diff", name, golden)
		}
	}
}

func TestDeterministic(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	for _, dir := range []string{a, b} {
		if err := run("testdata/in", dir); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range outputs {
		x, _ := os.ReadFile(filepath.Join(a, name))
		y, _ := os.ReadFile(filepath.Join(b, name))
		if !bytes.Equal(x, y) {
			t.Errorf("%s: two runs differ", name)
		}
	}
}

// TestCollectionShape checks the properties the golden file encodes, so a reviewer need not.
func TestCollectionShape(t *testing.T) {
	out := t.TempDir()
	if err := run("testdata/in", out); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(out, "cms.postman_collection.json"))
	if err != nil {
		t.Fatal(err)
	}
	var coll struct {
		Info struct {
			Schema string `json:"schema"`
		} `json:"info"`
		Item []struct {
			Name string `json:"name"`
			Item []struct {
				ID      string `json:"id"`
				Name    string `json:"name"`
				Request struct {
					Method string `json:"method"`
					Auth   struct {
						Type string `json:"type"`
					} `json:"auth"`
					URL struct {
						Raw   string `json:"raw"`
						Query []struct {
							Key      string `json:"key"`
							Value    string `json:"value"`
							Disabled bool   `json:"disabled"`
						} `json:"query"`
					} `json:"url"`
					Body *struct {
						Mode string `json:"mode"`
						Raw  string `json:"raw"`
					} `json:"body"`
				} `json:"request"`
				Event []struct {
					Script struct {
						Exec []string `json:"exec"`
					} `json:"script"`
				} `json:"event"`
			} `json:"item"`
		} `json:"item"`
	}
	if err := json.Unmarshal(data, &coll); err != nil {
		t.Fatal(err)
	}
	if coll.Info.Schema != collectionSchema {
		t.Errorf("schema %q", coll.Info.Schema)
	}
	var folders []string
	type req = struct {
		auth, raw, body, script, method string
		query                           map[string]string // key -> value ("-" prefix when disabled)
	}
	reqs := map[string]req{}
	uuidRE := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	for _, f := range coll.Item {
		folders = append(folders, f.Name)
		for _, it := range f.Item {
			if !uuidRE.MatchString(it.ID) {
				t.Errorf("%s: id %q is not a UUIDv5", it.Name, it.ID)
			}
			r := req{auth: it.Request.Auth.Type, raw: it.Request.URL.Raw, method: it.Request.Method, query: map[string]string{}}
			if it.Request.Body != nil {
				r.body = it.Request.Body.Mode + ":" + it.Request.Body.Raw
			}
			for _, q := range it.Request.URL.Query {
				v := q.Value
				if q.Disabled {
					v = "-" + v
				}
				if prev, ok := r.query[q.Key]; ok {
					v = prev + "|" + v
				}
				r.query[q.Key] = v
			}
			if len(it.Event) > 0 {
				r.script = strings.Join(it.Event[0].Script.Exec, "\n")
			}
			reqs[it.Name] = r
		}
	}
	if got := strings.Join(folders, ","); got != "session,media,programs" {
		t.Errorf("folders %s, want the token-issuing folder first, then by name", got)
	}
	tests := []struct {
		name        string
		method      string
		auth        string
		raw         string
		bodyHas     []string
		query       map[string]string
		scriptHas   []string
		scriptLacks []string
	}{
		{name: "Log in", method: "POST", auth: "noauth", raw: "{{cms_url}}/api/v1/auth/login",
			bodyHas:   []string{`"email": "editor@example.com"`},
			scriptHas: []string{"oneOf([200, 401])", `pm.environment.set("access_token"`}},
		{name: "List programs", method: "GET", auth: "bearer", raw: "{{cms_url}}/api/v1/cms/programs?status=draft",
			query: map[string]string{"status": "draft", "fields": "-title,status", "tag": "-news|-sport", "limit": "-20"}},
		{name: "Create a program", method: "POST", auth: "bearer",
			bodyHas:     []string{`"title": "Morning show"`}, // first named example, by name
			scriptHas:   []string{"[201].indexOf(code)", "[4].indexOf(Math.floor(code / 100))", `pm.collectionVariables.set("programId", pm.response.json()["id"])`},
			scriptLacks: []string{"access_token"}},
		{name: "Get a program", method: "GET", auth: "bearer", raw: "{{cms_url}}/api/v1/cms/programs/:programId",
			scriptHas: []string{"oneOf([200, 404])", "application/problem+json"}},
		{name: "Update a program", method: "PATCH", auth: "bearer",
			bodyHas: []string{`"title": "string"`, `"kind": "series"`, `"episode_count": 0`}},
		{name: "Delete a program", method: "DELETE", auth: "bearer", scriptHas: []string{"oneOf([204, 404])"}},
		{name: "Upload a file", method: "POST", auth: "bearer", bodyHas: []string{"formdata:"}},
		{name: "mediaHealth", method: "GET", auth: "noauth"},
	}
	for _, tt := range tests {
		r, ok := reqs[tt.name]
		if !ok {
			t.Errorf("request %q missing", tt.name)
			continue
		}
		if r.method != tt.method || r.auth != tt.auth {
			t.Errorf("%s: method %s auth %s, want %s %s", tt.name, r.method, r.auth, tt.method, tt.auth)
		}
		if tt.raw != "" && r.raw != tt.raw {
			t.Errorf("%s: raw %q, want %q", tt.name, r.raw, tt.raw)
		}
		for _, s := range tt.bodyHas {
			if !strings.Contains(r.body, s) {
				t.Errorf("%s: body %q lacks %q", tt.name, r.body, s)
			}
		}
		if strings.Contains(r.body, `"id"`) {
			t.Errorf("%s: body has the read-only id", tt.name)
		}
		for k, v := range tt.query {
			if r.query[k] != v {
				t.Errorf("%s: query %s = %q, want %q", tt.name, k, r.query[k], v)
			}
		}
		for _, s := range tt.scriptHas {
			if !strings.Contains(r.script, s) {
				t.Errorf("%s: script lacks %q:\n%s", tt.name, s, r.script)
			}
		}
		for _, s := range tt.scriptLacks {
			if strings.Contains(r.script, s) {
				t.Errorf("%s: script has %q", tt.name, s)
			}
		}
	}
}

func TestUnknownGateway(t *testing.T) {
	in := t.TempDir()
	data, _ := os.ReadFile("testdata/in/cms.json")
	if err := os.WriteFile(filepath.Join(in, "admin.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	err := run(in, t.TempDir())
	if err == nil || !strings.Contains(err.Error(), `unknown gateway "admin"`) {
		t.Fatalf("err = %v", err)
	}
}

func TestUUID5(t *testing.T) {
	a, b := uuid5("cms/operation/getProgram"), uuid5("cms/operation/getProgram")
	if a != b {
		t.Fatal("not deterministic")
	}
	if a == uuid5("discovery/operation/getProgram") {
		t.Fatal("different names gave the same id")
	}
	if a[14] != '5' {
		t.Fatalf("%s is not version 5", a)
	}
}

func TestLinkExpression(t *testing.T) {
	tests := map[string]string{
		"$response.body#/id":         `pm.response.json()["id"]`,
		"$response.body#/data/a~1b":  `pm.response.json()["data"]["a/b"]`,
		"$response.header.Location":  `pm.response.headers.get("Location")`,
		"$request.path.programId":    "",
		"$response.body":             "pm.response.json()",
		"$response.body#":            "pm.response.json()",
		"$response.body#/items/0/id": `pm.response.json()["items"]["0"]?.["id"]`, // an empty list gives undefined
	}
	for expr, want := range tests {
		if got := linkExpression(expr); got != want {
			t.Errorf("%s: %q, want %q", expr, got, want)
		}
	}
}

func TestSample(t *testing.T) {
	max := uint64(3)
	min := 5.0
	tests := []struct {
		name   string
		schema *openapi3.Schema
		want   string
	}{
		{"example wins", &openapi3.Schema{Type: &openapi3.Types{"string"}, Example: "x", Default: "y"}, `"x"`},
		{"default", &openapi3.Schema{Type: &openapi3.Types{"integer"}, Default: 20.0}, `20`},
		{"enum", &openapi3.Schema{Type: &openapi3.Types{"string"}, Enum: []any{"a", "b"}}, `"a"`},
		{"uuid", &openapi3.Schema{Type: &openapi3.Types{"string"}, Format: "uuid"}, `"00000000-0000-4000-8000-000000000000"`},
		{"bounded string", &openapi3.Schema{Type: &openapi3.Types{"string"}, MaxLength: &max}, `"str"`},
		{"minimum", &openapi3.Schema{Type: &openapi3.Types{"integer"}, Min: &min}, `5`},
		{"read-only left out", &openapi3.Schema{Type: &openapi3.Types{"object"}, Properties: openapi3.Schemas{
			"id":   {Value: &openapi3.Schema{Type: &openapi3.Types{"string"}, ReadOnly: true}},
			"ok":   {Value: &openapi3.Schema{Type: &openapi3.Types{"boolean"}}},
			"tags": {Value: &openapi3.Schema{Type: &openapi3.Types{"array"}, Items: &openapi3.SchemaRef{Value: &openapi3.Schema{Type: &openapi3.Types{"string"}, Example: "t"}}}},
		}}, `{"ok":true,"tags":["t"]}`},
	}
	for _, tt := range tests {
		got, _ := json.Marshal(sample(tt.schema, 0, true))
		if string(got) != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, got, tt.want)
		}
	}
}

// TestBodyLinks: a link that fills a request body field from a response (login's refresh_token
// for refreshToken) puts the refresh right after the login in its folder, sets the variable in
// the login's test script, and sends it in the refresh's body, with the example as its default.
func TestBodyLinks(t *testing.T) {
	spec := `{"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": {
	  "/auth/login": {"post": {"operationId": "login", "tags": ["session"],
	    "requestBody": {"content": {"application/json": {"example": {"email": "a@example.com"}}}},
	    "responses": {"200": {"description": "ok", "links": {"refresh": {"operationId": "refreshToken",
	      "requestBody": {"refresh_token": "$response.body#/refresh_token", "ignored": "$request.body#/email"}}}}}}},
	  "/auth/logout": {"post": {"operationId": "logout", "tags": ["session"], "responses": {"204": {"description": "ok"}}}},
	  "/auth/refresh": {"post": {"operationId": "refreshToken", "tags": ["session"],
	    "requestBody": {"content": {"application/json": {"example": {"refresh_token": "rt_example"}}}},
	    "responses": {"200": {"description": "ok"}}}}}}`
	doc, err := openapi3.NewLoader().LoadFromData([]byte(spec))
	if err != nil {
		t.Fatal(err)
	}
	coll, err := collection("cms", doc)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(coll)
	var c struct {
		Item []struct {
			Item []struct {
				Name    string `json:"name"`
				Request struct {
					Body struct {
						Raw string `json:"raw"`
					} `json:"body"`
				} `json:"request"`
				Event []struct {
					Script struct {
						Exec []string `json:"exec"`
					} `json:"script"`
				} `json:"event"`
			} `json:"item"`
		} `json:"item"`
		Variable []struct{ Key, Value string } `json:"variable"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, it := range c.Item[0].Item {
		order = append(order, it.Name)
	}
	if strings.Join(order, ",") != "login,refreshToken,logout" {
		t.Fatalf("order %v, want the refresh right after the login", order)
	}
	login, refresh := c.Item[0].Item[0], c.Item[0].Item[1]
	if !strings.Contains(strings.Join(login.Event[0].Script.Exec, "\n"), `pm.collectionVariables.set("refreshToken_refresh_token", pm.response.json()["refresh_token"])`) {
		t.Errorf("login script does not keep the refresh token:\n%s", strings.Join(login.Event[0].Script.Exec, "\n"))
	}
	if !strings.Contains(refresh.Request.Body.Raw, `"{{refreshToken_refresh_token}}"`) {
		t.Errorf("refresh body %s", refresh.Request.Body.Raw)
	}
	found := false
	for _, v := range c.Variable {
		found = found || v.Key == "refreshToken_refresh_token" && v.Value == "rt_example"
	}
	if !found {
		t.Errorf("variables %+v: want refreshToken_refresh_token defaulting to the example", c.Variable)
	}
}
