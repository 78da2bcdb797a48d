package auth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/mediamesh/mediamesh/gen/events/authevents"
	"github.com/mediamesh/mediamesh/gen/openapi/authapi"
	"github.com/mediamesh/mediamesh/internal/apierror"
	"github.com/mediamesh/mediamesh/internal/policy"
)

// OIDCProvider is an external OpenID Connect provider people may sign in with.
type OIDCProvider struct {
	Name         string            // in the paths: /api/v1/auth/oidc/{name}/...
	IssuerURL    string            // discovery at IssuerURL/.well-known/openid-configuration
	ClientID     string            // our client at the provider; the ID token's audience
	ClientSecret string            // empty for a public client (PKCE only)
	Scopes       []string          // asked besides openid; default email and profile
	RedirectURL  string            // this provider's callback (finishOidcLogin) as the provider reaches it
	PostLoginURL string            // where the callback sends the browser, with the token pair in the fragment
	RoleClaim    string            // the claim (of the ID token, else the userinfo) the roles come from
	RoleMap      map[string]string // a value of RoleClaim -> ADMIN, EDITOR or USER
}

// oidcLoginTTL is how long a started sign-in may take.
const oidcLoginTTL = 10 * time.Minute

// oidcClient is a provider's discovered metadata, built at its first use.
type oidcClient struct {
	cfg      OIDCProvider
	provider *oidc.Provider
	oauth    oauth2.Config
	verifier *oidc.IDTokenVerifier
}

type oidcClients struct {
	mu      sync.Mutex
	clients map[string]*oidcClient
}

// oidcProvider returns the named provider's client, discovering it on first use (a provider that
// is down when the auth service starts does not stop it).
func (s *Service) oidcProvider(ctx context.Context, name string) (*oidcClient, error) {
	var cfg *OIDCProvider
	for i := range s.cfg.OIDC {
		if s.cfg.OIDC[i].Name == name {
			cfg = &s.cfg.OIDC[i]
		}
	}
	if cfg == nil {
		return nil, apierror.NotFound("no OpenID Connect provider with this name")
	}
	s.oidc.mu.Lock()
	defer s.oidc.mu.Unlock()
	if c, ok := s.oidc.clients[name]; ok {
		return c, nil
	}
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, s.oidcHTTP), cfg.IssuerURL)
	if err != nil {
		s.log.Warn("OpenID Connect discovery failed", "provider", name, "error", err)
		return nil, apierror.Unavailable("the OpenID Connect provider cannot be reached; retry later", 5*time.Second)
	}
	scopes := cfg.Scopes
	if len(scopes) == 0 {
		scopes = []string{"email", "profile"}
	}
	c := &oidcClient{cfg: *cfg, provider: p,
		oauth: oauth2.Config{ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, Endpoint: p.Endpoint(), RedirectURL: cfg.RedirectURL,
			Scopes: append([]string{oidc.ScopeOpenID}, scopes...)},
		verifier: p.Verifier(&oidc.Config{ClientID: cfg.ClientID, Now: s.now}),
	}
	if s.oidc.clients == nil {
		s.oidc.clients = map[string]*oidcClient{}
	}
	s.oidc.clients[name] = c
	return c, nil
}

// ListOidcProviders implements authapi.StrictServerInterface.
func (s *Service) ListOidcProviders(ctx context.Context, _ authapi.ListOidcProvidersRequestObject) (authapi.ListOidcProvidersResponseObject, error) {
	out := authapi.ListOidcProviders200JSONResponse{Items: []struct {
		Name string `json:"name"`
	}{}}
	for _, p := range s.cfg.OIDC {
		out.Items = append(out.Items, struct {
			Name string `json:"name"`
		}{Name: p.Name})
	}
	return out, nil
}

// StartOidcLogin implements authapi.StrictServerInterface.
func (s *Service) StartOidcLogin(ctx context.Context, req authapi.StartOidcLoginRequestObject) (authapi.StartOidcLoginResponseObject, error) {
	c, err := s.oidcProvider(ctx, req.Provider)
	if err != nil {
		return nil, err
	}
	state, nonce, verifier := randomToken(24), randomToken(24), oauth2.GenerateVerifier()
	now := s.now()
	login := &oidcLogin{StateHash: hashToken(state), Provider: c.cfg.Name, Nonce: nonce, Verifier: verifier, ExpiresAt: now.Add(oidcLoginTTL)}
	if err := s.store.startOIDCLogin(ctx, login, now); err != nil {
		return nil, err
	}
	loc := c.oauth.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier))
	return authapi.StartOidcLogin302Response{Headers: authapi.StartOidcLogin302ResponseHeaders{Location: &loc}}, nil
}

