package app

import (
	"strings"
	"testing"
)

// TestOIDCProvidersConfig: providers come from a JSON variable, are checked, and their client
// secrets never reach `mediamesh config`.
func TestOIDCProvidersConfig(t *testing.T) {
	good := `[{"name":"corporate","issuer_url":"https://login.example.com","client_id":"mediamesh","client_secret":"s3cret-value","redirect_url":"https://cms.example.com/api/v1/auth/oidc/corporate/callback","post_login_url":"https://cms.example.com/signed-in","role_claim":"groups","role_map":{"editors":"EDITOR"}}]`
	cfg, err := Load(nil, []string{"MEDIAMESH_AUTH_OIDC_PROVIDERS=" + good})
	if err != nil {
		t.Fatal(err)
	}
	if p := cfg.Auth.OIDCProviders; len(p) != 1 || p[0].Name != "corporate" || p[0].RoleMap["editors"] != "EDITOR" {
		t.Fatalf("parsed: %+v", p)
	}
	out, err := cfg.YAML()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "s3cret-value") || !strings.Contains(string(out), "REDACTED") || cfg.Auth.OIDCProviders[0].ClientSecret != "s3cret-value" {
		t.Errorf("mediamesh config shows the client secret, or redacting changed the config:\n%s", out)
	}
	for name, bad := range map[string]string{
		"bad name":  strings.Replace(good, `"corporate"`, `"Corp Rate"`, 1),
		"bad role":  strings.Replace(good, `"EDITOR"`, `"ROOT"`, 1),
		"no client": strings.Replace(good, `"client_id":"mediamesh"`, `"client_id":""`, 1),
		"bad url":   strings.Replace(good, `"https://login.example.com"`, `"login.example.com"`, 1),
		"not json":  `[{`,
	} {
		if _, err := Load(nil, []string{"MEDIAMESH_AUTH_OIDC_PROVIDERS=" + bad}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if cfg, err := Load(nil, nil); err != nil || len(cfg.Auth.OIDCProviders) != 0 {
		t.Errorf("OIDC must be off by default: %v %v", cfg.Auth.OIDCProviders, err)
	}
}
