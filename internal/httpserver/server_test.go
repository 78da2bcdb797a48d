package httpserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mediamesh/mediamesh/internal/apierror"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestRequestID(t *testing.T) {
	var seen string
	h := RequestID(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = RequestIDFrom(r.Context()) }))
	for in, keep := range map[string]bool{"abc-123": true, "": false, "bad id with spaces": false, strings.Repeat("a", 129): false} {
		r := httptest.NewRequest("GET", "/", nil)
		if in != "" {
			r.Header.Set(RequestIDHeader, in)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		got := rec.Header().Get(RequestIDHeader)
		if got == "" || got != seen || (got == in) != keep {
			t.Errorf("in %q: echoed %q, context %q", in, got, seen)
		}
	}
}

func TestServerLifecycle(t *testing.T) {
	srv := &Server{Name: "test", Addr: "127.0.0.1:0", Log: quiet, ShutdownTimeout: time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/panic" {
				panic("boom")
			}
			fmt.Fprint(w, "hello")
		})}
	dbUp := true
	srv.AddReadinessCheck("db", func(context.Context) error {
		if dbUp {
			return nil
		}
		return errors.New("db down")
	})
	ln, err := srv.Listen()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	base := "http://" + srv.BoundAddr().String()

	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/healthz"); code != 200 || !strings.Contains(body, `"ok"`) {
		t.Errorf("healthz %d %s", code, body)
	}
	if code, _ := get("/readyz"); code != 200 {
		t.Errorf("readyz %d", code)
	}
	dbUp = false
	if code, body := get("/readyz"); code != 503 || !strings.Contains(body, "db down") {
		t.Errorf("readyz with db down: %d %s", code, body)
	}
	if code, body := get("/x"); code != 200 || body != "hello" {
		t.Errorf("handler %d %s", code, body)
	}
	for _, path := range []string{"/x", "/healthz", "/panic"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("%s: security headers %q, %q", path, resp.Header.Get("X-Content-Type-Options"), resp.Header.Get("Referrer-Policy"))
		}
	}
	if code, body := get("/panic"); code != 500 || !strings.Contains(body, "Internal server error") || strings.Contains(body, "boom") {
		t.Errorf("panic %d %s", code, body)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("server did not shut down")
	}
}

func TestListenBusyPort(t *testing.T) {
	a := &Server{Name: "a", Addr: "127.0.0.1:0", Log: quiet}
	ln, err := a.Listen()
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	b := &Server{Name: "b", Addr: ln.Addr().String(), Log: quiet}
	if _, err := b.Listen(); err == nil {
		t.Fatal("second listener on a busy port must fail")
	}
}

func TestEchoErrors(t *testing.T) {
	e := NewEcho(quiet)
	e.GET("/things/:id", func(c echo.Context) error {
		switch c.Param("id") {
		case "bind":
			return echo.NewHTTPError(http.StatusBadRequest, "Invalid format for parameter thingId: bad uuid")
		case "gone":
			return apierror.NotFound("thing gone")
		case "oops":
			return errors.New("secret database detail")
		}
		return c.NoContent(204)
	})
	cases := []struct {
		method, path string
		status       int
		want         string
	}{
		{"GET", "/things/bind", 400, `"field":"thingId"`},
		{"GET", "/things/gone", 404, "thing gone"},
		{"GET", "/things/oops", 500, "Internal server error"},
		{"GET", "/nothing", 404, "Not found"},
		{"POST", "/things/x", 405, "Method not allowed"},
	}
	for _, c := range cases {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(c.method, c.path, nil))
		if rec.Code != c.status || !strings.Contains(rec.Body.String(), c.want) || strings.Contains(rec.Body.String(), "secret") {
			t.Errorf("%s %s: %d %s", c.method, c.path, rec.Code, rec.Body)
		}
		var p map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || rec.Header().Get("Content-Type") != apierror.ContentType {
			t.Errorf("%s %s: not a problem: %s", c.method, c.path, rec.Body)
		}
	}
}

func TestAccessLogAndRED(t *testing.T) {
	var logs strings.Builder
	reg := prometheus.NewRegistry()
	red, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	h := RequestID(AccessLog(slog.New(slog.NewJSONHandler(&logs, nil)), red, "cms-gateway", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		SetOperation(r.Context(), "createProgram")
		SetOperation(r.Context(), "CreateProgram") // the first name wins
		SetUser(r.Context(), "user-7")
		w.WriteHeader(201)
	})))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/api/v1/cms/programs", nil))
	line := logs.String()
	for _, want := range []string{`"operation":"createProgram"`, `"user_id":"user-7"`, `"status":201`, `"request_id":"`} {
		if !strings.Contains(line, want) {
			t.Errorf("log lacks %s: %s", want, line)
		}
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, mf := range mfs {
		if mf.GetName() != "mediamesh_http_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			found = found || (labels["operation"] == "createProgram" && labels["code"] == "201" && labels["server"] == "cms-gateway" && m.GetCounter().GetValue() == 1)
		}
	}
	if !found {
		t.Fatal("no mediamesh_http_requests_total sample for the request")
	}
}

