package mediamesh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"

	"github.com/mediamesh/mediamesh/internal/authn"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/eventbus"
	"github.com/mediamesh/mediamesh/internal/gateway"
	"github.com/mediamesh/mediamesh/internal/httpserver"
	"github.com/mediamesh/mediamesh/internal/idempotency"
	"github.com/mediamesh/mediamesh/internal/outbox"
	"github.com/mediamesh/mediamesh/internal/policy"
	"github.com/mediamesh/mediamesh/internal/ratelimit"
	"github.com/mediamesh/mediamesh/internal/telemetry"
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

// platform holds what the services of one process share.
type platform struct {
	cfg     Config
	log     *slog.Logger
	limiter ratelimit.Limiter
	idem    idempotency.Store
	bus     eventbus.Publisher // nil: events stay in the outboxes (split mode without Kafka)
	dbs     map[string]*database.DB
	closers []func() error
}

// database opens the database of service name: its configured URL, or SQLite under data_dir.
func (p *platform) database(ctx context.Context, name string) (*database.DB, error) {
	url := p.cfg.Services.Endpoint(name).DatabaseURL
	if url == "" {
		url = "sqlite:" + filepath.Join(p.cfg.DataDir, name+".db")
	}
	db, err := database.Open(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("%s database: %w", name, err)
	}
	p.closers = append(p.closers, db.Close)
	p.dbs[name] = db
	return db, nil
}

// newService builds service name. This is the one place that knows every service.
func (p *platform) newService(ctx context.Context, name string) (service, error) {
	switch name {
	case ServiceAuth:
		db, err := p.database(ctx, name)
		if err != nil {
			return nil, err
		}
		a := p.cfg.Auth
		rate, err := policy.ParseRate(a.LoginRate)
		if err != nil {
			return nil, err
		}
		return auth.New(ctx, auth.Config{
			Issuer: a.Issuer, Audience: a.Audience, AccessTTL: a.AccessTTL, RefreshTTL: a.RefreshTTL, KeyRotation: a.KeyRotation,
			SignupEnabled: a.SignupEnabled, AdminEmail: a.AdminEmail, AdminPassword: a.AdminPassword, HashConcurrency: a.HashConcurrency,
			LoginLimit: ratelimit.Limit{Rate: rate.Rate, Per: rate.Per, Burst: a.LoginBurst},
		}, auth.Deps{DB: db, Limiter: p.limiter, Log: p.log.With("service", name)})
	case ServiceCMS:
		return cms.New(), nil
	case ServiceMetadata:
		return metadata.New(metadata.Config{Languages: p.cfg.Metadata.Languages})
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

// newShared sets up the rate limiter and the idempotency records: in Redis when redis.url is set,
// shared by every process, else in memory.
func (p *platform) newShared() error {
	if p.cfg.Redis.URL == "" {
		p.limiter, p.idem = ratelimit.NewMemory(), idempotency.NewMemory()
		return nil
	}
	opts, err := redis.ParseURL(p.cfg.Redis.URL)
	if err != nil {
		return fmt.Errorf("redis.url: %w", err)
	}
	// Fail fast when Redis is down: the failure policy decides, requests must not wait on retries.
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout = 500*time.Millisecond, 500*time.Millisecond, 500*time.Millisecond
	opts.MaxRetries, opts.DialerRetries = -1, 1
	redis.SetLogger(redisLog{p.log})
	client := redis.NewClient(opts)
	p.closers = append(p.closers, client.Close)
	p.limiter = ratelimit.WithFailurePolicy(ratelimit.NewRedis(client), p.cfg.Redis.FailOpen, func(err error) {
		p.log.Warn("rate limiter unavailable", "error", err, "fail_open", p.cfg.Redis.FailOpen)
	})
	p.idem = idempotency.NewRedis(client)
	return nil
}

// newBus picks the event transport: Kafka when brokers are configured, else in-process delivery
// when this process runs everything. A split process without Kafka has no transport: its events
// wait in its outbox (Validate refuses that for event consumers).
func (p *platform) newBus(ctx context.Context, plan *Plan) eventbus.Publisher {
	if brokers := p.cfg.Kafka.Brokers; len(brokers) > 0 {
		opts := []eventbus.KafkaOption{eventbus.WithKafkaLogger(p.log), eventbus.WithKafkaTopicPartitions(p.cfg.Kafka.Partitions)}
		tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		topics := []string{eventbus.TopicContent, eventbus.TopicIngest, eventbus.TopicDiscovery, eventbus.TopicAuth}
		if err := eventbus.EnsureTopics(tctx, brokers, topics, p.cfg.Kafka.Partitions, opts...); err != nil {
			// Kafka may be down: writes go on and the relays publish when it is back.
			p.log.Warn("could not create the Kafka topics now; the relays retry", "error", err)
		}
		pub := eventbus.NewKafkaPublisher(brokers, opts...)
		p.closers = append(p.closers, pub.Close)
		return pub
	}
	if contains(p.cfg.Target, TargetAll) {
		return eventbus.NewMemory()
	}
	if len(plan.InProcess) > 0 {
		p.log.Warn("no kafka.brokers: events stay in the outboxes until a relay with Kafka publishes them")
	}
	return nil
}

// relays returns one outbox relay per service database of this process.
func (p *platform) relays() []*outbox.Relay {
	if p.bus == nil {
		return nil
	}
	names := make([]string, 0, len(p.dbs))
	for n := range p.dbs {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]*outbox.Relay, 0, len(names))
	for _, n := range names {
		out = append(out, &outbox.Relay{Name: n, DB: p.dbs[n], Publisher: p.bus, Log: p.log.With("relay", n)})
	}
	return out
}

// redisLog sends go-redis's own messages (dial failures while Redis is down) to the process log at
// debug level; the failure policy reports what matters.
type redisLog struct{ log *slog.Logger }

func (l redisLog) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, "redis: "+fmt.Sprintf(format, v...))
}

