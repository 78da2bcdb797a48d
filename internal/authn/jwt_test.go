package authn

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	testIssuer   = "https://auth.mediamesh.test"
	testAudience = "mediamesh"
)

type keyPair struct {
	kid  string
	pub  ed25519.PublicKey
	priv ed25519.PrivateKey
}

func newKey(t *testing.T, kid string) keyPair {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return keyPair{kid, pub, priv}
}

func claims(mod func(*Claims)) *Claims {
	now := time.Now()
	c := &Claims{Roles: []string{"EDITOR"}, RegisteredClaims: jwt.RegisteredClaims{
		Issuer: testIssuer, Audience: jwt.ClaimStrings{testAudience}, Subject: "user-1",
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(5 * time.Minute)),
	}}
	if mod != nil {
		mod(c)
	}
	return c
}

func sign(t testing.TB, k keyPair, c *Claims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c)
	tok.Header["kid"] = k.kid
	s, err := tok.SignedString(k.priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func staticSource(keys ...keyPair) KeySource {
	return func(context.Context) (map[string]ed25519.PublicKey, error) {
		m := map[string]ed25519.PublicKey{}
		for _, k := range keys {
			m[k.kid] = k.pub
		}
		return m, nil
	}
}

func TestTokenVerifier(t *testing.T) {
	k1, other := newKey(t, "k1"), newKey(t, "k-unknown")
	v := NewTokenVerifier(NewKeyCache(staticSource(k1), time.Hour, 0), testIssuer, testAudience, 5*time.Second)

	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, claims(nil))
	hs.Header["kid"] = "k1"
	hsToken, _ := hs.SignedString([]byte(k1.pub)) // HS/RS confusion: the public key used as an HMAC secret

	none := jwt.NewWithClaims(jwt.SigningMethodNone, claims(nil))
	none.Header["kid"] = "k1"
	noneToken, _ := none.SignedString(jwt.UnsafeAllowNoneSignatureType)

	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rs := jwt.NewWithClaims(jwt.SigningMethodRS256, claims(nil))
	rs.Header["kid"] = "k1"
	rsToken, _ := rs.SignedString(rsaKey)

	noKid := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims(nil))
	noKidToken, _ := noKid.SignedString(k1.priv)

	valid := sign(t, k1, claims(nil))
	tampered := valid[:len(valid)-4] + "AAAA"

	cases := map[string]struct {
		token string
		ok    bool
	}{
		"valid":              {valid, true},
		"alg none":           {noneToken, false},
		"HS256 with pub key": {hsToken, false},
		"RS256":              {rsToken, false},
		"unknown kid":        {sign(t, other, claims(nil)), false},
		"no kid":             {noKidToken, false},
		"tampered":           {tampered, false},
		"expired":            {sign(t, k1, claims(func(c *Claims) { c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(-time.Minute)) })), false},
		"no exp":             {sign(t, k1, claims(func(c *Claims) { c.ExpiresAt = nil })), false},
		"not yet valid":      {sign(t, k1, claims(func(c *Claims) { c.NotBefore = jwt.NewNumericDate(time.Now().Add(time.Hour)) })), false},
		"issued in future":   {sign(t, k1, claims(func(c *Claims) { c.IssuedAt = jwt.NewNumericDate(time.Now().Add(time.Hour)) })), false},
		"wrong issuer":       {sign(t, k1, claims(func(c *Claims) { c.Issuer = "https://evil.test" })), false},
		"wrong audience":     {sign(t, k1, claims(func(c *Claims) { c.Audience = jwt.ClaimStrings{"other"} })), false},
		"no subject":         {sign(t, k1, claims(func(c *Claims) { c.Subject = "" })), false},
		"garbage":            {"not.a.jwt", false},
		"within leeway":      {sign(t, k1, claims(func(c *Claims) { c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(-2 * time.Second)) })), true},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			p, err := v.Verify(context.Background(), c.token)
			if c.ok != (err == nil) {
				t.Fatalf("ok=%v, err=%v", c.ok, err)
			}
			if c.ok && (p.Subject != "user-1" || !p.Has("EDITOR")) {
				t.Fatalf("principal %+v", p)
			}
		})
	}
}

