package objectstore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	mathrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/internal/objectstore"
	"github.com/mediamesh/mediamesh/internal/objectstore/objectstoretest"
)

// fixture is one backend ready for the conformance suite.
type fixture struct {
	store objectstore.Store
	// age makes presigned URLs issued so far older by d (Local: moves its clock; S3: sleeps).
	age func(d time.Duration)
	// sigParam and expiresParam name the query parameters of a presigned URL that carry the
	// signature and the lifetime.
	sigParam, expiresParam string
}

// backend builds a fixture; it may skip (S3 without a versitygw binary).
type backend struct {
	name string
	new  func(t *testing.T) fixture
}

// storesUnderTest lists every Store implementation; each test runs against all of them.
func storesUnderTest(t *testing.T) []backend {
	t.Helper()
	return []backend{
		{name: "local", new: func(t *testing.T) fixture {
			l, clock, _ := newLocal(t, nil)
			return fixture{store: l, age: clock.advance, sigParam: "sig", expiresParam: "expires"}
		}},
		{name: "s3", new: func(t *testing.T) fixture {
			s, _ := newS3(t)
			return fixture{store: s, age: time.Sleep, sigParam: "X-Amz-Signature", expiresParam: "X-Amz-Expires"}
		}},
	}
}

// fakeClock is the injected clock of Local.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// newLocal starts a Local store behind an httptest server that mounts its Handler at /media, as
// the media service does. edit may change the config first.
func newLocal(t *testing.T, edit func(*objectstore.LocalConfig)) (*objectstore.Local, *fakeClock, objectstore.LocalConfig) {
	t.Helper()
	clock := &fakeClock{now: time.Now()}
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	cfg := objectstore.LocalConfig{Dir: t.TempDir(), BaseURL: srv.URL + "/media", Secret: secret,
		MaxUploadBytes: 16 << 20, Now: clock.Now}
	if edit != nil {
		edit(&cfg)
	}
	l, err := objectstore.NewLocal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/media/", http.StripPrefix("/media", l.Handler()))
	return l, clock, cfg
}

// newS3 starts a private VersityGW and returns a store on a fresh bucket.
func newS3(t *testing.T) (*objectstore.S3, objectstore.S3Config) {
	t.Helper()
	cfg := objectstoretest.StartVersity(t)
	s, err := objectstore.NewS3(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s, cfg
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	r := mathrand.NewChaCha8([32]byte{byte(n), byte(n >> 8), byte(n >> 16)})
	_, _ = r.Read(b)
	return b
}

// readerOnly hides every interface but io.Reader (no Seeker, no ReaderAt, no Len), like a
// request body.
type readerOnly struct{ io.Reader }

func mustPut(t *testing.T, s objectstore.Store, key string, data []byte, ct string) {
	t.Helper()
	if err := s.Put(t.Context(), key, bytes.NewReader(data), int64(len(data)), ct); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
}

func mustRead(t *testing.T, s objectstore.Store, key string) []byte {
	t.Helper()
	rc, err := s.Open(t.Context(), key)
	if err != nil {
		t.Fatalf("Open(%q): %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %q: %v", key, err)
	}
	return b
}

func assertAbsent(t *testing.T, s objectstore.Store, key string) {
	t.Helper()
	if _, err := s.Stat(t.Context(), key); !errors.Is(err, objectstore.ErrNotFound) {
		t.Errorf("Stat(%q) = %v, want ErrNotFound", key, err)
	}
	rc, err := s.Open(t.Context(), key)
	if !errors.Is(err, objectstore.ErrNotFound) {
		t.Errorf("Open(%q) = %v, want ErrNotFound", key, err)
	}
	if rc != nil {
		rc.Close()
	}
}

// do sends one request with a plain net/http client and returns the status, headers and body.
func do(t *testing.T, method, rawURL string, body []byte, header map[string]string) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, rawURL, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, rawURL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, rawURL, err)
	}
	return resp.StatusCode, resp.Header, b
}

