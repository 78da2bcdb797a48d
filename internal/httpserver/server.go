// Package httpserver runs the HTTP listeners of a mediamesh process: request ids, access logs, panic
// recovery, /healthz and /readyz, and graceful shutdown.
package httpserver

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/trace"

	"github.com/mediamesh/mediamesh/internal/apierror"
	"github.com/mediamesh/mediamesh/internal/authn"
	"github.com/mediamesh/mediamesh/internal/ratelimit"
)

// Server is one listener.
type Server struct {
	Name            string
	Addr            string
	Handler         http.Handler
	Log             *slog.Logger
	ShutdownTimeout time.Duration
	Metrics         http.Handler // served at /metrics when set
	RED             *Metrics     // request metrics; nil: none
	// BodyTimeout is how long a request may take to send a body that is not an upload (JSON,
	// forms): a client that trickles one cannot hold a connection for the uploads' five minutes.
	// 0 means DefaultBodyTimeout.
	BodyTimeout time.Duration
	// TrustedProxies are the networks whose forwarding header (X-Forwarded-For, or Forwarded with
	// ForwardedHeader) names the client (see ratelimit.ClientIP: the right-most address that is
	// not a trusted proxy); a header from any other peer is ignored. nil means InternalProxies (a
	// service, which only the gateways reach); a gateway facing clients sets its own list, empty
	// when clients connect directly.
	TrustedProxies []netip.Prefix
	// ForwardedHeader reads the standard Forwarded header instead of X-Forwarded-For.
	ForwardedHeader bool
	// Instance names the process in /readyz ("instance"), so a caller can tell that the process
	// answering is the one it started and not another one on the same port; empty: left out.
	Instance string

	mu     sync.Mutex
	checks map[string]check
	addr   net.Addr
}

// BoundAddr returns the address the server listens on once Run has started listening.
func (s *Server) BoundAddr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Listen binds the address; Serve then serves on it. Split so that callers can report the bound
// address (with port 0) before serving.
func (s *Server) Listen() (net.Listener, error) {
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return nil, fmt.Errorf("%s: listen on %s: %w", s.Name, s.Addr, err)
	}
	s.mu.Lock()
	s.addr = ln.Addr()
	s.mu.Unlock()
	return ln, nil
}

// Serve serves on ln until ctx is done, then shuts down gracefully.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.root(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       5 * time.Minute, // media uploads stream through here
		WriteTimeout:      5 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.Log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("%s: %w", s.Name, err)
	case <-ctx.Done():
	}
	timeout := s.ShutdownTimeout
	if timeout <= 0 {
		timeout = 15 * time.Second
	}
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("%s: shutdown: %w", s.Name, err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("%s: %w", s.Name, err)
	}
	return nil
}

func (s *Server) root() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "server": s.Name})
	})
	mux.HandleFunc("GET /readyz", s.ready)
	if s.Metrics != nil {
		mux.Handle("GET /metrics", s.Metrics)
	}
	mux.Handle("/", s.Handler)
	return bodyDeadline(s.BodyTimeout, otelhttp.NewHandler(requestID(s.Name, clientOf(s.TrustedProxies, s.ForwardedHeader), securityHeaders(retryAfterOn503(AccessLog(s.Log, s.RED, s.Name, Recover(s.Log, mux))))), s.Name,
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return s.Name + " " + r.Method }),
		otelhttp.WithFilter(func(r *http.Request) bool {
			return r.URL.Path != "/healthz" && r.URL.Path != "/readyz" && r.URL.Path != "/metrics"
		})))
}

// DefaultBodyTimeout is the BodyTimeout of a server that sets none.
const DefaultBodyTimeout = 10 * time.Second

