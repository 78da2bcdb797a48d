package app

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mediamesh/mediamesh/internal/objectstore"
	"github.com/mediamesh/mediamesh/internal/objectstore/objectstoretest"
	"github.com/mediamesh/mediamesh/services/media"
)

// syncLog collects a logger's output.
type syncLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestMediaStorePublicReadPolicy opens the S3 media store as the media module does, on VersityGW:
// with media.s3.public_read_policy (the default) objects under public/ become readable without
// credentials and those under private/ stay refused; when the service refuses PutBucketPolicy
// (here a proxy answers AccessDenied, as AWS does under Block Public Access) the store still opens,
// one warning carries the statement to set by other means, and nothing becomes public; switched
// off, no policy is put at all.
func TestMediaStorePublicReadPolicy(t *testing.T) {
	s3 := objectstoretest.StartVersity(t)
	var policyPuts atomic.Int64
	target, _ := url.Parse(s3.Endpoint)
	rp := httputil.NewSingleHostReverseProxy(target)
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && r.URL.Query().Has("policy") {
			policyPuts.Add(1)
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusForbidden)
			_, _ = io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>`)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(refusing.Close)

	open := func(endpoint, bucket string, policy bool) (*objectstore.S3, string) {
		t.Helper()
		cfg := Default()
		cfg.DataDir = t.TempDir()
		cfg.Media.S3 = media.S3Settings{Endpoint: endpoint, Region: s3.Region, Bucket: bucket, AccessKey: s3.AccessKey, SecretKey: s3.SecretKey, PublicReadPolicy: policy}
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		logs := &syncLog{}
		p := &platform{cfg: cfg, log: slog.New(slog.NewTextHandler(logs, nil))}
		store, err := p.mediaStore(t.Context(), nil)
		if err != nil {
			t.Fatalf("media store on %s: %v", endpoint, err)
		}
		return store.(*objectstore.S3), logs.String()
	}
	anonymous := func(bucket, key string) int {
		t.Helper()
		resp, err := http.Get(s3.Endpoint + "/" + bucket + "/" + key)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	put := func(s *objectstore.S3, keys ...string) {
		t.Helper()
		for _, k := range keys {
			if err := s.Put(context.Background(), k, strings.NewReader("bytes"), 5, "image/jpeg"); err != nil {
				t.Fatal(err)
			}
		}
	}
	pub, priv := media.PublicPrefix+"assets/a/original.jpg", media.PrivatePrefix+"assets/b/original.jpg"

	if !Default().Media.S3.PublicReadPolicy {
		t.Error("media.s3.public_read_policy is off by default")
	}
	store, logs := open(s3.Endpoint, s3.Bucket, true)
	put(store, pub, priv)
	if code := anonymous(s3.Bucket, pub); code != http.StatusOK {
		t.Errorf("anonymous GET of %s = %d, want 200", pub, code)
	}
	if code := anonymous(s3.Bucket, priv); code != http.StatusForbidden {
		t.Errorf("anonymous GET of %s = %d, want 403", priv, code)
	}
	if strings.Contains(logs, "level=WARN") {
		t.Errorf("warnings with an accepted policy:\n%s", logs)
	}

	refused := s3.Bucket + "-refused"
	store, logs = open(refusing.URL, refused, true)
	if policyPuts.Load() != 1 {
		t.Errorf("%d PutBucketPolicy requests through the refusing proxy, want 1", policyPuts.Load())
	}
	if n := strings.Count(logs, "level=WARN"); n != 1 || !strings.Contains(logs, "could not put the bucket policy") ||
		!strings.Contains(logs, `arn:aws:s3:::`+refused+`/public/*`) || !strings.Contains(logs, "Access Denied") {
		t.Errorf("want one warning with the statement and the refusal, got:\n%s", logs)
	}
	put(store, pub, priv)
	for _, k := range []string{pub, priv} {
		if code := anonymous(refused, k); code != http.StatusForbidden {
			t.Errorf("anonymous GET of %s in a bucket whose policy was refused = %d, want 403", k, code)
		}
	}

	off := s3.Bucket + "-off"
	store, logs = open(refusing.URL, off, false)
	if policyPuts.Load() != 1 || strings.Contains(logs, "level=WARN") {
		t.Errorf("public_read_policy=false: %d policy requests in all, logs:\n%s", policyPuts.Load(), logs)
	}
	put(store, pub)
	if code := anonymous(off, pub); code != http.StatusForbidden {
		t.Errorf("anonymous GET of %s without the policy = %d, want 403", pub, code)
	}
}
