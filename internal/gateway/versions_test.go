package gateway

import (
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/internal/authn"
	"github.com/mediamesh/mediamesh/internal/policy"
)

// TestVersionClientBounded: the first maxVersionClients callers keep their own label, later ones
// are "other", and a caller seen before keeps its label.
func TestVersionClientBounded(t *testing.T) {
	versionClients.Lock()
	saved := versionClients.seen
	versionClients.seen = map[string]bool{}
	versionClients.Unlock()
	t.Cleanup(func() {
		versionClients.Lock()
		versionClients.seen = saved
		versionClients.Unlock()
	})
	if got := versionClient(nil); got != "anonymous" {
		t.Errorf("nil principal: %q", got)
	}
	if got := versionClient(&authn.Principal{Subject: "u1", KeyID: "k1"}); got != "key:k1" {
		t.Errorf("API key: %q", got)
	}
	for i := range maxVersionClients - 1 {
		if got, want := versionClient(&authn.Principal{Subject: fmt.Sprint("user", i)}), fmt.Sprint("user:user", i); got != want {
			t.Fatalf("client %d: %q, want %q", i, got, want)
		}
	}
	if got := versionClient(&authn.Principal{Subject: "one too many"}); got != "other" {
		t.Errorf("past the bound: %q", got)
	}
	if got := versionClient(&authn.Principal{Subject: "u1", KeyID: "k1"}); got != "key:k1" {
		t.Errorf("a known client past the bound: %q", got)
	}
}

// TestDeprecateHeaders: the headers of a deprecated operation, and none for another.
func TestDeprecateHeaders(t *testing.T) {
	op := &policy.Operation{Deprecation: &policy.Deprecation{
		At: time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC), Sunset: time.Date(2027, 6, 30, 0, 0, 0, 0, time.UTC), Link: "https://example.com/guide",
	}}
	rec := httptest.NewRecorder()
	deprecate(rec, op)
	h := rec.Header()
	if h.Get("Deprecation") != "@1796601600" || h.Get("Sunset") != "Wed, 30 Jun 2027 00:00:00 GMT" ||
		len(h.Values("Link")) != 2 || h.Values("Link")[0] != `<https://example.com/guide>; rel="deprecation"; type="text/html"` {
		t.Errorf("headers: %v", h)
	}
	rec = httptest.NewRecorder()
	deprecate(rec, &policy.Operation{})
	if len(rec.Header()) != 0 {
		t.Errorf("a current operation: %v", rec.Header())
	}
}
