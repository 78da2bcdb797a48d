package gateway

import (
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mediamesh/mediamesh/internal/httpclient"
)

// remoteTestConfig keeps every wait of the policies short.
func remoteTestConfig() httpclient.Config {
	return httpclient.Config{
		Timeout:          2 * time.Second,
		BackoffBase:      time.Millisecond,
		BackoffMax:       5 * time.Millisecond,
		FailureThreshold: 3,
		BreakerDelay:     200 * time.Millisecond,
	}
}

// remoteCounter is a service that answers status (200 by default) and counts the requests it sees.
type remoteCounter struct {
	hits   atomic.Int64
	status atomic.Int64
}

func (c *remoteCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.hits.Add(1)
	_, _ = io.Copy(io.Discard, r.Body)
	status := int(c.status.Load())
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, `{"ok":true}`)
}

func remoteQuietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func remoteServe(h http.Handler, method, target, body string) *httptest.ResponseRecorder {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, r))
	return rec
}

// remoteMetric reads mediamesh_breaker_state or a transition counter from reg.
func remoteMetric(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	samples:
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if v, ok := labels[l.GetName()]; ok && v != l.GetValue() {
					continue samples
				}
			}
			if m.GetGauge() != nil {
				return m.GetGauge().GetValue()
			}
			return m.GetCounter().GetValue()
		}
	}
	t.Fatalf("%s%v is not exported", name, labels)
	return 0
}

// remoteEventually polls cond for at most 10 seconds.
func remoteEventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestRemoteRetriesIdempotentRequestsOnly(t *testing.T) {
	svc := &remoteCounter{}
	up := httptest.NewServer(svc)
	defer up.Close()
	cfg := remoteTestConfig()
	cfg.FailureThreshold = 100 // this test is about retries, not the breaker
	h, err := Remote("things", up.URL, remoteQuietLog(), WithClientConfig(cfg))
	if err != nil {
		t.Fatal(err)
	}
	svc.status.Store(503)
	if rec := remoteServe(h, "GET", "/api/v1/things", ""); rec.Code != 503 || svc.hits.Load() != 3 {
		t.Fatalf("GET: %d after %d attempts, want the service's 503 after 3", rec.Code, svc.hits.Load())
	}
	svc.hits.Store(0)
	if rec := remoteServe(h, "POST", "/api/v1/things", `{"title":"a"}`); rec.Code != 503 || svc.hits.Load() != 1 {
		t.Fatalf("POST: %d after %d attempts, want one attempt", rec.Code, svc.hits.Load())
	}
	svc.hits.Store(0)
	// A body the gateway streams through cannot be read twice: no retry even for PUT.
	if rec := remoteServe(h, "PUT", "/api/v1/things/1", `{"title":"a"}`); rec.Code != 503 || svc.hits.Load() != 1 {
		t.Fatalf("PUT: %d after %d attempts, want one attempt", rec.Code, svc.hits.Load())
	}
}

func TestRemoteBreakerOpensFailsFastAndRecovers(t *testing.T) {
	svc := &remoteCounter{}
	svc.status.Store(500)
	up := httptest.NewServer(svc)
	defer up.Close()
	reg := prometheus.NewRegistry()
	h, err := Remote("things", up.URL, remoteQuietLog(), WithClientConfig(remoteTestConfig()), WithRegisterer(reg))
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if rec := remoteServe(h, "GET", "/api/v1/things", ""); rec.Code != 500 {
			t.Fatalf("the service's own answer passes through: %d", rec.Code)
		}
	}
	if v := remoteMetric(t, reg, "mediamesh_breaker_state", map[string]string{"downstream": "things"}); v != 2 {
		t.Fatalf("breaker gauge %v after 3 failures, want 2 (open)", v)
	}
	for range 20 {
		rec := remoteServe(h, "GET", "/api/v1/things", "")
		var p struct {
			Status int    `json:"status"`
			Type   string `json:"type"`
			Detail string `json:"detail"`
		}
		_ = json.Unmarshal(rec.Body.Bytes(), &p)
		if rec.Code != 503 || rec.Header().Get("Retry-After") != "1" || p.Status != 503 ||
			!strings.HasSuffix(p.Type, "/unavailable") || !strings.Contains(p.Detail, "things") ||
			rec.Header().Get("Content-Type") != "application/problem+json" {
			t.Fatalf("open breaker: %d Retry-After %q %s", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
		}
	}
	if svc.hits.Load() != 3 {
		t.Fatalf("the service was called %d times while the breaker was open", svc.hits.Load()-3)
	}

	svc.status.Store(200)
	remoteEventually(t, "the breaker to let a trial through", func() bool {
		return remoteServe(h, "GET", "/api/v1/things", "").Code == 200
	})
	if rec := remoteServe(h, "GET", "/api/v1/things", ""); rec.Code != 200 {
		t.Fatalf("%d", rec.Code)
	}
	if v := remoteMetric(t, reg, "mediamesh_breaker_state", map[string]string{"downstream": "things"}); v != 0 {
		t.Fatalf("breaker gauge %v after two successful trials, want 0 (closed)", v)
	}
	for _, to := range []string{"open", "half-open", "closed"} {
		if v := remoteMetric(t, reg, "mediamesh_breaker_transitions_total", map[string]string{"downstream": "things", "to": to}); v != 1 {
			t.Errorf("transitions to %s: %v, want 1", to, v)
		}
	}
}

