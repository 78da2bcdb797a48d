package auth

import (
	"context"
	"crypto/ed25519"
	"errors"
	"io/fs"
	"path"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/ent/authdb/migrate"
	"github.com/mediamesh/mediamesh/gen/openapi/authapi"
	"github.com/mediamesh/mediamesh/internal/authn"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
	"github.com/mediamesh/mediamesh/internal/outbox"
)

// TestMigrationsMatchEntSchema proves the versioned migrations build exactly the tables the ent
// schema (generated from the contract) describes, on SQLite and PostgreSQL.
func TestMigrationsMatchEntSchema(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		if err := db.Migrate(t.Context(), Migrations.Component, Migrations.FS); err != nil {
			t.Fatal(err)
		}
		databasetest.AssertEntSchema(t, db, migrate.Tables)
	})
}

// handWrittenMigrations are the migrations the auth service had before it moved to ent
// (0001-0004, raw SQL), the ones a database made by that code has applied.
func handWrittenMigrations(t *testing.T) fs.FS {
	t.Helper()
	out := fstest.MapFS{}
	for _, dialect := range []string{"sqlite", "postgres"} {
		for _, name := range []string{"0001_init.sql", "0002_api_keys.sql", "0003_oidc.sql", "0004_password_change_required.sql"} {
			p := path.Join("migrations", dialect, name)
			body, err := fs.ReadFile(migrationFiles, p)
			if err != nil {
				t.Fatal(err)
			}
			out[p] = &fstest.MapFile{Data: body}
		}
	}
	return out
}

