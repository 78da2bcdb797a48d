package objectstore_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/internal/objectstore"
)

// problem is the RFC 7807 body of an error.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
}

// assertProblem checks an error response is problem+json with the status.
func assertProblem(t *testing.T, what string, status int, h http.Header, body []byte, want int) {
	t.Helper()
	if status != want {
		t.Errorf("%s = %d %s, want %d", what, status, body, want)
		return
	}
	var p problem
	if ct := h.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("%s: Content-Type %q, want application/problem+json", what, ct)
	} else if err := json.Unmarshal(body, &p); err != nil {
		t.Errorf("%s: body %s: %v", what, body, err)
	} else if p.Status != want || p.Type == "" || p.Title == "" {
		t.Errorf("%s: problem %+v lacks type, title or status %d", what, p, want)
	}
}

func TestLocalUploadLimit(t *testing.T) {
	l, _, _ := newLocal(t, func(c *objectstore.LocalConfig) { c.MaxUploadBytes = 1024 })
	ctx := t.Context()
	key := "assets/limit/a.bin"
	putURL, headers, err := l.PresignPut(ctx, key, "application/octet-stream", time.Minute)
	if err != nil {
		t.Fatal(err)
	}

	status, h, body := do(t, http.MethodPut, putURL, make([]byte, 1025), headers)
	assertProblem(t, "PUT of 1025 bytes with Content-Length", status, h, body, http.StatusRequestEntityTooLarge)

	// Without Content-Length (chunked) the limit trips while reading.
	req, _ := http.NewRequestWithContext(ctx, http.MethodPut, putURL, readerOnly{bytes.NewReader(make([]byte, 4096))})
	req.Header.Set("Content-Type", "application/octet-stream")
	req.ContentLength = -1
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	assertProblem(t, "chunked PUT of 4096 bytes", resp.StatusCode, resp.Header, body, http.StatusRequestEntityTooLarge)
	assertAbsent(t, l, key)

	if status, _, body := do(t, http.MethodPut, putURL, make([]byte, 1024), headers); status != http.StatusOK {
		t.Fatalf("PUT of exactly the limit = %d %s", status, body)
	}
	// Put is not limited: server-side writes (renditions) may be larger.
	mustPut(t, l, key, make([]byte, 4096), "application/octet-stream")
}

func TestLocalHandlerErrors(t *testing.T) {
	l, _, cfg := newLocal(t, nil)
	ctx := t.Context()
	mustPut(t, l, "assets/e/a.txt", []byte("0123456789"), "text/plain")
	getURL, _ := l.PresignGet(ctx, "assets/e/a.txt", time.Minute)
	missingURL, _ := l.PresignGet(ctx, "assets/e/missing.txt", time.Minute)
	base := cfg.BaseURL + "/assets/e/a.txt"

	status, h, body := do(t, http.MethodGet, base, nil, nil)
	assertProblem(t, "unsigned GET", status, h, body, http.StatusForbidden)
	status, h, body = do(t, http.MethodGet, missingURL, nil, nil)
	assertProblem(t, "GET of an absent object", status, h, body, http.StatusNotFound)
	status, h, body = do(t, http.MethodGet, tamper(t, getURL, "sig", flipLast), nil, nil)
	assertProblem(t, "GET with a tampered signature", status, h, body, http.StatusForbidden)
	// The same signature bytes with the spare low bits of the last character set (43 characters
	// carry 258 bits for 256): a lenient decoder would accept it.
	spare := tamper(t, getURL, "sig", func(sig string) string {
		const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
		i := strings.IndexByte(alphabet, sig[len(sig)-1])
		return sig[:len(sig)-1] + string(alphabet[i|1])
	})
	status, h, body = do(t, http.MethodGet, spare, nil, nil)
	assertProblem(t, "GET with spare signature bits set", status, h, body, http.StatusForbidden)
	status, h, body = do(t, http.MethodDelete, getURL, nil, nil)
	assertProblem(t, "DELETE", status, h, body, http.StatusMethodNotAllowed)
	if allow := h.Values("Allow"); strings.Join(allow, ",") != "GET,HEAD,PUT" {
		t.Errorf("405 Allow = %v", allow)
	}
	status, h, body = do(t, http.MethodGet, getURL, nil, map[string]string{"Range": "bytes=50-60"})
	assertProblem(t, "unsatisfiable Range", status, h, body, http.StatusRequestedRangeNotSatisfiable)
	status, h, body = do(t, http.MethodGet, getURL, nil, map[string]string{"If-Match": `"nope"`})
	assertProblem(t, "If-Match mismatch", status, h, body, http.StatusPreconditionFailed)
	status, h, body = do(t, http.MethodGet, cfg.BaseURL+"/assets/e/..%5Cx?expires=1&sig=x", nil, nil)
	assertProblem(t, "GET of an invalid key", status, h, body, http.StatusNotFound)
}

