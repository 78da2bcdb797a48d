package gateway

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mediamesh/mediamesh/internal/idempotency"
)

const idemSpec = `{
  "openapi": "3.0.3",
  "info": {"title": "t", "version": "1.0.0"},
  "paths": {
    "/api/v1/things": {
      "post": {"operationId": "createThing", "x-service": "things", "security": [], "x-idempotent": true,
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "properties": {"title": {"type": "string"}}}}}},
        "responses": {"201": {"description": "ok"}}}
    }
  }
}`

func TestIdempotency(t *testing.T) {
	var calls atomic.Int32
	var fail atomic.Bool
	block := make(chan struct{})
	var blocking atomic.Bool
	upstream := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		if blocking.Load() {
			<-block
		}
		if fail.Load() {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Location", fmt.Sprintf("/api/v1/things/%d", n))
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"id":%d,"echo":%s}`, n, body)
	})
	gw, err := New(Config{Name: "t", Spec: []byte(idemSpec), Upstreams: map[string]http.Handler{"things": upstream},
		Idempotency: idempotency.NewMemory(), Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	post := func(key, body string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", "/api/v1/things", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		if key != "" {
			r.Header.Set("Idempotency-Key", key)
		}
		rec := httptest.NewRecorder()
		gw.ServeHTTP(rec, r)
		return rec
	}

	first := post("key-00000001", `{"title":"a"}`)
	again := post("key-00000001", `{"title":"a"}`)
	if first.Code != 201 || again.Code != 201 || calls.Load() != 1 {
		t.Fatalf("retry created twice: %d %d, %d calls", first.Code, again.Code, calls.Load())
	}
	if again.Body.String() != first.Body.String() || again.Header().Get("Location") != first.Header().Get("Location") || again.Header().Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay differs: %s / %s", first.Body, again.Body)
	}
	if rec := post("key-00000001", `{"title":"b"}`); rec.Code != 422 || !strings.Contains(rec.Body.String(), "header.Idempotency-Key") {
		t.Fatalf("same key, other body: %d %s", rec.Code, rec.Body)
	}
	post("", `{"title":"a"}`)
	post("", `{"title":"a"}`)
	if calls.Load() != 3 {
		t.Fatalf("without a key every request goes through: %d calls", calls.Load())
	}

	// A server error is not stored: the retry goes through.
	fail.Store(true)
	if rec := post("key-00000002", `{}`); rec.Code != 500 {
		t.Fatalf("upstream failure: %d", rec.Code)
	}
	fail.Store(false)
	if rec := post("key-00000002", `{}`); rec.Code != 201 || calls.Load() != 5 {
		t.Fatalf("retry after a server error: %d, %d calls", rec.Code, calls.Load())
	}

	// While the first request runs, a retry with the same key is told to wait.
	blocking.Store(true)
	done := make(chan *httptest.ResponseRecorder)
	go func() { done <- post("key-00000003", `{}`) }()
	for calls.Load() != 6 { // wait until the first request is inside the upstream
		runtime.Gosched()
	}
	if rec := post("key-00000003", `{}`); rec.Code != 409 {
		t.Fatalf("concurrent retry: %d", rec.Code)
	}
	close(block)
	if rec := <-done; rec.Code != 201 {
		t.Fatalf("first of the concurrent pair: %d", rec.Code)
	}
}
