package mediamesh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"

	"github.com/mediamesh/mediamesh/internal/authn"
	"github.com/mediamesh/mediamesh/internal/gateway"
	"github.com/mediamesh/mediamesh/internal/httpserver"
	"github.com/mediamesh/mediamesh/services/auth"
	"github.com/mediamesh/mediamesh/services/cms"
	"github.com/mediamesh/mediamesh/services/discovery"
	"github.com/mediamesh/mediamesh/services/gateway/cmsadmin"
	"github.com/mediamesh/mediamesh/services/gateway/public"
	"github.com/mediamesh/mediamesh/services/ingest"
	"github.com/mediamesh/mediamesh/services/media"
	"github.com/mediamesh/mediamesh/services/metadata"
	"github.com/mediamesh/mediamesh/services/search"
)

// service is what the composition root needs of a service.
type service interface {
	Handler(log *slog.Logger, v authn.Verifier) (http.Handler, error)
}

// newService builds service name. This map is the one place that knows every service.
func newService(name string) (service, error) {
	switch name {
	case ServiceAuth:
		return auth.New(), nil
	case ServiceCMS:
		return cms.New(), nil
	case ServiceMetadata:
		return metadata.New(), nil
	case ServiceMedia:
		return media.New(), nil
	case ServiceIngest:
		return ingest.New(), nil
	case ServiceDiscovery:
		return discovery.New(), nil
	case ServiceSearch:
		return search.New(), nil
	}
	return nil, fmt.Errorf("unknown service %q", name)
}

// Run builds the modules of cfg's plan and serves them until ctx ends or one of them fails. The
// URLs of what it serves are printed to out once every listener is bound.
func Run(ctx context.Context, cfg Config, log *slog.Logger, out io.Writer) error {
	plan, err := cfg.Plan()
	if err != nil {
		return err
	}
	// Token verification arrives with the auth service's JWKS; until then no verifier is configured
	// and secured operations answer 401.
	var verifier authn.Verifier

	handlers := map[string]http.Handler{}
	for _, name := range plan.InProcess {
		svc, err := newService(name)
		if err != nil {
			return err
		}
		h, err := svc.Handler(log.With("service", name), verifier)
		if err != nil {
			return fmt.Errorf("service %s: %w", name, err)
		}
		handlers[name] = h
	}
	var servers []*httpserver.Server
	var banner []string
	for _, g := range plan.Gateways {
		glog := log.With("gateway", g)
		upstreams := map[string]http.Handler{}
		var remoteChecks []string
		for _, s := range fronts[g] {
			if h, ok := handlers[s]; ok {
				upstreams[s] = h
				continue
			}
			h, err := gateway.Remote(s, plan.Remote[s], glog)
			if err != nil {
				return err
			}
			upstreams[s] = h
			remoteChecks = append(remoteChecks, s)
		}
		var h http.Handler
		var addr string
		switch g {
		case GatewayDiscovery:
			h, err = public.New(public.Deps{Upstreams: upstreams, Verifier: verifier, Log: glog})
			addr = cfg.Gateway.DiscoveryAddr
		case GatewayCMS:
			h, err = cmsadmin.New(cmsadmin.Deps{Upstreams: upstreams, Verifier: verifier, Log: glog})
			addr = cfg.Gateway.CMSAddr
		}
		if err != nil {
			return err
		}
		srv := &httpserver.Server{Name: g, Addr: addr, Handler: h, Log: glog, ShutdownTimeout: cfg.ShutdownTimeout}
		for _, s := range remoteChecks {
			srv.AddReadinessCheck(s, gateway.HealthCheck(plan.Remote[s]))
		}
		servers = append(servers, srv)
	}
	for _, s := range plan.Listening {
		servers = append(servers, &httpserver.Server{Name: s, Addr: cfg.Services.Endpoint(s).Addr, Handler: handlers[s], Log: log.With("service", s), ShutdownTimeout: cfg.ShutdownTimeout})
	}

	listeners := make([]net.Listener, len(servers))
	for i, srv := range servers {
		ln, err := srv.Listen()
		if err != nil {
			for _, l := range listeners[:i] {
				l.Close()
			}
			return err
		}
		listeners[i] = ln
		base := "http://" + displayAddr(ln.Addr())
		switch srv.Name {
		case GatewayDiscovery:
			banner = append(banner, fmt.Sprintf("discovery gateway  %s  docs %s/docs  openapi %s/openapi.json  graphql %s/graphql", base, base, base, base))
		case GatewayCMS:
			banner = append(banner, fmt.Sprintf("cms gateway        %s  docs %s/docs  openapi %s/openapi.json", base, base, base))
		default:
			banner = append(banner, fmt.Sprintf("%-18s %s  health %s/healthz", srv.Name+" service", base, base))
		}
	}
	fmt.Fprintln(out, "MediaMesh is running:")
	for _, b := range banner {
		fmt.Fprintln(out, "  "+b)
	}
	log.Info("started", "targets", cfg.Target, "in_process", plan.InProcess, "gateways", plan.Gateways)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, len(servers))
	for i, srv := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Serve(ctx, listeners[i]); err != nil {
				errs[i] = err
				cancel() // one module failing stops the process
			}
		}()
	}
	wg.Wait()
	log.Info("stopped")
	return errors.Join(errs...)
}

func displayAddr(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}
