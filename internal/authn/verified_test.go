package authn

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// A token verified once is answered from the cache, but only while what made it valid still holds.
func TestVerifiedTokensSeeTimeKeysAndRevocations(t *testing.T) {
	k1, k2 := newKey(t, "k1"), newKey(t, "k2")
	var mu sync.Mutex
	set := []keyPair{k1}
	src := func(ctx context.Context) (map[string]ed25519.PublicKey, error) {
		mu.Lock()
		defer mu.Unlock()
		return staticSource(set...)(ctx)
	}
	rev := NewRevocations(time.Hour)
	v := NewTokenVerifier(NewKeyCache(src, time.Hour, 0), testIssuer, testAudience, time.Second).WithRevocations(rev)
	clock := time.Now()
	v.now = func() time.Time { return clock }
	ctx := context.Background()

	tok := sign(t, k1, claims(func(c *Claims) { c.ExpiresAt = jwt.NewNumericDate(clock.Add(time.Minute)) }))
	for range 3 {
		if _, err := v.Verify(ctx, tok); err != nil {
			t.Fatalf("valid token: %v", err)
		}
	}
	if _, ok := v.verified.entries[tok]; !ok {
		t.Fatal("a verified token is not remembered")
	}

	// Another signature over the same header and claims is another token: verified, and refused.
	forged := tok[:len(tok)-4] + "AAAA"
	if forged == tok {
		forged = tok[:len(tok)-4] + "BBBB"
	}
	if _, err := v.Verify(ctx, forged); err == nil {
		t.Fatal("a token with a changed signature was accepted after the real one was remembered")
	}

	// Expiry is checked against the clock on every use.
	clock = clock.Add(time.Minute + 2*time.Second)
	if _, err := v.Verify(ctx, tok); err == nil {
		t.Fatal("an expired token was accepted from the cache")
	}
	clock = time.Now()

	// A key taken out of the key set voids its tokens at once, remembered or not.
	tok2 := sign(t, k1, claims(nil))
	if _, err := v.Verify(ctx, tok2); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	set = []keyPair{k2}
	mu.Unlock()
	v.keys.refreshEvery = 0 // the next lookup refetches
	if _, err := v.Verify(ctx, tok2); err == nil {
		t.Fatal("a token of a rotated-out key was accepted from the cache")
	}

	// Revocations are checked on every use.
	tok3 := sign(t, k2, claims(func(c *Claims) { c.IssuedAt = jwt.NewNumericDate(clock.Add(-time.Second)) }))
	if _, err := v.Verify(ctx, tok3); err != nil {
		t.Fatal(err)
	}
	rev.Revoke("user-1", clock)
	if _, err := v.Verify(ctx, tok3); !errors.Is(err, ErrRevoked) {
		t.Fatalf("a revoked subject's remembered token: err %v, want ErrRevoked", err)
	}
}

// The principal handed out is the caller's own: changing it never changes what the cache holds.
func TestVerifiedTokensPrincipalIsACopy(t *testing.T) {
	k1 := newKey(t, "k1")
	v := NewTokenVerifier(NewKeyCache(staticSource(k1), time.Hour, 0), testIssuer, testAudience, time.Second)
	tok := sign(t, k1, claims(nil))
	p, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	p.Roles[0] = "ADMIN"
	p2, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if p2.Roles[0] != "EDITOR" {
		t.Fatalf("roles %v after a caller changed its copy", p2.Roles)
	}
}

func TestVerifiedTokensBounded(t *testing.T) {
	c := newVerifiedTokens(16)
	for i := range 100 {
		c.put(fmt.Sprint("token-", i), claims(nil), "k1", nil)
	}
	if n := len(c.entries); n != 16 {
		t.Fatalf("%d entries, want the bound 16", n)
	}
}

func BenchmarkVerify(b *testing.B) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	k := keyPair{"k1", pub, priv}
	tok := sign(b, k, claims(nil))
	v := NewTokenVerifier(NewKeyCache(staticSource(k), time.Hour, 0), testIssuer, testAudience, time.Second)
	ctx := context.Background()
	b.Run("remembered", func(b *testing.B) {
		for b.Loop() {
			if _, err := v.Verify(ctx, tok); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("first-use", func(b *testing.B) {
		for b.Loop() {
			v.verified.forget(tok)
			if _, err := v.Verify(ctx, tok); err != nil {
				b.Fatal(err)
			}
		}
	})
}