func TestRemoteBulkheadFull(t *testing.T) {
	release := make(chan struct{})
	var inFlight atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inFlight.Add(1)
		<-release
	}))
	defer up.Close()
	cfg := remoteTestConfig()
	cfg.MaxConcurrent = 1
	h, err := Remote("things", up.URL, remoteQuietLog(), WithClientConfig(cfg))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan int)
	go func() { done <- remoteServe(h, "GET", "/api/v1/things", "").Code }()
	remoteEventually(t, "one request in flight", func() bool { return inFlight.Load() == 1 })
	rec := remoteServe(h, "GET", "/api/v1/things", "")
	if rec.Code != 503 || rec.Header().Get("Retry-After") != "1" || !strings.Contains(rec.Body.String(), "busy") {
		t.Fatalf("full bulkhead: %d Retry-After %q %s", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
	close(release)
	if code := <-done; code != 200 {
		t.Fatalf("the request within the limit: %d", code)
	}
	if inFlight.Load() != 1 {
		t.Fatal("the refused request reached the service")
	}
}

// remoteAttempts counts the attempts that the gateway sends to the network.
type remoteAttempts struct {
	n    atomic.Int64
	next http.RoundTripper
}

func (c *remoteAttempts) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.next.RoundTrip(r)
}

// TestRemoteServiceKilledMidLoad kills the service while clients keep calling it through the gateway,
// checks that the gateway then answers 503 with Retry-After without trying the dead service for each
// request, restarts the service on the same address, and checks that the same gateway serves again.
func TestRemoteServiceKilledMidLoad(t *testing.T) {
	svc := &remoteCounter{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	first := httptest.NewUnstartedServer(svc)
	first.Listener.Close()
	first.Listener = ln
	first.Start()

	reg := prometheus.NewRegistry()
	attempts := &remoteAttempts{next: httpclient.NewNetTransport()}
	cfg := remoteTestConfig()
	cfg.FailureThreshold = 5
	cfg.BreakerDelay = 300 * time.Millisecond
	cfg.Transport = attempts
	h, err := Remote("things", "http://"+addr, remoteQuietLog(), WithClientConfig(cfg), WithRegisterer(reg))
	if err != nil {
		t.Fatal(err)
	}
	breaker := func() float64 {
		return remoteMetric(t, reg, "mediamesh_breaker_state", map[string]string{"downstream": "things"})
	}

	// The load: clients that count the answers they get, by status.
	var ok, unavailable, other, noRetryAfter atomic.Int64
	// lateOK counts successes of requests sent after deadSince (UnixNano; 0 while the service runs).
	var lateOK, deadSince atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				began := time.Now().UnixNano()
				rec := remoteServe(h, "GET", "/api/v1/things", "")
				switch rec.Code {
				case 200:
					ok.Add(1)
					if d := deadSince.Load(); d != 0 && began > d {
						lateOK.Add(1)
					}
				case 503:
					unavailable.Add(1)
					if rec.Header().Get("Retry-After") == "" {
						noRetryAfter.Add(1)
					}
				default:
					other.Add(1)
				}
			}
		})
	}
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
	}()

	remoteEventually(t, "traffic to flow", func() bool { return ok.Load() >= 200 })

	// Kill the service mid-load.
	first.CloseClientConnections()
	first.Close()
	remoteEventually(t, "the breaker to open", func() bool { return breaker() == 2 })

	// While it is down: requests sent from now on get only 503s with Retry-After, and attempts on the
	// network stay few: the breaker answers, the dead service is only probed by a handful of trials
	// per BreakerDelay. (Requests sent before may still finish as 200s; they do not count.)
	deadSince.Store(time.Now().UnixNano())
	un0, att0 := unavailable.Load(), attempts.n.Load()
	remoteEventually(t, "2000 answers while down", func() bool { return unavailable.Load()-un0 >= 2000 })
	answered, tried := unavailable.Load()-un0, attempts.n.Load()-att0
	if n := lateOK.Load(); n != 0 {
		t.Fatalf("%d successes from a dead service", n)
	}
	if tried*10 > answered {
		t.Fatalf("%d network attempts for %d answers while the service was down: the gateway does not fail fast", tried, answered)
	}
	t.Logf("while down: %d answers (503), %d network attempts", answered, tried)

	// Bring the service back on the same address; the gateway is not restarted.
	var ln2 net.Listener
	remoteEventually(t, "the address to be free", func() bool {
		ln2, err = net.Listen("tcp", addr)
		return err == nil
	})
	second := httptest.NewUnstartedServer(svc)
	second.Listener.Close()
	second.Listener = ln2
	second.Start()
	defer second.Close()

	deadSince.Store(0)
	ok1 := ok.Load()
	remoteEventually(t, "the gateway to serve again", func() bool { return ok.Load()-ok1 >= 500 })
	remoteEventually(t, "the breaker to close", func() bool { return breaker() == 0 })
	close(stop)
	wg.Wait()

	if other.Load() != 0 || noRetryAfter.Load() != 0 {
		t.Fatalf("%d answers neither 200 nor 503, %d 503s without Retry-After", other.Load(), noRetryAfter.Load())
	}
	for _, to := range []string{"open", "closed"} {
		if v := remoteMetric(t, reg, "mediamesh_breaker_transitions_total", map[string]string{"downstream": "things", "to": to}); v < 1 {
			t.Errorf("no transition to %s exported", to)
		}
	}
}

