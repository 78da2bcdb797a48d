package ingest

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"
)

// credentials are the secrets of a source, as sealed in its row.
type credentials struct {
	APIKey string `json:"api_key"`
}

// sealer encrypts source credentials with AES-256-GCM. The source id is the additional data, so a
// sealed value copied to another source does not open.
type sealer struct{ aead cipher.AEAD }

func newSealer(key []byte) (*sealer, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("ingest: the credentials key must be 32 bytes, not %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead}, nil
}

// seal returns base64(nonce || ciphertext) of c for source id.
func (s *sealer) seal(id uuid.UUID, c credentials) (string, error) {
	plain, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(s.aead.Seal(nonce, nonce, plain, id[:])), nil
}

// open reverses seal.
func (s *sealer) open(id uuid.UUID, sealed string) (credentials, error) {
	var c credentials
	raw, err := base64.StdEncoding.DecodeString(sealed)
	if err != nil || len(raw) < s.aead.NonceSize() {
		return c, errors.New("ingest: the stored credentials are malformed")
	}
	plain, err := s.aead.Open(nil, raw[:s.aead.NonceSize()], raw[s.aead.NonceSize():], id[:])
	if err != nil {
		return c, errors.New("ingest: the stored credentials do not open with the configured key")
	}
	err = json.Unmarshal(plain, &c)
	return c, err
}
