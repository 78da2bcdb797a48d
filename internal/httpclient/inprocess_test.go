package httpclient

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestHandlerTransport(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Seen", r.Method+" "+r.RequestURI+" "+r.Header.Get("Authorization"))
		w.WriteHeader(http.StatusTeapot)
		w.Write(body)
	})
	c := &http.Client{Transport: HandlerTransport(h)}
	req, _ := http.NewRequest(http.MethodPost, "http://metadata.internal/api/v1/x?a=1", strings.NewReader("hello"))
	req.Header.Set("Authorization", "Bearer t")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusTeapot || string(body) != "hello" || resp.Header.Get("X-Seen") != "POST /api/v1/x?a=1 Bearer t" {
		t.Fatalf("got %d %q %q", resp.StatusCode, body, resp.Header.Get("X-Seen"))
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req, _ = http.NewRequestWithContext(ctx, http.MethodGet, "http://metadata.internal/", nil)
	if _, err := c.Do(req); err == nil {
		t.Fatal("a cancelled request was served")
	}
}