func TestLocalHandlerServing(t *testing.T) {
	l, _, _ := newLocal(t, nil)
	ctx := t.Context()
	mustPut(t, l, "assets/s/a.txt", []byte("0123456789"), "text/plain; charset=utf-8")
	getURL, _ := l.PresignGet(ctx, "assets/s/a.txt", time.Minute)

	status, h, body := do(t, http.MethodHead, getURL, nil, nil)
	if status != http.StatusOK || len(body) != 0 || h.Get("Content-Length") != "10" ||
		h.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Errorf("HEAD = %d, %q, headers %v", status, body, h)
	}
	if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Content-Security-Policy") != "sandbox" {
		t.Errorf("missing nosniff/sandbox headers: %v", h)
	}
	etag := h.Get("ETag")
	if status, _, _ := do(t, http.MethodGet, getURL, nil, map[string]string{"If-None-Match": etag}); status != http.StatusNotModified {
		t.Errorf("GET If-None-Match the ETag = %d, want 304", status)
	}
	info, _ := l.Stat(ctx, "assets/s/a.txt")
	if etag != `"`+info.ETag+`"` || info.ETag != fmt.Sprintf("%x", md5.Sum([]byte("0123456789"))) {
		t.Errorf("ETag header %s, Stat ETag %q; want the quoted MD5 of the bytes", etag, info.ETag)
	}
	putURL, headers, _ := l.PresignPut(ctx, "assets/s/b.txt", "text/plain", time.Minute)
	status, h, _ = do(t, http.MethodPut, putURL, []byte("b"), headers)
	if info, _ := l.Stat(ctx, "assets/s/b.txt"); status != http.StatusOK || h.Get("ETag") != `"`+info.ETag+`"` {
		t.Errorf("PUT = %d, ETag %q, want 200 and %q", status, h.Get("ETag"), info.ETag)
	}
}

func TestLocalPublicRead(t *testing.T) {
	l, _, cfg := newLocal(t, func(c *objectstore.LocalConfig) {
		c.PublicRead = func(key string) bool { return strings.HasPrefix(key, "public/") }
	})
	ctx := t.Context()
	mustPut(t, l, "public/a.jpg", []byte("pub"), "image/jpeg")
	mustPut(t, l, "private/a.jpg", []byte("priv"), "image/jpeg")

	if status, h, body := do(t, http.MethodGet, cfg.BaseURL+"/public/a.jpg", nil, nil); status != http.StatusOK ||
		string(body) != "pub" || h.Get("Content-Type") != "image/jpeg" {
		t.Errorf("unsigned GET of a public key = %d %q", status, body)
	}
	if status, _, _ := do(t, http.MethodHead, cfg.BaseURL+"/public/a.jpg", nil, nil); status != http.StatusOK {
		t.Errorf("unsigned HEAD of a public key = %d", status)
	}
	status, h, body := do(t, http.MethodGet, cfg.BaseURL+"/private/a.jpg", nil, nil)
	assertProblem(t, "unsigned GET of a private key", status, h, body, http.StatusForbidden)
	status, h, body = do(t, http.MethodGet, cfg.BaseURL+"/public/a.jpg?expires=1&sig=AAAA", nil, nil)
	assertProblem(t, "GET of a public key with a bad signature", status, h, body, http.StatusForbidden)
	status, h, body = do(t, http.MethodPut, cfg.BaseURL+"/public/a.jpg", []byte("x"), map[string]string{"Content-Type": "image/jpeg"})
	assertProblem(t, "unsigned PUT of a public key", status, h, body, http.StatusForbidden)

	getURL, _ := l.PresignGet(ctx, "private/a.jpg", time.Minute)
	if status, _, body := do(t, http.MethodGet, getURL, nil, nil); status != http.StatusOK || string(body) != "priv" {
		t.Errorf("signed GET of a private key = %d %q", status, body)
	}
}

func TestLocalExpiryBoundary(t *testing.T) {
	l, clock, _ := newLocal(t, nil)
	mustPut(t, l, "a.txt", []byte("a"), "text/plain")
	getURL, _ := l.PresignGet(t.Context(), "a.txt", 10*time.Second)
	clock.advance(10 * time.Second)
	if status, _, _ := do(t, http.MethodGet, getURL, nil, nil); status != http.StatusOK {
		t.Errorf("GET at ttl = %d, want 200", status)
	}
	clock.advance(time.Second)
	status, h, body := do(t, http.MethodGet, getURL, nil, nil)
	assertProblem(t, "GET a second after ttl", status, h, body, http.StatusForbidden)
	var p problem
	_ = json.Unmarshal(body, &p)
	if !strings.Contains(p.Detail, "expired") {
		t.Errorf("detail %q does not say the URL expired", p.Detail)
	}
}

