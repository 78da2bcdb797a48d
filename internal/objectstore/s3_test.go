package objectstore_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/mediamesh/mediamesh/internal/objectstore"
	"github.com/mediamesh/mediamesh/internal/testenv"
)

func TestS3Multipart(t *testing.T) {
	s, _ := newS3(t)
	data := randomBytes(12 << 20)
	// 12 MiB in DefaultS3PartSize (8 MiB) parts: two parts, so the ETag is an MD5 of MD5s, "-2".
	for _, unknown := range []bool{false, true} {
		var r io.Reader = bytes.NewReader(data)
		key, size := "big/known.bin", int64(len(data))
		if unknown {
			key, size, r = "big/unknown.bin", -1, readerOnly{r}
		}
		if err := s.Put(t.Context(), key, r, size, "video/mp4"); err != nil {
			t.Fatal(err)
		}
		info, err := s.Stat(t.Context(), key)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(info.ETag, "-2") {
			t.Errorf("%s: ETag %q, want a two-part multipart ETag (…-2)", key, info.ETag)
		}
	}
	mustPut(t, s, "small.bin", data[:1<<20], "application/octet-stream")
	if info, err := s.Stat(t.Context(), "small.bin"); err != nil || strings.Contains(info.ETag, "-") {
		t.Errorf("1 MiB object: Stat = %+v, %v; want a single-part ETag", info, err)
	}
}

