package policy

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
)

const spec = `
openapi: 3.0.3
info: {title: t, version: 1.0.0}
paths:
  /things:
    get:
      operationId: listThings
      security: []
      x-rate-limit: {key: ip, rate: "600/min", burst: 100}
      x-cache: {ttl: 30s, scope: {name: lists}}
      responses: {'200': {description: ok}}
    post:
      operationId: createThing
      security: [{bearerAuth: []}]
      x-roles: [ADMIN, EDITOR]
      x-scopes: [content:write]
      x-rate-limit: {key: user, rate: "10/s", burst: 5}
      x-idempotent: true
      responses: {'201': {description: ok}}
components:
  securitySchemes:
    bearerAuth: {type: http, scheme: bearer}
`

func load(t *testing.T, s string) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestFromDoc(t *testing.T) {
	tab, err := FromDoc(load(t, spec))
	if err != nil {
		t.Fatal(err)
	}
	l := tab["listThings"]
	if l.Secured || l.CacheTTL != 30*time.Second || l.CacheScope == nil || l.CacheScope.Name != "lists" || l.RateLimit.Rate != 600 || l.RateLimit.Per != time.Minute || l.RateLimit.Key != "ip" || l.RateLimit.Burst != 100 {
		t.Errorf("listThings: %+v %+v", l, l.RateLimit)
	}
	if !l.Allows(nil) {
		t.Error("public operation must allow anyone")
	}
	c := tab["createThing"]
	if !c.Secured || !c.Idempotent || c.Method != "POST" || c.Path != "/things" {
		t.Errorf("createThing: %+v", c)
	}
	for roles, want := range map[string]bool{"": false, "USER": false, "EDITOR": true, "USER,ADMIN": true} {
		if got := c.Allows(strings.Split(roles, ",")); got != want {
			t.Errorf("Allows(%q) = %v, want %v", roles, got, want)
		}
	}
	for scopes, want := range map[string]bool{"": false, "content:read": false, "content:write": true, "content:read content:write": true} {
		if got := c.Permits(strings.Fields(scopes)); got != want {
			t.Errorf("Permits(%q) = %v, want %v", scopes, got, want)
		}
	}
	if got := tab.IDs(); strings.Join(got, ",") != "createThing,listThings" {
		t.Errorf("IDs = %v", got)
	}
}

func TestFromDocRejects(t *testing.T) {
	// Each case replaces one fragment of the valid spec with a broken one.
	cases := []struct{ name, old, new string }{
		{"unknown role", "x-roles: [ADMIN, EDITOR]", "x-roles: [ROOT]"},
		{"roles on public", "security: []", "security: []\n      x-roles: [ADMIN]"},
		{"secured no roles", "x-roles: [ADMIN, EDITOR]", "x-roles: []"},
		{"secured no scopes", "x-scopes: [content:write]", "x-scopes: []"},
		{"unknown scope", "x-scopes: [content:write]", "x-scopes: [content:everything]"},
		{"scopes on public", "security: []", "security: []\n      x-scopes: [content:read]"},
		{"bad rate", `{key: user, rate: "10/s", burst: 5}`, `{key: ip, rate: "ten/min"}`},
		{"bad rate key", `{key: user, rate: "10/s", burst: 5}`, `{key: host, rate: "1/min"}`},
		{"bad cache ttl", "x-cache: {ttl: 30s, scope: {name: lists}}", "x-cache: {ttl: soon}"},
		{"bad cache scope name", "scope: {name: lists}", "scope: {name: Lists}"},
		{"cache scope param not in the path", "scope: {name: lists}", "scope: {name: thing, param: thingId}"},
		{"cache scope without ttl", "x-cache: {ttl: 30s, scope: {name: lists}}", "x-cache: {scope: {name: lists}}"},
		{"sunset without deprecated", "x-idempotent: true", "x-idempotent: true\n      x-sunset: '2027-06-30T00:00:00Z'"},
		{"deprecated without sunset", "x-idempotent: true", "x-idempotent: true\n      deprecated: true\n      x-deprecated-at: '2026-12-07T00:00:00Z'\n      externalDocs: {url: 'https://example.com/guide'}"},
		{"deprecated without guide", "x-idempotent: true", "x-idempotent: true\n      deprecated: true\n      x-deprecated-at: '2026-12-07T00:00:00Z'\n      x-sunset: '2027-06-30T00:00:00Z'"},
		{"sunset before deprecation", "x-idempotent: true", "x-idempotent: true\n      deprecated: true\n      x-deprecated-at: '2027-12-07T00:00:00Z'\n      x-sunset: '2027-06-30T00:00:00Z'\n      externalDocs: {url: 'https://example.com/guide'}"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := strings.Replace(spec, c.old, c.new, 1)
			if s == spec {
				t.Fatal("fixture fragment not found")
			}
			if _, err := FromDoc(load(t, s)); err == nil {
				t.Fatalf("want an error for %s", c.name)
			}
		})
	}
}

