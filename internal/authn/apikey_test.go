package authn

import (
	"context"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/internal/apierror"
	"github.com/mediamesh/mediamesh/internal/policy"
)

// exchanger is a fake auth service for a unit test of the key cache: it signs a token for one key
// while the key is valid, and counts the exchanges.
type exchanger struct {
	t     *testing.T
	k     keyPair
	mu    sync.Mutex
	calls int
	valid bool
}

func (x *exchanger) ExchangeAPIKey(_ context.Context, key, client string) (string, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.calls++
	if !x.valid || key != KeyPrefix+"good" || client != "203.0.113.7" {
		return "", ErrKeyInvalid
	}
	return sign(x.t, x.k, claims(func(c *Claims) {
		c.KeyID, c.Scope = "key-1", ScopeClaim([]string{policy.ScopeIngestRun})
	})), nil
}

func (x *exchanger) count() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.calls
}

// TestAPIKeys: keys from either header are exchanged once per KeyRecheck, carry the key's id and
// scopes, are refused outside them, and a revocation of the key voids the kept token at once.
func TestAPIKeys(t *testing.T) {
	k1 := newKey(t, "k1")
	x := &exchanger{t: t, k: k1, valid: true}
	rev := NewRevocations(time.Hour)
	v := NewTokenVerifier(NewKeyCache(staticSource(k1), time.Hour, 0), testIssuer, testAudience, 5*time.Second).WithRevocations(rev).WithAPIKeys(x)
	run := &policy.Operation{ID: "triggerIngestRun", Secured: true, Roles: []string{"ADMIN", "EDITOR"}, Scopes: []string{policy.ScopeIngestRun}}
	manage := &policy.Operation{ID: "createSource", Secured: true, Roles: []string{"ADMIN", "EDITOR"}, Scopes: []string{policy.ScopeIngestManage}}
	authorize := func(op *policy.Operation, header, value string) (*Principal, error) {
		r := httptest.NewRequest("POST", "/x", nil)
		r.Header.Set(header, value)
		r = r.WithContext(WithClient(r.Context(), "203.0.113.7"))
		return Authorize(v, op, r)
	}
	status := func(err error) int {
		if e, ok := err.(*apierror.Error); ok {
			return e.Status
		}
		return 0
	}

	p, err := authorize(run, "X-API-Key", KeyPrefix+"good")
	if err != nil || p.KeyID != "key-1" || p.Subject != "user-1" || len(p.Scopes) != 1 {
		t.Fatalf("X-API-Key: %+v %v", p, err)
	}
	if p, err := authorize(run, "Authorization", "ApiKey "+KeyPrefix+"good"); err != nil || p.KeyID != "key-1" {
		t.Fatalf("Authorization: ApiKey: %+v %v", p, err)
	}
	if n := x.count(); n != 1 {
		t.Errorf("exchanges within the recheck: %d, want 1", n)
	}
	if _, err := authorize(manage, "X-API-Key", KeyPrefix+"good"); status(err) != 403 {
		t.Errorf("outside the key's scopes: %v, want 403", err)
	}
	if _, err := authorize(run, "X-API-Key", KeyPrefix+"bad"); status(err) != 401 {
		t.Errorf("an unknown key: %v, want 401", err)
	}
	if _, err := authorize(run, "X-API-Key", "not-a-key"); status(err) != 401 {
		t.Errorf("not a key: %v, want 401", err)
	}

	// After KeyRecheck the key is asked about again.
	time.Sleep(KeyRecheck + 50*time.Millisecond)
	if _, err := authorize(run, "X-API-Key", KeyPrefix+"good"); err != nil || x.count() != 3 {
		t.Errorf("after the recheck: %v, %d exchanges (want 3: the good key twice, the unknown one once; not-a-key never leaves the process)", err, x.count())
	}

	// A revocation voids the kept token at once, and the next exchange is refused.
	x.mu.Lock()
	x.valid = false
	x.mu.Unlock()
	rev.Revoke(KeySubject("key-1"), time.Now())
	if _, err := authorize(run, "X-API-Key", KeyPrefix+"good"); status(err) != 401 {
		t.Errorf("a revoked key: %v, want 401", err)
	}

	// A verifier without API keys refuses them.
	plain := NewTokenVerifier(NewKeyCache(staticSource(k1), time.Hour, 0), testIssuer, testAudience, 0)
	r := httptest.NewRequest("GET", "/x", nil)
	r.Header.Set("X-API-Key", KeyPrefix+"good")
	if _, err := Authorize(plain, run, r); status(err) != 401 {
		t.Errorf("no key support: %v", err)
	}
}