// TestMigratesDataOfTheHandWrittenSchema makes a database as the service did before ent (its
// migrations, rows written with its SQL), then opens the service on it: the ent migration keeps
// every row (the SQLite table rebuilds do not cascade the deletion of the users table to the
// tokens, keys and identities), and the service logs in with the stored password, signs with the
// stored key, rotates the stored refresh token, exchanges the stored API key and finds the linked
// identity and the OIDC login under way.
func TestMigratesDataOfTheHandWrittenSchema(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		if err := db.Migrate(ctx, Migrations.Component, handWrittenMigrations(t)); err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC().Truncate(time.Millisecond)
		hash, err := newHasher(1).hash(ctx, "old-password-of-admin")
		if err != nil {
			t.Fatal(err)
		}
		admin, editor := uuid.Must(uuid.NewV7()).String(), uuid.Must(uuid.NewV7()).String()
		seed := make([]byte, ed25519.SeedSize)
		seed[0] = 7
		apiKey := authn.KeyPrefix + strings.Repeat("k", 43)
		lastLogin := now.Add(-time.Hour)
		exec := func(query string, args ...any) {
			t.Helper()
			if _, err := db.ExecContext(ctx, db.Rebind(query), args...); err != nil {
				t.Fatalf("%s: %v", query, err)
			}
		}
		// The rows as the hand-written store wrote them (services/auth/store.go before ent).
		const userColumns = `id, email, display_name, password_hash, roles, disabled, locale, version, created_at, updated_at, last_login_at, password_change_required`
		exec(`INSERT INTO users (`+userColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			admin, "admin@example.com", "Administrator", hash, "ADMIN", false, "en", 3, ms(now.Add(-48*time.Hour)), ms(now.Add(-24*time.Hour)), ms(lastLogin), false)
		exec(`INSERT INTO users (`+userColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			editor, "editor@example.com", "Editor", hash, "EDITOR,USER", false, "ar-EG", 1, ms(now.Add(-47*time.Hour)), ms(now.Add(-47*time.Hour)), nil, true)
		exec(`INSERT INTO refresh_tokens (token_hash, family_id, user_id, issued_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
			hashToken("rt_stored_before_ent"), "family-1", admin, ms(now.Add(-time.Minute)), ms(now.Add(time.Hour)))
		exec(`INSERT INTO signing_keys (kid, private_seed, created_at, retire_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
			"kept-key", encodeSeed(seed), ms(now.Add(-time.Hour)), ms(now.Add(23*time.Hour)), ms(now.Add(48*time.Hour)))
		exec(`INSERT INTO api_keys (id, owner_id, name, prefix, secret_hash, previous_hash, previous_valid_until, scopes, allowed_cidrs, expires_at, created_at, rotated_at, last_used_at, last_used_address) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			uuid.Must(uuid.NewV7()).String(), editor, "importer", apiKey[:12], hashToken(apiKey), nil, nil, "content:read", "", nil, ms(now.Add(-time.Hour)), nil, nil, nil)
		exec(`INSERT INTO user_identities (provider, subject, user_id, created_at) VALUES (?, ?, ?, ?)`, "corporate", "subject-1", editor, ms(now.Add(-time.Hour)))
		exec(`INSERT INTO oidc_logins (state_hash, provider, nonce, verifier, expires_at) VALUES (?, ?, ?, ?, ?)`,
			hashToken("state-1"), "corporate", "nonce-1", "verifier-1", ms(now.Add(5*time.Minute)))
		if err := outbox.Migrate(ctx, db); err != nil {
			t.Fatal(err)
		}

		f := newFixture(t, db, testConfig()) // applies the ent migration, then opens the service
		if strings.Contains(f.logs.String(), "one_time_password") {
			t.Fatalf("the service created a first ADMIN beside the stored one: %s", f.logs)
		}
		pair, err := f.login(t, "admin@example.com", "old-password-of-admin")
		if err != nil {
			t.Fatalf("login with the stored password: %v", err)
		}
		tok, _, err := jwt.NewParser().ParseUnverified(pair.AccessToken, jwt.MapClaims{})
		if err != nil || tok.Header["kid"] != "kept-key" {
			t.Fatalf("the token is signed by %v (%v), want the stored key kept-key", tok.Header["kid"], err)
		}
		f.as(t, pair.AccessToken) // verifies with the published stored key

		refresh := func(token string) error {
			_, err := f.svc.RefreshToken(ctx, authapi.RefreshTokenRequestObject{Body: &authapi.RefreshRequest{RefreshToken: token}})
			return err
		}
		if err := refresh("rt_stored_before_ent"); err != nil {
			t.Fatalf("refresh with the stored token: %v", err)
		}
		if err := refresh("rt_stored_before_ent"); status(err) != 401 {
			t.Fatalf("reusing the stored token: %v, want 401", err)
		}
		if _, err := f.svc.ExchangeAPIKey(ctx, apiKey, "203.0.113.9"); err != nil {
			t.Fatalf("exchange the stored API key: %v", err)
		}
		if id, err := f.svc.store.identityUser(ctx, f.svc.store.pool, "corporate", "subject-1"); err != nil || id != editor {
			t.Fatalf("the stored identity: %q, %v", id, err)
		}
		if l, err := f.svc.store.takeOIDCLogin(ctx, f.svc.store.pool, hashToken("state-1"), "corporate"); err != nil || l.Nonce != "nonce-1" || l.Verifier != "verifier-1" {
			t.Fatalf("the stored OIDC login: %+v, %v", l, err)
		}
		u, err := f.svc.store.userByID(ctx, f.svc.store.pool, editor)
		if err != nil || u.Locale != "ar-EG" || len(u.Roles) != 2 || !u.PasswordChangeRequired || u.LastLoginAt != nil || u.Version != 1 {
			t.Fatalf("the stored editor: %+v, %v", u, err)
		}
		a, err := f.svc.store.userByID(ctx, f.svc.store.pool, admin)
		if err != nil || a.CreatedAt != now.Add(-48*time.Hour) || a.Version != 3 {
			t.Fatalf("the stored admin: %+v, %v", a, err)
		}

		// The references hold after the rebuild: a token of no user is refused, and deleting the
		// editor takes its key and identity with it.
		err = f.svc.store.insertRefresh(ctx, f.svc.store.pool, &refreshToken{Hash: "x", FamilyID: "f", UserID: "no-such-user", IssuedAt: now, ExpiresAt: now})
		if err == nil {
			t.Fatal("a refresh token of no user was stored: foreign keys are not enforced after the migration")
		}
		ctxAdmin := f.as(t, pair.AccessToken)
		if _, err := f.svc.DeleteUser(ctxAdmin, authapi.DeleteUserRequestObject{UserId: uuid.MustParse(editor)}); err != nil {
			t.Fatalf("delete the stored editor: %v", err)
		}
		if _, err := f.svc.store.identityUser(ctx, f.svc.store.pool, "corporate", "subject-1"); !errors.Is(err, errNotFound) {
			t.Fatalf("the deleted editor's identity: %v", err)
		}
		if _, err := f.svc.ExchangeAPIKey(ctx, apiKey, "203.0.113.9"); err == nil {
			t.Fatal("the deleted editor's API key still works")
		}
	})
}