func TestStore(t *testing.T) {
	for _, b := range storesUnderTest(t) {
		t.Run(b.name, func(t *testing.T) {
			f := b.new(t)
			t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(t, f) })
			t.Run("NotFound", func(t *testing.T) { testNotFound(t, f) })
			t.Run("InvalidKeys", func(t *testing.T) { testInvalidKeys(t, f) })
			t.Run("PresignRoundTrip", func(t *testing.T) { testPresignRoundTrip(t, f) })
			t.Run("PresignWrongContentType", func(t *testing.T) { testPresignWrongContentType(t, f) })
			t.Run("PresignTampered", func(t *testing.T) { testPresignTampered(t, f) })
			t.Run("PresignExpired", func(t *testing.T) { testPresignExpired(t, f) })
			t.Run("Move", func(t *testing.T) { testMove(t, f) })
			t.Run("Copy", func(t *testing.T) { testCopy(t, f) })
			t.Run("Ping", func(t *testing.T) {
				if err := f.store.Ping(t.Context()); err != nil {
					t.Fatal(err)
				}
			})
		})
	}
}

func testRoundTrip(t *testing.T, f fixture) {
	const mib = 1 << 20
	cases := []struct {
		name, key, ct, wantCT string
		size                  int
		unknownSize           bool
	}{
		{name: "small", key: "assets/0b7e/original.jpg", ct: "image/jpeg", wantCT: "image/jpeg", size: 1000},
		{name: "empty", key: "assets/empty/a.bin", ct: "application/octet-stream", wantCT: "application/octet-stream"},
		{name: "empty unknown size", key: "assets/empty/b.bin", ct: "text/plain", wantCT: "text/plain", unknownSize: true},
		{name: "default content type", key: "assets/noct/x", wantCT: objectstore.DefaultContentType, size: 10},
		{name: "content type parameters", key: "assets/t/notes.txt", ct: "text/plain; charset=utf-8", wantCT: "text/plain; charset=utf-8", size: 100},
		{name: "arabic key", key: "assets/وسائط/صورة الغلاف (١).jpg", ct: "image/jpeg", wantCT: "image/jpeg", size: 4096},
		{name: "unknown size", key: "assets/u/stream.mp4", ct: "video/mp4", wantCT: "video/mp4", size: 300 * 1024, unknownSize: true},
		{name: "12MiB", key: "assets/big/known.mp4", ct: "video/mp4", wantCT: "video/mp4", size: 12 * mib},
		{name: "12MiB unknown size", key: "assets/big/stream.mp4", ct: "video/mp4", wantCT: "video/mp4", size: 12 * mib, unknownSize: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := t.Context()
			s := f.store
			data := randomBytes(c.size)
			var r io.Reader = readerOnly{bytes.NewReader(data)}
			size := int64(-1)
			if !c.unknownSize {
				r, size = bytes.NewReader(data), int64(len(data))
			}
			before := time.Now()
			if err := s.Put(ctx, c.key, r, size, c.ct); err != nil {
				t.Fatalf("Put: %v", err)
			}
			info, err := s.Stat(ctx, c.key)
			if err != nil {
				t.Fatalf("Stat: %v", err)
			}
			if info.Key != c.key || info.Size != int64(c.size) || info.ContentType != c.wantCT || info.ETag == "" {
				t.Errorf("Stat = %+v, want key %q, size %d, content type %q, an ETag", info, c.key, c.size, c.wantCT)
			}
			if d := info.ModTime.Sub(before); d < -2*time.Second || d > time.Minute {
				t.Errorf("ModTime %v is not around %v", info.ModTime, before)
			}
			if got := mustRead(t, s, c.key); !bytes.Equal(got, data) {
				t.Fatalf("Open read %d bytes, want the %d put", len(got), len(data))
			}

			// Overwrite with other bytes and another content type.
			data2 := append([]byte("v2:"), data[:min(len(data), 10)]...)
			mustPut(t, s, c.key, data2, "application/x-v2")
			info2, err := s.Stat(ctx, c.key)
			if err != nil || info2.Size != int64(len(data2)) || info2.ContentType != "application/x-v2" || info2.ETag == info.ETag {
				t.Errorf("after overwrite Stat = %+v, %v; want size %d, application/x-v2, a new ETag", info2, err, len(data2))
			}
			if got := mustRead(t, s, c.key); !bytes.Equal(got, data2) {
				t.Errorf("after overwrite read %q, want %q", got, data2)
			}

			if err := s.Delete(ctx, c.key); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			assertAbsent(t, s, c.key)
			if err := s.Delete(ctx, c.key); err != nil {
				t.Errorf("second Delete: %v", err)
			}
		})
	}
	t.Run("short reader", func(t *testing.T) {
		key := "assets/short/x.bin"
		err := f.store.Put(t.Context(), key, readerOnly{bytes.NewReader(make([]byte, 10))}, 20, "application/octet-stream")
		if err == nil {
			t.Fatal("Put of 10 bytes declared as 20 succeeded")
		}
		assertAbsent(t, f.store, key)
	})
}