// verifier checks access tokens with the auth service's keys: in process when auth runs here,
// else from its JWKS over HTTP, cached.
func (p *platform) verifier(plan *Plan, authSvc *auth.Service) *authn.TokenVerifier {
	var source authn.KeySource
	if authSvc != nil {
		source = authSvc.PublicKeys
	} else {
		source = authn.FetchJWKS(&http.Client{Timeout: 5 * time.Second}, strings.TrimSuffix(plan.AuthURL, "/")+"/api/v1/auth/.well-known/jwks.json")
	}
	keys := authn.NewKeyCache(source, p.cfg.Auth.JWKSRefresh, 10*time.Second)
	return authn.NewTokenVerifier(keys, p.cfg.Auth.Issuer, p.cfg.Auth.Audience, 30*time.Second)
}

// Version is the build's version, set by the command.
var Version = "dev"

// Run builds the modules of cfg's plan and serves them until ctx ends or one of them fails. The
// URLs of what it serves are printed to out once every listener is bound.
func Run(ctx context.Context, cfg Config, log *slog.Logger, out io.Writer) error {
	plan, err := cfg.Plan()
	if err != nil {
		return err
	}
	stopTracing, err := telemetry.SetupTracing(ctx, cfg.Tracing.OTLPEndpoint, cfg.Tracing.SampleRatio, "mediamesh "+strings.Join(cfg.Target, ","), Version)
	if err != nil {
		return err
	}
	defer func() { _ = stopTracing(context.WithoutCancel(ctx)) }()
	p := &platform{cfg: cfg, log: log, dbs: map[string]*database.DB{}}
	reg := telemetry.NewRegistry()
	metrics := telemetry.Handler(reg)
	red, err := httpserver.NewMetrics(reg)
	if err != nil {
		return err
	}
	defer func() {
		for i := len(p.closers) - 1; i >= 0; i-- {
			_ = p.closers[i]()
		}
	}()
	if err := p.newShared(); err != nil {
		return err
	}
	p.bus = p.newBus(ctx, plan)
	services := map[string]service{}
	var authSvc *auth.Service
	for _, name := range plan.InProcess {
		svc, err := p.newService(ctx, name)
		if err != nil {
			return err
		}
		services[name] = svc
		if a, ok := svc.(*auth.Service); ok {
			authSvc = a
		}
	}
	for _, name := range plan.Relays {
		db, err := p.database(ctx, name)
		if err != nil {
			return err
		}
		if err := outbox.Migrate(ctx, db); err != nil {
			return fmt.Errorf("%s outbox: %w", name, err)
		}
	}
	verifier := p.verifier(plan, authSvc)
	handlers := map[string]http.Handler{}
	for _, name := range plan.InProcess {
		h, err := services[name].Handler(log.With("service", name), verifier)
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
			h, err := gateway.Remote(s, plan.Remote[s], glog, gateway.WithRegisterer(reg))
			if err != nil {
				return err
			}
			upstreams[s] = h
			remoteChecks = append(remoteChecks, s)
		}
		gcfg := gateway.Config{Upstreams: upstreams, Verifier: verifier, Limiter: p.limiter, Idempotency: p.idem, Log: glog}
		var h http.Handler
		var addr string
		switch g {
		case GatewayDiscovery:
			h, err = public.New(gcfg)
			addr = cfg.Gateway.DiscoveryAddr
		case GatewayCMS:
			h, err = cmsadmin.New(gcfg)
			addr = cfg.Gateway.CMSAddr
		}
		if err != nil {
			return err
		}
		srv := &httpserver.Server{Name: g, Addr: addr, Handler: h, Log: glog, ShutdownTimeout: cfg.ShutdownTimeout, Metrics: metrics, RED: red}
		for _, s := range remoteChecks {
			srv.AddReadinessCheck(s, gateway.HealthCheck(plan.Remote[s]))
		}
		servers = append(servers, srv)
	}
	if len(plan.Relays) > 0 {
		srv := &httpserver.Server{Name: TargetRelay, Addr: cfg.RelayAddr, Handler: http.NotFoundHandler(), Log: log.With("target", TargetRelay), ShutdownTimeout: cfg.ShutdownTimeout, Metrics: metrics, RED: red}
		for _, name := range plan.Relays {
			srv.AddReadinessCheck(name+"-database", p.dbs[name].PingContext)
		}
		servers = append(servers, srv)
	}
	for _, s := range plan.Listening {
		servers = append(servers, &httpserver.Server{Name: s, Addr: cfg.Services.Endpoint(s).Addr, Handler: handlers[s], Log: log.With("service", s), ShutdownTimeout: cfg.ShutdownTimeout, Metrics: metrics, RED: red})
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
		case TargetRelay:
			banner = append(banner, fmt.Sprintf("outbox relay       %s  relaying %s  metrics %s/metrics", base, strings.Join(plan.Relays, ", "), base))
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
	for name, db := range p.dbs { // connection-pool metrics: go_sql_*{db_name}
		if err := reg.Register(collectors.NewDBStatsCollector(db.DB, name)); err != nil {
			return err
		}
	}
	relays := p.relays()
	for _, r := range relays {
		if err := telemetry.RegisterRelay(reg, r.Name, r); err != nil {
			return err
		}
	}
	errs := make([]error, len(servers)+len(relays))
	for i, r := range relays {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.Run(ctx); err != nil {
				errs[len(servers)+i] = err
				cancel()
			}
		}()
	}
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
