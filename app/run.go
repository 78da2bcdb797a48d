package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"

	"github.com/mediamesh/mediamesh/gen/openapi/authapi"
	"github.com/mediamesh/mediamesh/internal/authn"
	"github.com/mediamesh/mediamesh/internal/cache"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/eventbus"
	"github.com/mediamesh/mediamesh/internal/gateway"
	"github.com/mediamesh/mediamesh/internal/httpclient"
	"github.com/mediamesh/mediamesh/internal/httpserver"
	"github.com/mediamesh/mediamesh/internal/idempotency"
	"github.com/mediamesh/mediamesh/internal/memory"
	"github.com/mediamesh/mediamesh/internal/objectstore"
	"github.com/mediamesh/mediamesh/internal/outbox"
	"github.com/mediamesh/mediamesh/internal/ratelimit"
	"github.com/mediamesh/mediamesh/internal/redisclient"
	"github.com/mediamesh/mediamesh/internal/telemetry"
	"github.com/mediamesh/mediamesh/services/auth"
	"github.com/mediamesh/mediamesh/services/gateway/cmsadmin"
	"github.com/mediamesh/mediamesh/services/gateway/public"
)

// service is what the composition root needs of a service.
type service interface {
	Handler(log *slog.Logger, v authn.Verifier) (http.Handler, error)
}

// runner is background work of a module that runs until ctx ends.
type runner interface {
	Run(ctx context.Context) error
}

// runFunc is a function as a runner.
type runFunc func(ctx context.Context) error

func (f runFunc) Run(ctx context.Context) error { return f(ctx) }

// consumer is a service that consumes events.
type consumer interface {
	Topics() []string
	HandleEvent(ctx context.Context, m eventbus.Message) error
}

// batchConsumer is a consumer that applies a run of events at once (one transaction, one index
// batch): the subscribers hand it what is ready together.
type batchConsumer interface {
	HandleBatch(ctx context.Context, msgs []eventbus.Message) error
}

// relayBatch is how many outbox rows a relay publishes at most at once, and consumerBatch how many
// messages a batch consumer applies at most in one transaction: under engagement load (thousands of
// events a second) each relay round waits for the database's writer a few times, so rounds of 100
// rows (the relay's default) left the counting consumer behind at about 2,000 events/s while
// recordEngagement took 5,000 (issue 15).
const (
	relayBatch    = 1000
	consumerBatch = 1000
)

// subscribeOptions are the subscription options of c: batches when it takes them, and a failure
// of its database to answer (database.IsUnavailable) retried until it does, never dead-lettered.
func subscribeOptions(c consumer) eventbus.SubscribeOptions {
	if b, ok := c.(batchConsumer); ok {
		return eventbus.SubscribeOptions{Batch: b.HandleBatch, MaxBatch: consumerBatch, Transient: database.IsUnavailable}
	}
	return eventbus.SubscribeOptions{Transient: database.IsUnavailable}
}

// readModel is a consumer that builds a read model from events, which a replay rebuilds.
type readModel interface {
	consumer
	Reset(ctx context.Context) error // empties the read model, for a replay
}

// subscription consumes a consumer's topics from Kafka, as the consumer group named after the service.
type subscription struct {
	sub   *eventbus.KafkaSubscriber
	group string
	c     consumer
}

func (s subscription) Run(ctx context.Context) error {
	return s.sub.Subscribe(ctx, s.group, s.c.Topics(), s.c.HandleEvent, subscribeOptions(s.c))
}

// subscribe connects the consumers among services, and the revocation feed of the process's
// verifiers, to the bus: registered on the in-process bus at once (before the relays publish
// anything), or as Kafka consumer groups run as workers.
func (p *platform) subscribe(services map[string]service) ([]runner, error) {
	var workers []runner
	consumers := map[string]consumer{}
	var names []string
	for _, name := range p.plan.InProcess {
		if c, ok := services[name].(consumer); ok {
			consumers[name] = c
			names = append(names, name)
		}
	}
	if p.revocations != nil {
		_, kafka := p.bus.(*eventbus.KafkaPublisher)
		name := revocationGroup(kafka)
		consumers[name] = p.revocations
		names = append(names, name)
		if kafka {
			workers = append(workers, runFunc(func(ctx context.Context) error {
				return p.revocations.awaitCaughtUp(ctx, p.cfg.Kafka.Brokers)
			}))
		}
	}
	for _, name := range names {
		c := consumers[name]
		switch bus := p.bus.(type) {
		case nil:
			p.log.Warn("no kafka.brokers: this service receives no events until it runs with Kafka (they wait in the producers' outboxes)", "consumer", name)
		case *eventbus.Memory:
			stop, err := bus.Register(name, c.Topics(), c.HandleEvent, subscribeOptions(c))
			if err != nil {
				return nil, err
			}
			p.closers = append(p.closers, func() error { stop(); return nil })
		default:
			sub := eventbus.NewKafkaSubscriber(p.cfg.Kafka.Brokers, eventbus.WithKafkaLogger(p.log.With("consumer", name)))
			if err := telemetry.RegisterConsumerLag(p.reg, name, sub.Lag); err != nil {
				return nil, err
			}
			workers = append(workers, subscription{sub: sub, group: name, c: c})
		}
	}
	return workers, nil
}

