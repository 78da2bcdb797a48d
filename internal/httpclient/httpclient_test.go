package httpclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/failsafe-go/failsafe-go/timeout"
	"github.com/prometheus/client_golang/prometheus"
)

// fastConfig keeps every wait of the policies short, for tests.
func fastConfig() Config {
	return Config{
		Timeout:       2 * time.Second,
		BackoffBase:   time.Millisecond,
		BackoffMax:    5 * time.Millisecond,
		MaxRetryAfter: 1500 * time.Millisecond,
		BreakerDelay:  100 * time.Millisecond,
		Log:           slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

// upstream answers with the statuses of script in turn, then with the last one for ever, and counts
// the requests it saw with their bodies.
type upstream struct {
	mu       sync.Mutex
	script   []int
	header   http.Header // added to every answer
	hits     int
	bodies   []string
	hitTimes []time.Time
}

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	u.mu.Lock()
	status := u.script[min(u.hits, len(u.script)-1)]
	u.hits++
	u.bodies = append(u.bodies, string(body))
	u.hitTimes = append(u.hitTimes, time.Now())
	for k, v := range u.header {
		w.Header()[k] = v
	}
	u.mu.Unlock()
	w.WriteHeader(status)
	_, _ = io.WriteString(w, http.StatusText(status))
}

func (u *upstream) setScript(statuses ...int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.script, u.hits = statuses, 0
}

func (u *upstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.hits
}

func newUpstream(t *testing.T, statuses ...int) (*upstream, string) {
	t.Helper()
	u := &upstream{script: statuses}
	srv := httptest.NewServer(u)
	t.Cleanup(srv.Close)
	return u, srv.URL
}

func newTransport(t *testing.T, cfg Config) *Transport {
	t.Helper()
	tr, err := New("things", cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func do(t *testing.T, tr http.RoundTripper, method, url string, body io.Reader) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := tr.RoundTrip(req)
	if err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	return resp, err
}

func mustStatus(t *testing.T, resp *http.Response, err error, want int) {
	t.Helper()
	if err != nil {
		t.Fatalf("want %d, got error %v", want, err)
	}
	if resp.StatusCode != want {
		t.Fatalf("status %d, want %d", resp.StatusCode, want)
	}
}

func TestRetriesIdempotentRequestsOnly(t *testing.T) {
	for _, tc := range []struct {
		method    string
		wantCode  int
		wantCalls int
	}{
		{http.MethodGet, 200, 3},
		{http.MethodHead, 200, 3},
		{http.MethodOptions, 200, 3},
		{http.MethodDelete, 200, 3},
		{http.MethodPost, 503, 1},
		{http.MethodPatch, 503, 1},
	} {
		t.Run(tc.method, func(t *testing.T) {
			up, url := newUpstream(t, 503, 503, 200)
			resp, err := do(t, newTransport(t, fastConfig()), tc.method, url, nil)
			mustStatus(t, resp, err, tc.wantCode)
			if up.count() != tc.wantCalls {
				t.Fatalf("upstream called %d times, want %d", up.count(), tc.wantCalls)
			}
		})
	}
}

func TestRetriesOnlyRetryableStatuses(t *testing.T) {
	for _, tc := range []struct {
		status    int
		wantCalls int
	}{
		{502, 2}, {503, 2}, {504, 2}, {500, 1}, {501, 1}, {404, 1}, {409, 1}, {429, 1},
	} {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			up, url := newUpstream(t, tc.status, 200)
			resp, err := do(t, newTransport(t, fastConfig()), http.MethodGet, url, nil)
			if err != nil {
				t.Fatal(err)
			}
			if up.count() != tc.wantCalls {
				t.Fatalf("upstream called %d times, want %d (last status %d)", up.count(), tc.wantCalls, resp.StatusCode)
			}
		})
	}
}

func TestGivesUpAfterMaxAttemptsWithTheLastAnswer(t *testing.T) {
	up, url := newUpstream(t, 503)
	cfg := fastConfig()
	cfg.MaxAttempts = 4
	resp, err := do(t, newTransport(t, cfg), http.MethodGet, url, nil)
	mustStatus(t, resp, err, 503)
	if up.count() != 4 {
		t.Fatalf("upstream called %d times, want 4", up.count())
	}
}

