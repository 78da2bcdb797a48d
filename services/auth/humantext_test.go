package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/mediamesh/mediamesh/gen/openapi/authapi"
	"github.com/mediamesh/mediamesh/internal/apierror"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
	"github.com/mediamesh/mediamesh/internal/humantext"
	"github.com/mediamesh/mediamesh/internal/humantext/humantexttest"
)

// TestDisplayNames: display names follow the one rule for human text (internal/humantext) on
// sign-up, account creation and both updates, through the contract and in the handlers themselves:
// a name of only invisible or space characters, or with a control character, is a 422 naming
// display_name (both used to be stored); a name with invisible characters inside words is kept.
func TestDisplayNames(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		cfg := testConfig()
		cfg.LoginLimit.Burst = 50
		f := newFixture(t, db, cfg)
		admin, err := f.login(t, "admin@example.com", f.adminPassword(t))
		if err != nil {
			t.Fatal(err)
		}
		h, err := f.svc.Handler(slog.New(slog.DiscardHandler), f.verifier())
		if err != nil {
			t.Fatal(err)
		}
		adminCtx := f.as(t, admin.AccessToken)
		send := func(method, path, token string, body map[string]any) (int, []byte) {
			t.Helper()
			req := httptest.NewRequest(method, path, nil)
			if body != nil {
				raw, _ := json.Marshal(body)
				req = httptest.NewRequest(method, path, bytes.NewReader(raw))
				req.Header.Set("Content-Type", "application/json")
			}
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			return rec.Code, rec.Body.Bytes()
		}
		n := 0
		account := func(name string) map[string]any {
			n++
			return map[string]any{"email": fmt.Sprintf("user%d@example.com", n), "display_name": name, "password": "a long enough password", "roles": []string{"USER"}}
		}
		self := account("Self")
		if code, body := send(http.MethodPost, "/api/v1/auth/users", admin.AccessToken, self); code != http.StatusCreated {
			t.Fatalf("create: %d %s", code, body)
		}
		user, err := f.login(t, self["email"].(string), "a long enough password")
		if err != nil {
			t.Fatal(err)
		}
		var me authapi.User
		if code, body := send(http.MethodGet, "/api/v1/auth/me", user.AccessToken, nil); code != http.StatusOK || json.Unmarshal(body, &me) != nil {
			t.Fatalf("getMe: %s", body)
		}
		writes := map[string]func(name string) (int, []byte){
			"registerUser": func(name string) (int, []byte) {
				b := account(name)
				delete(b, "roles")
				return send(http.MethodPost, "/api/v1/auth/signup", "", b)
			},
			"createUser": func(name string) (int, []byte) {
				return send(http.MethodPost, "/api/v1/auth/users", admin.AccessToken, account(name))
			},
			"updateMe": func(name string) (int, []byte) {
				return send(http.MethodPatch, "/api/v1/auth/me", user.AccessToken, map[string]any{"display_name": name})
			},
			"updateUser": func(name string) (int, []byte) {
				return send(http.MethodPatch, "/api/v1/auth/users/"+me.Id.String(), admin.AccessToken, map[string]any{"display_name": name})
			},
		}
		for op, write := range writes {
			for code, names := range map[string][]string{humantext.CodeBlank: humantexttest.Blank, humantext.CodeInvalidCharacter: humantexttest.Control} {
				for _, name := range names {
					status, body := write(name)
					var p apierror.Error
					_ = json.Unmarshal(body, &p)
					if status != http.StatusUnprocessableEntity || len(p.Errors) != 1 || p.Errors[0].Field != "display_name" || p.Errors[0].Code != code {
						t.Errorf("%s %q: %d %s, want 422 %s on display_name", op, name, status, body, code)
					}
				}
			}
			for _, name := range humantexttest.Valid {
				status, body := write(name)
				var u authapi.User
				if err := json.Unmarshal(body, &u); err != nil || status/100 != 2 || u.DisplayName != name {
					t.Errorf("%s %q: %d %s", op, name, status, body)
				}
			}
		}

		// Called directly, past the contract, the handlers apply the same rule.
		userCtx := f.as(t, user.AccessToken)
		for _, c := range []struct{ name, code string }{{"\u200b\u202e\u00a0\u3000", humantext.CodeBlank}, {"a\u0017", humantext.CodeInvalidCharacter}, {"", humantext.CodeBlank}} {
			name := c.name
			p := "a long enough password"
			_, err1 := f.svc.RegisterUser(context.Background(), authapi.RegisterUserRequestObject{Body: &authapi.SignupRequest{Email: "direct1@example.com", DisplayName: name, Password: &p}})
			_, err2 := f.svc.CreateUser(adminCtx, authapi.CreateUserRequestObject{Body: &authapi.CreateUserRequest{Email: "direct2@example.com", DisplayName: name, Password: &p, Roles: []authapi.Role{"USER"}}})
			_, err3 := f.svc.UpdateMe(userCtx, authapi.UpdateMeRequestObject{Body: &authapi.UpdateMeRequest{DisplayName: &name}})
			_, err4 := f.svc.UpdateUser(adminCtx, authapi.UpdateUserRequestObject{UserId: me.Id, Body: &authapi.UpdateUserRequest{DisplayName: &name}})
			for i, err := range []error{err1, err2, err3, err4} {
				var pe *apierror.Error
				if !errors.As(err, &pe) || pe.Status != http.StatusUnprocessableEntity || len(pe.Errors) != 1 || pe.Errors[0].Field != "display_name" || pe.Errors[0].Code != c.code {
					t.Errorf("call %d with %q directly: %v", i+1, name, err)
				}
			}
		}
	})
}
