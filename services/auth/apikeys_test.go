package auth

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/gen/events/authevents"
	"github.com/mediamesh/mediamesh/gen/openapi/authapi"
	"github.com/mediamesh/mediamesh/gen/openapi/commonapi"
	"github.com/mediamesh/mediamesh/internal/authn"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
	"github.com/mediamesh/mediamesh/internal/httpserver"
	"github.com/mediamesh/mediamesh/internal/policy"
)

func (f *fixture) createKey(t *testing.T, ctx context.Context, body authapi.CreateApiKeyRequest) (authapi.ApiKeySecret, error) {
	t.Helper()
	resp, err := f.svc.CreateApiKey(ctx, authapi.CreateApiKeyRequestObject{Body: &body})
	if err != nil {
		return authapi.ApiKeySecret{}, err
	}
	return resp.(authapi.CreateApiKey201JSONResponse).Body, nil
}

func scopes(s ...string) []authapi.Scope {
	out := make([]authapi.Scope, len(s))
	for i, v := range s {
		out[i] = authapi.Scope(v)
	}
	return out
}

// TestAPIKeys covers an API key's life on SQLite and PostgreSQL: created with a subset of its
// owner's scopes (more, or api_keys:manage, refused naming the field), the secret shown once and
// stored only as a hash, exchanged for a token that names the key and carries its scopes, refused
// outside its ranges, after its expiry and after revocation, rotated with a grace period, listed
// without secrets, and a role change narrowing what it grants.
func TestAPIKeys(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, testConfig())
		ctx := context.Background()
		admin, err := f.login(t, "admin@example.com", f.adminPassword(t))
		if err != nil {
			t.Fatal(err)
		}
		adminCtx := f.as(t, admin.AccessToken)
		pw := "editor password 1"
		created, err := f.svc.CreateUser(adminCtx, authapi.CreateUserRequestObject{Body: &authapi.CreateUserRequest{Email: "ed@example.com", DisplayName: "Ed", Password: &pw, Roles: []authapi.Role{"EDITOR"}}})
		if err != nil {
			t.Fatal(err)
		}
		editorID := created.(authapi.CreateUser201JSONResponse).Body.Id
		ed, err := f.login(t, "ed@example.com", pw)
		if err != nil {
			t.Fatal(err)
		}
		edCtx := f.as(t, ed.AccessToken)

		// More than the owner holds, and api_keys:manage, are refused naming the scope.
		for _, sc := range []string{policy.ScopeIngestManage, policy.ScopeAPIKeysManage} {
			_, err := f.createKey(t, edCtx, authapi.CreateApiKeyRequest{Name: "k", Scopes: scopes(policy.ScopeIngestRead, sc)})
			if status(err) != 422 || !strings.Contains(err.Error(), "scopes") {
				t.Errorf("scope %s: %v", sc, err)
			}
		}
		if _, err := f.createKey(t, edCtx, authapi.CreateApiKeyRequest{Name: "k", Scopes: scopes(policy.ScopeIngestRead), AllowedCidrs: &[]string{"10.0.0.0/33"}}); status(err) != 422 {
			t.Errorf("bad CIDR: %v", err)
		}
		past := f.clock.t.Add(-time.Minute)
		if _, err := f.createKey(t, edCtx, authapi.CreateApiKeyRequest{Name: "k", Scopes: scopes(policy.ScopeIngestRead), ExpiresAt: &past}); status(err) != 422 {
			t.Errorf("past expiry: %v", err)
		}
		adminP, _ := authn.FromContext(adminCtx)
		adminID := uuid.MustParse(adminP.Subject)
		if _, err := f.createKey(t, edCtx, authapi.CreateApiKeyRequest{Name: "k", Scopes: scopes(policy.ScopeAccountRead), OwnerId: &adminID}); status(err) != 403 {
			t.Errorf("an EDITOR's key for another user: %v", err)
		}

		// A key for the editor, from one range, made by an ADMIN.
		key, err := f.createKey(t, adminCtx, authapi.CreateApiKeyRequest{Name: "Podcast ingest", Scopes: scopes(policy.ScopeIngestRun, policy.ScopeIngestRead, policy.ScopeIngestRead), OwnerId: &editorID, AllowedCidrs: &[]string{"203.0.113.9/24"}})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(key.Key, "mmk_") || len(key.Key) != 47 || key.Prefix != key.Key[:12] || key.OwnerId != editorID ||
			!slices.Equal(key.Scopes, scopes(policy.ScopeIngestRead, policy.ScopeIngestRun)) || !slices.Equal(key.AllowedCidrs, []string{"203.0.113.0/24"}) {
			t.Fatalf("created: %+v", key)
		}
		var stored int
		if err := db.QueryRowContext(ctx, db.Rebind(`SELECT COUNT(*) FROM api_keys WHERE secret_hash = ? AND secret_hash <> ?`), hashToken(key.Key), key.Key).Scan(&stored); err != nil || stored != 1 {
			t.Fatalf("stored by hash: %d %v", stored, err)
		}

		exchange := func(secret, client string) (*authn.Principal, error) {
			t.Helper()
			resp, err := f.svc.ExchangeApiKey(httpserver.WithClient(ctx, client), authapi.ExchangeApiKeyRequestObject{Body: &authapi.ExchangeApiKeyRequest{ApiKey: secret}})
			if err != nil {
				return nil, err
			}
			tok := resp.(authapi.ExchangeApiKey200JSONResponse).Body
			if tok.ExpiresIn < 1 || tok.ExpiresIn > 60 {
				t.Errorf("expires_in %d", tok.ExpiresIn)
			}
			return f.verifier().Verify(ctx, tok.AccessToken)
		}
		p, err := exchange(key.Key, "203.0.113.7")
		if err != nil {
			t.Fatal(err)
		}
		if p.KeyID != key.Id.String() || p.Subject != editorID.String() || !slices.Equal(p.Scopes, []string{policy.ScopeIngestRead, policy.ScopeIngestRun}) || !slices.Equal(p.Roles, []string{"EDITOR"}) {
			t.Fatalf("principal of the key: %+v", p)
		}
		got, err := f.svc.GetApiKey(edCtx, authapi.GetApiKeyRequestObject{ApiKeyId: key.Id})
		if err != nil {
			t.Fatal(err)
		}
		if k := got.(authapi.GetApiKey200JSONResponse); k.LastUsedAt == nil || k.LastUsedAddress == nil || *k.LastUsedAddress != "203.0.113.7" {
			t.Errorf("last use: %+v", k)
		}
		if _, err := exchange(key.Key, "198.51.100.1"); status(err) != 401 {
			t.Errorf("outside the allowed range: %v", err)
		}
		if _, err := exchange("mmk_"+strings.Repeat("A", 43), "203.0.113.7"); status(err) != 401 {
			t.Errorf("unknown key: %v", err)
		}

		// Lists carry no secret; only ADMINs see other owners' keys.
		list, err := f.svc.ListApiKeys(edCtx, authapi.ListApiKeysRequestObject{})
		if err != nil {
			t.Fatal(err)
		}
		if items := list.(authapi.ListApiKeys200JSONResponse).Items; len(items) != 1 || items[0].Id != key.Id {
			t.Errorf("editor's list: %+v", items)
		}
		if _, err := f.svc.ListApiKeys(edCtx, authapi.ListApiKeysRequestObject{Params: authapi.ListApiKeysParams{OwnerId: &adminID}}); status(err) != 403 {
			t.Errorf("editor lists the admin's keys: %v", err)
		}
		adminKey, err := f.createKey(t, adminCtx, authapi.CreateApiKeyRequest{Name: "Admin CI", Scopes: scopes(policy.ScopeContentRead)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.GetApiKey(edCtx, authapi.GetApiKeyRequestObject{ApiKeyId: adminKey.Id}); status(err) != 404 {
			t.Errorf("editor reads the admin's key: %v", err)
		}
		if _, err := f.svc.RevokeApiKey(edCtx, authapi.RevokeApiKeyRequestObject{ApiKeyId: adminKey.Id}); status(err) != 404 {
			t.Errorf("editor revokes the admin's key: %v", err)
		}
		one := commonapi.Limit(1)
		page, err := f.svc.ListApiKeys(adminCtx, authapi.ListApiKeysRequestObject{Params: authapi.ListApiKeysParams{Limit: &one}})
		if err != nil {
			t.Fatal(err)
		}
		first := page.(authapi.ListApiKeys200JSONResponse)
		if len(first.Items) != 1 || !first.Page.HasMore {
			t.Fatalf("admin's first page: %+v", first)
		}
		page, err = f.svc.ListApiKeys(adminCtx, authapi.ListApiKeysRequestObject{Params: authapi.ListApiKeysParams{Limit: &one, Cursor: first.Page.NextCursor}})
		if err != nil {
			t.Fatal(err)
		}
		if second := page.(authapi.ListApiKeys200JSONResponse); len(second.Items) != 1 || second.Items[0].Id == first.Items[0].Id {
			t.Fatalf("admin's second page: %+v", second)
		}

		// A role change narrows what the key grants at its next exchange.
		setRoles := func(roles ...authapi.Role) {
			t.Helper()
			if _, err := f.svc.SetUserRoles(adminCtx, authapi.SetUserRolesRequestObject{UserId: editorID, Body: &authapi.SetRolesRequest{Roles: roles}}); err != nil {
				t.Fatal(err)
			}
		}
		setRoles("USER")
		if p, err := exchange(key.Key, "203.0.113.7"); err != nil || len(p.Scopes) != 0 {
			t.Errorf("key of a USER: %+v %v", p, err)
		}
		setRoles("EDITOR")

		// Rotation: both secrets work for the grace period, then only the new one.
		grace := int32(60)
		rot, err := f.svc.RotateApiKey(edCtx, authapi.RotateApiKeyRequestObject{ApiKeyId: key.Id, Body: &authapi.RotateApiKeyRequest{GraceSeconds: &grace}})
		if err != nil {
			t.Fatal(err)
		}
		rotated := rot.(authapi.RotateApiKey200JSONResponse).Body
		if rotated.Key == key.Key || rotated.Id != key.Id || rotated.PreviousValidUntil == nil || rotated.RotatedAt == nil {
			t.Fatalf("rotated: %+v", rotated)
		}
		for _, secret := range []string{key.Key, rotated.Key} {
			if _, err := exchange(secret, "203.0.113.7"); err != nil {
				t.Errorf("within the grace: %v", err)
			}
		}
		f.clock.t = f.clock.t.Add(61 * time.Second)
		if _, _, _, err := f.svc.exchange(ctx, key.Key, "203.0.113.7"); !errors.Is(err, authn.ErrKeyInvalid) {
			t.Errorf("previous secret after the grace: %v", err)
		}
		if _, _, _, err := f.svc.exchange(ctx, rotated.Key, "203.0.113.7"); err != nil {
			t.Errorf("new secret after the grace: %v", err)
		}

		// Revocation: gone at once, with its event.
		if _, err := f.svc.RevokeApiKey(edCtx, authapi.RevokeApiKeyRequestObject{ApiKeyId: key.Id}); err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := f.svc.exchange(ctx, rotated.Key, "203.0.113.7"); !errors.Is(err, authn.ErrKeyInvalid) {
			t.Errorf("revoked key: %v", err)
		}
		if n := events(t, db, authevents.TypeAPIKeyRevoked); n != 1 {
			t.Errorf("api_key.revoked events: %d", n)
		}
		if n := events(t, db, authevents.TypeAPIKeyCreated); n != 3 {
			t.Errorf("api_key.created events: %d (two keys and a rotation)", n)
		}

		// Expiry bounds the token, and ends the key.
		soon := f.clock.t.Add(30 * time.Second)
		exp, err := f.createKey(t, adminCtx, authapi.CreateApiKeyRequest{Name: "Short", Scopes: scopes(policy.ScopeContentRead), ExpiresAt: &soon})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, ttl, err := f.svc.exchange(ctx, exp.Key, "192.0.2.1"); err != nil || ttl > 30*time.Second {
			t.Errorf("token of a key expiring in 30 s: %v %v", ttl, err)
		}
		f.clock.t = f.clock.t.Add(31 * time.Second)
		if _, _, _, err := f.svc.exchange(ctx, exp.Key, "192.0.2.1"); !errors.Is(err, authn.ErrKeyInvalid) {
			t.Errorf("expired key: %v", err)
		}
	})
}

