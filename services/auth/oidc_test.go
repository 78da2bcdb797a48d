package auth

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/mediamesh/mediamesh/gen/openapi/authapi"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
	"github.com/mediamesh/mediamesh/services/auth/oidctest"
)

const oidcRedirect = "http://127.0.0.1:9/api/v1/auth/oidc/test/callback"

func startOP(t *testing.T) *oidctest.Provider {
	return oidctest.Start(t,
		[]oidctest.Client{{ID: "mediamesh", Secret: "mediamesh client secret", RedirectURI: oidcRedirect}, {ID: "intruder", Secret: "intruder client secret", RedirectURI: oidcRedirect}},
		[]oidctest.User{
			{ID: "alice-sub", Username: "alice", Email: "Alice@OIDC.test", EmailVerified: true},
			{ID: "bob-sub", Username: "bob", Email: "bob@oidc.test", EmailVerified: false},
			{ID: "carol-sub", Username: "carol", Email: "admin@example.com", EmailVerified: true},
		})
}

// TestOIDCSignIn signs in through a real OpenID Provider (zitadel's example OP) on SQLite and
// PostgreSQL: discovery, the code flow with PKCE, state and nonce, ID token verification; the first
// sign-in creates the user with the mapped role, the next finds it; a verified email links an
// existing account, an unverified one is refused; a spent state, a wrong nonce and an ID token for
// another audience are refused.
func TestOIDCSignIn(t *testing.T) {
	op := startOP(t)
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		cfg := testConfig()
		cfg.OIDC = []OIDCProvider{{Name: "test", IssuerURL: op.Issuer, ClientID: "mediamesh", ClientSecret: "mediamesh client secret",
			RedirectURL: oidcRedirect, PostLoginURL: "https://cms.example/signed-in", RoleClaim: "preferred_username", RoleMap: map[string]string{"alice": "EDITOR"}}}
		f := newFixture(t, db, cfg)
		ctx := context.Background()

		start := func() string {
			t.Helper()
			resp, err := f.svc.StartOidcLogin(ctx, authapi.StartOidcLoginRequestObject{Provider: "test"})
			if err != nil {
				t.Fatal(err)
			}
			return *resp.(authapi.StartOidcLogin302Response).Headers.Location
		}
		finish := func(back *url.URL) (authapi.FinishOidcLoginResponseObject, error) {
			t.Helper()
			if !strings.HasPrefix(back.String(), oidcRedirect) {
				t.Fatalf("the provider sent the browser to %s", back)
			}
			code, state := back.Query().Get("code"), back.Query().Get("state")
			return f.svc.FinishOidcLogin(ctx, authapi.FinishOidcLoginRequestObject{Provider: "test", Params: authapi.FinishOidcLoginParams{Code: &code, State: &state}})
		}
		signIn := func(username string) (string, error) {
			t.Helper()
			resp, err := finish(op.Login(t, start(), username))
			if err != nil {
				return "", err
			}
			loc, err := url.Parse(*resp.(authapi.FinishOidcLogin303Response).Headers.Location)
			if err != nil || !strings.HasPrefix(loc.String(), "https://cms.example/signed-in#") {
				t.Fatalf("post-login redirect: %v %v", loc, err)
			}
			frag, _ := url.ParseQuery(loc.Fragment)
			if frag.Get("token_type") != "Bearer" || frag.Get("refresh_token") == "" {
				t.Fatalf("fragment: %v", frag)
			}
			return frag.Get("access_token"), nil
		}

		authorize, _ := url.Parse(start())
		q := authorize.Query()
		if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("nonce") == "" || q.Get("state") == "" || q.Get("client_id") != "mediamesh" {
			t.Fatalf("authorization request: %s", authorize)
		}

		// First sign-in creates the user with the mapped role; the second finds the same user.
		token, err := signIn("alice")
		if err != nil {
			t.Fatal(err)
		}
		me, err := f.svc.GetMe(f.as(t, token), authapi.GetMeRequestObject{})
		if err != nil {
			t.Fatal(err)
		}
		alice := me.(authapi.GetMe200JSONResponse).Body
		if alice.Email != "alice@oidc.test" || len(alice.Roles) != 1 || alice.Roles[0] != "EDITOR" {
			t.Fatalf("created user: %+v", alice)
		}
		if _, err := f.login(t, "alice@oidc.test", ""); status(err) != 401 {
			t.Errorf("a password login of an OIDC-created account: %v", err)
		}
		again, err := signIn("alice")
		if err != nil {
			t.Fatal(err)
		}
		if p := f.as(t, again); p == nil {
			t.Fatal("no principal")
		}
		if p, _ := f.verifier().Verify(ctx, again); p.Subject != alice.Id.String() {
			t.Errorf("second sign-in: subject %s, want %s", p.Subject, alice.Id)
		}

		// A verified email links the existing account; an unverified one is refused.
		carol, err := signIn("carol")
		if err != nil {
			t.Fatal(err)
		}
		if p, _ := f.verifier().Verify(ctx, carol); p == nil || len(p.Roles) != 1 || p.Roles[0] != "ADMIN" {
			t.Errorf("linked account: %+v", p)
		}
		if _, err := signIn("bob"); status(err) != 403 {
			t.Errorf("unverified email: %v, want 403", err)
		}

		// A state is used once.
		back := op.Login(t, start(), "alice")
		if _, err := finish(back); err != nil {
			t.Fatal(err)
		}
		if _, err := finish(back); status(err) != 401 {
			t.Errorf("a spent state: %v, want 401", err)
		}

		// A wrong nonce: the browser's authorization request carries another one than the login
		// started with; the provider signs it into the ID token, and the callback refuses it.
		tampered, _ := url.Parse(start())
		tq := tampered.Query()
		tq.Set("nonce", "not-the-nonce-of-this-login")
		tampered.RawQuery = tq.Encode()
		if _, err := finish(op.Login(t, tampered.String(), "alice")); status(err) != 401 {
			t.Errorf("wrong nonce: %v, want 401", err)
		}

		// A wrong audience: an ID token the provider issued to another client fails our
		// verification, and passes that of the client it was issued to.
		c, err := f.svc.oidcProvider(ctx, "test")
		if err != nil {
			t.Fatal(err)
		}
		intruder := oauth2.Config{ClientID: "intruder", ClientSecret: "intruder client secret", Endpoint: c.provider.Endpoint(), RedirectURL: oidcRedirect, Scopes: []string{oidc.ScopeOpenID, "email"}}
		verifier := oauth2.GenerateVerifier()
		code := op.Login(t, intruder.AuthCodeURL("intruder-state", oidc.Nonce("intruder-nonce"), oauth2.S256ChallengeOption(verifier)), "alice").Query().Get("code")
		tok, err := intruder.Exchange(ctx, code, oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := tok.Extra("id_token").(string)
		if _, err := f.svc.verifyIDToken(ctx, c, raw, "intruder-nonce"); err == nil || !strings.Contains(err.Error(), "audience") {
			t.Errorf("an ID token for another audience: %v", err)
		}
		theirs := &oidcClient{cfg: c.cfg, provider: c.provider, verifier: c.provider.Verifier(&oidc.Config{ClientID: "intruder"})}
		if _, err := f.svc.verifyIDToken(ctx, theirs, raw, "intruder-nonce"); err != nil {
			t.Errorf("the same ID token for its own audience: %v", err)
		}
		if _, err := f.svc.verifyIDToken(ctx, theirs, raw, "another-nonce"); err == nil {
			t.Error("the same ID token with another nonce was accepted")
		}

		// Unknown provider.
		if _, err := f.svc.StartOidcLogin(ctx, authapi.StartOidcLoginRequestObject{Provider: "nope"}); status(err) != 404 {
			t.Errorf("unknown provider: %v", err)
		}
	})
}