// platform holds what the services of one process share.
type platform struct {
	// rebuild is set for a replay: the search index on OpenSearch accepts an alias of another
	// schema version, which the replay replaces.
	rebuild bool
	cfg     Config
	plan    *Plan
	log     *slog.Logger
	reg     prometheus.Registerer
	limiter ratelimit.Limiter
	redis   *redisclient.Client // nil: no redis.url
	idem    idempotency.Store
	cache   cache.Store // nil: gateways do not cache (see newShared)
	// revocations feeds what the process's verifiers refuse (nil: no verifier here).
	revocations *revocationFeed
	bus         eventbus.Publisher // nil: events stay in the outboxes (split mode without Kafka)
	dbs         map[string]*database.DB
	// handlers of the services of this process, filled once all are built; in-process clients
	// look them up when they send a request.
	handlers map[string]http.Handler
	closers  []func() error
	// localMedia is the media store on local disk, when the media service runs here without S3; its
	// handler serves signed and public URLs under media.local_base_url.
	localMedia *objectstore.Local
	// ingestPassword is the password of the ingest service account in this process.
	ingestPassword string
}

// database opens the database of service name (its configured URL, or SQLite under data_dir) and
// brings its schema up to date: it applies the pending migrations when migrate_on_start is set, and
// otherwise refuses a database with migrations pending.
func (p *platform) database(ctx context.Context, name string) (*database.DB, error) {
	var opts []database.OpenOption
	if !telemetry.Recording() {
		opts = append(opts, database.Untraced()) // no spans go anywhere: skip the instrumentation's cost
	}
	db, err := database.Open(ctx, p.cfg.databaseURL(name), opts...)
	if err != nil {
		return nil, fmt.Errorf("%s database: %w", name, err)
	}
	db.SetPool(database.Pool{MaxConns: p.cfg.Postgres.MaxConns, IdleConns: p.cfg.Postgres.IdleConns, IdleTime: p.cfg.Postgres.IdleTime})
	p.closers = append(p.closers, db.Close)
	p.dbs[name] = db
	for _, m := range migrations(name, db.Dialect) {
		if p.cfg.MigrateOnStart {
			err = db.Migrate(ctx, m.Component, m.FS)
		} else if pending, perr := db.Pending(ctx, m.Component, m.FS); perr != nil {
			err = perr
		} else if len(pending) > 0 {
			err = fmt.Errorf("%d migration(s) pending (%s) and migrate_on_start is off: run `mediamesh migrate` first", len(pending), strings.Join(pending, ", "))
		}
		if err != nil {
			return nil, fmt.Errorf("%s database, %s migrations: %w", name, m.Component, err)
		}
	}
	return db, nil
}

// client returns the HTTP client with which service from calls service to, and to's base URL: in
// process when to runs here, over the network otherwise; either way through the timeout, retry,
// circuit breaker and bulkhead of internal/httpclient, and traced.
func (p *platform) client(from, to string) (*http.Client, string, error) {
	base, remote := p.plan.Remote[to]
	return p.clientAt(from, to, base, remote)
}

// clientAt is client with the service at base when remote, else in this process.
func (p *platform) clientAt(from, to, base string, remote bool) (*http.Client, string, error) {
	cfg := httpclient.Config{Registerer: p.reg, Log: p.log.With("service", from, "downstream", to),
		BreakerDelay: p.cfg.Breaker.Delay, FailureThreshold: uint(p.cfg.Breaker.FailureThreshold)}
	if !remote {
		base = "http://" + to + ".internal"
		cfg.Transport = httpclient.HandlerTransport(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p.handlers[to].ServeHTTP(w, r)
		}))
	}
	t, err := httpclient.New(to, cfg)
	if err != nil {
		return nil, "", err
	}
	return &http.Client{Transport: otelhttp.NewTransport(t)}, base, nil
}

