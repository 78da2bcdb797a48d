package auth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/gen/events/authevents"
	"github.com/mediamesh/mediamesh/gen/openapi/authapi"
	"github.com/mediamesh/mediamesh/internal/apierror"
	"github.com/mediamesh/mediamesh/internal/authn"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
	"github.com/mediamesh/mediamesh/internal/eventbus"
	"github.com/mediamesh/mediamesh/internal/httpserver"
	"github.com/mediamesh/mediamesh/internal/outbox"
	"github.com/mediamesh/mediamesh/internal/ratelimit"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

type fixture struct {
	svc   *Service
	db    *database.DB
	clock *clock
	logs  *bytes.Buffer
}

func testConfig() Config {
	return Config{
		Issuer: "mediamesh-test", Audience: "mediamesh-api", AccessTTL: 15 * time.Minute, RefreshTTL: 24 * time.Hour,
		KeyRotation: 24 * time.Hour, SignupEnabled: true, AdminEmail: "Admin@Example.com", HashConcurrency: 2,
		LoginLimit: ratelimit.Limit{Rate: 5, Per: time.Minute, Burst: 2},
	}
}

func newFixture(t *testing.T, db *database.DB, cfg Config) *fixture {
	t.Helper()
	c := &clock{t: time.Now().UTC().Truncate(time.Millisecond)}
	logs := &bytes.Buffer{}
	if err := db.Migrate(context.Background(), Migrations.Component, Migrations.FS); err != nil {
		t.Fatal(err)
	}
	if err := outbox.Migrate(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	svc, err := New(context.Background(), cfg, Deps{DB: db, Limiter: ratelimit.NewMemory(), Log: slog.New(slog.NewJSONHandler(logs, nil)), Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{svc: svc, db: db, clock: c, logs: logs}
}

func status(err error) int {
	if err == nil {
		return 0
	}
	var e *apierror.Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 500
}

func (f *fixture) adminPassword(t *testing.T) string {
	t.Helper()
	m := regexp.MustCompile(`"one_time_password":"([^"]+)"`).FindStringSubmatch(f.logs.String())
	if m == nil {
		t.Fatalf("no one-time password in the log: %s", f.logs)
	}
	return m[1]
}

func (f *fixture) login(t *testing.T, email, password string) (authapi.TokenPair, error) {
	t.Helper()
	resp, err := f.svc.Login(context.Background(), authapi.LoginRequestObject{Body: &authapi.LoginRequest{Email: authapi.Email(email), Password: &password}})
	if err != nil {
		return authapi.TokenPair{}, err
	}
	return resp.(authapi.Login200JSONResponse).Body, nil
}

func (f *fixture) verifier() *authn.TokenVerifier {
	keys := authn.NewKeyCache(f.svc.PublicKeys, time.Hour, 0)
	return authn.NewTokenVerifier(keys, "mediamesh-test", "mediamesh-api", 0)
}

func (f *fixture) as(t *testing.T, token string) context.Context {
	t.Helper()
	p, err := f.verifier().Verify(context.Background(), token)
	if err != nil {
		t.Fatal(err)
	}
	return authn.WithPrincipal(context.Background(), p)
}

func events(t *testing.T, db *database.DB, eventType string) int {
	t.Helper()
	recs, err := outbox.Unsent(context.Background(), db, 1000)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range recs {
		if r.EventType == eventType {
			n++
		}
	}
	return n
}

func TestAuth(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		cfg := testConfig()
		cfg.LoginLimit.Burst = 50 // this test logs in often; TestLoginRateLimitPerAccount covers the limit
		f := newFixture(t, db, cfg)
		ctx := context.Background()

		// The first ADMIN exists with a one-time password, logged once; a restart creates no other.
		pw := f.adminPassword(t)
		if events(t, db, authevents.TypeUserRegistered) != 1 {
			t.Fatal("bootstrap must emit user.registered")
		}
		if _, err := New(ctx, testConfig(), Deps{DB: db, Log: slog.New(slog.NewJSONHandler(&bytes.Buffer{}, nil)), Now: f.clock.now}); err != nil {
			t.Fatal(err)
		}
		if events(t, db, authevents.TypeUserRegistered) != 1 {
			t.Fatal("a restart must not create a second admin")
		}
		admin, err := f.login(t, "admin@example.com", pw)
		if err != nil {
			t.Fatalf("admin login: %v", err)
		}
		adminCtx := f.as(t, admin.AccessToken)

		// Wrong password, unknown account: 401 alike.
		if _, err := f.login(t, "admin@example.com", "wrong password!"); status(err) != 401 {
			t.Fatalf("wrong password: %v", err)
		}
		if _, err := f.login(t, "nobody@example.com", pw); status(err) != 401 {
			t.Fatalf("unknown account: %v", err)
		}

		// Sign-up creates a USER and its event in one transaction; the same email again is 409.
		reg := func(email string) (authapi.RegisterUserResponseObject, error) {
			p := "a long enough password"
			return f.svc.RegisterUser(ctx, authapi.RegisterUserRequestObject{Body: &authapi.SignupRequest{Email: authapi.Email(email), DisplayName: "ليلى", Password: &p}})
		}
		resp, err := reg("Layla@Example.com")
		if err != nil {
			t.Fatal(err)
		}
		layla := resp.(authapi.RegisterUser201JSONResponse).Body
		if layla.Email != "layla@example.com" || len(layla.Roles) != 1 || layla.Roles[0] != "USER" {
			t.Fatalf("registered %+v", layla)
		}
		if _, err := reg("layla@example.com"); status(err) != 409 {
			t.Fatalf("duplicate email: %v", err)
		}
		if events(t, db, authevents.TypeUserRegistered) != 2 {
			t.Fatal("sign-up must emit exactly one user.registered")
		}

		// Refresh rotates; reusing a spent token revokes the whole family.
		pair, err := f.login(t, "layla@example.com", "a long enough password")
		if err != nil {
			t.Fatal(err)
		}
		refresh := func(tok string) (authapi.TokenPair, error) {
			r, err := f.svc.RefreshToken(ctx, authapi.RefreshTokenRequestObject{Body: &authapi.RefreshRequest{RefreshToken: tok}})
			if err != nil {
				return authapi.TokenPair{}, err
			}
			return r.(authapi.RefreshToken200JSONResponse).Body, nil
		}
		next, err := refresh(pair.RefreshToken)
		if err != nil || next.RefreshToken == pair.RefreshToken {
			t.Fatalf("rotation: %v", err)
		}
		if _, err := refresh(pair.RefreshToken); status(err) != 401 {
			t.Fatalf("reuse of a spent token: %v", err)
		}
		if _, err := refresh(next.RefreshToken); status(err) != 401 {
			t.Fatalf("after reuse the family is revoked, the newest token too: %v", err)
		}
		if _, err := refresh("garbage"); status(err) != 401 {
			t.Fatalf("unknown token: %v", err)
		}

		// Expiry of refresh tokens.
		pair, _ = f.login(t, "layla@example.com", "a long enough password")
		t0 := f.clock.t
		f.clock.t = t0.Add(25 * time.Hour)
		if _, err := refresh(pair.RefreshToken); status(err) != 401 {
			t.Fatalf("expired refresh token: %v", err)
		}
		f.clock.t = t0 // the verifier below checks tokens against the real clock

		// Logout revokes the session's family.
		pair, _ = f.login(t, "layla@example.com", "a long enough password")
		laylaCtx := f.as(t, pair.AccessToken)
		if _, err := f.svc.Logout(laylaCtx, authapi.LogoutRequestObject{Body: &authapi.LogoutRequest{RefreshToken: &pair.RefreshToken}}); err != nil {
			t.Fatal(err)
		}
		if _, err := refresh(pair.RefreshToken); status(err) != 401 {
			t.Fatalf("refresh after logout: %v", err)
		}

		// /me is the caller's own profile.
		me, err := f.svc.GetMe(laylaCtx, authapi.GetMeRequestObject{})
		if err != nil || me.(authapi.GetMe200JSONResponse).Body.Id != layla.Id {
			t.Fatalf("me: %v", err)
		}

		// Roles: ADMIN promotes layla to EDITOR, with a stale If-Match first.
		stale := `"0"`
		if _, err := f.svc.SetUserRoles(adminCtx, authapi.SetUserRolesRequestObject{UserId: layla.Id, Params: authapi.SetUserRolesParams{IfMatch: &stale}, Body: &authapi.SetRolesRequest{Roles: []authapi.Role{"EDITOR"}}}); status(err) != 412 {
			t.Fatalf("stale If-Match: %v", err)
		}
		r, err := f.svc.SetUserRoles(adminCtx, authapi.SetUserRolesRequestObject{UserId: layla.Id, Body: &authapi.SetRolesRequest{Roles: []authapi.Role{"EDITOR", "USER"}}})
		if err != nil || len(r.(authapi.SetUserRoles200JSONResponse).Body.Roles) != 2 {
			t.Fatalf("set roles: %v", err)
		}
		if events(t, db, authevents.TypeUserRoleChanged) != 1 {
			t.Fatal("role change must emit user.role_changed")
		}

		// The last enabled ADMIN cannot be demoted, disabled or deleted.
		adminUser, _ := f.svc.GetMe(adminCtx, authapi.GetMeRequestObject{})
		adminID := adminUser.(authapi.GetMe200JSONResponse).Body.Id
		if _, err := f.svc.SetUserRoles(adminCtx, authapi.SetUserRolesRequestObject{UserId: adminID, Body: &authapi.SetRolesRequest{Roles: []authapi.Role{"USER"}}}); status(err) != 409 {
			t.Fatalf("demoting the last admin: %v", err)
		}
		if _, err := f.svc.DeleteUser(adminCtx, authapi.DeleteUserRequestObject{UserId: adminID}); status(err) != 409 {
			t.Fatalf("deleting oneself: %v", err)
		}

		// Listing pages through users with a cursor.
		for i := 0; i < 3; i++ {
			if _, err := reg("user" + string(rune('a'+i)) + "@example.com"); err != nil {
				t.Fatal(err)
			}
		}
		limit := int32(2)
		seen := map[uuid.UUID]bool{}
		var cursor *string
		for pages := 0; ; pages++ {
			lr, err := f.svc.ListUsers(adminCtx, authapi.ListUsersRequestObject{Params: authapi.ListUsersParams{Limit: &limit, Cursor: cursor}})
			if err != nil {
				t.Fatal(err)
			}
			page := lr.(authapi.ListUsers200JSONResponse)
			for _, u := range page.Items {
				if seen[u.Id] {
					t.Fatalf("user %s on two pages", u.Id)
				}
				seen[u.Id] = true
			}
			if !page.Page.HasMore {
				break
			}
			cursor = page.Page.NextCursor
		}
		if len(seen) != 5 {
			t.Fatalf("listed %d users, want 5", len(seen))
		}
		bad := "not-a-cursor"
		if _, err := f.svc.ListUsers(adminCtx, authapi.ListUsersRequestObject{Params: authapi.ListUsersParams{Cursor: &bad}}); status(err) != 400 {
			t.Fatalf("bad cursor: %v", err)
		}

		// A disabled account cannot log in and its sessions end.
		disabled := true
		if _, err := f.svc.UpdateUser(adminCtx, authapi.UpdateUserRequestObject{UserId: layla.Id, Body: &authapi.UpdateUserRequest{Disabled: &disabled}}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.login(t, "layla@example.com", "a long enough password"); status(err) != 401 {
			t.Fatalf("disabled login: %v", err)
		}
	})
}

func TestSignupOff(t *testing.T) {
	cfg := testConfig()
	cfg.SignupEnabled, cfg.AdminPassword = false, "configured admin password"
	f := newFixture(t, databasetest.SQLite(t), cfg)
	if strings.Contains(f.logs.String(), "one_time_password") {
		t.Fatal("a configured admin password must not be replaced by a generated one")
	}
	if _, err := f.login(t, "admin@example.com", "configured admin password"); err != nil {
		t.Fatal(err)
	}
	p := "a long enough password"
	_, err := f.svc.RegisterUser(context.Background(), authapi.RegisterUserRequestObject{Body: &authapi.SignupRequest{Email: "x@example.com", DisplayName: "x", Password: &p}})
	if status(err) != 403 {
		t.Fatalf("sign-up while off: %v", err)
	}
}

func TestLoginRateLimitPerAccount(t *testing.T) {
	f := newFixture(t, databasetest.SQLite(t), testConfig())
	from := func(addr string) context.Context { return httpserver.WithClient(context.Background(), addr) }
	login := func(ctx context.Context, password string) error {
		p := password
		_, err := f.svc.Login(ctx, authapi.LoginRequestObject{Body: &authapi.LoginRequest{Email: "admin@example.com", Password: &p}})
		return err
	}
	codes := []int{}
	for i := 0; i < 4; i++ {
		codes = append(codes, status(login(from("203.0.113.7"), "wrong password!")))
	}
	// capacity 3 (burst 2 + 1) per account and address: three 401s, then 429 with a Retry-After.
	if codes[0] != 401 || codes[2] != 401 || codes[3] != 429 {
		t.Fatalf("codes %v", codes)
	}
	var e *apierror.Error
	if err := login(from("203.0.113.7"), "wrong password!"); !errors.As(err, &e) || e.RetryAfter <= 0 {
		t.Fatalf("429 without Retry-After: %v", err)
	}
	// The owner, from an address of their own, still gets in while the attacker is held.
	if err := login(from("198.51.100.20"), f.adminPassword(t)); err != nil {
		t.Fatalf("the owner from another address: %v", err)
	}
	// An attacker spreading attempts over many addresses meets the account's ceiling (10 times).
	refused := 0
	for i := 0; i < 40; i++ {
		if status(login(from(fmt.Sprintf("192.0.2.%d", i)), "wrong password!")) == 429 {
			refused++
		}
	}
	if refused == 0 {
		t.Fatal("40 attempts from 40 addresses never met the account's ceiling")
	}
	if err := login(from("198.51.100.99"), "wrong password!"); status(err) != 429 {
		t.Fatalf("past the ceiling, a new address: %v, want 429", err)
	}
}

func TestKeyRotation(t *testing.T) {
	f := newFixture(t, databasetest.SQLite(t), testConfig())
	ctx := context.Background()
	kids := func() []string {
		r, err := f.svc.GetJwks(ctx, authapi.GetJwksRequestObject{})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, k := range r.(authapi.GetJwks200JSONResponse).Body.Keys {
			if k.Kty != "OKP" || k.Crv != "Ed25519" || k.Alg != "EdDSA" {
				t.Fatalf("key %+v", k)
			}
			out = append(out, k.Kid)
		}
		return out
	}
	first := kids()
	if len(first) != 1 {
		t.Fatalf("keys %v", first)
	}
	// Past the rotation: a new key signs, the old one stays published for tokens it signed.
	f.clock.t = f.clock.t.Add(24*time.Hour + time.Second)
	if got := kids(); len(got) != 2 || got[1] != first[0] {
		t.Fatalf("after rotation: %v", got)
	}
	keys, _ := f.svc.PublicKeys(ctx)
	if _, ok := keys[first[0]]; !ok {
		t.Fatal("old key not published during the overlap")
	}
	// After the overlap (access TTL + 1 min) the old key is gone.
	f.clock.t = f.clock.t.Add(17 * time.Minute)
	if got := kids(); len(got) != 1 || got[0] == first[0] {
		t.Fatalf("after the overlap: %v", got)
	}
}

// TestTokensRevokedEvents: what ends a user's rights (disabled, roles changed, password changed,
// logged out of every session, deleted) is published as user.tokens_revoked, in the transaction of
// the change, with its reason; a change that ends nothing (a new display name) publishes none.
func TestTokensRevokedEvents(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		cfg := testConfig()
		cfg.LoginLimit.Burst = 50
		f := newFixture(t, db, cfg)
		admin, err := f.login(t, "admin@example.com", f.adminPassword(t))
		if err != nil {
			t.Fatal(err)
		}
		adminCtx := f.as(t, admin.AccessToken)
		pw := "a long enough password"
		created, err := f.svc.CreateUser(adminCtx, authapi.CreateUserRequestObject{Body: &authapi.CreateUserRequest{
			Email: "omar@example.com", DisplayName: "Omar", Password: &pw, Roles: []authapi.Role{"EDITOR"}}})
		if err != nil {
			t.Fatal(err)
		}
		omar := created.(authapi.CreateUser201JSONResponse).Body.Id
		want := func(step string, reasons ...string) {
			t.Helper()
			recs, err := outbox.Unsent(context.Background(), db, 1000)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range recs {
				if r.EventType != authevents.TypeUserTokensRevoked {
					continue
				}
				var e authevents.UserTokensRevoked
				if err := eventbus.Decode(r.Payload, e.AvroSchema(), &e); err != nil {
					t.Fatal(err)
				}
				if e.UserID != omar.String() || e.AggregateID != e.UserID || e.RevokedAt.IsZero() {
					t.Fatalf("%s: event %+v", step, e)
				}
				got = append(got, e.Reason)
			}
			if fmt.Sprint(got) != fmt.Sprint(reasons) {
				t.Fatalf("%s: revocations %v, want %v", step, got, reasons)
			}
		}
		name := authapi.DisplayName("Omar H.")
		if _, err := f.svc.UpdateUser(adminCtx, authapi.UpdateUserRequestObject{UserId: omar, Body: &authapi.UpdateUserRequest{DisplayName: &name}}); err != nil {
			t.Fatal(err)
		}
		want("renamed")
		if _, err := f.svc.SetUserRoles(adminCtx, authapi.SetUserRolesRequestObject{UserId: omar, Body: &authapi.SetRolesRequest{Roles: []authapi.Role{"USER"}}}); err != nil {
			t.Fatal(err)
		}
		want("demoted", "roles_changed")
		pair, err := f.login(t, "omar@example.com", pw)
		if err != nil {
			t.Fatal(err)
		}
		omarCtx := f.as(t, pair.AccessToken)
		next := "another long enough password"
		if _, err := f.svc.UpdateMe(omarCtx, authapi.UpdateMeRequestObject{Body: &authapi.UpdateMeRequest{CurrentPassword: &pw, NewPassword: &next}}); err != nil {
			t.Fatal(err)
		}
		want("password changed", "roles_changed", "password_changed")
		all := true
		if _, err := f.svc.Logout(omarCtx, authapi.LogoutRequestObject{Body: &authapi.LogoutRequest{AllSessions: &all}}); err != nil {
			t.Fatal(err)
		}
		want("logged out everywhere", "roles_changed", "password_changed", "logout_all")
		disabled := true
		if _, err := f.svc.UpdateUser(adminCtx, authapi.UpdateUserRequestObject{UserId: omar, Body: &authapi.UpdateUserRequest{Disabled: &disabled}}); err != nil {
			t.Fatal(err)
		}
		want("disabled", "roles_changed", "password_changed", "logout_all", "disabled")
		if _, err := f.svc.DeleteUser(adminCtx, authapi.DeleteUserRequestObject{UserId: omar}); err != nil {
			t.Fatal(err)
		}
		want("deleted", "roles_changed", "password_changed", "logout_all", "disabled", "deleted")
	})
}