func TestKeyCacheRotationAndOutage(t *testing.T) {
	k1, k2 := newKey(t, "k1"), newKey(t, "k2")
	var current atomic.Value
	current.Store([]keyPair{k1})
	var down atomic.Bool
	var fetches atomic.Int32
	src := func(ctx context.Context) (map[string]ed25519.PublicKey, error) {
		fetches.Add(1)
		if down.Load() {
			return nil, errors.New("auth is down")
		}
		return staticSource(current.Load().([]keyPair)...)(ctx)
	}
	cache := NewKeyCache(src, time.Hour, time.Minute)
	now := time.Now()
	cache.now = func() time.Time { return now }
	v := NewTokenVerifier(cache, testIssuer, testAudience, 0)

	if _, err := v.Verify(context.Background(), sign(t, k1, claims(nil))); err != nil {
		t.Fatal(err)
	}
	// Auth rotates to k2 (k1 still published); an unknown kid triggers a refresh once minInterval passed.
	current.Store([]keyPair{k1, k2})
	now = now.Add(2 * time.Minute)
	if _, err := v.Verify(context.Background(), sign(t, k2, claims(nil))); err != nil {
		t.Fatalf("new key after rotation: %v", err)
	}
	// A flood of unknown kids does not hammer auth: at most one fetch per minInterval.
	before := fetches.Load()
	for i := 0; i < 20; i++ {
		_, _ = v.Verify(context.Background(), sign(t, newKey(t, "k-bogus"), claims(nil)))
	}
	if got := fetches.Load() - before; got > 0 {
		t.Fatalf("%d fetches within minInterval", got)
	}
	// Auth goes down and the cache is stale: cached keys keep working.
	down.Store(true)
	now = now.Add(3 * time.Hour)
	if _, err := v.Verify(context.Background(), sign(t, k2, claims(nil))); err != nil {
		t.Fatalf("verification during an auth outage: %v", err)
	}
}

func TestFetchJWKS(t *testing.T) {
	k := newKey(t, "k1")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []any{
			PublicJWK(k.kid, k.pub),
			map[string]string{"kty": "RSA", "kid": "rsa1", "n": "x", "e": "AQAB"},
			map[string]string{"kty": "OKP", "crv": "Ed25519", "kid": "enc", "use": "enc", "x": "AAAA"},
		}})
	}))
	defer srv.Close()
	keys, err := FetchJWKS(srv.Client(), srv.URL)(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || !keys["k1"].Equal(k.pub) {
		t.Fatalf("keys %v", keys)
	}
	cache := NewKeyCache(FetchJWKS(srv.Client(), srv.URL+"/missing"), time.Hour, 0)
	if err := cache.Ready(context.Background()); err == nil {
		t.Fatal("Ready must fail without keys")
	}
}

// TestRevocations: a verifier with revocations refuses the tokens of a subject issued at or before
// its revocation (and a token without iat while one is in force), accepts later ones and other
// subjects' tokens; a revocation is forgotten once the tokens it voids have expired, and an older
// one delivered late changes nothing.
func TestRevocations(t *testing.T) {
	k1 := newKey(t, "k1")
	rev := NewRevocations(time.Hour)
	clock := time.Now()
	rev.now = func() time.Time { return clock }
	v := NewTokenVerifier(NewKeyCache(staticSource(k1), time.Hour, 0), testIssuer, testAudience, 5*time.Second).WithRevocations(rev)
	issued := func(sub string, at time.Time) string {
		return sign(t, k1, claims(func(c *Claims) {
			c.Subject, c.IssuedAt, c.NotBefore = sub, jwt.NewNumericDate(at), jwt.NewNumericDate(at.Add(-time.Minute))
		}))
	}
	before := issued("u1", clock.Add(-10*time.Second))
	sameSecond := issued("u1", clock)
	after := issued("u1", clock.Add(2*time.Second))
	other := issued("u2", clock.Add(-10*time.Second))
	noIat := sign(t, k1, claims(func(c *Claims) { c.Subject, c.IssuedAt = "u1", nil }))
	for _, tok := range []string{before, sameSecond, after, other, noIat} {
		if _, err := v.Verify(t.Context(), tok); err != nil {
			t.Fatalf("before any revocation: %v", err)
		}
	}
	rev.Revoke("u1", clock)
	for name, tok := range map[string]string{"issued before": before, "issued in the same second": sameSecond, "without iat": noIat} {
		if _, err := v.Verify(t.Context(), tok); !errors.Is(err, ErrRevoked) {
			t.Errorf("%s: %v, want ErrRevoked", name, err)
		}
	}
	for name, tok := range map[string]string{"issued after": after, "another subject's": other} {
		if _, err := v.Verify(t.Context(), tok); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	rev.Revoke("u1", clock.Add(-time.Minute)) // delivered late: the newer revocation stands
	if _, err := v.Verify(t.Context(), sameSecond); !errors.Is(err, ErrRevoked) {
		t.Errorf("an older revocation undid a newer one: %v", err)
	}
	clock = clock.Add(2 * time.Hour)
	rev.Revoke("u3", clock) // sweeps what is past keeping
	if rev.Len() != 1 || rev.Revoked("u1", clock.Add(-3*time.Hour)) {
		t.Errorf("after the tokens expired the revocation is kept: %d in force", rev.Len())
	}
	rev.Revoke("u4", clock.Add(-2*time.Hour))
	if rev.Revoked("u4", clock.Add(-3*time.Hour)) {
		t.Error("a revocation older than every token was kept")
	}
}