// newShared sets up the rate limiter and the idempotency records: in Redis when redis.url is set,
// shared by every process, else in memory.
func (p *platform) newShared() error {
	if p.cfg.Redis.URL == "" {
		p.limiter, p.idem = ratelimit.NewMemory(), idempotency.NewMemory()
		// An in-memory cache is invalidated only by read models in this process: without Redis, a
		// gateway caches only when every service it caches for runs beside it.
		if contains(p.plan.Gateways, GatewayDiscovery) && contains(p.plan.InProcess, ServiceDiscovery) && contains(p.plan.InProcess, ServiceSearch) {
			p.cache = cache.NewMemory()
		}
		return nil
	}
	redis.SetLogger(redisLog{p.log})
	client, err := redisclient.New(redisclient.Config{URL: p.cfg.Redis.URL, Timeout: p.cfg.Redis.Timeout, BreakerDelay: p.cfg.Redis.BreakerDelay, Log: p.log})
	if err != nil {
		return err
	}
	p.redis = client
	p.closers = append(p.closers, client.Close)
	// Limits never vanish with Redis: while it fails (or its breaker is open) each process enforces
	// them in process, login and refresh included.
	p.limiter = ratelimit.WithFallback(ratelimit.NewRedis(client), ratelimit.NewMemory(), func(err error) {
		p.log.Debug("rate limiter: Redis failed; limiting in process", "error", err)
	})
	p.idem = idempotency.NewRedis(client)
	p.cache = cache.NewLayered(cache.NewRedis(client), int64(p.cfg.Gateway.CacheL1Bytes), p.log)
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
		if err := eventbus.EnsureTopics(tctx, brokers, eventbus.Topics, p.cfg.Kafka.Partitions, opts...); err != nil {
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
		// The relay keeps every sent row: the pruners delete them (in batches, see pruners).
		out = append(out, &outbox.Relay{Name: n, DB: p.dbs[n], Publisher: p.bus, Batch: relayBatch, Log: p.log.With("relay", n)})
	}
	return out
}

// addSharedDependencies reports Redis and Kafka, when the process uses them, as dependencies of srv:
// without Redis the gateways skip the cache and rate-limit in process, without Kafka events wait in
// the outboxes; neither stops a process serving.
func (p *platform) addSharedDependencies(srv *httpserver.Server) {
	if p.redis != nil {
		srv.AddDependency("redis", p.redis.Check)
	}
	if brokers := p.cfg.Kafka.Brokers; len(brokers) > 0 && p.bus != nil {
		srv.AddDependency("kafka", func(ctx context.Context) error { return eventbus.KafkaPing(ctx, brokers) })
		if p.revocations != nil {
			srv.AddReadinessCheck("revocations", p.revocations.Ready)
		}
	}
}

// redisLog sends go-redis's own messages (dial failures while Redis is down) to the process log at
// debug level; the Redis client's breaker reports what matters (down, recovered).
type redisLog struct{ log *slog.Logger }

func (l redisLog) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, "redis: "+fmt.Sprintf(format, v...))
}

// verifier checks access tokens with the auth service's keys: in process when auth runs here,
// else from its JWKS over HTTP, cached; API keys are exchanged for tokens by the auth service, in
// process or through its exchangeApiKey operation.
func (p *platform) verifier(ctx context.Context, plan *Plan, authSvc *auth.Service) (*authn.TokenVerifier, error) {
	var source authn.KeySource
	if authSvc != nil {
		source = authSvc.PublicKeys
	} else {
		source = authn.FetchJWKS(&http.Client{Timeout: 5 * time.Second}, strings.TrimSuffix(plan.AuthURL, "/")+"/api/v1/auth/.well-known/jwks.json")
	}
	keys := authn.NewKeyCache(source, p.cfg.Auth.JWKSRefresh, 10*time.Second)
	const leeway = 30 * time.Second
	revoked := authn.NewRevocations(p.cfg.Auth.AccessTTL + leeway)
	p.revocations = newRevocationFeed(revoked, p.log)
	v := authn.NewTokenVerifier(keys, p.cfg.Auth.Issuer, p.cfg.Auth.Audience, leeway).WithRevocations(revoked)
	if authSvc != nil {
		if err := p.revocations.seed(ctx, p.dbs[ServiceAuth]); err != nil {
			return nil, err
		}
		return v.WithAPIKeys(authSvc), nil
	}
	if plan.AuthURL == "" {
		return v, nil // no auth service to exchange API keys with: they are refused
	}
	hc, base, err := p.clientAt("authn", ServiceAuth, strings.TrimSuffix(plan.AuthURL, "/"), true)
	if err != nil {
		return nil, err
	}
	ac, err := authapi.NewClientWithResponses(base, authapi.WithHTTPClient(hc))
	if err != nil {
		return nil, err
	}
	return v.WithAPIKeys(keyExchange{auth: ac}), nil
}