// bodyDeadline gives a request with a body that is not an upload d (0: DefaultBodyTimeout) to send
// it; uploads (multipart bodies, NDJSON imports, and PUTs of the media store's pre-signed URLs
// under /media/) keep the server's read timeout.
func bodyDeadline(d time.Duration, next http.Handler) http.Handler {
	if d <= 0 {
		d = DefaultBodyTimeout
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ct := r.Header.Get("Content-Type")
		upload := strings.HasPrefix(ct, "multipart/") || strings.HasPrefix(ct, "application/x-ndjson") || strings.HasPrefix(r.URL.Path, "/media/")
		if r.ContentLength != 0 && !upload {
			_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(d))
		}
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// RequestIDHeader carries the correlation id, accepted from the client or generated.
const RequestIDHeader = "X-Request-ID"

var requestIDRE = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

type requestInfoKey struct{}

// requestInfo is what the layers of a request learn about it, for its log line and metrics.
type requestInfo struct {
	mu        sync.Mutex
	server    string
	id        string
	operation string
	user      string
	apiKey    string
}

func infoFrom(ctx context.Context) *requestInfo {
	info, _ := ctx.Value(requestInfoKey{}).(*requestInfo)
	return info
}

// RequestIDFrom returns the request's correlation id.
func RequestIDFrom(ctx context.Context) string {
	if info := infoFrom(ctx); info != nil {
		return info.id
	}
	return ""
}

// SetOperation names the operation a request is for, once it is routed; the first name set wins
// (the gateway's, when a service runs in the gateway's process).
func SetOperation(ctx context.Context, operationID string) {
	if info := infoFrom(ctx); info != nil {
		info.mu.Lock()
		first := info.operation == ""
		if first {
			info.operation = operationID
		}
		info.mu.Unlock()
		if first {
			trace.SpanFromContext(ctx).SetName(info.server + " " + operationID)
		}
	}
}

// InternalProxies are the networks a gateway in front of a service connects from: a service trusts
// the X-Forwarded-For they add (a service is not reachable from the internet).
var InternalProxies = []netip.Prefix{
	netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("172.16.0.0/12"), netip.MustParsePrefix("192.168.0.0/16"), netip.MustParsePrefix("fc00::/7"),
}

// WithClient returns ctx carrying addr as the address of the request's client (kept by authn,
// which checks an API key's allowed ranges against it).
func WithClient(ctx context.Context, addr string) context.Context {
	return authn.WithClient(ctx, addr)
}

// ClientFrom returns the address of the request's client (see WithClient), "" when unknown.
func ClientFrom(ctx context.Context) string { return authn.ClientFrom(ctx) }

// SetUser records the authenticated caller of a request.
func SetUser(ctx context.Context, userID string) {
	if info := infoFrom(ctx); info != nil {
		info.mu.Lock()
		info.user = userID
		info.mu.Unlock()
	}
}

// SetAPIKey records the API key the caller of a request authenticated with: the request's log
// line names it (api_key_id), so every use of a key is in the log of every process it reached.
func SetAPIKey(ctx context.Context, keyID string) {
	if info := infoFrom(ctx); info != nil {
		info.mu.Lock()
		info.apiKey = keyID
		info.mu.Unlock()
	}
}

func (i *requestInfo) snapshot() (operation, user, apiKey string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.operation, i.user, i.apiKey
}

// securityHeaders sets on every response what keeps browsers from misreading it or leaking where
// it came from: no MIME sniffing (a JSON or media response is never run as a script or page) and
// no Referer sent on from pages it serves.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		next.ServeHTTP(w, r)
	})
}

// DefaultRetryAfter is the Retry-After that retryAfterOn503 gives a 503 that has none, in seconds.
const DefaultRetryAfter = "1"

// retryAfterOn503 makes sure every 503 a server sends says when to retry: the Problems of
// internal/apierror carry their own Retry-After; any other 503 (a proxy's, a library's) gets
// DefaultRetryAfter.
func retryAfterOn503(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&retryAfterWriter{ResponseWriter: w}, r)
	})
}

type retryAfterWriter struct{ http.ResponseWriter }

