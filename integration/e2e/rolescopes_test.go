package e2e

import (
	"slices"
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/app"
	"github.com/mediamesh/mediamesh/internal/policy"
)

// TestRoleScopeReductionAll takes a scope away from a role between two starts on the same data:
// the token an EDITOR got before is refused (401) once the auth service has published
// role.scopes_reduced, and a new token works without the scope (403 where it is needed).
func TestRoleScopeReductionAll(t *testing.T) {
	cfg := app.Default()
	cfg.Gateway.DiscoveryAddr, cfg.Gateway.CMSAddr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.Auth.AdminPassword = "scope admin password"
	cfg.Gateway.RateLimits = false
	urls, stop, done := start(t, cfg)
	cms := urls["cms gateway"]
	admin := login(t, cms, "admin@mediamesh.local", "scope admin password")
	body := `{"email":"editor@scopes.test","display_name":"Editor","password":"scope password 1","roles":["EDITOR"]}`
	if code, out := call(t, "POST", cms+"/api/v1/auth/users", admin, body); code != 201 {
		t.Fatalf("create the editor: %d %s", code, out)
	}
	old := login(t, cms, "editor@scopes.test", "scope password 1")
	publish := "/api/v1/cms/programs/0193a4c2-7b1e-7c3a-9f7e-2d1c5b8a9e01/publish"
	if code, out := call(t, "POST", cms+publish, old, ""); code != 404 {
		t.Fatalf("publish as an EDITOR before: %d %s, want 404 (allowed, no such program)", code, out)
	}
	stop()
	<-done

	// The map loses EDITOR's content:publish, as a new release would.
	was := policy.RoleScopes[policy.RoleEditor]
	t.Cleanup(func() { policy.RoleScopes[policy.RoleEditor] = was })
	policy.RoleScopes[policy.RoleEditor] = slices.DeleteFunc(slices.Clone(was), func(s string) bool { return s == policy.ScopeContentPublish })

	urls, _, _ = start(t, cfg)
	cms = urls["cms gateway"]
	deadline := time.Now().Add(5 * time.Second)
	for {
		code, _ := call(t, "GET", cms+"/api/v1/cms/programs", old, "")
		if code == 401 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the EDITOR's token from before the change still works: %d", code)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second))) // tokens carry whole seconds
	fresh := login(t, cms, "editor@scopes.test", "scope password 1")
	if code, out := call(t, "GET", cms+"/api/v1/cms/programs", fresh, ""); code != 200 {
		t.Fatalf("list as an EDITOR after: %d %s", code, out)
	}
	if code, out := call(t, "POST", cms+publish, fresh, ""); code != 403 {
		t.Fatalf("publish as an EDITOR after: %d %s, want 403", code, out)
	}
}