// Version is the build's version, set by the command.
var Version = "dev"

// Run builds the modules of cfg's plan and serves them until ctx ends or one of them fails. The
// URLs of what it serves are printed to out once every listener is bound.
func Run(ctx context.Context, cfg Config, log *slog.Logger, out io.Writer) error {
	if cfg.Media.LocalBaseURL == "" { // a Config not made by Load
		cfg.Media.LocalBaseURL = cfg.localMediaURL()
	}
	plan, err := cfg.Plan()
	if err != nil {
		return err
	}
	stopTracing, err := telemetry.SetupTracing(ctx, cfg.Tracing.OTLPEndpoint, cfg.Tracing.SampleRatio, "mediamesh "+strings.Join(cfg.Target, ","), Version)
	if err != nil {
		return err
	}
	defer func() { _ = stopTracing(context.WithoutCancel(ctx)) }()
	if limit := memory.SetLimit(int64(cfg.MemoryLimitBytes)); limit != math.MaxInt64 {
		log.Debug("go memory limit", "bytes", limit)
	}
	reg := telemetry.NewRegistry()
	p := &platform{cfg: cfg, plan: plan, log: log, reg: reg, dbs: map[string]*database.DB{}, handlers: map[string]http.Handler{}}
	defer p.close()
	b, err := p.build(ctx, telemetry.Handler(reg))
	if err != nil {
		return err
	}
	listeners, err := p.listen(b.servers, out)
	if err != nil {
		return err
	}
	return p.run(ctx, b, listeners)
}

// close closes what the platform opened, in reverse order.
func (p *platform) close() {
	for i := len(p.closers) - 1; i >= 0; i-- {
		_ = p.closers[i]()
	}
}

// built is what build makes of the plan: the services of this process and the servers it starts.
type built struct {
	services map[string]service
	servers  []*httpserver.Server
}