var errOIDCRefused = apierror.Unauthorized("the sign-in was refused: start it again")

// FinishOidcLogin implements authapi.StrictServerInterface.
func (s *Service) FinishOidcLogin(ctx context.Context, req authapi.FinishOidcLoginRequestObject) (authapi.FinishOidcLoginResponseObject, error) {
	c, err := s.oidcProvider(ctx, req.Provider)
	if err != nil {
		return nil, err
	}
	q := req.Params
	if q.Error != nil {
		return nil, apierror.BadRequest("the provider refused the sign-in: "+*q.Error, apierror.FieldError{Field: "query.error", Message: *q.Error, Code: "provider_error"})
	}
	if q.Code == nil || q.State == nil || *q.Code == "" || *q.State == "" {
		return nil, apierror.BadRequest("code and state: required", apierror.FieldError{Field: "query.code", Message: "required", Code: "required"})
	}
	// The state is single use: it is deleted as it is read.
	var login *oidcLogin
	err = s.db.InTx(ctx, func(tx *sql.Tx) (err error) {
		login, err = s.store.takeOIDCLogin(ctx, s.store.in(tx), hashToken(*q.State), c.cfg.Name)
		return err
	})
	if errors.Is(err, errNotFound) || (err == nil && !s.now().Before(login.ExpiresAt)) {
		return nil, errOIDCRefused
	}
	if err != nil {
		return nil, err
	}
	claims, err := s.oidcIdentity(ctx, c, *q.Code, login.Verifier, login.Nonce)
	if err != nil {
		return nil, err
	}
	u, err := s.oidcUser(ctx, c, claims)
	if err != nil {
		return nil, err
	}
	pair, err := s.signIn(ctx, u)
	if err != nil {
		return nil, err
	}
	frag := url.Values{}
	frag.Set("access_token", pair.AccessToken)
	frag.Set("token_type", string(pair.TokenType))
	frag.Set("expires_in", strconv.Itoa(int(pair.ExpiresIn)))
	frag.Set("refresh_token", pair.RefreshToken)
	frag.Set("refresh_expires_in", strconv.Itoa(int(pair.RefreshExpiresIn)))
	loc := strings.SplitN(c.cfg.PostLoginURL, "#", 2)[0] + "#" + frag.Encode()
	return authapi.FinishOidcLogin303Response{Headers: authapi.FinishOidcLogin303ResponseHeaders{Location: &loc, CacheControl: &noStore}}, nil
}

// oidcClaims is what a sign-in learns of the person from the provider.
type oidcClaims struct {
	Subject       string
	Email         string
	EmailVerified bool
	Name          string
	Roles         []string // mapped from the provider's RoleClaim
}