// VersityGW checks a presigned PUT's Content-Type like S3 does: it is a signed header, so any
// other value (or none) makes the signature differ (403 SignatureDoesNotMatch).
func TestS3PresignedPutContentTypeMismatch(t *testing.T) {
	s, _ := newS3(t)
	putURL, _, err := s.PresignPut(t.Context(), "ct/a.png", "image/png", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(putURL)
	if signed := u.Query().Get("X-Amz-SignedHeaders"); signed != "content-type;host" {
		t.Errorf("X-Amz-SignedHeaders = %q, want content-type;host", signed)
	}
	for _, ct := range []string{"text/html", "image/png; charset=utf-8", "image/PNG", ""} {
		h := map[string]string{}
		if ct != "" {
			h["Content-Type"] = ct
		}
		status, _, body := do(t, http.MethodPut, putURL, []byte("<html>"), h)
		if status != http.StatusForbidden || !bytes.Contains(body, []byte("<Code>SignatureDoesNotMatch</Code>")) {
			t.Errorf("PUT with Content-Type %q = %d %s, want 403 SignatureDoesNotMatch", ct, status, body)
		}
		if testing.Verbose() {
			t.Logf("Content-Type %q: %d %.200s", ct, status, body)
		}
	}
	// Nor can the uploader add x-amz-* headers (an ACL, metadata) that were not signed.
	status, _, body := do(t, http.MethodPut, putURL, []byte("png"),
		map[string]string{"Content-Type": "image/png", "X-Amz-Acl": "public-read"})
	if status != http.StatusForbidden {
		t.Errorf("PUT with an unsigned x-amz-acl = %d %s, want 403", status, body)
	}
	assertAbsent(t, s, "ct/a.png")
}

func TestS3PresignEndpoint(t *testing.T) {
	_, cfg := newS3(t)
	public := strings.Replace(cfg.Endpoint, "127.0.0.1", "localhost", 1)
	cfg.PresignEndpoint = public
	s, err := objectstore.NewS3(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	putURL, headers, err := s.PresignPut(t.Context(), "pe/a.txt", "text/plain", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(putURL, public+"/") {
		t.Fatalf("presigned URL %s does not use PresignEndpoint %s", putURL, public)
	}
	if status, _, body := do(t, http.MethodPut, putURL, []byte("hello"), headers); status != http.StatusOK {
		t.Fatalf("PUT through PresignEndpoint = %d %s", status, body)
	}
	getURL, err := s.PresignGet(t.Context(), "pe/a.txt", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if status, _, body := do(t, http.MethodGet, getURL, nil, nil); status != http.StatusOK || string(body) != "hello" {
		t.Errorf("GET through PresignEndpoint = %d %q", status, body)
	}
	// The host is signed: the same URL sent to the internal address is refused.
	internal := strings.Replace(getURL, public, cfg.Endpoint, 1)
	if status, _, _ := do(t, http.MethodGet, internal, nil, nil); status != http.StatusForbidden {
		t.Errorf("GET of a URL signed for %s at %s = %d, want 403", public, cfg.Endpoint, status)
	}
}

func TestS3BucketAndPing(t *testing.T) {
	_, cfg := newS3(t)
	if _, err := objectstore.NewS3(t.Context(), cfg); err != nil {
		t.Errorf("CreateBucket on an existing bucket: %v", err)
	}

	missing := cfg
	missing.Bucket, missing.CreateBucket = cfg.Bucket+"-missing", false
	s, err := objectstore.NewS3(t.Context(), missing)
	if err != nil {
		t.Fatalf("NewS3 without CreateBucket must not contact the service: %v", err)
	}
	if err := s.Ping(t.Context()); err == nil {
		t.Error("Ping with a missing bucket succeeded")
	}

	wrong := cfg
	wrong.SecretKey, wrong.CreateBucket = "wrong-secret-key", false
	if s, err = objectstore.NewS3(t.Context(), wrong); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(t.Context()); err == nil {
		t.Error("Ping with a wrong secret key succeeded")
	}

	down := cfg
	down.Endpoint, down.CreateBucket = "http://"+testenv.FreeAddr(t), false
	if s, err = objectstore.NewS3(t.Context(), down); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	start := time.Now()
	if err := s.Ping(ctx); err == nil {
		t.Error("Ping of a closed port succeeded")
	} else if d := time.Since(start); d > time.Second {
		t.Errorf("Ping of a closed port took %s; it should fail at once", d)
	}
}

func TestNewS3Config(t *testing.T) {
	good := objectstore.S3Config{Endpoint: "http://127.0.0.1:7070", Bucket: "media", AccessKey: "ak", SecretKey: "sk"}
	if _, err := objectstore.NewS3(t.Context(), good); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	for name, edit := range map[string]func(*objectstore.S3Config){
		"no scheme":          func(c *objectstore.S3Config) { c.Endpoint = "127.0.0.1:7070" },
		"ftp":                func(c *objectstore.S3Config) { c.Endpoint = "ftp://127.0.0.1" },
		"path":               func(c *objectstore.S3Config) { c.Endpoint = "http://127.0.0.1:7070/s3" },
		"bad presign":        func(c *objectstore.S3Config) { c.PresignEndpoint = "media.example.com" },
		"no bucket":          func(c *objectstore.S3Config) { c.Bucket = "" },
		"invalid bucket":     func(c *objectstore.S3Config) { c.Bucket = "Bad_Bucket" },
		"no access key":      func(c *objectstore.S3Config) { c.AccessKey = "" },
		"no secret key":      func(c *objectstore.S3Config) { c.SecretKey = "" },
		"part size too low":  func(c *objectstore.S3Config) { c.PartSize = 1 << 20 },
		"negative part size": func(c *objectstore.S3Config) { c.PartSize = -1 },
	} {
		c := good
		edit(&c)
		if _, err := objectstore.NewS3(t.Context(), c); err == nil {
			t.Errorf("%s: NewS3(%+v) succeeded", name, c)
		}
	}
}

// TestS3PublicRead checks that SetPublicRead makes exactly the objects under its prefix readable
// without credentials (VersityGW enforces bucket policies for anonymous requests as S3 does), and
// that it keeps the other statements of the bucket's policy.
func TestS3PublicRead(t *testing.T) {
	s, cfg := newS3(t)
	ctx := t.Context()
	objects := map[string][]byte{
		"public/assets/a/original.jpg":  randomBytes(3000),
		"private/assets/b/original.jpg": randomBytes(3001),
		"assets/c/original.jpg":         randomBytes(3002), // the layout before prefixes
		"publicity/d.jpg":               randomBytes(3003), // shares the prefix's letters, not its folder
	}
	for k, v := range objects {
		mustPut(t, s, k, v, "image/jpeg")
	}
	anonymous := func(method, key string, body []byte) int {
		status, _, _ := do(t, method, cfg.Endpoint+"/"+cfg.Bucket+"/"+key, body, nil)
		return status
	}
	for k := range objects {
		if status := anonymous(http.MethodGet, k, nil); status != http.StatusForbidden {
			t.Errorf("anonymous GET of %s before any policy = %d, want 403", k, status)
		}
	}

	// Another statement is there already: SetPublicRead keeps it.
	raw, err := minio.New(strings.TrimPrefix(cfg.Endpoint, "http://"), &minio.Options{
		Creds: credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""), Region: cfg.Region,
	})
	if err != nil {
		t.Fatal(err)
	}
	other := `{"Version":"2012-10-17","Statement":[{"Sid":"Other","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::` + cfg.Bucket + `/shared/*"}]}`
	if err := raw.SetBucketPolicy(ctx, cfg.Bucket, other); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second call finds the policy right
		if err := s.SetPublicRead(ctx, "public/"); err != nil {
			t.Fatal(err)
		}
	}
	for k, v := range objects {
		want := http.StatusForbidden
		if strings.HasPrefix(k, "public/") {
			want = http.StatusOK
		}
		status, _, body := do(t, http.MethodGet, cfg.Endpoint+"/"+cfg.Bucket+"/"+k, nil, nil)
		if status != want || (want == http.StatusOK && !bytes.Equal(body, v)) {
			t.Errorf("anonymous GET of %s = %d (%d bytes), want %d", k, status, len(body), want)
		}
	}
	// Reading is all: no anonymous writes, deletes or listings, even under the public prefix.
	if status := anonymous(http.MethodPut, "public/assets/e/original.jpg", []byte("x")); status != http.StatusForbidden {
		t.Errorf("anonymous PUT under public/ = %d, want 403", status)
	}
	if status := anonymous(http.MethodDelete, "public/assets/a/original.jpg", nil); status != http.StatusForbidden {
		t.Errorf("anonymous DELETE under public/ = %d, want 403", status)
	}
	if status := anonymous(http.MethodGet, "?list-type=2&prefix=private/", nil); status != http.StatusForbidden {
		t.Errorf("anonymous listing = %d, want 403", status)
	}
	if _, err := s.Stat(ctx, "public/assets/a/original.jpg"); err != nil {
		t.Errorf("the public object after an anonymous DELETE: %v", err)
	}

	policy, err := raw.GetBucketPolicy(ctx, cfg.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ Statement []map[string]any }
	if err := json.Unmarshal([]byte(policy), &doc); err != nil {
		t.Fatalf("policy %s: %v", policy, err)
	}
	sids := map[any]int{}
	for _, st := range doc.Statement {
		sids[st["Sid"]]++
	}
	if len(doc.Statement) != 2 || sids["Other"] != 1 || sids[objectstore.PublicReadSid] != 1 {
		t.Errorf("policy after SetPublicRead twice: %s", policy)
	}

	// Another prefix replaces the statement rather than adding one.
	if err := s.SetPublicRead(ctx, "published/"); err != nil {
		t.Fatal(err)
	}
	if status := anonymous(http.MethodGet, "public/assets/a/original.jpg", nil); status != http.StatusForbidden {
		t.Errorf("anonymous GET under the former public prefix = %d, want 403", status)
	}
	for _, bad := range []string{"", "public", "pub*/", "/public/", "a//"} {
		if err := s.SetPublicRead(ctx, bad); err == nil {
			t.Errorf("SetPublicRead(%q) succeeded", bad)
		}
	}
}