// onlyReader hides every method but Read, so nothing can rewind it.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

func TestReplaysABodyOnlyWhenItCanBeReadAgain(t *testing.T) {
	t.Run("replayable", func(t *testing.T) {
		up, url := newUpstream(t, 503, 200)
		resp, err := do(t, newTransport(t, fastConfig()), http.MethodPut, url, strings.NewReader(`{"a":1}`)) // GetBody set
		mustStatus(t, resp, err, 200)
		if up.count() != 2 || up.bodies[0] != `{"a":1}` || up.bodies[1] != `{"a":1}` {
			t.Fatalf("hits %d, bodies %q", up.count(), up.bodies)
		}
	})
	t.Run("stream", func(t *testing.T) {
		up, url := newUpstream(t, 503, 200)
		resp, err := do(t, newTransport(t, fastConfig()), http.MethodPut, url, onlyReader{strings.NewReader(`{"a":1}`)}) // no GetBody
		mustStatus(t, resp, err, 503)
		if up.count() != 1 || up.bodies[0] != `{"a":1}` {
			t.Fatalf("hits %d, bodies %q", up.count(), up.bodies)
		}
	})
}

func TestHonoursRetryAfter(t *testing.T) {
	up, url := newUpstream(t, 503, 200)
	up.header = http.Header{"Retry-After": {"1"}}
	resp, err := do(t, newTransport(t, fastConfig()), http.MethodGet, url, nil)
	mustStatus(t, resp, err, 200)
	if up.count() != 2 {
		t.Fatalf("upstream called %d times, want 2", up.count())
	}
	// The backoff alone would wait at most 5ms; the retry waited for the second asked.
	if gap := up.hitTimes[1].Sub(up.hitTimes[0]); gap < 900*time.Millisecond {
		t.Fatalf("retried after %s despite Retry-After: 1", gap)
	}
}

func TestDoesNotWaitForALongRetryAfter(t *testing.T) {
	up, url := newUpstream(t, 503, 200)
	up.header = http.Header{"Retry-After": {"120"}}
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	resp, err := newTransport(t, fastConfig()).RoundTrip(req)
	mustStatus(t, resp, err, 503)
	resp.Body.Close()
	if up.count() != 1 || resp.Header.Get("Retry-After") != "120" {
		t.Fatalf("hits %d, Retry-After %q: the caller must get the service's answer", up.count(), resp.Header.Get("Retry-After"))
	}
}

func TestRetryAfterParsing(t *testing.T) {
	at := time.Now().Add(3 * time.Second).UTC().Format(http.TimeFormat)
	for _, tc := range []struct {
		status int
		value  string
		ok     bool
		min    time.Duration
		max    time.Duration
	}{
		{503, "2", true, 2 * time.Second, 2 * time.Second},
		{503, "0", true, 0, 0},
		{503, at, true, time.Second, 3 * time.Second},
		{503, "", false, 0, 0},
		{503, "soon", false, 0, 0},
		{503, "-1", false, 0, 0},
		{200, "2", false, 0, 0},
	} {
		resp := &http.Response{StatusCode: tc.status, Header: http.Header{}}
		if tc.value != "" {
			resp.Header.Set("Retry-After", tc.value)
		}
		d, ok := retryAfter(resp)
		if ok != tc.ok || d < tc.min || d > tc.max {
			t.Errorf("%d %q: %s %v", tc.status, tc.value, d, ok)
		}
	}
}

// countingTransport counts the attempts that reach the network.
type countingTransport struct {
	n    atomic.Int64
	next http.RoundTripper
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.next.RoundTrip(r)
}

