package ingest

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/services/ingest/fetch"
)

// TestSealer proves credentials are sealed with the source id as additional data and a random
// nonce: they open with the same key and id only, and never appear in the sealed value.
func TestSealer(t *testing.T) {
	const apiKey = "AIzaSyD-SECRET-0123456789"
	s, err := newSealer(testKey)
	if err != nil {
		t.Fatal(err)
	}
	id, other := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())

	sealed, err := s.seal(id, credentials{APIKey: apiKey})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(sealed)
	if err != nil {
		t.Fatalf("sealed value is not base64: %v", err)
	}
	if strings.Contains(sealed, apiKey) || bytes.Contains(raw, []byte(apiKey)) || strings.Contains(sealed, base64.StdEncoding.EncodeToString([]byte(apiKey))) {
		t.Fatalf("the sealed value %q shows the key", sealed)
	}

	t.Run("round trip", func(t *testing.T) {
		c, err := s.open(id, sealed)
		if err != nil || c.APIKey != apiKey {
			t.Fatalf("open = %+v, %v", c, err)
		}
	})
	t.Run("another source id", func(t *testing.T) {
		if c, err := s.open(other, sealed); err == nil {
			t.Fatalf("opened with another source id: %+v", c)
		}
	})
	t.Run("another key", func(t *testing.T) {
		key := bytes.Clone(testKey)
		key[0] ^= 1
		s2, err := newSealer(key)
		if err != nil {
			t.Fatal(err)
		}
		c, err := s2.open(id, sealed)
		if err == nil {
			t.Fatalf("opened with another key: %+v", c)
		}
		if strings.Contains(err.Error(), apiKey) {
			t.Fatalf("the error shows the key: %v", err)
		}
	})
	t.Run("random nonce", func(t *testing.T) {
		seen := map[string]bool{sealed: true}
		for range 20 {
			again, err := s.seal(id, credentials{APIKey: apiKey})
			if err != nil {
				t.Fatal(err)
			}
			if seen[again] {
				t.Fatalf("sealing the same credentials twice gave the same value %q", again)
			}
			seen[again] = true
			if c, err := s.open(id, again); err != nil || c.APIKey != apiKey {
				t.Fatalf("open = %+v, %v", c, err)
			}
		}
	})
	t.Run("tampered or malformed", func(t *testing.T) {
		b := bytes.Clone(raw)
		b[len(b)-1] ^= 0x80
		for name, v := range map[string]string{
			"tampered":   base64.StdEncoding.EncodeToString(b),
			"not base64": "***",
			"too short":  base64.StdEncoding.EncodeToString([]byte("abc")),
			"empty":      "",
		} {
			if c, err := s.open(id, v); err == nil {
				t.Errorf("%s: opened %+v", name, c)
			}
		}
	})
	t.Run("key length", func(t *testing.T) {
		for _, n := range []int{0, 16, 24, 31, 33} {
			if _, err := newSealer(make([]byte, n)); err == nil {
				t.Errorf("a %d-byte key was accepted", n)
			}
		}
	})
}

// TestNewChecksConfig proves New refuses a configuration it cannot work with.
func TestNewChecksConfig(t *testing.T) {
	good := func() setup {
		// New checks the configuration before it touches the database handle.
		return setup{Config{CredentialsKey: testKey}, Deps{DB: &database.DB{}, Fetcher: fetch.New(fetch.Config{}), CMS: newFakeCMS(), Media: &fakeMedia{}}}
	}
	for name, edit := range map[string]func(*setup){
		"no database":      func(c *setup) { c.DB = nil },
		"short key":        func(c *setup) { c.CredentialsKey = testKey[:16] },
		"negative jitter":  func(c *setup) { c.Jitter = -0.1 },
		"jitter of one":    func(c *setup) { c.Jitter = 1 },
		"no CMS":           func(c *setup) { c.CMS = nil },
		"no fetcher":       func(c *setup) { c.Fetcher = nil },
		"no media service": func(c *setup) { c.Media = nil },
	} {
		cfg := good()
		edit(&cfg)
		if _, err := New(cfg.Config, cfg.Deps); err == nil {
			t.Errorf("%s: New accepted the configuration", name)
		}
	}
}
