package auth

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
)

// keyring holds the EdDSA signing keys. A key signs for `rotation`; then a new key takes over and
// the old one stays published in the JWKS until every token it signed has expired (plus a margin),
// so verifiers with a cached JWKS never see a valid token they cannot check.
type keyring struct {
	store    *store
	rotation time.Duration
	overlap  time.Duration // how long a retired key stays published
	now      func() time.Time

	mu      sync.Mutex
	keys    []*signingKey // published, newest first
	loaded  time.Time
	current *signingKey
}

func encodeSeed(seed []byte) string { return base64.RawStdEncoding.EncodeToString(seed) }

func decodeSeed(s string) ([]byte, error) {
	b, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil || len(b) != ed25519.SeedSize {
		return nil, errors.New("bad seed")
	}
	return b, nil
}

// reloadEvery bounds how stale the in-memory key list can be when several auth processes share one
// database (another instance may have rotated).
const reloadEvery = time.Minute

// signer returns the key to sign with now, rotating when the current one has retired.
func (k *keyring) signer(ctx context.Context) (*signingKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.refreshLocked(ctx); err != nil {
		return nil, err
	}
	return k.current, nil
}

// published returns the verification keys to publish.
func (k *keyring) published(ctx context.Context) ([]*signingKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.refreshLocked(ctx); err != nil {
		return nil, err
	}
	return append([]*signingKey(nil), k.keys...), nil
}

func (k *keyring) refreshLocked(ctx context.Context) error {
	now := k.now()
	if k.current != nil && now.Before(k.current.RetireAt) && now.Sub(k.loaded) < reloadEvery {
		return nil
	}
	keys, err := k.store.publishedKeys(ctx, now)
	if err != nil {
		return fmt.Errorf("load signing keys: %w", err)
	}
	var current *signingKey
	for _, key := range keys {
		if !now.Before(key.CreatedAt) && now.Before(key.RetireAt) {
			current = key
			break
		}
	}
	if current == nil {
		seed := make([]byte, ed25519.SeedSize)
		if _, err := rand.Read(seed); err != nil {
			return err
		}
		id, err := uuid.NewV7()
		if err != nil {
			return err
		}
		current = &signingKey{Kid: id.String(), Seed: seed, CreatedAt: now, RetireAt: now.Add(k.rotation), ExpiresAt: now.Add(k.rotation + k.overlap)}
		if err := k.store.insertKey(ctx, current); err != nil {
			return fmt.Errorf("store signing key: %w", err)
		}
		keys = append([]*signingKey{current}, keys...)
		if err := k.store.deleteExpiredKeys(ctx, now); err != nil {
			return err
		}
	}
	k.keys, k.current, k.loaded = keys, current, now
	return nil
}

// publicKeys returns the published verification keys by kid (the in-process JWKS).
func (k *keyring) publicKeys(ctx context.Context) (map[string]ed25519.PublicKey, error) {
	keys, err := k.published(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]ed25519.PublicKey, len(keys))
	for _, key := range keys {
		out[key.Kid] = ed25519.NewKeyFromSeed(key.Seed).Public().(ed25519.PublicKey)
	}
	return out, nil
}
