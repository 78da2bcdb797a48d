package apierror

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestUnauthorizedChallenges: a 401 tells the client to use a bearer token (RFC 6750), and says
// invalid_token when the request carried one.
func TestUnauthorizedChallenges(t *testing.T) {
	for _, tc := range []struct{ authorization, want string }{
		{"", `Bearer realm="mediamesh"`},
		{"Bearer abc.def.ghi", `Bearer realm="mediamesh", error="invalid_token"`},
	} {
		r := httptest.NewRequest(http.MethodGet, "/api/v1/auth/me", nil)
		if tc.authorization != "" {
			r.Header.Set("Authorization", tc.authorization)
		}
		w := httptest.NewRecorder()
		Write(w, r, Unauthorized("this operation needs a bearer token"))
		if w.Code != http.StatusUnauthorized || w.Header().Get("WWW-Authenticate") != tc.want {
			t.Errorf("Authorization %q: %d, WWW-Authenticate %q, want %q", tc.authorization, w.Code, w.Header().Get("WWW-Authenticate"), tc.want)
		}
	}
	w := httptest.NewRecorder()
	Write(w, httptest.NewRequest(http.MethodGet, "/", nil), Forbidden("no"))
	if got := w.Header().Get("WWW-Authenticate"); got != "" {
		t.Errorf("a 403 carries WWW-Authenticate %q", got)
	}
}