func TestRetriesConnectionErrorsOfIdempotentRequests(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	url := dead.URL
	dead.Close()
	for _, tc := range []struct {
		method string
		want   int64
	}{{http.MethodGet, 3}, {http.MethodPost, 1}} {
		counter := &countingTransport{next: NewNetTransport()}
		cfg := fastConfig()
		cfg.Transport = counter
		_, err := do(t, newTransport(t, cfg), tc.method, url, nil)
		if err == nil {
			t.Fatalf("%s: want a connection error", tc.method)
		}
		var rejected *RejectedError
		if errors.As(err, &rejected) {
			t.Fatalf("%s: a connection error is not a refusal: %v", tc.method, err)
		}
		if counter.n.Load() != tc.want {
			t.Fatalf("%s: %d attempts, want %d", tc.method, counter.n.Load(), tc.want)
		}
	}
}

func TestTimeoutPerAttempt(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		<-r.Context().Done()
	}))
	defer srv.Close()
	cfg := fastConfig()
	cfg.Timeout = 50 * time.Millisecond
	cfg.FailureThreshold = 1
	cfg.BreakerDelay = time.Minute
	tr := newTransport(t, cfg)
	_, err := do(t, tr, http.MethodGet, srv.URL, nil)
	if !errors.Is(err, timeout.ErrExceeded) {
		t.Fatalf("err = %v, want a timeout", err)
	}
	if hits.Load() != 1 {
		t.Fatalf("a timed out attempt is not retried: %d hits", hits.Load())
	}
	if tr.BreakerState() != BreakerOpen {
		t.Fatalf("a timeout counts as a failure: breaker %s", tr.BreakerState())
	}
}

// logLines collects JSON log records.
type logLines struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logLines) transitions() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(l.buf.String()), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == "circuit breaker transition" {
			out = append(out, rec["downstream"].(string)+":"+rec["from"].(string)+">"+rec["to"].(string))
		}
	}
	return out
}

// metric returns the value of the sample of family name whose labels include labels.
func metric(t *testing.T, g prometheus.Gatherer, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	families, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	samples:
		for _, m := range f.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue samples
				}
			}
			if m.GetGauge() != nil {
				return m.GetGauge().GetValue(), true
			}
			return m.GetCounter().GetValue(), true
		}
	}
	return 0, false
}

// eventually polls cond every few milliseconds for at most 5 seconds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestBreakerOpensFailsFastHalfOpensAndCloses(t *testing.T) {
	up, url := newUpstream(t, 500)
	reg := prometheus.NewRegistry()
	logs := &logLines{}
	cfg := fastConfig()
	cfg.FailureThreshold, cfg.SuccessThreshold = 3, 2
	cfg.BreakerDelay = 200 * time.Millisecond
	cfg.Registerer = reg
	cfg.Log = slog.New(slog.NewJSONHandler(logs, nil))
	tr := newTransport(t, cfg)

	state := func() float64 {
		v, ok := metric(t, reg, "mediamesh_breaker_state", map[string]string{"downstream": "things"})
		if !ok {
			t.Fatal("mediamesh_breaker_state{downstream=things} is not exported")
		}
		return v
	}
	if state() != 0 {
		t.Fatalf("a new breaker is closed")
	}
	for range 3 {
		resp, err := do(t, tr, http.MethodGet, url, nil)
		mustStatus(t, resp, err, 500)
	}
	if tr.BreakerState() != BreakerOpen || state() != 2 {
		t.Fatalf("breaker %s (gauge %v) after 3 failures, want open", tr.BreakerState(), state())
	}

	// Open: refused at once, the upstream is not called, the error says how long to wait.
	for range 10 {
		_, err := do(t, tr, http.MethodGet, url, nil)
		var rejected *RejectedError
		if !errors.As(err, &rejected) || !errors.Is(err, ErrBreakerOpen) || rejected.Downstream != "things" || rejected.RetryAfter < time.Second {
			t.Fatalf("err = %#v", err)
		}
	}
	if up.count() != 3 {
		t.Fatalf("upstream called %d times while the breaker was open", up.count()-3)
	}

	// After the delay a trial request goes through; two successes close the breaker.
	up.setScript(200)
	eventually(t, "a trial request", func() bool {
		resp, err := do(t, tr, http.MethodGet, url, nil)
		return err == nil && resp.StatusCode == 200
	})
	if tr.BreakerState() != BreakerHalfOpen || state() != 1 {
		t.Fatalf("breaker %s after one trial success, want half-open", tr.BreakerState())
	}
	resp, err := do(t, tr, http.MethodGet, url, nil)
	mustStatus(t, resp, err, 200)
	if tr.BreakerState() != BreakerClosed || state() != 0 {
		t.Fatalf("breaker %s after two trial successes, want closed", tr.BreakerState())
	}

	want := []string{"things:closed>open", "things:open>half-open", "things:half-open>closed"}
	if got := logs.transitions(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("logged transitions %q, want %q", got, want)
	}
	for to, n := range map[string]float64{"open": 1, "half-open": 1, "closed": 1} {
		if v, ok := metric(t, reg, "mediamesh_breaker_transitions_total", map[string]string{"downstream": "things", "to": to}); !ok || v != n {
			t.Errorf("transitions to %s = %v (%v), want %v", to, v, ok, n)
		}
	}
}