func testNotFound(t *testing.T, f fixture) {
	ctx := t.Context()
	s := f.store
	assertAbsent(t, s, "assets/missing/original.jpg")
	assertAbsent(t, s, "missing-top-level")
	if err := s.Delete(ctx, "assets/missing/original.jpg"); err != nil {
		t.Errorf("Delete of an absent key: %v", err)
	}

	// A prefix of stored keys is not an object, and deleting it leaves them alone.
	mustPut(t, s, "nf/dir/a.txt", []byte("a"), "text/plain")
	t.Cleanup(func() { _ = s.Delete(context.Background(), "nf/dir/a.txt") })
	assertAbsent(t, s, "nf/dir")
	assertAbsent(t, s, "nf")
	for _, k := range []string{"nf/dir", "nf"} {
		if err := s.Delete(ctx, k); err != nil {
			t.Errorf("Delete(%q) (a prefix of a key): %v", k, err)
		}
	}
	if got := mustRead(t, s, "nf/dir/a.txt"); string(got) != "a" {
		t.Errorf("nf/dir/a.txt = %q after deleting its prefixes", got)
	}
}

var invalidKeys = []string{
	"", "/abs/key", "..", "a/../b", "../a", "a/..", ".", "./a", "a/./b", "a//b", "a/", `a\b`,
	"a\x00b", "a\nb", "bad\xffutf8", strings.Repeat("k", objectstore.MaxKeyLen+1),
}

func testInvalidKeys(t *testing.T, f fixture) {
	ctx := t.Context()
	s := f.store
	for _, k := range invalidKeys {
		errs := map[string]error{}
		errs["Put"] = s.Put(ctx, k, strings.NewReader("x"), 1, "text/plain")
		_, errs["Open"] = s.Open(ctx, k)
		_, errs["Stat"] = s.Stat(ctx, k)
		errs["Delete"] = s.Delete(ctx, k)
		_, _, errs["PresignPut"] = s.PresignPut(ctx, k, "text/plain", time.Minute)
		_, errs["PresignGet"] = s.PresignGet(ctx, k, time.Minute)
		for op, err := range errs {
			if !errors.Is(err, objectstore.ErrInvalidKey) {
				t.Errorf("%s(%q) = %v, want ErrInvalidKey", op, k, err)
			}
		}
	}
}