// build constructs the plan's modules: the shared stores and the bus, every in-process service (in
// the module table's order, each on its database), the verifier and the services' handlers, then
// the servers: the gateways, the relay's, the services that listen on their own, and the admin
// server, which serves metrics. Nothing listens yet.
func (p *platform) build(ctx context.Context, metrics http.Handler) (*built, error) {
	cfg, plan, log, reg := p.cfg, p.plan, p.log, p.reg
	red, err := httpserver.NewMetrics(reg)
	if err != nil {
		return nil, err
	}
	if err := p.newShared(); err != nil {
		return nil, err
	}
	if err := gateway.RegisterPurgeMetrics(reg); err != nil {
		return nil, err
	}
	if err := gateway.RegisterCacheMetrics(reg); err != nil {
		return nil, err
	}
	if err := gateway.RegisterVersionMetrics(reg); err != nil {
		return nil, err
	}
	p.bus = p.newBus(ctx, plan)
	services := map[string]service{}
	var authSvc *auth.Service
	for _, name := range plan.InProcess {
		svc, err := p.newService(ctx, name)
		if err != nil {
			return nil, err
		}
		services[name] = svc
		if a, ok := svc.(*auth.Service); ok {
			authSvc = a
		}
	}
	for _, name := range plan.Relays {
		if _, err := p.database(ctx, name); err != nil {
			return nil, err
		}
	}
	verifier, err := p.verifier(ctx, plan, authSvc)
	if err != nil {
		return nil, err
	}
	handlers := p.handlers
	for _, name := range plan.InProcess {
		h, err := services[name].Handler(log.With("service", name), verifier)
		if err != nil {
			return nil, fmt.Errorf("service %s: %w", name, err)
		}
		handlers[name] = h
	}
	var servers []*httpserver.Server
	for _, g := range plan.Gateways {
		glog := log.With("gateway", g)
		upstreams := map[string]http.Handler{}
		var remoteChecks []string
		for _, s := range fronts[g] {
			if h, ok := handlers[s]; ok {
				upstreams[s] = h
				continue
			}
			h, err := gateway.Remote(s, plan.Remote[s], glog, gateway.WithRegisterer(reg), gateway.WithBreaker(cfg.Breaker.Delay, uint(cfg.Breaker.FailureThreshold)))
			if err != nil {
				return nil, err
			}
			upstreams[s] = h
			remoteChecks = append(remoteChecks, s)
		}
		gcfg := gateway.Config{Upstreams: upstreams, Verifier: verifier, Idempotency: p.idem, Log: glog}
		if cfg.Gateway.RateLimits {
			gcfg.Limiter = p.limiter
		}
		if cfg.Gateway.Cache {
			gcfg.Cache, gcfg.StaleAfter, gcfg.Warm, gcfg.CDNMaxAge = p.cache, cfg.Gateway.StaleAfter, cfg.Gateway.CacheWarm, cfg.Gateway.CDNMaxAge
		}
		var h http.Handler
		var addr string
		switch g {
		case GatewayDiscovery:
			var opts []public.Option
			if !cfg.Gateway.GraphQLIntrospection {
				opts = append(opts, public.WithoutIntrospection())
			}
			if !cfg.Gateway.GraphQLPlayground {
				opts = append(opts, public.WithoutPlayground())
			}
			h, err = public.New(gcfg, opts...)
			h = gateway.CORS(cfg.Gateway.CORSOrigins, h)
			if w, ok := gcfg.Cache.(cache.Watcher); ok && cfg.Gateway.CDNPurgeURL != "" {
				w.OnInvalidate(gateway.NewPurger(cfg.Gateway.CDNPurgeURL, glog).Invalidated)
			}
			addr = cfg.Gateway.DiscoveryAddr
			if err == nil && p.localMedia != nil {
				h = p.withLocalMedia(h)
			}
		case GatewayCMS:
			h, err = cmsadmin.New(gcfg)
			h = gateway.CORS(cfg.Gateway.CMSCORSOrigins, h)
			addr = cfg.Gateway.CMSAddr
		}
		if err != nil {
			return nil, err
		}
		srv := &httpserver.Server{Name: g, Addr: addr, Handler: h, Log: glog, ShutdownTimeout: cfg.ShutdownTimeout, RED: red,
			TrustedProxies: cfg.Gateway.Proxies(), ForwardedHeader: strings.EqualFold(cfg.Gateway.ForwardedHeader, "Forwarded")}
		// A gateway serves while the services it fronts are down (cached reads, the others, 503s
		// with Retry-After at once): they are dependencies it reports, not what makes it ready.
		for _, s := range remoteChecks {
			srv.AddDependency(s, gateway.HealthCheck(plan.Remote[s]))
		}
		p.addSharedDependencies(srv)
		servers = append(servers, srv)
	}
	if len(plan.Relays) > 0 {
		srv := &httpserver.Server{Name: TargetRelay, Addr: cfg.RelayAddr, Handler: http.NotFoundHandler(), Log: log.With("target", TargetRelay), ShutdownTimeout: cfg.ShutdownTimeout, RED: red}
		for _, name := range plan.Relays {
			srv.AddReadinessCheck(name+"-database", p.dbs[name].PingContext)
		}
		p.addSharedDependencies(srv)
		servers = append(servers, srv)
	}
	for _, s := range plan.Listening {
		h := handlers[s]
		if s == ServiceMedia && p.localMedia != nil && !contains(plan.Gateways, GatewayDiscovery) {
			h = p.withLocalMedia(h) // split: the media service serves its own files
		}
		srv := &httpserver.Server{Name: s, Addr: cfg.Services.Endpoint(s).Addr, Handler: h, Log: log.With("service", s), ShutdownTimeout: cfg.ShutdownTimeout, RED: red}
		if db := p.dbs[s]; db != nil {
			srv.AddReadinessCheck(s+"-database", db.PingContext)
		}
		p.addSharedDependencies(srv)
		servers = append(servers, srv)
	}

	// The admin server: metrics, the readiness of everything above, and the profiler when asked;
	// on its own address (loopback by default), never on a public port.
	admin := &httpserver.Server{Name: "admin", Addr: adminAddr(cfg.AdminAddr, servers), Handler: adminHandler(cfg.AdminPprof), Log: log.With("server", "admin"),
		ShutdownTimeout: cfg.ShutdownTimeout, Metrics: metrics}
	for name, db := range p.dbs {
		admin.AddReadinessCheck(name+"-database", db.PingContext)
	}
	for s, u := range plan.Remote {
		admin.AddDependency(s, gateway.HealthCheck(u))
	}
	p.addSharedDependencies(admin)
	if err := reg.Register(httpserver.DependencyCollector(admin)); err != nil {
		return nil, err
	}
	servers = append(servers, admin)
	return &built{services: services, servers: servers}, nil
}

