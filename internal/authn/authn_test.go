package authn

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/mediamesh/mediamesh/internal/apierror"
	"github.com/mediamesh/mediamesh/internal/policy"
)

type fakeVerifier map[string]*Principal

func (f fakeVerifier) Verify(_ context.Context, token string) (*Principal, error) {
	if p, ok := f[token]; ok {
		return p, nil
	}
	return nil, errors.New("unknown token")
}

func TestAuthorizeReusesThePrincipalOfThisProcess(t *testing.T) {
	calls := 0
	v := countingVerifier{calls: &calls}
	secured := &policy.Operation{ID: "createThing", Secured: true, Roles: []string{policy.RoleEditor}}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Authorization", "Bearer whatever")
	r = r.WithContext(WithPrincipal(r.Context(), &Principal{Subject: "e1", Roles: []string{policy.RoleEditor}}))
	if p, err := Authorize(v, secured, r); err != nil || p.Subject != "e1" || calls != 0 {
		t.Fatalf("principal %+v, err %v, %d verifications", p, err, calls)
	}
	admin := &policy.Operation{ID: "purge", Secured: true, Roles: []string{policy.RoleAdmin}}
	if _, err := Authorize(v, admin, r); apierror.From(err).Status != 403 {
		t.Fatalf("roles are still checked: %v", err)
	}
}

type countingVerifier struct{ calls *int }

func (c countingVerifier) Verify(context.Context, string) (*Principal, error) {
	*c.calls++
	return nil, errors.New("not expected")
}

func TestAuthorize(t *testing.T) {
	v := fakeVerifier{
		"user":   {Subject: "u1", Roles: []string{policy.RoleUser}},
		"editor": {Subject: "e1", Roles: []string{policy.RoleEditor}},
	}
	secured := &policy.Operation{ID: "createThing", Secured: true, Roles: []string{policy.RoleAdmin, policy.RoleEditor}}
	public := &policy.Operation{ID: "listThings"}
	cases := []struct {
		name    string
		v       Verifier
		op      *policy.Operation
		header  string
		status  int
		subject string
	}{
		{"public anonymous", v, public, "", 0, ""},
		{"public with token", v, public, "Bearer user", 0, "u1"},
		{"public with bad token", v, public, "Bearer nope", 0, ""},
		{"secured no token", v, secured, "", 401, ""},
		{"secured basic scheme", v, secured, "Basic editor", 401, ""},
		{"secured bad token", v, secured, "Bearer nope", 401, ""},
		{"secured no verifier", nil, secured, "Bearer editor", 401, ""},
		{"secured wrong role", v, secured, "Bearer user", 403, ""},
		{"secured allowed", v, secured, "bearer editor", 0, "e1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			if c.header != "" {
				r.Header.Set("Authorization", c.header)
			}
			p, err := Authorize(c.v, c.op, r)
			status := 0
			if err != nil {
				status = apierror.From(err).Status
			}
			if status != c.status {
				t.Fatalf("status %d, want %d (%v)", status, c.status, err)
			}
			subject := ""
			if p != nil {
				subject = p.Subject
			}
			if subject != c.subject {
				t.Fatalf("subject %q, want %q", subject, c.subject)
			}
		})
	}
}

// TestTokenProblems: a refused token's 401 says what the client can act on (expired, revoked, or
// not valid) and nothing of the verifier's internals or of what the token claimed.
func TestTokenProblems(t *testing.T) {
	secured := &policy.Operation{ID: "op", Secured: true, Roles: []string{"EDITOR"}}
	for _, tc := range []struct {
		err        error
		want, leak string
	}{
		{fmt.Errorf("token has invalid claims: %w", jwt.ErrTokenExpired), "has expired", "claims"},
		{ErrRevoked, "was revoked", ""},
		{errors.New(`unknown key "attacker-kid-<script>"`), "is not valid", "attacker-kid"},
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Authorization", "Bearer x")
		_, err := Authorize(failingVerifier{tc.err}, secured, r)
		var pe *apierror.Error
		if !errors.As(err, &pe) || pe.Status != http.StatusUnauthorized || !strings.Contains(pe.Detail, tc.want) ||
			(tc.leak != "" && strings.Contains(pe.Detail, tc.leak)) {
			t.Errorf("%v: %+v", tc.err, err)
		}
	}
}

type failingVerifier struct{ err error }

func (f failingVerifier) Verify(context.Context, string) (*Principal, error) { return nil, f.err }