// TestBodyDeadline: a client that trickles a JSON body is cut off after the server's BodyTimeout,
// while one that sends its body in time is answered.
func TestBodyDeadline(t *testing.T) {
	srv := &Server{Name: "test", Addr: "127.0.0.1:0", Log: quiet, ShutdownTimeout: time.Second, BodyTimeout: 300 * time.Millisecond,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if _, err := io.ReadAll(r.Body); err != nil {
				w.WriteHeader(http.StatusRequestTimeout)
				return
			}
			fmt.Fprint(w, "read")
		})}
	ln, err := srv.Listen()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = srv.Serve(ctx, ln) }()
	addr := srv.BoundAddr().String()
	send := func(trickle bool) (string, time.Duration) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		start := time.Now()
		fmt.Fprint(conn, "POST /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: 20\r\n\r\n{\"a\":")
		if trickle {
			for i := 0; i < 20; i++ {
				time.Sleep(100 * time.Millisecond)
				if _, err := conn.Write([]byte(" ")); err != nil {
					break
				}
			}
		} else {
			fmt.Fprint(conn, "1}              ")
		}
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, _ := io.ReadAll(conn)
		return string(resp), time.Since(start)
	}
	if resp, _ := send(false); !strings.Contains(resp, "read") {
		t.Fatalf("a body sent in time: %q", resp)
	}
	if resp, took := send(true); strings.Contains(resp, "read") || took > 3*time.Second {
		t.Fatalf("a trickled body was read (%v): %q", took, resp)
	}
}

// TestClientAddress: a handler learns its client's address; behind a gateway on an internal
// network (here loopback) it is the address the gateway forwarded.
func TestClientAddress(t *testing.T) {
	srv := &Server{Name: "test", Addr: "127.0.0.1:0", Log: quiet, ShutdownTimeout: time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, ClientFrom(r.Context())) })}
	ln, err := srv.Listen()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = srv.Serve(ctx, ln) }()
	for forwarded, want := range map[string]string{"": "127.0.0.1", "198.51.100.7": "198.51.100.7", "203.0.113.1, 198.51.100.7": "198.51.100.7"} {
		req, _ := http.NewRequest(http.MethodGet, "http://"+srv.BoundAddr().String()+"/x", nil)
		if forwarded != "" {
			req.Header.Set("X-Forwarded-For", forwarded)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != want {
			t.Errorf("X-Forwarded-For %q: client %q, want %q", forwarded, b, want)
		}
	}
}

// TestServerTrustedProxies: a server facing clients (a gateway) believes the forwarding header only
// from its TrustedProxies, and reads Forwarded instead with ForwardedHeader.
func TestServerTrustedProxies(t *testing.T) {
	client := func(srv *Server, remote string, header ...string) string {
		var got string
		srv.Log, srv.Handler = quiet, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = ClientFrom(r.Context()) })
		r := httptest.NewRequest("GET", "/x", nil)
		r.RemoteAddr = remote
		for i := 0; i+1 < len(header); i += 2 {
			r.Header.Set(header[i], header[i+1])
		}
		srv.root().ServeHTTP(httptest.NewRecorder(), r)
		return got
	}
	none := &Server{Name: "gw", TrustedProxies: []netip.Prefix{}}
	if got := client(none, "127.0.0.1:4000", "X-Forwarded-For", "198.51.100.7"); got != "127.0.0.1" {
		t.Errorf("no trusted proxies: client %q, want the peer", got)
	}
	lb := []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}
	xff := &Server{Name: "gw", TrustedProxies: lb}
	if got := client(xff, "192.0.2.9:4000", "X-Forwarded-For", "6.6.6.6, 198.51.100.7"); got != "198.51.100.7" {
		t.Errorf("behind the load balancer: client %q", got)
	}
	if got := client(xff, "10.0.0.9:4000", "X-Forwarded-For", "198.51.100.7"); got != "10.0.0.9" {
		t.Errorf("from an untrusted peer: client %q, want the peer", got)
	}
	fwd := &Server{Name: "gw", TrustedProxies: lb, ForwardedHeader: true}
	if got := client(fwd, "192.0.2.9:4000", "Forwarded", `for="198.51.100.8"`, "X-Forwarded-For", "6.6.6.6"); got != "198.51.100.8" {
		t.Errorf("Forwarded: client %q", got)
	}
}
