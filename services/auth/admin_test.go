package auth

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mediamesh/mediamesh/gen/events/authevents"
	"github.com/mediamesh/mediamesh/gen/openapi/authapi"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
)

// TestOneTimePasswordSurvives: the first ADMIN's generated password is kept (0600) and logged again
// at every start until it is changed, so a first start that fails after creating the account does
// not lose it; once the password is reset, the next start forgets it.
func TestOneTimePasswordSurvives(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		cfg := testConfig()
		cfg.AdminPasswordFile = filepath.Join(t.TempDir(), "data", "first-admin-password")
		cfg.LoginLimit.Burst = 10 // this test logs in four times
		f := newFixture(t, db, cfg)
		pw := f.adminPassword(t)
		st, err := os.Stat(cfg.AdminPasswordFile)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("the kept password is mode %v, want 0600", st.Mode().Perm())
		}
		restart := func() string {
			t.Helper()
			logs := &bytes.Buffer{}
			if _, err := New(ctx, cfg, Deps{DB: db, Log: slog.New(slog.NewJSONHandler(logs, nil)), Now: f.clock.now}); err != nil {
				t.Fatal(err)
			}
			return logs.String()
		}
		first, err := f.login(t, "admin@example.com", pw)
		if err != nil {
			t.Fatal(err)
		}
		if !changeRequired(t, f, first.AccessToken) {
			t.Error("the first ADMIN with its one-time password does not report password_change_required")
		}
		if logs := restart(); !strings.Contains(logs, `"one_time_password":"`+pw+`"`) {
			t.Fatalf("a restart before the password changed does not log it again: %s", logs)
		}

		// A lost password: reset offline; the old one stops working, the new one logs in.
		newPW, err := ResetPassword(ctx, db, " ADMIN@example.com ")
		if err != nil {
			t.Fatal(err)
		}
		if newPW == pw || len(newPW) < 12 {
			t.Fatalf("reset password %q", newPW)
		}
		if _, err := f.login(t, "admin@example.com", pw); status(err) != 401 {
			t.Fatalf("the old password after a reset: %v, want 401", err)
		}
		tokens, err := f.login(t, "admin@example.com", newPW)
		if err != nil {
			t.Fatalf("the new password: %v", err)
		}
		if !changeRequired(t, f, tokens.AccessToken) {
			t.Error("after a reset the account does not report password_change_required")
		}
		if events(t, db, authevents.TypeUserTokensRevoked) != 1 {
			t.Error("a reset must revoke the account's tokens")
		}
		if logs := restart(); strings.Contains(logs, "one_time_password") {
			t.Fatalf("a restart after the reset logs the old one-time password: %s", logs)
		}
		if _, err := os.Stat(cfg.AdminPasswordFile); !os.IsNotExist(err) {
			t.Fatalf("the one-time password is still kept after it changed: %v", err)
		}
		// The user's own change clears the flag.
		chosen := "a-password-of-my-own"
		if _, err := f.svc.UpdateMe(f.as(t, tokens.AccessToken), authapi.UpdateMeRequestObject{Body: &authapi.UpdateMeRequest{CurrentPassword: &newPW, NewPassword: &chosen}}); err != nil {
			t.Fatal(err)
		}
		tokens, err = f.login(t, "admin@example.com", chosen)
		if err != nil {
			t.Fatal(err)
		}
		if changeRequired(t, f, tokens.AccessToken) {
			t.Error("after the user changed the password the account still reports password_change_required")
		}
		if _, err := ResetPassword(ctx, db, "nobody@example.com"); err == nil || !strings.Contains(err.Error(), "no account") {
			t.Fatalf("reset of an unknown email: %v", err)
		}
	})
}

// changeRequired is what getMe reports as password_change_required for the holder of token.
func changeRequired(t *testing.T, f *fixture, token string) bool {
	t.Helper()
	resp, err := f.svc.GetMe(f.as(t, token), authapi.GetMeRequestObject{})
	if err != nil {
		t.Fatal(err)
	}
	me := resp.(authapi.GetMe200JSONResponse).Body
	if me.PasswordChangeRequired == nil {
		t.Fatal("getMe does not report password_change_required")
	}
	return *me.PasswordChangeRequired
}