func TestHalfOpenBreakerReopensOnFailure(t *testing.T) {
	up, url := newUpstream(t, 503)
	cfg := fastConfig()
	cfg.FailureThreshold, cfg.MaxAttempts = 2, 1
	tr := newTransport(t, cfg)
	for range 2 {
		_, _ = do(t, tr, http.MethodGet, url, nil)
	}
	if tr.BreakerState() != BreakerOpen {
		t.Fatalf("breaker %s, want open", tr.BreakerState())
	}
	eventually(t, "a trial request", func() bool {
		_, err := do(t, tr, http.MethodGet, url, nil)
		return err == nil
	})
	if tr.BreakerState() != BreakerOpen || up.count() != 3 {
		t.Fatalf("breaker %s after a failed trial (hits %d), want open", tr.BreakerState(), up.count())
	}
}

func TestClientErrorsDoNotOpenTheBreaker(t *testing.T) {
	up, url := newUpstream(t, 404, 400, 409, 422, 429, 501)
	cfg := fastConfig()
	cfg.FailureThreshold = 2
	tr := newTransport(t, cfg)
	for range 10 {
		if _, err := do(t, tr, http.MethodGet, url, nil); err != nil {
			t.Fatal(err)
		}
	}
	if tr.BreakerState() != BreakerClosed || up.count() != 10 {
		t.Fatalf("breaker %s after 4xx and 501 answers (hits %d)", tr.BreakerState(), up.count())
	}
}

// closeRecorder reports whether its Close was called.
type closeRecorder struct {
	io.Reader
	closed atomic.Bool
}

func (c *closeRecorder) Close() error { c.closed.Store(true); return nil }

func TestBulkheadRefusesBeyondTheLimit(t *testing.T) {
	release := make(chan struct{})
	var inFlight atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inFlight.Add(1)
		<-release
	}))
	defer srv.Close()
	cfg := fastConfig()
	cfg.MaxConcurrent = 2
	cfg.BulkheadRetryAfter = 3 * time.Second
	tr := newTransport(t, cfg)

	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			resp, err := do(t, tr, http.MethodGet, srv.URL, nil)
			if err != nil || resp.StatusCode != 200 {
				t.Errorf("a request within the limit failed: %v", err)
			}
		})
	}
	eventually(t, "two requests in flight", func() bool { return inFlight.Load() == 2 })

	body := &closeRecorder{Reader: strings.NewReader("x")}
	req, _ := http.NewRequest(http.MethodPost, srv.URL, body)
	_, err := tr.RoundTrip(req)
	var rejected *RejectedError
	if !errors.As(err, &rejected) || !errors.Is(err, ErrBulkheadFull) || rejected.RetryAfter != 3*time.Second {
		t.Fatalf("err = %v, want the bulkhead full", err)
	}
	if !body.closed.Load() {
		t.Fatal("the body of a refused request must be closed")
	}
	if inFlight.Load() != 2 {
		t.Fatal("a refused request reached the upstream")
	}
	close(release)
	wg.Wait()
	if tr.BreakerState() != BreakerClosed {
		t.Fatal("a full bulkhead is not a failure of the downstream")
	}
	resp, err := do(t, tr, http.MethodGet, srv.URL, nil)
	mustStatus(t, resp, err, 200)
}

func TestMetricsSharedByTransportsOfOneRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	cfg := fastConfig()
	cfg.Registerer = reg
	cfg.FailureThreshold, cfg.MaxAttempts = 1, 1
	up, url := newUpstream(t, 500)
	a, err := New("auth", cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New("auth", cfg); err != nil { // the other gateway's client of the same service
		t.Fatal(err)
	}
	if _, err := New("cms", cfg); err != nil {
		t.Fatal(err)
	}
	_, _ = do(t, a, http.MethodGet, url, nil)
	if up.count() != 1 || a.BreakerState() != BreakerOpen {
		t.Fatalf("breaker %s", a.BreakerState())
	}
	if v, _ := metric(t, reg, "mediamesh_breaker_state", map[string]string{"downstream": "auth"}); v != 2 {
		t.Fatalf("auth gauge %v: the most open breaker of a downstream wins", v)
	}
	if v, ok := metric(t, reg, "mediamesh_breaker_state", map[string]string{"downstream": "cms"}); !ok || v != 0 {
		t.Fatalf("cms gauge %v %v", v, ok)
	}
	if v, ok := metric(t, reg, "mediamesh_breaker_transitions_total", map[string]string{"downstream": "cms", "to": "open"}); !ok || v != 0 {
		t.Fatalf("transition counters start at zero: %v %v", v, ok)
	}
	if v, _ := metric(t, reg, "mediamesh_breaker_transitions_total", map[string]string{"downstream": "auth", "to": "open"}); v != 1 {
		t.Fatalf("auth transitions to open %v", v)
	}

	// A metric of the same name but another shape is a configuration error.
	clash := prometheus.NewRegistry()
	clash.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "mediamesh_breaker_state", Help: "x"}))
	cfg.Registerer = clash
	if _, err := New("auth", cfg); err == nil {
		t.Fatal("want an error for a clashing metric")
	}
}

func TestCallerCancellationIsNotRetriedNorAFailure(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		<-r.Context().Done()
	}))
	defer srv.Close()
	cfg := fastConfig()
	cfg.FailureThreshold = 1
	tr := newTransport(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	go func() {
		for hits.Load() == 0 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	if _, err := tr.RoundTrip(req); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if hits.Load() != 1 || tr.BreakerState() != BreakerClosed {
		t.Fatalf("hits %d, breaker %s", hits.Load(), tr.BreakerState())
	}
}

func TestClient(t *testing.T) {
	up, url := newUpstream(t, 503, 200)
	resp, err := newTransport(t, fastConfig()).Client().Get(url)
	mustStatus(t, resp, err, 200)
	resp.Body.Close()
	if up.count() != 2 {
		t.Fatalf("hits %d", up.count())
	}
}

func TestStreamsTheRequestBody(t *testing.T) {
	// The service answers after the first byte of the body; the rest is written only once it has
	// seen that byte, so a transport that read the whole body before sending would never finish.
	for _, method := range []string{http.MethodPost, http.MethodPut} {
		t.Run(method, func(t *testing.T) {
			gotFirst := make(chan struct{})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b := make([]byte, 1)
				if _, err := io.ReadFull(r.Body, b); err != nil {
					t.Errorf("first byte: %v", err)
				}
				close(gotFirst)
				rest, _ := io.ReadAll(r.Body)
				_, _ = io.WriteString(w, string(b)+string(rest))
			}))
			defer srv.Close()
			pr, pw := io.Pipe()
			go func() {
				_, _ = io.WriteString(pw, "a")
				select {
				case <-gotFirst:
					_, _ = io.WriteString(pw, "bc")
					_ = pw.Close()
				case <-time.After(5 * time.Second):
					_ = pw.CloseWithError(errors.New("the body was not streamed"))
				}
			}()
			req, _ := http.NewRequest(method, srv.URL, pr)
			resp, err := newTransport(t, fastConfig()).RoundTrip(req)
			mustStatus(t, resp, err, 200)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(body) != "abc" {
				t.Fatalf("body %q", body)
			}
		})
	}
}
