package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mediamesh/mediamesh/internal/apierror"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"

	"github.com/mediamesh/mediamesh/internal/httpclient"
	"github.com/mediamesh/mediamesh/internal/httpserver"
)

// RemoteOption configures Remote.
type RemoteOption func(*httpclient.Config)

// WithRegisterer exports the circuit breaker metrics of the remote service to reg.
func WithRegisterer(reg prometheus.Registerer) RemoteOption {
	return func(c *httpclient.Config) { c.Registerer = reg }
}

// WithBreaker sets the circuit breaker of the remote service: it opens after threshold failures in
// a row and lets trial requests through after delay (zero values keep httpclient's defaults).
func WithBreaker(delay time.Duration, threshold uint) RemoteOption {
	return func(c *httpclient.Config) { c.BreakerDelay, c.FailureThreshold = delay, threshold }
}

// WithClientConfig replaces the resilience settings (timeouts, retries, breaker, bulkhead; see
// httpclient.Config) of the remote service. Options after it still apply.
func WithClientConfig(cfg httpclient.Config) RemoteOption {
	return func(c *httpclient.Config) {
		reg, log := c.Registerer, c.Log
		*c = cfg
		if c.Registerer == nil {
			c.Registerer = reg
		}
		if c.Log == nil {
			c.Log = log
		}
	}
}

// Remote forwards requests to a service in another process, through an httpclient.Transport:
// per-attempt timeout, retries of idempotent requests, a circuit breaker and a bulkhead for the
// service. A service that cannot be reached answers 503 with Retry-After; while its breaker is open
// (or too many requests are in flight) the gateway answers that 503 at once, without trying it.
func Remote(service, baseURL string, log *slog.Logger, opts ...RemoteOption) (http.Handler, error) {
	u, err := url.Parse(baseURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("service %s: bad URL %q", service, baseURL)
	}
	cfg := httpclient.Config{Log: log}
	for _, o := range opts {
		o(&cfg)
	}
	transport, err := httpclient.New(service, cfg)
	if err != nil {
		return nil, err
	}
	rp := &httputil.ReverseProxy{
		// The service echoes the request id the gateway forwarded; the gateway has set it already.
		ModifyResponse: func(resp *http.Response) error {
			resp.Header.Del("X-Request-Id")
			return nil
		},
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.SetXForwarded()
			// The service learns the client the gateway found (through trusted proxies only), not
			// what a client wrote in its own X-Forwarded-For.
			if client := httpserver.ClientFrom(pr.In.Context()); client != "" {
				pr.Out.Header.Set("X-Forwarded-For", client)
			}
			pr.Out.Host = pr.In.Host
		},
		Transport: otelhttp.NewTransport(transport), // the service's spans join the gateway's trace
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if errors.Is(err, context.Canceled) {
				w.WriteHeader(httpserver.StatusClientClosedRequest) // the client went away: recorded, not sent
				return
			}
			var rejected *httpclient.RejectedError
			if errors.As(err, &rejected) {
				// Breaker transitions are logged by httpclient; one line per refused request would flood.
				log.DebugContext(r.Context(), "upstream refused by policy", "service", service, "error", err)
				detail := "the " + service + " service is unavailable"
				if errors.Is(err, httpclient.ErrBulkheadFull) {
					detail = "the " + service + " service is busy"
				}
				apierror.Write(w, r, apierror.Unavailable(detail, rejected.RetryAfter))
				return
			}
			log.WarnContext(r.Context(), "upstream unavailable", "service", service, "error", err)
			apierror.Write(w, r, apierror.Unavailable("the "+service+" service is unavailable", 5*time.Second))
		},
	}
	return rp, nil
}

// HealthCheck returns a readiness check that asks the remote service's /readyz.
func HealthCheck(baseURL string) func(ctx context.Context) error {
	client := &http.Client{Timeout: 2 * time.Second}
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+"/readyz", nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("readyz answered %d", resp.StatusCode)
		}
		return nil
	}
}