// oidcIdentity exchanges code (with the PKCE verifier) and verifies the ID token: signature,
// issuer, audience (our client id), expiry, and nonce. The email, its verification and the role
// claim come from the ID token, else from the userinfo endpoint (for the same subject).
func (s *Service) oidcIdentity(ctx context.Context, c *oidcClient, code, verifier, nonce string) (*oidcClaims, error) {
	ctx = oidc.ClientContext(ctx, s.oidcHTTP)
	tok, err := c.oauth.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		s.log.Info("OpenID Connect code exchange refused", "provider", c.cfg.Name, "error", err)
		return nil, errOIDCRefused
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, errOIDCRefused
	}
	idt, err := s.verifyIDToken(ctx, c, raw, nonce)
	if err != nil {
		s.log.Info("OpenID Connect ID token refused", "provider", c.cfg.Name, "error", err)
		return nil, errOIDCRefused
	}
	all := map[string]any{}
	if err := idt.Claims(&all); err != nil {
		return nil, errOIDCRefused
	}
	if _, ok := all["email"]; !ok {
		info, err := c.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		if err != nil || info.Subject != idt.Subject {
			s.log.Info("OpenID Connect userinfo refused", "provider", c.cfg.Name, "error", err)
			return nil, errOIDCRefused
		}
		extra := map[string]any{}
		_ = info.Claims(&extra)
		for k, v := range extra {
			if _, ok := all[k]; !ok {
				all[k] = v
			}
		}
	}
	out := &oidcClaims{Subject: idt.Subject}
	out.Email, _ = all["email"].(string)
	out.Name, _ = all["name"].(string)
	switch v := all["email_verified"].(type) {
	case bool:
		out.EmailVerified = v
	case string: // some providers send "true"
		out.EmailVerified = v == "true"
	}
	if c.cfg.RoleClaim != "" {
		var values []string
		switch v := all[c.cfg.RoleClaim].(type) {
		case string:
			values = []string{v}
		case []any:
			for _, x := range v {
				if s, ok := x.(string); ok {
					values = append(values, s)
				}
			}
		}
		for _, v := range values {
			if role, ok := c.cfg.RoleMap[v]; ok && !slices.Contains(out.Roles, role) {
				out.Roles = append(out.Roles, role)
			}
		}
		slices.Sort(out.Roles)
	}
	return out, nil
}

// verifyIDToken checks an ID token of provider c and that it carries nonce.
func (s *Service) verifyIDToken(ctx context.Context, c *oidcClient, raw, nonce string) (*oidc.IDToken, error) {
	idt, err := c.verifier.Verify(oidc.ClientContext(ctx, s.oidcHTTP), raw)
	if err != nil {
		return nil, err
	}
	if idt.Nonce == "" || idt.Nonce != nonce {
		return nil, errors.New("the ID token's nonce is not the one the sign-in started with")
	}
	return idt, nil
}

// oidcUser finds the user linked to the provider's subject, or links the account with the same
// (verified) email, or creates one with the mapped roles (USER when none map).
func (s *Service) oidcUser(ctx context.Context, c *oidcClient, cl *oidcClaims) (*user, error) {
	userID, err := s.store.identityUser(ctx, s.store.pool, c.cfg.Name, cl.Subject)
	if err == nil {
		u, err := s.store.userByID(ctx, s.store.pool, userID)
		if err != nil {
			return nil, err
		}
		if u.Disabled {
			return nil, apierror.Forbidden("the account is disabled")
		}
		return u, nil
	}
	if !errors.Is(err, errNotFound) {
		return nil, err
	}
	if cl.Email == "" || !cl.EmailVerified {
		return nil, apierror.Forbidden("the provider does not say this account's email is verified, so it cannot be linked or created")
	}
	email := strings.ToLower(cl.Email)
	link := func(tx *sql.Tx, id string) error {
		return s.store.linkIdentity(ctx, s.store.in(tx), c.cfg.Name, cl.Subject, id, s.now())
	}
	existing, err := s.store.userByEmail(ctx, s.store.pool, email)
	if err == nil {
		if existing.Disabled {
			return nil, apierror.Forbidden("the account is disabled")
		}
		if err := s.db.InTx(ctx, func(tx *sql.Tx) error { return link(tx, existing.ID) }); err != nil {
			return nil, err
		}
		return existing, nil
	}
	if !errors.Is(err, errNotFound) {
		return nil, err
	}
	roles := cl.Roles
	if len(roles) == 0 {
		roles = []string{policy.RoleUser}
	}
	name := cl.Name
	if checkDisplayName(&name) != nil || len([]rune(name)) > 100 {
		name = strings.SplitN(email, "@", 2)[0]
	}
	u, err := s.newUser(ctx, email, name, randomToken(32), roles, "en")
	if err != nil {
		return nil, err
	}
	u.PasswordHash = "" // signs in through the provider only, until a password is set by an ADMIN reset
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.store.insertUser(ctx, s.store.in(tx), u); err != nil {
			return err
		}
		if err := link(tx, u.ID); err != nil {
			return err
		}
		return s.emitRegistered(ctx, tx, u, authevents.RegistrationSourceSignup)
	})
	if err != nil {
		return nil, fmt.Errorf("oidc: create the user: %w", err)
	}
	return u, nil
}