// TestRoleScopesReduced: when a role grants fewer scopes than the auth service last stored, it
// publishes role.scopes_reduced once, and never when nothing was removed.
func TestRoleScopesReduced(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, testConfig())
		ctx := context.Background()
		if n := events(t, db, authevents.TypeRoleScopesReduced); n != 0 {
			t.Fatalf("first start: %d role.scopes_reduced", n)
		}
		// As if the editor had held content:purge when the service last ran.
		old := append(slices.Clone(policy.RoleScopes[policy.RoleEditor]), policy.ScopeContentPurge)
		if err := f.svc.store.putRoleScopes(ctx, f.svc.store.pool, policy.RoleEditor, old); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := f.svc.syncRoleScopes(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if n := events(t, db, authevents.TypeRoleScopesReduced); n != 1 {
			t.Fatalf("role.scopes_reduced: %d, want 1", n)
		}
	})
}

// TestScopeEnum holds the contract's Scope enum equal to the scopes the platform knows.
func TestScopeEnum(t *testing.T) {
	doc, err := authapi.GetSpec()
	if err != nil {
		t.Fatal(err)
	}
	var enum []string
	for _, v := range doc.Components.Schemas["Scope"].Value.Enum {
		enum = append(enum, v.(string))
	}
	if !slices.Equal(enum, policy.AllScopes) {
		t.Errorf("auth.yaml Scope enum %v, internal/policy %v", enum, policy.AllScopes)
	}
}
