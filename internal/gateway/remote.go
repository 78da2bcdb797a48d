package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"

	"github.com/mediamesh/mediamesh/internal/apierror"
)

// Remote forwards requests to a service in another process. A service that cannot be reached
// answers 503 with Retry-After; the gateway does not hang on it.
func Remote(service, baseURL string, log *slog.Logger) (http.Handler, error) {
	u, err := url.Parse(baseURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("service %s: bad URL %q", service, baseURL)
	}
	transport := &http.Transport{
		Proxy:                 nil, // services are reached directly
		DialContext:           (&net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.SetXForwarded()
			pr.Out.Host = pr.In.Host
		},
		Transport: transport,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if errors.Is(err, context.Canceled) {
				return // the client went away
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