func TestParseRate(t *testing.T) {
	for in, per := range map[string]time.Duration{"5/s": time.Second, "60/min": time.Minute, "100/h": time.Hour, "1000/day": 24 * time.Hour} {
		r, err := ParseRate(in)
		if err != nil || r.Per != per {
			t.Errorf("ParseRate(%q) = %+v, %v", in, r, err)
		}
	}
	for _, in := range []string{"", "5", "0/s", "-1/s", "5/week", "x/s"} {
		if _, err := ParseRate(in); err == nil {
			t.Errorf("ParseRate(%q): want error", in)
		}
	}
}

// TestRoleScopes holds the one role-to-scope map well formed: every scope known, the lists sorted
// and ADMIN holding every scope.
func TestRoleScopes(t *testing.T) {
	if !slices.IsSorted(AllScopes) {
		t.Fatal("AllScopes is not sorted")
	}
	for role, scopes := range RoleScopes {
		if !slices.IsSorted(scopes) {
			t.Errorf("%s: scopes not sorted", role)
		}
		for _, s := range scopes {
			if !KnownScope(s) {
				t.Errorf("%s: unknown scope %s", role, s)
			}
		}
	}
	if !slices.Equal(RoleScopes[RoleAdmin], AllScopes) {
		t.Error("ADMIN must hold every scope")
	}
	if got := ScopesOf([]string{RoleUser, RoleEditor}); !slices.Equal(got, RoleScopes[RoleEditor]) {
		t.Errorf("ScopesOf(USER, EDITOR) = %v", got)
	}
	if KeyGrantable(ScopeAPIKeysManage) || !KeyGrantable(ScopeContentWrite) || KeyGrantable("nope") {
		t.Error("KeyGrantable")
	}
}

// TestDeprecation: a deprecated operation's dates and guide, and the major version of its path.
func TestDeprecation(t *testing.T) {
	s := strings.Replace(spec, "  /things:\n", "  /api/v1/things:\n", 1)
	s = strings.Replace(s, "      x-idempotent: true\n", "      x-idempotent: true\n      deprecated: true\n      x-deprecated-at: '2026-12-07T00:00:00Z'\n      x-sunset: '2027-06-30T00:00:00Z'\n      externalDocs: {url: 'https://example.com/guide'}\n", 1)
	tab, err := FromDoc(load(t, s))
	if err != nil {
		t.Fatal(err)
	}
	d := tab["createThing"].Deprecation
	if d == nil || !d.At.Equal(time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)) || !d.Sunset.Equal(time.Date(2027, 6, 30, 0, 0, 0, 0, time.UTC)) || d.Link != "https://example.com/guide" {
		t.Errorf("createThing: %+v", d)
	}
	if tab["listThings"].Deprecation != nil || tab["listThings"].Version != "v1" || tab["createThing"].Version != "v1" {
		t.Errorf("listThings: %+v", tab["listThings"])
	}
}