func testPresignRoundTrip(t *testing.T, f fixture) {
	ctx := t.Context()
	s := f.store
	data := randomBytes(70_000)
	for _, key := range []string{"assets/presign/صورة.jpg", "assets/presign/a b+c=d&e?f#g%h;i,j'k.jpg"} {
		putURL, headers, err := s.PresignPut(ctx, key, "image/jpeg", 5*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if len(headers) != 1 || headers["Content-Type"] != "image/jpeg" {
			t.Errorf("PresignPut headers = %v, want exactly Content-Type: image/jpeg", headers)
		}
		if status, _, body := do(t, http.MethodPut, putURL, data, headers); status != http.StatusOK {
			t.Fatalf("presigned PUT of %q = %d %s", key, status, body)
		}
		info, err := s.Stat(ctx, key)
		if err != nil || info.Size != int64(len(data)) || info.ContentType != "image/jpeg" {
			t.Fatalf("Stat after presigned PUT = %+v, %v", info, err)
		}

		getURL, err := s.PresignGet(ctx, key, 5*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		status, h, body := do(t, http.MethodGet, getURL, nil, nil)
		if status != http.StatusOK || !bytes.Equal(body, data) {
			t.Fatalf("presigned GET of %q = %d, %d bytes; want 200 and the %d put", key, status, len(body), len(data))
		}
		if h.Get("Content-Type") != "image/jpeg" || h.Get("Content-Length") != "70000" || h.Get("ETag") == "" {
			t.Errorf("presigned GET headers: Content-Type %q, Content-Length %q, ETag %q",
				h.Get("Content-Type"), h.Get("Content-Length"), h.Get("ETag"))
		}
		status, h, body = do(t, http.MethodGet, getURL, nil, map[string]string{"Range": "bytes=100-199"})
		if status != http.StatusPartialContent || !bytes.Equal(body, data[100:200]) ||
			h.Get("Content-Range") != "bytes 100-199/70000" {
			t.Errorf("ranged GET = %d, %d bytes, Content-Range %q", status, len(body), h.Get("Content-Range"))
		}
	}
	key := "assets/presign/صورة.jpg"

	// Presigning does not need the object to exist; reading it then is a 404.
	missing, err := s.PresignGet(ctx, "assets/presign/missing.jpg", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if status, _, _ := do(t, http.MethodGet, missing, nil, nil); status != http.StatusNotFound {
		t.Errorf("presigned GET of an absent object = %d, want 404", status)
	}

	for _, bad := range []string{"", "not a type", "image/jpeg\r\nX-Evil: 1"} {
		if _, _, err := s.PresignPut(ctx, key, bad, time.Minute); err == nil {
			t.Errorf("PresignPut with content type %q succeeded", bad)
		}
	}
	for _, ttl := range []time.Duration{0, -time.Minute, 500 * time.Millisecond, objectstore.MaxPresignTTL + time.Second} {
		if _, err := s.PresignGet(ctx, key, ttl); err == nil {
			t.Errorf("PresignGet with ttl %s succeeded", ttl)
		}
		if _, _, err := s.PresignPut(ctx, key, "image/jpeg", ttl); err == nil {
			t.Errorf("PresignPut with ttl %s succeeded", ttl)
		}
	}
}

func testPresignWrongContentType(t *testing.T, f fixture) {
	ctx := t.Context()
	s := f.store
	key := "assets/ct/original.png"
	putURL, _, err := s.PresignPut(ctx, key, "image/png", 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []map[string]string{
		{"Content-Type": "text/html"},
		{"Content-Type": "image/png; charset=utf-8"},
		{"Content-Type": "image/PNG"},
		{}, // none
	} {
		status, _, body := do(t, http.MethodPut, putURL, []byte("<script>alert(1)</script>"), h)
		if status != http.StatusForbidden {
			t.Errorf("presigned PUT for image/png with headers %v = %d %s, want 403", h, status, body)
		}
	}
	assertAbsent(t, s, key)
}

// tamper returns rawURL with the query parameter param changed.
func tamper(t *testing.T, rawURL, param string, change func(string) string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if !q.Has(param) {
		t.Fatalf("%s has no %s parameter", rawURL, param)
	}
	q.Set(param, change(q.Get(param)))
	u.RawQuery = q.Encode()
	return u.String()
}

// flipLast changes the last character of a hex or base64url string to another valid one. In an
// unpadded base64 string that character carries spare bits: a lenient decoder would accept the
// change, so it also catches signature malleability.
func flipLast(s string) string {
	if strings.HasSuffix(s, "0") {
		return s[:len(s)-1] + "1"
	}
	return s[:len(s)-1] + "0"
}

// flipFirst changes the first character of a hex or base64url string to another valid one.
func flipFirst(s string) string {
	if strings.HasPrefix(s, "0") {
		return "1" + s[1:]
	}
	return "0" + s[1:]
}

func testPresignTampered(t *testing.T, f fixture) {
	ctx := t.Context()
	s := f.store
	mustPut(t, s, "assets/tamper/a.txt", []byte("secret a"), "text/plain")
	mustPut(t, s, "assets/tamper/b.txt", []byte("secret b"), "text/plain")
	getURL, err := s.PresignGet(ctx, "assets/tamper/a.txt", 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	putURL, headers, err := s.PresignPut(ctx, "assets/tamper/a.txt", "text/plain", 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	otherKey := func(u string) string { return strings.Replace(u, "/a.txt", "/b.txt", 1) }
	longer := func(v string) string { return v + "0" }

	for name, u := range map[string]string{
		"signature":  tamper(t, getURL, f.sigParam, flipFirst),
		"sig end":    tamper(t, getURL, f.sigParam, flipLast),
		"expiry":     tamper(t, getURL, f.expiresParam, longer),
		"other key":  otherKey(getURL),
		"no query":   strings.SplitN(getURL, "?", 2)[0],
		"put as get": putURL,
	} {
		if status, _, body := do(t, http.MethodGet, u, nil, nil); status != http.StatusForbidden {
			t.Errorf("GET with tampered %s = %d %s, want 403", name, status, body)
		}
	}
	// An empty signature is malformed rather than wrong: S3 answers 400
	// (AuthorizationQueryParametersError), Local 403. Either way nothing is served.
	noSig := tamper(t, getURL, f.sigParam, func(string) string { return "" })
	if status, _, body := do(t, http.MethodGet, noSig, nil, nil); status != http.StatusForbidden && status != http.StatusBadRequest {
		t.Errorf("GET with an empty signature = %d %s, want 403 or 400", status, body)
	}
	for name, u := range map[string]string{
		"signature":  tamper(t, putURL, f.sigParam, flipFirst),
		"sig end":    tamper(t, putURL, f.sigParam, flipLast),
		"expiry":     tamper(t, putURL, f.expiresParam, longer),
		"other key":  otherKey(putURL),
		"get as put": getURL,
	} {
		if status, _, body := do(t, http.MethodPut, u, []byte("overwritten"), headers); status != http.StatusForbidden {
			t.Errorf("PUT with tampered %s = %d %s, want 403", name, status, body)
		}
	}
	for _, k := range []string{"a", "b"} {
		if got := mustRead(t, s, "assets/tamper/"+k+".txt"); string(got) != "secret "+k {
			t.Errorf("%s.txt = %q after tampered PUTs", k, got)
		}
	}
}

func testPresignExpired(t *testing.T, f fixture) {
	ctx := t.Context()
	s := f.store
	key := "assets/expired/a.txt"
	mustPut(t, s, key, []byte("old"), "text/plain")
	getURL, err := s.PresignGet(ctx, key, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	putURL, headers, err := s.PresignPut(ctx, key, "text/plain", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	f.age(2 * time.Second)
	if status, _, body := do(t, http.MethodGet, getURL, nil, nil); status != http.StatusForbidden {
		t.Errorf("expired GET = %d %s, want 403", status, body)
	}
	if status, _, body := do(t, http.MethodPut, putURL, []byte("new"), headers); status != http.StatusForbidden {
		t.Errorf("expired PUT = %d %s, want 403", status, body)
	}
	if got := mustRead(t, s, key); string(got) != "old" {
		t.Errorf("object = %q after an expired PUT", got)
	}
}

func TestValidateKey(t *testing.T) {
	for _, k := range []string{
		"a", "assets/6f1c1a52-5f5e-4a57-9a57-0e0c1d1b2a3c/original.jpg", "assets/وسائط/صورة الغلاف.jpg",
		"a.b/c d/e+f=g&h?i#j%k", "..a/b..", ".hidden/x", strings.Repeat("k", objectstore.MaxKeyLen),
	} {
		if err := objectstore.ValidateKey(k); err != nil {
			t.Errorf("ValidateKey(%q) = %v, want nil", k, err)
		}
	}
	for _, k := range invalidKeys {
		if err := objectstore.ValidateKey(k); !errors.Is(err, objectstore.ErrInvalidKey) {
			t.Errorf("ValidateKey(%q) = %v, want ErrInvalidKey", k, err)
		}
	}
}

// testMove: Move puts src's bytes and type under dst and removes src; a PUT to src's presigned URL
// afterwards leaves dst as it was; moving an absent key is ErrNotFound.
func testMove(t *testing.T, f fixture) {
	ctx := t.Context()
	s := f.store
	src, dst := "uploads/move-test", "assets/moved/original.png"
	data := randomBytes(50_000)
	putURL, headers, err := s.PresignPut(ctx, src, "image/png", 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if status, _, body := do(t, http.MethodPut, putURL, data, headers); status != http.StatusOK {
		t.Fatalf("presigned PUT = %d %s", status, body)
	}
	if err := s.Move(ctx, src, dst); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(ctx, src); !errors.Is(err, objectstore.ErrNotFound) {
		t.Errorf("src after Move: %v, want ErrNotFound", err)
	}
	if status, _, body := do(t, http.MethodPut, putURL, randomBytes(10), headers); status != http.StatusOK {
		t.Fatalf("a second presigned PUT = %d %s", status, body)
	}
	info, err := s.Stat(ctx, dst)
	if err != nil || info.Size != int64(len(data)) || info.ContentType != "image/png" {
		t.Fatalf("dst after Move and a later PUT to src: %+v, %v", info, err)
	}
	rc, err := s.Open(ctx, dst)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("dst holds %d other bytes (%v)", len(got), err)
	}
	if err := s.Move(ctx, "uploads/absent", "assets/absent/original.png"); !errors.Is(err, objectstore.ErrNotFound) {
		t.Errorf("moving an absent key: %v, want ErrNotFound", err)
	}
	for _, k := range []string{src, dst} {
		if err := s.Delete(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
}

// testCopy: Copy puts src's bytes and type under dst as well, overwriting; src stays, and a later
// Put to either key leaves the other as it was; copying an absent key is ErrNotFound and creates
// nothing; copying a key onto itself changes nothing.
func testCopy(t *testing.T, f fixture) {
	ctx := t.Context()
	s := f.store
	src, dst := "private/assets/copy-test/original.png", "public/assets/copy-test/original.png"
	data := randomBytes(40_000)
	mustPut(t, s, src, data, "image/png")
	mustPut(t, s, dst, randomBytes(10), "text/plain") // overwritten
	if err := s.Copy(ctx, src, dst); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{src, dst} {
		info, err := s.Stat(ctx, k)
		if err != nil || info.Size != int64(len(data)) || info.ContentType != "image/png" {
			t.Errorf("%s after Copy: %+v, %v", k, info, err)
		}
		if got := mustRead(t, s, k); !bytes.Equal(got, data) {
			t.Errorf("%s holds %d other bytes", k, len(got))
		}
	}
	// The two keys are two objects: overwriting one leaves the other.
	mustPut(t, s, src, []byte("new"), "text/plain")
	if got := mustRead(t, s, dst); !bytes.Equal(got, data) {
		t.Errorf("dst changed with src: %d bytes", len(got))
	}
	if err := s.Delete(ctx, dst); err != nil {
		t.Fatal(err)
	}
	if got := mustRead(t, s, src); !bytes.Equal(got, []byte("new")) {
		t.Errorf("src after deleting dst: %q", got)
	}
	if err := s.Copy(ctx, src, src); err != nil {
		t.Errorf("copying a key onto itself: %v", err)
	}
	if got := mustRead(t, s, src); !bytes.Equal(got, []byte("new")) {
		t.Errorf("src after copying it onto itself: %q", got)
	}
	if err := s.Copy(ctx, "private/absent", "public/absent"); !errors.Is(err, objectstore.ErrNotFound) {
		t.Errorf("copying an absent key: %v, want ErrNotFound", err)
	}
	assertAbsent(t, s, "public/absent")
	if err := s.Copy(ctx, "private/absent", "private/absent"); !errors.Is(err, objectstore.ErrNotFound) {
		t.Errorf("copying an absent key onto itself: %v, want ErrNotFound", err)
	}
	if err := s.Copy(ctx, src, "../escape"); !errors.Is(err, objectstore.ErrInvalidKey) {
		t.Errorf("copying to an invalid key: %v, want ErrInvalidKey", err)
	}
	if err := s.Delete(ctx, src); err != nil {
		t.Fatal(err)
	}
}
