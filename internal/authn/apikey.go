package authn

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/mediamesh/mediamesh/internal/apierror"
)

// KeyPrefix starts every MediaMesh API key, so that secret scanners can find a leaked one.
const KeyPrefix = "mmk_"

// ErrKeyInvalid is the error of an API key that is unknown, expired, revoked, past its rotation's
// grace period, or sent from an address outside its allowed ranges.
var ErrKeyInvalid = errors.New("API key invalid")

// KeyExchanger trades an API key for an access token that speaks for it: the key's owner as
// subject, the key's scopes (within the owner's), its id as key_id, and a short lifetime. It is
// the auth service, in process or through its exchangeApiKey operation. It answers ErrKeyInvalid
// (or a problem) for a key it refuses, and records the use (time and client address).
type KeyExchanger interface {
	ExchangeAPIKey(ctx context.Context, key, client string) (token string, err error)
}

// WithAPIKeys makes v accept API keys (VerifyKey), which x exchanges for tokens, and returns v.
// Each process keeps the token of a (key, client address) for KeyRecheck at most (and never past
// its expiry), and drops it at once when a revocation voids it: revoking a key publishes
// api_key.revoked, which the revocation feed applies (KeySubject), so the next request exchanges
// the key again and is refused. KeyRecheck bounds how long a revoked key keeps working where the
// feed is late (a slow Kafka) or absent (split without Kafka).
func (v *TokenVerifier) WithAPIKeys(x KeyExchanger) *TokenVerifier {
	v.apiKeys = &keyCache{exchange: x, entries: map[string]keyEntry{}}
	return v
}

// KeyRecheck is how long a process uses a key's token before it asks the auth service again.
const KeyRecheck = 500 * time.Millisecond

// maxCachedKeys bounds the tokens a process keeps for API keys; beyond it the cache starts over.
const maxCachedKeys = 10000

type keyCache struct {
	exchange KeyExchanger
	mu       sync.Mutex
	entries  map[string]keyEntry // by SHA-256 of the key and the client address
}

type keyEntry struct {
	token   string
	expires time.Time
}

// VerifyKey implements KeyVerifier.
func (v *TokenVerifier) VerifyKey(ctx context.Context, key, client string) (*Principal, error) {
	c := v.apiKeys
	if c == nil {
		return nil, apierror.Unauthorized("API keys are not accepted here; send a bearer token")
	}
	if !strings.HasPrefix(key, KeyPrefix) || len(key) > 200 {
		return nil, ErrKeyInvalid
	}
	sum := sha256.Sum256([]byte(key + "\x00" + client))
	ck := hex.EncodeToString(sum[:])
	c.mu.Lock()
	e, ok := c.entries[ck]
	c.mu.Unlock()
	if ok && time.Now().Before(e.expires) {
		if p, err := v.Verify(ctx, e.token); err == nil {
			return p, nil
		}
	}
	token, err := c.exchange.ExchangeAPIKey(ctx, key, client)
	if err != nil {
		c.forget(ck)
		return nil, err
	}
	claims, err := v.verifyClaims(ctx, token)
	if err != nil {
		c.forget(ck)
		return nil, err
	}
	if claims.KeyID == "" {
		return nil, errors.New("the token an API key was exchanged for names no key")
	}
	c.mu.Lock()
	if len(c.entries) >= maxCachedKeys {
		c.entries = map[string]keyEntry{}
	}
	if claims.ExpiresAt != nil {
		c.entries[ck] = keyEntry{token: token, expires: minTime(claims.ExpiresAt.Time, time.Now().Add(KeyRecheck))}
	}
	c.mu.Unlock()
	return v.Verify(ctx, token)
}

func (c *keyCache) forget(ck string) {
	c.mu.Lock()
	delete(c.entries, ck)
	c.mu.Unlock()
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
