package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/mediamesh/mediamesh/app"
	"github.com/mediamesh/mediamesh/internal/testenv"
	"github.com/mediamesh/mediamesh/services/auth"
	"github.com/mediamesh/mediamesh/services/auth/oidctest"
)

// TestOIDCSignInAll signs in end to end through the CMS gateway of the composed process with a real
// OpenID Provider (zitadel's example OP): the gateway's authorize redirects to the provider, the
// provider's login form redirects back to the gateway's callback, which redirects to the post-login
// URL with the platform's tokens in the fragment; the token then works at the gateway. A tampered
// nonce is refused with 401.
func TestOIDCSignInAll(t *testing.T) {
	cmsAddr := testenv.FreeAddr(t)
	callback := "http://" + cmsAddr + "/api/v1/auth/oidc/test/callback"
	op := oidctest.Start(t, []oidctest.Client{{ID: "mediamesh", Secret: "e2e client secret", RedirectURI: callback}},
		[]oidctest.User{{ID: "dana-sub", Username: "dana", Email: "dana@oidc.test", EmailVerified: true}})
	cfg := app.Default()
	cfg.Gateway.DiscoveryAddr, cfg.Gateway.CMSAddr = "127.0.0.1:0", cmsAddr
	cfg.DataDir = t.TempDir()
	cfg.Auth.AdminPassword = "oidc admin password"
	cfg.Auth.OIDCProviders = auth.OIDCSettings{{Name: "test", IssuerURL: op.Issuer, ClientID: "mediamesh", ClientSecret: "e2e client secret",
		RedirectURL: callback, PostLoginURL: "https://cms.example/signed-in", RoleClaim: "preferred_username", RoleMap: map[string]string{"dana": "EDITOR"}}}
	urls, _, _ := start(t, cfg)
	cms := urls["cms gateway"]
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	redirect := func(u string) (int, string) {
		t.Helper()
		resp, err := noFollow.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Location")
	}

	if code, body := call(t, "GET", cms+"/api/v1/auth/oidc/providers", "", ""); code != 200 || !strings.Contains(body, `"name":"test"`) {
		t.Fatalf("providers: %d %s", code, body)
	}
	code, authorize := redirect(cms + "/api/v1/auth/oidc/test/authorize")
	if code != 302 || !strings.HasPrefix(authorize, op.Issuer) {
		t.Fatalf("authorize: %d %s", code, authorize)
	}
	back := op.Login(t, authorize, "dana")
	if !strings.HasPrefix(back.String(), callback) {
		t.Fatalf("the provider sent the browser to %s", back)
	}
	code, signedIn := redirect(back.String())
	if code != 303 || !strings.HasPrefix(signedIn, "https://cms.example/signed-in#") {
		t.Fatalf("callback: %d %s", code, signedIn)
	}
	u, _ := url.Parse(signedIn)
	frag, _ := url.ParseQuery(u.Fragment)
	code, me := call(t, "GET", cms+"/api/v1/auth/me", frag.Get("access_token"), "")
	if code != 200 || !strings.Contains(me, `"email":"dana@oidc.test"`) || !strings.Contains(me, `"roles":["EDITOR"]`) {
		t.Fatalf("me with the token of the sign-in: %d %s", code, me)
	}
	if code, _ := call(t, "GET", cms+"/api/v1/cms/programs", frag.Get("access_token"), ""); code != 200 {
		t.Errorf("the EDITOR's token at the CMS: %d", code)
	}

	// A tampered nonce: the provider signs the browser's nonce, the callback refuses it.
	_, authorize = redirect(cms + "/api/v1/auth/oidc/test/authorize")
	tampered, _ := url.Parse(authorize)
	q := tampered.Query()
	q.Set("nonce", "tampered")
	tampered.RawQuery = q.Encode()
	if code, _ := redirect(op.Login(t, tampered.String(), "dana").String()); code != 401 {
		t.Errorf("tampered nonce: %d, want 401", code)
	}
}
