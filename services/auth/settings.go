package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/mediamesh/mediamesh/internal/policy"
)

// Settings are the service's settings: the `auth` section of the configuration (flags --auth.*,
// variables MEDIAMESH_AUTH_*), which the composition root turns into its Config. They configure
// tokens, sign-up and the first ADMIN. Issuer and audience must be the same in every process,
// since each one verifies tokens.
type Settings struct {
	Issuer          string        `yaml:"issuer" help:"iss claim of access tokens"`
	Audience        string        `yaml:"audience" help:"aud claim of access tokens"`
	AccessTTL       time.Duration `yaml:"access_ttl" help:"lifetime of an access token"`
	RefreshTTL      time.Duration `yaml:"refresh_ttl" help:"lifetime of a refresh token"`
	KeyRotation     time.Duration `yaml:"key_rotation" help:"how long one signing key signs before the next takes over"`
	JWKSRefresh     time.Duration `yaml:"jwks_refresh" help:"how often verifiers refresh their cached JWKS"`
	SignupEnabled   bool          `yaml:"signup_enabled" help:"whether anyone may register a USER account"`
	AdminEmail      string        `yaml:"admin_email" help:"email of the first ADMIN, created at first start"`
	AdminPassword   string        `yaml:"admin_password" secret:"true" help:"password of the first ADMIN; empty: a one-time password is logged, kept in data_dir/first-admin-password and logged again at every start until it is changed"`
	HashConcurrency int           `yaml:"hash_concurrency" help:"password hashes computed at once (19 MiB each)"`
	LoginRate       string        `yaml:"login_rate" help:"login and refresh attempts per account, e.g. 10/min"`
	LoginBurst      int           `yaml:"login_burst" help:"extra attempts allowed in a burst"`
	OIDCProviders   OIDCSettings  `yaml:"oidc_providers" secret:"true" help:"OpenID Connect providers people may sign in with: a YAML list (a JSON array in the flag or variable) of {name, issuer_url, client_id, client_secret, scopes, redirect_url, post_login_url, role_claim, role_map}; empty: OIDC sign-in is off"`
}

// DefaultSettings are the settings of a configuration that sets none.
func DefaultSettings() Settings {
	return Settings{
		Issuer: "mediamesh", Audience: "mediamesh-api",
		AccessTTL: 15 * time.Minute, RefreshTTL: 30 * 24 * time.Hour, KeyRotation: 24 * time.Hour, JWKSRefresh: 5 * time.Minute,
		SignupEnabled: true, AdminEmail: "admin@mediamesh.local", HashConcurrency: 2,
		LoginRate: "10/min", LoginBurst: 5,
	}
}

// Validate refuses settings the service cannot work with, naming each by its key.
func (s Settings) Validate() error {
	var errs []error
	if s.Issuer == "" || s.Audience == "" {
		errs = append(errs, errors.New("auth.issuer and auth.audience: must not be empty"))
	}
	if s.AccessTTL <= 0 || s.RefreshTTL <= s.AccessTTL || s.KeyRotation <= 0 || s.JWKSRefresh <= 0 {
		errs = append(errs, errors.New("auth: access_ttl, key_rotation and jwks_refresh must be positive and refresh_ttl longer than access_ttl"))
	}
	if s.HashConcurrency < 1 {
		errs = append(errs, errors.New("auth.hash_concurrency: must be at least 1"))
	}
	errs = append(errs, s.OIDCProviders.validate()...)
	if _, err := policy.ParseRate(s.LoginRate); err != nil || s.LoginBurst < 0 {
		errs = append(errs, fmt.Errorf("auth.login_rate/login_burst: %q, %d: want N/unit and a burst >= 0", s.LoginRate, s.LoginBurst))
	}
	return errors.Join(errs...)
}

// OIDCSetting configures one OpenID Connect provider people may sign in with (auth.oidc_providers).
type OIDCSetting struct {
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

// OIDCSettings is the list of providers; in a flag or variable it is a JSON array.
type OIDCSettings []OIDCSetting

// UnmarshalText reads a JSON array (the flag and MEDIAMESH_AUTH_OIDC_PROVIDERS).
func (p *OIDCSettings) UnmarshalText(b []byte) error {
	if strings.TrimSpace(string(b)) == "" {
		*p = nil
		return nil
	}
	return json.Unmarshal(b, (*[]OIDCSetting)(p))
}

// String names the providers (their secrets are never printed).
func (p OIDCSettings) String() string {
	names := make([]string, len(p))
	for i, x := range p {
		names[i] = x.Name
	}
	return strings.Join(names, ",")
}

var oidcName = regexp.MustCompile(`^[a-z0-9-]{1,32}$`)

// validate checks every provider: a name as the paths spell it, once; http(s) URLs; a client id;
// roles the platform knows.
func (p OIDCSettings) validate() []error {
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

// Redacted is a copy without the client secrets, for `mediamesh config`.
func (p OIDCSettings) Redacted() OIDCSettings {
	out := make(OIDCSettings, len(p))
	for i, x := range p {
		if x.ClientSecret != "" {
			x.ClientSecret = "REDACTED"
		}
		out[i] = x
	}
	return out
}

// Providers are the providers as the service's Config takes them.
func (p OIDCSettings) Providers() []OIDCProvider {
	out := make([]OIDCProvider, len(p))
	for i, x := range p {
		out[i] = OIDCProvider(x)
	}
	return out
}