// listen binds every server's listener, all sharing one instance id (cfg.instance_id or a fresh
// one, reported on /readyz), and prints the URLs of what the process serves to out. A listener that
// cannot bind closes those already bound.
func (p *platform) listen(servers []*httpserver.Server, out io.Writer) ([]net.Listener, error) {
	cfg, plan, log := p.cfg, p.plan, p.log
	var banner []string
	instance := cfg.InstanceID
	if instance == "" {
		instance = uuid.NewString()
	}
	listeners := make([]net.Listener, len(servers))
	var adminLine string // printed last, after the modules' lines
	for i, srv := range servers {
		srv.Instance = instance
		ln, err := srv.Listen()
		if err != nil {
			for _, l := range listeners[:i] {
				l.Close()
			}
			return nil, err
		}
		listeners[i] = ln
		base := "http://" + displayAddr(ln.Addr())
		switch srv.Name {
		case GatewayDiscovery:
			banner = append(banner, fmt.Sprintf("discovery gateway  %s  docs %s/docs  openapi %s/openapi.json  graphql %s/graphql", base, base, base, base))
		case GatewayCMS:
			banner = append(banner, fmt.Sprintf("cms gateway        %s  docs %s/docs  openapi %s/openapi.json", base, base, base))
		case TargetRelay:
			banner = append(banner, fmt.Sprintf("outbox relay       %s  relaying %s  health %s/healthz", base, strings.Join(plan.Relays, ", "), base))
		case "admin":
			adminLine = fmt.Sprintf("admin              %s  metrics %s/metrics  readiness %s/readyz", base, base, base)
			if cfg.AdminPprof {
				adminLine += fmt.Sprintf("  profiler %s/debug/pprof/", base)
			}
		default:
			banner = append(banner, fmt.Sprintf("%-18s %s  health %s/healthz", srv.Name+" service", base, base))
		}
	}
	fmt.Fprintln(out, "MediaMesh is running:")
	for _, b := range append(banner, adminLine) {
		fmt.Fprintln(out, "  "+b)
	}
	log.Info("started", "targets", cfg.Target, "in_process", plan.InProcess, "gateways", plan.Gateways)
	return listeners, nil
}

// run starts the background work (the relays, the pruners, the event consumers, the cache's
// invalidation feed and the services' own workers) and serves every listener until ctx ends or one
// of them fails; one failing stops the others.
func (p *platform) run(ctx context.Context, b *built, listeners []net.Listener) error {
	plan, log, reg, services, servers := p.plan, p.log, p.reg, b.services, b.servers
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
	// Background work: the relays, the Kafka consumers, and services with work of their own (the
	// cms scheduler).
	workers, err := p.subscribe(services)
	if err != nil {
		return err
	}
	for _, r := range relays {
		workers = append(workers, r)
	}
	for _, r := range p.pruners() {
		workers = append(workers, r)
	}
	if l, ok := p.cache.(*cache.Layered); ok {
		workers = append(workers, l) // the announcements of invalidations by other processes
	}
	workers = append(workers, memory.Idle{}) // the free heap back to the system when idle
	for _, name := range plan.InProcess {
		if r, ok := services[name].(runner); ok {
			workers = append(workers, r)
		}
	}
	errs := make([]error, len(servers)+len(workers))
	for i, r := range workers {
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

// withLocalMedia serves the local media store's signed and public URLs at the path of
// media.local_base_url, and everything else with h.
func (p *platform) withLocalMedia(h http.Handler) http.Handler {
	prefix := "/media"
	if u, err := url.Parse(p.cfg.Media.LocalBaseURL); err == nil && u.Path != "" {
		prefix = strings.TrimRight(u.Path, "/")
	}
	files := http.StripPrefix(prefix, p.localMedia.Handler())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, prefix+"/") {
			files.ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
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