func TestRemoteOptions(t *testing.T) {
	reg := prometheus.NewRegistry()
	var cfg httpclient.Config
	for _, o := range []RemoteOption{WithRegisterer(reg), WithClientConfig(httpclient.Config{MaxAttempts: 1})} {
		o(&cfg)
	}
	if cfg.Registerer != reg || cfg.MaxAttempts != 1 {
		t.Fatalf("WithClientConfig keeps the registerer given before it: %+v", cfg)
	}
	if _, err := Remote("things", "http://127.0.0.1:1", remoteQuietLog(), WithRegisterer(reg)); err != nil {
		t.Fatal(err)
	}
	if _, err := Remote("things", "http://127.0.0.1:1", remoteQuietLog(), WithRegisterer(reg)); err != nil {
		t.Fatalf("two gateways may front one service with one registry: %v", err)
	}
	if _, err := Remote("things", "::not a url", remoteQuietLog()); err == nil {
		t.Fatal("want an error for a bad URL")
	}
}

// TestRemoteBreakerHalfOpensWithinSeconds uses the default policies: once the service is back, its
// breaker lets trial requests through and traffic flows again within a few seconds (issue 19: it
// took 11.5 s), and every refused request said when to retry.
func TestRemoteBreakerHalfOpensWithinSeconds(t *testing.T) {
	svc := &remoteCounter{}
	svc.status.Store(500)
	up := httptest.NewServer(svc)
	defer up.Close()
	h, err := Remote("things", up.URL, remoteQuietLog())
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		rec := remoteServe(h, "GET", "/api/v1/things", "")
		if rec.Code == 503 {
			if rec.Header().Get("Retry-After") == "" {
				t.Fatal("503 without Retry-After")
			}
			break // the breaker is open
		}
		if i > 20 {
			t.Fatal("the breaker never opened")
		}
	}
	svc.status.Store(200)
	back := time.Now()
	for remoteServe(h, "GET", "/api/v1/things", "").Code != 200 {
		if time.Since(back) > 4*time.Second {
			t.Fatalf("the service is back for %s and the gateway still refuses it", time.Since(back))
		}
		time.Sleep(20 * time.Millisecond)
	}
	took := time.Since(back)
	t.Logf("first 200 %s after the service came back (breaker delay %s)", took.Round(time.Millisecond), httpclient.DefaultBreakerDelay)
	if took > httpclient.DefaultBreakerDelay+500*time.Millisecond {
		t.Fatalf("half-open after %s, want within the %s breaker delay", took, httpclient.DefaultBreakerDelay)
	}
}
