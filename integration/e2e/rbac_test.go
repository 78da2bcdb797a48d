package e2e

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/mediamesh/mediamesh/app"
	"github.com/mediamesh/mediamesh/gen/openapi/bundle"
	"github.com/mediamesh/mediamesh/internal/policy"
	"github.com/mediamesh/mediamesh/internal/testenv"
)

// TestRBACMatrix walks every operation of both gateway contracts, and of every service directly,
// with no token, with a USER, an EDITOR and an ADMIN token, and with API keys of each role (one
// holding the operation's scope, one holding another), and checks the outcome the contract
// declares: 401 without credentials on a secured operation, 403 for a role outside x-roles or a
// key without the x-scopes, and for an allowed caller anything but 401 and 403.
func TestRBACMatrix(t *testing.T) {
	cfg := app.Default()
	cfg.Target = append(append([]string{}, app.AllServices...), app.AllGateways...)
	cfg.Gateway.DiscoveryAddr, cfg.Gateway.CMSAddr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.Auth.AdminPassword = "matrix admin password"
	for _, s := range app.AllServices {
		cfg.Services.Endpoint(s).Addr = testenv.FreeAddr(t)
	}
	urls, _, _ := start(t, cfg)
	cms := urls["cms gateway"]

	tokens := map[string]string{"": ""}
	tokens[policy.RoleAdmin] = login(t, cms, "admin@mediamesh.local", "matrix admin password")
	owners := map[string]string{}
	for _, role := range []string{policy.RoleEditor, policy.RoleUser} {
		email := strings.ToLower(role) + "@matrix.test"
		body := fmt.Sprintf(`{"email":%q,"display_name":%q,"password":"matrix password 1","roles":[%q]}`, email, role, role)
		code, out := call(t, "POST", cms+"/api/v1/auth/users", tokens[policy.RoleAdmin], body)
		if code != 201 {
			t.Fatalf("create %s: %d %s", role, code, out)
		}
		var u struct{ ID string }
		_ = json.Unmarshal([]byte(out), &u)
		owners[role] = u.ID
		tokens[role] = login(t, cms, email, "matrix password 1")
	}
	// An API key per role and scope the role holds (and a key may hold), made by the ADMIN.
	keys := map[string]map[string]string{} // role, scope: key
	for role, scopes := range policy.RoleScopes {
		keys[role] = map[string]string{}
		for _, scope := range scopes {
			if !policy.KeyGrantable(scope) {
				continue
			}
			body := fmt.Sprintf(`{"name":"matrix %s %s","scopes":[%q]}`, role, scope, scope)
			if owner := owners[role]; owner != "" {
				body = fmt.Sprintf(`{"name":"matrix %s %s","scopes":[%q],"owner_id":%q}`, role, scope, scope, owner)
			}
			// At the auth service: the gateway's rate limit of createApiKey is for people.
			code, out := call(t, "POST", "http://"+cfg.Services.Endpoint(app.ServiceAuth).Addr+"/api/v1/auth/api-keys", tokens[policy.RoleAdmin], body)
			var k struct{ Key string }
			if code != 201 || json.Unmarshal([]byte(out), &k) != nil {
				t.Fatalf("API key of %s with %s: %d %s", role, scope, code, out)
			}
			keys[role][scope] = k.Key
		}
	}

	targets := map[string]struct {
		base string
		spec []byte
	}{
		"discovery-gateway": {urls["discovery gateway"], bundle.Discovery},
		"cms-gateway":       {cms, bundle.CMS},
	}
	covered := map[string]bool{}
	total, keyCalls := 0, 0
	for name, target := range targets {
		doc, err := openapi3.NewLoader().LoadFromData(target.spec)
		if err != nil {
			t.Fatal(err)
		}
		ops, err := policy.FromDoc(doc)
		if err != nil {
			t.Fatal(err)
		}
		total += len(ops)
		for _, id := range ops.IDs() {
			op := ops[id]
			for _, r := range op.Roles { // the contracts and the role-to-scope map agree
				if !op.Permits(policy.RoleScopes[r]) {
					t.Errorf("%s lists %s in x-roles, which does not hold its x-scopes %v", id, r, op.Scopes)
				}
			}
			path := fillPath(op.Path)
			bases := map[string]string{name: target.base}
			// And the owning service directly: it must enforce the same policy by itself.
			bases[op.Service] = "http://" + cfg.Services.Endpoint(op.Service).Addr
			for via, base := range bases {
				for role, token := range tokens {
					code, body := call(t, op.Method, base+path, token, "")
					want := expectation(op, role)
					if !want(code) {
						t.Errorf("%s via %s as %q: %d %s", id, via, role, code, body)
					}
				}
				if !op.Secured {
					continue
				}
				for role, held := range keys {
					for _, k := range matrixKeys(op, held) {
						code, body, _ := callWith(t, op.Method, base+path, "", "", "X-API-Key", held[k])
						allowed := op.Allows([]string{role}) && op.Permits([]string{k})
						if (allowed && (code == 401 || code == 403)) || (!allowed && code != 403) {
							t.Errorf("%s via %s with a key of %s holding %s: %d %s", id, via, role, k, code, body)
						}
						keyCalls++
					}
				}
			}
			covered[name+" "+id] = true
		}
	}
	if len(covered) != total || total == 0 {
		t.Fatalf("covered %d of %d operations", len(covered), total)
	}
	t.Logf("RBAC matrix: %d operations x 4 callers and %d API key calls, through the gateways and directly", total, keyCalls)
}

// matrixKeys picks, among the scopes of a role's keys, the operation's own scope (when a key may
// hold it) and one it does not need.
func matrixKeys(op *policy.Operation, held map[string]string) []string {
	var out []string
	if _, ok := held[op.Scopes[0]]; ok {
		out = append(out, op.Scopes[0])
	}
	for _, s := range policy.AllScopes {
		if _, ok := held[s]; ok && !slices.Contains(op.Scopes, s) {
			return append(out, s)
		}
	}
	return out
}

func expectation(op *policy.Operation, role string) func(int) bool {
	switch {
	case !op.Secured:
		return func(c int) bool { return c != 401 && c != 403 }
	case role == "":
		return func(c int) bool { return c == 401 }
	case op.Allows([]string{role}):
		return func(c int) bool { return c != 401 && c != 403 }
	default:
		return func(c int) bool { return c == 403 }
	}
}

var pathParam = regexp.MustCompile(`\{[^}]+\}`)

// fillPath puts a well-formed id (or version number) into each path parameter.
func fillPath(p string) string {
	return pathParam.ReplaceAllStringFunc(p, func(m string) string {
		if m == "{version}" {
			return "1"
		}
		return "0193a4c2-7b1e-7c3a-9f7e-2d1c5b8a9e01"
	})
}

func call(t *testing.T, method, url, token, body string) (int, string) {
	t.Helper()
	code, resp, _ := callWith(t, method, url, token, body)
	return code, resp
}

func login(t *testing.T, base, email, password string) string {
	t.Helper()
	code, body := call(t, "POST", base+"/api/v1/auth/login", "", fmt.Sprintf(`{"email":%q,"password":%q}`, email, password))
	if code != 200 {
		t.Fatalf("login %s: %d %s", email, code, body)
	}
	var pair struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal([]byte(body), &pair); err != nil || pair.AccessToken == "" {
		t.Fatalf("login %s: %s", email, body)
	}
	return pair.AccessToken
}
