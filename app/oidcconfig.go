package app

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/mediamesh/mediamesh/internal/policy"
	"github.com/mediamesh/mediamesh/services/auth"
)

// OIDCProvider configures one OpenID Connect provider people may sign in with (auth.oidc_providers).
type OIDCProvider struct {
	Name         string            `yaml:"name" json:"name"`
	IssuerURL    string            `yaml:"issuer_url" json:"issuer_url"`
	ClientID     string            `yaml:"client_id" json:"client_id"`
	ClientSecret string            `yaml:"client_secret" json:"client_secret"`
	Scopes       []string          `yaml:"scopes" json:"scopes"`
	RedirectURL  string            `yaml:"redirect_url" json:"redirect_url"`
	PostLoginURL string            `yaml:"post_login_url" json:"post_login_url"`
	RoleClaim    string            `yaml:"role_claim" json:"role_claim"`
	RoleMap      map[string]string `yaml:"role_map" json:"role_map"`
}

// OIDCProviders is the list of providers; in a flag or variable it is a JSON array.
type OIDCProviders []OIDCProvider

// UnmarshalText reads a JSON array (the flag and MEDIAMESH_AUTH_OIDC_PROVIDERS).
func (p *OIDCProviders) UnmarshalText(b []byte) error {
	if strings.TrimSpace(string(b)) == "" {
		*p = nil
		return nil
	}
	return json.Unmarshal(b, (*[]OIDCProvider)(p))
}

// String names the providers (their secrets are never printed).
func (p OIDCProviders) String() string {
	names := make([]string, len(p))
	for i, x := range p {
		names[i] = x.Name
	}
	return strings.Join(names, ",")
}

var oidcName = regexp.MustCompile(`^[a-z0-9-]{1,32}$`)

// validate checks every provider: a name as the paths spell it, once; http(s) URLs; a client id;
// roles the platform knows.
func (p OIDCProviders) validate() []error {
	var errs []error
	seen := map[string]bool{}
	for i, x := range p {
		where := fmt.Sprintf("auth.oidc_providers[%d]", i)
		if !oidcName.MatchString(x.Name) || seen[x.Name] {
			errs = append(errs, fmt.Errorf("%s.name: %q: want 1 to 32 of a-z, 0-9 and -, unique", where, x.Name))
		}
		seen[x.Name] = true
		for field, raw := range map[string]string{"issuer_url": x.IssuerURL, "redirect_url": x.RedirectURL, "post_login_url": x.PostLoginURL} {
			if u, err := url.Parse(raw); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				errs = append(errs, fmt.Errorf("%s.%s: %q: want an http(s) URL", where, field, raw))
			}
		}
		if x.ClientID == "" {
			errs = append(errs, fmt.Errorf("%s.client_id: required", where))
		}
		for claim, role := range x.RoleMap {
			if _, ok := policy.RoleScopes[role]; !ok {
				errs = append(errs, fmt.Errorf("%s.role_map[%q]: %q is not a role (ADMIN, EDITOR, USER)", where, claim, role))
			}
		}
		if len(x.RoleMap) > 0 && x.RoleClaim == "" {
			errs = append(errs, fmt.Errorf("%s.role_claim: required with a role_map", where))
		}
	}
	return errs
}

// redacted is a copy without the client secrets, for `mediamesh config`.
func (p OIDCProviders) redacted() OIDCProviders {
	out := make(OIDCProviders, len(p))
	for i, x := range p {
		if x.ClientSecret != "" {
			x.ClientSecret = "REDACTED"
		}
		out[i] = x
	}
	return out
}

func (p OIDCProviders) auth() []auth.OIDCProvider {
	out := make([]auth.OIDCProvider, len(p))
	for i, x := range p {
		out[i] = auth.OIDCProvider{Name: x.Name, IssuerURL: x.IssuerURL, ClientID: x.ClientID, ClientSecret: x.ClientSecret, Scopes: x.Scopes,
			RedirectURL: x.RedirectURL, PostLoginURL: x.PostLoginURL, RoleClaim: x.RoleClaim, RoleMap: x.RoleMap}
	}
	return out
}