func (w *retryAfterWriter) WriteHeader(code int) {
	if code == http.StatusServiceUnavailable && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", DefaultRetryAfter)
	}
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap returns the wrapped writer, for http.ResponseController.
func (w *retryAfterWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// RequestID accepts a well-formed X-Request-ID or generates one, and echoes it in the response.
func RequestID(next http.Handler) http.Handler { return requestID("", clientOf(nil, false), next) }

// clientOf returns how a server finds a request's client address (see Server.TrustedProxies).
func clientOf(trusted []netip.Prefix, forwarded bool) func(*http.Request) string {
	if trusted == nil {
		trusted = InternalProxies
	}
	if forwarded {
		return func(r *http.Request) string { return ratelimit.ForwardedClientIP(r, trusted) }
	}
	return func(r *http.Request) string { return ratelimit.ClientIP(r, trusted) }
}

func requestID(server string, client func(*http.Request) string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(RequestIDHeader)
		if !requestIDRE.MatchString(id) {
			var b [12]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
			r.Header.Set(RequestIDHeader, id)
		}
		w.Header().Set(RequestIDHeader, id)
		ctx := context.WithValue(r.Context(), requestInfoKey{}, &requestInfo{server: server, id: id})
		next.ServeHTTP(w, r.WithContext(WithClient(ctx, client(r))))
	})
}

// Recorder passes a response through and records its status and size, and, up to Keep bytes, a
// copy of its body (Overflow when the body was larger).
type Recorder struct {
	http.ResponseWriter
	Status   int
	Bytes    int64
	Keep     int
	Body     bytes.Buffer
	Overflow bool
}

// WriteHeader implements http.ResponseWriter.
func (r *Recorder) WriteHeader(code int) {
	if r.Status == 0 {
		r.Status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

// Write implements http.ResponseWriter.
func (r *Recorder) Write(b []byte) (int, error) {
	if r.Status == 0 {
		r.Status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.Bytes += int64(n)
	if r.Keep > 0 && !r.Overflow {
		if r.Body.Len()+n > r.Keep {
			r.Overflow = true
			r.Body.Reset()
		} else {
			r.Body.Write(b[:n])
		}
	}
	return n, err
}

// Unwrap returns the wrapped writer, for http.ResponseController.
func (r *Recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// AccessLog logs one JSON line per request, with its operation and caller once known, and records
// it in red (rate, errors, duration per operation) when red is not nil.
func AccessLog(log *slog.Logger, red *Metrics, server string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &Recorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" || r.URL.Path == "/metrics" {
			return
		}
		took := time.Since(start)
		operation, user, apiKey := "", "", ""
		if info := infoFrom(r.Context()); info != nil {
			operation, user, apiKey = info.snapshot()
		}
		red.observe(server, operation, rec.Status, took)
		level := slog.LevelInfo
		if rec.Status >= 500 && rec.Status != http.StatusNotImplemented {
			level = slog.LevelError
		}
		attrs := []slog.Attr{
			slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", rec.Status), slog.Int64("bytes", rec.Bytes),
			slog.Duration("duration", took),
			slog.String("request_id", RequestIDFrom(r.Context())),
			slog.String("remote", r.RemoteAddr),
		}
		if operation != "" {
			attrs = append(attrs, slog.String("operation", operation))
		}
		if user != "" {
			attrs = append(attrs, slog.String("user_id", user))
		}
		if apiKey != "" {
			attrs = append(attrs, slog.String("api_key_id", apiKey))
		}
		if sc := trace.SpanContextFromContext(r.Context()); sc.IsValid() {
			attrs = append(attrs, slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
		}
		log.LogAttrs(r.Context(), level, "http request", attrs...)
	})
}

// Metrics are the RED metrics of the HTTP servers of a process.
type Metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewMetrics registers mediamesh_http_requests_total{server,operation,code} and
// mediamesh_http_request_duration_seconds{server,operation} with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mediamesh_http_requests_total", Help: "HTTP requests by server, operation and status code."}, []string{"server", "operation", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "mediamesh_http_request_duration_seconds", Help: "HTTP request latency by server and operation.", Buckets: prometheus.DefBuckets}, []string{"server", "operation"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *Metrics) observe(server, operation string, status int, took time.Duration) {
	if m == nil {
		return
	}
	if operation == "" {
		operation = "none" // unrouted: 404, 405, docs
	}
	m.requests.WithLabelValues(server, operation, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(server, operation).Observe(took.Seconds())
}

// Recover turns a panic into a logged 500 Problem.
func Recover(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.ErrorContext(r.Context(), "panic", "panic", fmt.Sprint(v), "path", r.URL.Path)
				apierror.Write(w, r, apierror.Internal(fmt.Errorf("panic: %v", v)))
			}
		}()
		next.ServeHTTP(w, r)
	})
}
