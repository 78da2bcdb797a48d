package authn

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/mediamesh/mediamesh/internal/policy"
)

// Claims are the claims of a MediaMesh access token: iss, aud, sub, exp, iat, nbf, jti, roles,
// scope (the granted scopes, space separated, as RFC 9068 spells it) and, for a token an API key
// was exchanged for, key_id.
type Claims struct {
	Roles []string `json:"roles"`
	Scope *string  `json:"scope,omitempty"`
	KeyID string   `json:"key_id,omitempty"`
	jwt.RegisteredClaims
}

// ScopeClaim spells scopes as the scope claim does.
func ScopeClaim(scopes []string) *string {
	s := strings.Join(scopes, " ")
	return &s
}

// JWK is one public key of a JWKS, as the auth service publishes it (OKP, Ed25519, EdDSA).
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	X   string `json:"x"`
}

// PublicJWK describes an Ed25519 verification key.
func PublicJWK(kid string, pub ed25519.PublicKey) JWK {
	return JWK{Kty: "OKP", Crv: "Ed25519", Kid: kid, Use: "sig", Alg: "EdDSA", X: base64.RawURLEncoding.EncodeToString(pub)}
}

// ParseJWKS reads a JWKS document and returns its Ed25519 signing keys by kid. Keys of other types
// are ignored, so a key of the wrong type can never be used to verify.
func ParseJWKS(data []byte) (map[string]ed25519.PublicKey, error) {
	var doc struct {
		Keys []JWK `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	keys := map[string]ed25519.PublicKey{}
	for _, k := range doc.Keys {
		if k.Kty != "OKP" || k.Crv != "Ed25519" || (k.Alg != "" && k.Alg != "EdDSA") || (k.Use != "" && k.Use != "sig") || k.Kid == "" {
			continue
		}
		x, err := base64.RawURLEncoding.DecodeString(k.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("jwks: key %q: bad x", k.Kid)
		}
		keys[k.Kid] = ed25519.PublicKey(x)
	}
	return keys, nil
}

// KeySource returns the current verification keys by kid.
type KeySource func(ctx context.Context) (map[string]ed25519.PublicKey, error)

// FetchJWKS reads the JWKS at url over HTTP.
func FetchJWKS(client *http.Client, url string) KeySource {
	return func(ctx context.Context) (map[string]ed25519.PublicKey, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return nil, err
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("jwks: %s answered %d", url, resp.StatusCode)
		}
		data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if err != nil {
			return nil, err
		}
		return ParseJWKS(data)
	}
}

// KeyCache holds the last good key set. It refreshes it when it is older than refreshEvery or when
// a token names an unknown kid, at most once per minInterval; when the source fails it keeps
// verifying with what it has, so a brief auth outage does not stop the platform.
type KeyCache struct {
	fetch        KeySource
	refreshEvery time.Duration
	minInterval  time.Duration
	now          func() time.Time

	mu          sync.Mutex
	keys        map[string]ed25519.PublicKey
	fetchedAt   time.Time
	lastAttempt time.Time
	lastErr     error
}

// NewKeyCache returns a cache over fetch.
func NewKeyCache(fetch KeySource, refreshEvery, minInterval time.Duration) *KeyCache {
	return &KeyCache{fetch: fetch, refreshEvery: refreshEvery, minInterval: minInterval, now: time.Now}
}

// Key returns the key with id kid.
func (c *KeyCache) Key(ctx context.Context, kid string) (ed25519.PublicKey, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	key, ok := c.keys[kid]
	stale := c.now().Sub(c.fetchedAt) > c.refreshEvery
	if (!ok || stale) && c.now().Sub(c.lastAttempt) >= c.minInterval {
		if c.refreshLocked(ctx) == nil {
			key, ok = c.keys[kid]
		}
	}
	if !ok {
		if c.keys == nil && c.lastErr != nil {
			return nil, fmt.Errorf("no verification keys yet: %w", c.lastErr)
		}
		return nil, fmt.Errorf("unknown key id %q", kid)
	}
	return key, nil
}

// Ready reports whether the cache holds keys, fetching them if it has none (for /readyz).
func (c *KeyCache) Ready(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.keys != nil {
		return nil
	}
	return c.refreshLocked(ctx)
}

// refreshLocked fetches the key set; on failure the previous set stays in use.
func (c *KeyCache) refreshLocked(ctx context.Context) error {
	c.lastAttempt = c.now()
	keys, err := c.fetch(ctx)
	c.lastErr = err
	if err != nil {
		return err
	}
	c.keys, c.fetchedAt = keys, c.now()
	return nil
}

// TokenVerifier checks MediaMesh access tokens: EdDSA only, a kid from the key set, issuer,
// audience, exp required, nbf and iat honoured with a small leeway.
type TokenVerifier struct {
	keys     *KeyCache
	issuer   string
	audience string
	parser   *jwt.Parser
	leeway   time.Duration
	now      func() time.Time
	verified *verifiedTokens
	revoked  *Revocations // nil: no revocations are known
	apiKeys  *keyCache    // nil: API keys are refused
}

// verifiedTokensMax bounds the verified-token cache: about 1 KB an entry.
const verifiedTokensMax = 8192

// WithRevocations makes v refuse the tokens that r voids (see Revocations), and returns v.
func (v *TokenVerifier) WithRevocations(r *Revocations) *TokenVerifier {
	v.revoked = r
	return v
}

// NewTokenVerifier returns a verifier.
func NewTokenVerifier(keys *KeyCache, issuer, audience string, leeway time.Duration) *TokenVerifier {
	v := &TokenVerifier{keys: keys, issuer: issuer, audience: audience, leeway: leeway, now: time.Now,
		verified: newVerifiedTokens(verifiedTokensMax)}
	v.parser = jwt.NewParser(
		jwt.WithTimeFunc(func() time.Time { return v.now() }),
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithIssuer(issuer),
		jwt.WithAudience(audience),
		jwt.WithLeeway(leeway),
	)
	return v
}

// Verify implements Verifier.
func (v *TokenVerifier) Verify(ctx context.Context, token string) (*Principal, error) {
	claims, err := v.verifyClaims(ctx, token)
	if err != nil {
		return nil, err
	}
	var scopes []string
	if claims.Scope != nil {
		scopes = strings.Fields(*claims.Scope)
	} else {
		// A token issued before tokens carried scopes: its roles' scopes.
		scopes = policy.ScopesOf(claims.Roles)
	}
	return &Principal{Subject: claims.Subject, Roles: slices.Clone(claims.Roles), Scopes: scopes, KeyID: claims.KeyID}, nil
}

func (v *TokenVerifier) verifyClaims(ctx context.Context, token string) (*Claims, error) {
	claims, err := v.checkToken(ctx, token)
	if err != nil {
		return nil, err
	}
	if v.revoked != nil {
		var issued time.Time // a token without iat is void whenever its subject has a revocation
		if claims.IssuedAt != nil {
			issued = claims.IssuedAt.Time
		}
		if v.revoked.Revoked(claims.Subject, issued) || (claims.KeyID != "" && v.revoked.Revoked(KeySubject(claims.KeyID), issued)) {
			return nil, ErrRevoked
		}
		for _, r := range claims.Roles {
			if v.revoked.Revoked(RoleSubject(r), issued) {
				return nil, ErrRevoked
			}
		}
	}
	return claims, nil
}

// checkToken checks token's signature and claims, or finds it checked before (see verifiedTokens).
// The claims it returns are shared: callers must not change them.
func (v *TokenVerifier) checkToken(ctx context.Context, token string) (*Claims, error) {
	currentKey := func(kid string) ed25519.PublicKey {
		k, err := v.keys.Key(ctx, kid)
		if err != nil {
			return nil
		}
		return k
	}
	if claims, ok := v.verified.get(token, currentKey, v.now(), v.leeway); ok {
		return claims, nil
	}
	var (
		claims Claims
		kid    string
		key    ed25519.PublicKey
	)
	_, err := v.parser.ParseWithClaims(token, &claims, func(t *jwt.Token) (any, error) {
		kid, _ = t.Header["kid"].(string)
		if kid == "" {
			return nil, errors.New("token has no kid")
		}
		k, err := v.keys.Key(ctx, kid)
		key = k
		return k, err
	})
	if err != nil {
		return nil, err
	}
	if claims.Subject == "" {
		return nil, errors.New("token has no subject")
	}
	v.verified.put(token, &claims, kid, key)
	return &claims, nil
}