// Concurrent writers of one key never leave (or serve) bytes under another writer's content type.
func TestLocalConcurrentOverwrites(t *testing.T) {
	l, _, _ := newLocal(t, nil)
	ctx := t.Context()
	const key = "assets/race/a.txt"
	mustPut(t, l, key, []byte("v0"), "text/x-v0")
	getURL, _ := l.PresignGet(ctx, key, time.Hour)

	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 8 {
		wg.Go(func() {
			for i := range 25 {
				v := fmt.Sprintf("v%d", w*100+i)
				if err := l.Put(ctx, key, strings.NewReader(v), int64(len(v)), "text/x-"+v); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	var readers sync.WaitGroup
	for range 4 {
		readers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				status, h, body := do(t, http.MethodGet, getURL, nil, nil)
				if status != http.StatusOK || h.Get("Content-Type") != "text/x-"+string(body) {
					t.Errorf("GET during overwrites = %d, %q with Content-Type %q", status, body, h.Get("Content-Type"))
					return
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	info, err := l.Stat(ctx, key)
	if err != nil || info.ContentType != "text/x-"+string(mustRead(t, l, key)) {
		t.Errorf("final Stat %+v, %v does not match the bytes", info, err)
	}
}

func TestLocalLayout(t *testing.T) {
	l, _, cfg := newLocal(t, nil)
	ctx := t.Context()
	mustPut(t, l, "assets/u1/original.jpg", []byte("jpg"), "image/jpeg")
	if b, err := os.ReadFile(filepath.Join(cfg.Dir, "objects", "assets", "u1", "original.jpg")); err != nil || string(b) != "jpg" {
		t.Errorf("objects/assets/u1/original.jpg = %q, %v", b, err)
	}
	if err := l.Delete(ctx, "assets/u1/original.jpg"); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"objects", "meta"} {
		if _, err := os.Stat(filepath.Join(cfg.Dir, d, "assets")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s/assets survives the delete of its only object: %v", d, err)
		}
	}
	if entries, _ := os.ReadDir(filepath.Join(cfg.Dir, "tmp")); len(entries) != 0 {
		t.Errorf("tmp/ holds %d leftovers", len(entries))
	}

	// A key cannot be both an object and a prefix of others on disk.
	mustPut(t, l, "x", []byte("x"), "text/plain")
	if err := l.Put(ctx, "x/y", strings.NewReader("y"), 1, "text/plain"); err == nil {
		t.Error(`Put("x/y") over the object "x" succeeded`)
	}
	if got := mustRead(t, l, "x"); string(got) != "x" {
		t.Errorf("x = %q", got)
	}
}

func TestLocalPutCancelled(t *testing.T) {
	l, _, cfg := newLocal(t, nil)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := l.Put(ctx, "a.txt", strings.NewReader("a"), 1, "text/plain"); !errors.Is(err, context.Canceled) {
		t.Errorf("Put with a cancelled context = %v", err)
	}
	assertAbsent(t, l, "a.txt")
	if entries, _ := os.ReadDir(filepath.Join(cfg.Dir, "tmp")); len(entries) != 0 {
		t.Errorf("tmp/ holds %d leftovers", len(entries))
	}
}

func TestNewLocalConfig(t *testing.T) {
	good := objectstore.LocalConfig{Dir: t.TempDir(), BaseURL: "http://localhost:8080/media", Secret: make([]byte, 32)}
	if _, err := objectstore.NewLocal(good); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	for name, edit := range map[string]func(*objectstore.LocalConfig){
		"no dir":           func(c *objectstore.LocalConfig) { c.Dir = "" },
		"relative base":    func(c *objectstore.LocalConfig) { c.BaseURL = "/media" },
		"base with query":  func(c *objectstore.LocalConfig) { c.BaseURL = "http://localhost/media?x=1" },
		"short secret":     func(c *objectstore.LocalConfig) { c.Secret = make([]byte, 31) },
		"negative max":     func(c *objectstore.LocalConfig) { c.MaxUploadBytes = -1 },
		"dir is not a dir": func(c *objectstore.LocalConfig) { c.Dir = filepath.Join(good.Dir, "objects", "f") },
	} {
		c := good
		edit(&c)
		if name == "dir is not a dir" {
			_ = os.WriteFile(c.Dir, nil, 0o600)
		}
		if _, err := objectstore.NewLocal(c); err == nil {
			t.Errorf("%s: NewLocal succeeded", name)
		}
	}
}
