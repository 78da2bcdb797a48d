package app

import (
	"encoding"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/services/auth"
	"github.com/mediamesh/mediamesh/services/cms"
	"github.com/mediamesh/mediamesh/services/ingest"
	"github.com/mediamesh/mediamesh/services/media"
	"github.com/mediamesh/mediamesh/services/metadata"
	"github.com/mediamesh/mediamesh/services/search"
)

// Config is the whole configuration of a mediamesh process. Values come from, in rising precedence:
// the defaults below, a YAML file (--config), MEDIAMESH_* environment variables, and flags. A key
// `a.b_c` is the flag --a.b-c and the variable MEDIAMESH_A_B_C.
type Config struct {
	Target           []string       `yaml:"target" help:"modules to run: all, or a comma list of services and gateways"`
	DataDir          string         `yaml:"data_dir" help:"directory for embedded databases, media and indexes"`
	ShutdownTimeout  time.Duration  `yaml:"shutdown_timeout" help:"how long to drain requests on shutdown"`
	RelayAddr        string         `yaml:"relay_addr" help:"health address of the relay target"`
	AdminAddr        string         `yaml:"admin_addr" help:"address of the admin server: /metrics, /readyz of everything the process runs, the profiler; empty: loopback, 1000 above the process's first port (9080 for all); keep it off public networks (it is not authenticated)"`
	AdminPprof       bool           `yaml:"admin_pprof" help:"serve the Go profiler (/debug/pprof/) on the admin server"`
	MemoryLimitBytes int            `yaml:"memory_limit_bytes" help:"soft limit of the Go runtime's memory: the garbage collector works harder as it nears it, so resident memory stays bounded under load (SQLite's page caches and the executable's pages come on top); GOMEMLIMIT, when set, wins; 0: none"`
	InstanceID       string         `yaml:"instance_id" help:"this process's name in every /readyz answer (\"instance\"), so a caller can tell it is talking to the process it started; empty: a random one at each start"`
	Log              LogConfig      `yaml:"log"`
	Gateway          GatewayConfig  `yaml:"gateway"`
	Services         Services       `yaml:"services"`
	Auth             auth.Settings  `yaml:"auth"`
	Redis            RedisConfig    `yaml:"redis"`
	Postgres         PostgresConfig `yaml:"postgres"`
	Breaker          BreakerConfig  `yaml:"breaker"`
	Kafka            KafkaConfig    `yaml:"kafka"`
	Tracing          TracingConfig  `yaml:"tracing"`
	// The services' own settings: each type, its defaults and its Validate are in the service's
	// package; the module table (modules.go) has Validate call each one's.
	Metadata        metadata.Settings `yaml:"metadata"`
	CMS             cms.Settings      `yaml:"cms"`
	Media           media.Settings    `yaml:"media"`
	Ingest          ingest.Settings   `yaml:"ingest"`
	Search          search.Settings   `yaml:"search"`
	Client          ClientConfig      `yaml:"client"`
	OutboxRetention time.Duration     `yaml:"outbox_retention" help:"how long sent outbox rows are kept; 0 keeps them (embedded mode replays read models from them)"`
	Prune           PruneConfig       `yaml:"prune"`
	MigrateOnStart  bool              `yaml:"migrate_on_start" help:"apply pending database migrations at start; false: refuse to start while any is pending (run mediamesh migrate)"`
	// sections are the settings of the services whose table line declares them (module.settings)
	// instead of a field above: service name -> pointer to its settings (tablesettings.go).
	sections map[string]reflect.Value
}

// PruneConfig bounds the tables that every event grows (issue 15): each service database's sent
// outbox rows and its consumers' inbox entries are deleted past their retention, in batches, on a
// schedule.
type PruneConfig struct {
	Interval            time.Duration `yaml:"interval" help:"how often each service database is pruned (sent outbox rows past outbox_retention or prune.engagement_retention, inbox entries past prune.inbox_retention)"`
	Batch               int           `yaml:"batch" help:"rows one pruning statement deletes at most; statements follow each other with a short pause, so pruning never holds the database's writer long"`
	EngagementRetention time.Duration `yaml:"engagement_retention" help:"how long sent engagement events (engagement.recorded) stay in the discovery outbox, whatever outbox_retention says (the shorter wins); a replay rebuilds the counts from the events kept; 0 keeps them as outbox_retention does"`
	InboxRetention      time.Duration `yaml:"inbox_retention" help:"how long a consumer remembers the ids of the events it applied, against redeliveries (which come within minutes; engagement events older than 7 days are refused anyway); 0 keeps them"`
}

// ClientConfig is how the client commands (mediamesh import) reach a running CMS gateway: as
// the bearer token, or as the account the email and password log in as.
type ClientConfig struct {
	URL      string `yaml:"url" help:"base URL of the CMS gateway that mediamesh import posts to"`
	Token    string `yaml:"token" secret:"true" help:"access token of an EDITOR or ADMIN for mediamesh import; empty: log in as client.email"`
	Email    string `yaml:"email" help:"email of the EDITOR or ADMIN account mediamesh import logs in as, when client.token is empty"`
	Password string `yaml:"password" secret:"true" help:"password of client.email"`
}

// TracingConfig exports OpenTelemetry traces over OTLP/HTTP; off unless an endpoint is set.
// W3C trace context is propagated (and logged) either way.
type TracingConfig struct {
	OTLPEndpoint string  `yaml:"otlp_endpoint" help:"OTLP/HTTP collector, e.g. http://127.0.0.1:4318; empty: no export"`
	SampleRatio  float64 `yaml:"sample_ratio" help:"share of new traces sampled, 0 to 1"`
}

// KafkaConfig selects Kafka for events; no brokers: in-process delivery (all mode only).
type KafkaConfig struct {
	Brokers    []string `yaml:"brokers" help:"host:port list of Kafka brokers; empty delivers events in process (all mode)"`
	Partitions int      `yaml:"partitions" help:"partitions of the topics MediaMesh creates"`
}

// RedisConfig selects Redis for rate limits, idempotency records and the gateway cache; empty URL:
// in memory. Redis is a fast path: its commands are bounded by Timeout and pass a circuit breaker;
// while it fails, the gateways serve uncached, each process rate-limits on its own, and writes with
// an Idempotency-Key answer 503 with Retry-After. (redis.fail_open is gone: limits never turn off.)
type RedisConfig struct {
	URL          string        `yaml:"url" secret:"true" help:"redis://host:port/db; empty runs the in-memory implementations"`
	Timeout      time.Duration `yaml:"timeout" help:"time limit of one Redis command (dial, read, write, pool wait); a hung Redis costs a request at most this"`
	BreakerDelay time.Duration `yaml:"breaker_delay" help:"after 3 failed Redis commands in a row, how long Redis is skipped (cache off, rate limits in process) before a trial command"`
}

// PostgresConfig sizes the connection pool each service keeps to its PostgreSQL database.
type PostgresConfig struct {
	MaxConns  int           `yaml:"max_conns" help:"connections a service process opens to its PostgreSQL database at most; 0: no cap (the server's max_connections must cover the sum over processes; a low cap can deadlock transactions that need a second connection)"`
	IdleConns int           `yaml:"idle_conns" help:"connections a service process keeps open to its PostgreSQL database while idle, so bursts of requests do not open new ones"`
	IdleTime  time.Duration `yaml:"idle_time" help:"how long an idle PostgreSQL connection is kept open"`
}

// BreakerConfig tunes the circuit breaker a process keeps per service it reaches over HTTP (the
// gateways' fronts, and services that call services): open after FailureThreshold failures in a
// row (requests then answer 503 with Retry-After at once), trial requests after Delay.
type BreakerConfig struct {
	Delay            time.Duration `yaml:"delay" help:"how long a service's circuit breaker stays open before trial requests go through (a recovered service gets traffic again within about this)"`
	FailureThreshold int           `yaml:"failure_threshold" help:"failures in a row (connection errors, timeouts, 5xx) that open a service's circuit breaker"`
}

// LogConfig configures the process logger.
type LogConfig struct {
	Level  string `yaml:"level" help:"debug, info, warn or error"`
	Format string `yaml:"format" help:"json or text"`
}

// GatewayConfig holds the listen addresses of the two gateways.
type GatewayConfig struct {
	DiscoveryAddr string `yaml:"discovery_addr" help:"listen address of the public discovery gateway"`
	CMSAddr       string `yaml:"cms_addr" help:"listen address of the internal CMS gateway"`
	RateLimits    bool   `yaml:"rate_limits" help:"enforce the contracts' x-rate-limit at the gateways; false only for load tests and contract fuzzing"`
	Cache         bool   `yaml:"cache" help:"answer the contracts' x-cache reads from the gateway cache; false only for load tests of the uncached path"`
	// CacheL1Bytes bounds the in-process layer in front of a shared Redis cache (internal/cache.Layered).
	CacheL1Bytes int `yaml:"cache_l1_bytes" help:"with redis.url: bytes of cached responses each process also keeps in memory in front of Redis (L1), invalidated with Redis's entries; 0: none"`
	// CacheWarm is how many hot reads the gateway recomputes after an invalidation (internal/gateway.Config.Warm).
	CacheWarm int `yaml:"cache_warm" help:"how many of the most requested cached reads the discovery gateway tracks and recomputes in the background when a change invalidates them, so the first reader after a publish does not wait; 0: no warming"`
	// CDNMaxAge and CDNPurgeURL put a CDN in front of the discovery gateway (internal/gateway.Purger).
	CDNMaxAge   time.Duration `yaml:"cdn_max_age" help:"how long a CDN in front may serve a cached public read without asking (Cache-Control s-maxage and stale-while-revalidate); needs gateway.cdn_purge_url; 0: CDNs revalidate every reuse"`
	CDNPurgeURL string        `yaml:"cdn_purge_url" secret:"true" help:"purge hook of a CDN in front: after an invalidation the discovery gateway POSTs {\"surrogate_keys\": [...]} here, the cache namespaces its answers name in Surrogate-Key and Cache-Tag; empty: none"`
	// StaleAfter bounds how long a cached read waits for a slow service when it has a last good
	// answer (stale-while-revalidate; internal/gateway.Config.StaleAfter).
	StaleAfter time.Duration `yaml:"stale_after" help:"how long a cache miss waits for a slow service before the read's last good answer is served (the service's answer is stored for the next reader; a takedown voids last good answers); 0: always wait"`
	// GraphQLIntrospection serves the GraphQL schema by introspection; production deployments turn
	// it off (the SDL is published with the contracts).
	GraphQLIntrospection bool `yaml:"graphql_introspection" help:"answer GraphQL introspection queries on the discovery gateway; false in production"`
	// GraphQLPlayground serves GraphiQL to a browser that opens the discovery gateway's /graphql;
	// production deployments turn it off with introspection (without introspection it still runs
	// queries, with no docs or completion).
	GraphQLPlayground bool `yaml:"graphql_playground" help:"serve the GraphiQL playground to browsers at the discovery gateway's /graphql; false in production"`
	// CORSOrigins may call the public gateway from a browser; CMSCORSOrigins the CMS gateway.
	CORSOrigins    []string `yaml:"cors_origins" help:"origins whose pages may call the discovery gateway from a browser (* for any; none: no CORS)"`
	CMSCORSOrigins []string `yaml:"cms_cors_origins" help:"origins whose pages may call the CMS gateway from a browser (the CMS front end's; default none)"`
	// TrustedProxies are the load balancers in front of the gateways: only from them is the
	// forwarding header believed (the client is its right-most address that is not one of them).
	TrustedProxies  []string `yaml:"trusted_proxies" help:"CIDRs (or addresses) of the proxies in front of the gateways whose forwarding header names the client, for per-IP rate limits and logs; empty: the direct peer is the client and the header is ignored"`
	ForwardedHeader string   `yaml:"forwarded_header" help:"the header the trusted proxies write: X-Forwarded-For or Forwarded (RFC 7239); only that one is read"`
}

// Proxies parses TrustedProxies (Validate has checked them); a bare address is a /32 or /128. The
// result is never nil: a gateway trusts no one unless told.
func (g GatewayConfig) Proxies() []netip.Prefix {
	out := []netip.Prefix{}
	for _, v := range g.TrustedProxies {
		if p, err := netip.ParsePrefix(v); err == nil {
			out = append(out, p.Masked())
		} else if a, err := netip.ParseAddr(v); err == nil {
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
		}
	}
	return out
}

// Endpoint is where a service listens when it runs as its own target (Addr) and where other
// processes reach it (URL).
type Endpoint struct {
	Addr        string `yaml:"addr" help:"listen address when this service is a target of its own"`
	URL         string `yaml:"url" help:"base URL that other processes use to reach this service"`
	DatabaseURL string `yaml:"database_url" secret:"true" help:"postgres://... for the service's database; empty: SQLite under data_dir"`
}

// Services holds one endpoint per service, under the service's name (Endpoint finds it by its yaml
// key; the module table in modules.go gives its default address).
type Services struct {
	Auth      Endpoint `yaml:"auth"`
	CMS       Endpoint `yaml:"cms"`
	Metadata  Endpoint `yaml:"metadata"`
	Media     Endpoint `yaml:"media"`
	Ingest    Endpoint `yaml:"ingest"`
	Discovery Endpoint `yaml:"discovery"`
	Search    Endpoint `yaml:"search"`
	// unlisted holds the endpoints of the services of the module table without a field above.
	unlisted map[string]*Endpoint
}

// Default returns the embedded-mode defaults: everything in one process, data under ./data.
func Default() Config {
	return Config{
		Target:          []string{TargetAll},
		DataDir:         "data",
		ShutdownTimeout: 15 * time.Second,
		// 256 MiB of Go memory keeps `all` under load under 300 MB resident with the executable's
		// pages and SQLite's caches (docs/performance.md); a large embedded corpus needs more.
		MemoryLimitBytes: 256 << 20,
		RelayAddr:        ":9110",
		Log:              LogConfig{Level: "info", Format: "json"},
		Gateway:          GatewayConfig{DiscoveryAddr: ":8080", CMSAddr: ":8081", RateLimits: true, Cache: true, CacheL1Bytes: 16 << 20, CacheWarm: 64, StaleAfter: 50 * time.Millisecond, GraphQLIntrospection: true, GraphQLPlayground: true, CORSOrigins: []string{"*"}, ForwardedHeader: "X-Forwarded-For"},
		Services:         defaultServices(),
		sections:         defaultSections(),
		Auth:             auth.DefaultSettings(),
		Redis:            RedisConfig{Timeout: 50 * time.Millisecond, BreakerDelay: time.Second},
		Postgres:         PostgresConfig{MaxConns: database.DefaultPool.MaxConns, IdleConns: database.DefaultPool.IdleConns, IdleTime: database.DefaultPool.IdleTime},
		Breaker:          BreakerConfig{Delay: 2 * time.Second, FailureThreshold: 5},
		Kafka:            KafkaConfig{Partitions: 3},
		Tracing:          TracingConfig{SampleRatio: 1},
		Metadata:         metadata.DefaultSettings(),
		Client:           ClientConfig{URL: "http://127.0.0.1:8081"},
		CMS:              cms.DefaultSettings(),
		Prune:            PruneConfig{Interval: time.Minute, Batch: 1000, EngagementRetention: 7 * 24 * time.Hour, InboxRetention: 8 * 24 * time.Hour},
		Media:            media.DefaultSettings(),
		Ingest:           ingest.DefaultSettings(),
		Search:           search.DefaultSettings(),
		MigrateOnStart:   true,
	}
}

// Load builds the configuration from args (flags, without the program name), the environment and
// the optional YAML file named by --config or MEDIAMESH_CONFIG, then validates it.
func Load(args []string, environ []string) (Config, error) {
	cfg := Default()
	fields := settings(&cfg)
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "MEDIAMESH_") {
			env[k] = v
		}
	}

	if err := checkRemoved(args, env); err != nil {
		return cfg, err
	}
	fs := flag.NewFlagSet("mediamesh", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	file := fs.String("config", env["MEDIAMESH_CONFIG"], "YAML configuration file")
	values := map[string]*string{}
	for _, f := range fields {
		values[f.key] = fs.String(f.flag(), "", f.help)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cfg, err
		}
		return cfg, fmt.Errorf("%w (see mediamesh --help)", err)
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *file != "" {
		data, err := os.ReadFile(*file)
		if err != nil {
			return cfg, fmt.Errorf("config file: %w", err)
		}
		if err := cfg.decodeYAML(data); err != nil {
			for key, why := range removed {
				if _, leaf, _ := strings.Cut(key, "."); strings.Contains(err.Error(), "field "+leaf+" not found") {
					return cfg, fmt.Errorf("config file %s: %s: %s", *file, key, why)
				}
			}
			return cfg, fmt.Errorf("config file %s: %w", *file, err)
		}
	}
	for _, f := range fields {
		if v, ok := env[f.env()]; ok {
			if err := f.set(v); err != nil {
				return cfg, fmt.Errorf("%s: %w", f.env(), err)
			}
		}
	}
	var flagErr error
	fs.Visit(func(fl *flag.Flag) {
		for _, f := range fields {
			if fl.Name == f.flag() && flagErr == nil {
				if err := f.set(*values[f.key]); err != nil {
					flagErr = fmt.Errorf("--%s: %w", fl.Name, err)
				}
			}
		}
	})
	if flagErr != nil {
		return cfg, flagErr
	}
	if cfg.Media.LocalBaseURL == "" {
		cfg.Media.LocalBaseURL = cfg.localMediaURL()
	}
	return cfg, cfg.Validate()
}

// localMediaURL is where the local media store is served when media.local_base_url is not set:
// the /media path of the discovery gateway, which serves it when it runs in the process (and in
// `all` mode), else of the media service's own listener. A wildcard or empty host becomes
// localhost.
func (c *Config) localMediaURL() string {
	addr := c.Services.Media.Addr
	if len(c.Target) == 0 || slices.Contains(c.Target, "all") || slices.Contains(c.Target, "discovery-gateway") {
		addr = c.Gateway.DiscoveryAddr
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "" // Validate names the bad address
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port) + "/media"
}

// removed are settings that existed once, with what became of them: Load names them rather than
// failing on an unknown key, or ignoring an unknown variable.
var removed = map[string]string{
	"redis.fail_open": "removed: limits never turn off now; while Redis is down or slow every process rate-limits in process (login and refresh included), see redis.timeout and redis.breaker_delay",
}

// checkRemoved refuses a removed setting given as a flag or a variable.
func checkRemoved(args []string, env map[string]string) error {
	for key, why := range removed {
		f := setting{key: key}
		if _, ok := env[f.env()]; ok {
			return fmt.Errorf("%s: %s", f.env(), why)
		}
		for _, a := range args {
			name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
			if strings.HasPrefix(a, "-") && name == f.flag() {
				return fmt.Errorf("--%s: %s", name, why)
			}
		}
	}
	return nil
}

// Validate checks the configuration and refuses combinations that cannot work.
func (c *Config) Validate() error {
	var errs []error
	if _, err := c.Plan(); err != nil {
		errs = append(errs, err)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log.level: %q is not one of debug, info, warn, error", c.Log.Level))
	}
	if c.Log.Format != "json" && c.Log.Format != "text" {
		errs = append(errs, fmt.Errorf("log.format: %q is not json or text", c.Log.Format))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("data_dir: must not be empty"))
	}
	if c.MemoryLimitBytes < 0 {
		errs = append(errs, fmt.Errorf("memory_limit_bytes: %d: want 0 (none) or more", c.MemoryLimitBytes))
	}
	if c.ShutdownTimeout <= 0 {
		errs = append(errs, errors.New("shutdown_timeout: must be positive"))
	}
	check := func(key, addr string) {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not host:port", key, addr))
		}
	}
	check("relay_addr", c.RelayAddr)
	check("gateway.discovery_addr", c.Gateway.DiscoveryAddr)
	check("gateway.cms_addr", c.Gateway.CMSAddr)
	if c.AdminAddr != "" {
		check("admin_addr", c.AdminAddr)
	}
	for key, origins := range map[string][]string{"gateway.cors_origins": c.Gateway.CORSOrigins, "gateway.cms_cors_origins": c.Gateway.CMSCORSOrigins} {
		for _, o := range origins {
			if u, err := url.Parse(o); o != "*" && (err != nil || u.Scheme == "" || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.User != nil) {
				errs = append(errs, fmt.Errorf("%s: %q is not * or an origin such as https://app.example.com", key, o))
			}
		}
	}
	for _, v := range c.Gateway.TrustedProxies {
		if _, err := netip.ParsePrefix(v); err != nil {
			if _, err := netip.ParseAddr(v); err != nil {
				errs = append(errs, fmt.Errorf("gateway.trusted_proxies: %q is not a CIDR such as 10.0.0.0/8 or an address", v))
			}
		}
	}
	if c.Gateway.CDNMaxAge < 0 || c.Gateway.CDNMaxAge > 0 && c.Gateway.CDNPurgeURL == "" {
		errs = append(errs, fmt.Errorf("gateway.cdn_max_age: %s needs gateway.cdn_purge_url (a CDN would serve what was taken down until it expires)", c.Gateway.CDNMaxAge))
	}
	if u := c.Gateway.CDNPurgeURL; u != "" && !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
		errs = append(errs, errors.New("gateway.cdn_purge_url: want an http:// or https:// URL"))
	}
	if c.Gateway.CacheWarm < 0 || c.Gateway.CacheWarm > 10000 {
		errs = append(errs, fmt.Errorf("gateway.cache_warm: %d: want 0 (no warming) to 10000", c.Gateway.CacheWarm))
	}
	if c.Gateway.CacheL1Bytes < 0 {
		errs = append(errs, fmt.Errorf("gateway.cache_l1_bytes: %d: want 0 (no L1) or more", c.Gateway.CacheL1Bytes))
	}
	if c.Gateway.StaleAfter < 0 {
		errs = append(errs, fmt.Errorf("gateway.stale_after: %s: want 0 (always wait) or more", c.Gateway.StaleAfter))
	}
	if h := c.Gateway.ForwardedHeader; !strings.EqualFold(h, "X-Forwarded-For") && !strings.EqualFold(h, "Forwarded") {
		errs = append(errs, fmt.Errorf("gateway.forwarded_header: %q is not X-Forwarded-For or Forwarded", h))
	}
	// Each service's own settings, by its own Validate (the module table names its section).
	for _, m := range modules {
		if m.config != nil {
			if err := m.config(c).Validate(); err != nil {
				errs = append(errs, err)
			}
		} else if v, ok := c.sections[m.name]; ok {
			if err := v.Elem().Interface().(validator).Validate(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if c.Redis.Timeout < time.Millisecond || c.Redis.Timeout > 5*time.Second || c.Redis.BreakerDelay < 100*time.Millisecond || c.Redis.BreakerDelay > time.Minute {
		errs = append(errs, fmt.Errorf("redis.timeout (%s) must be between 1ms and 5s and redis.breaker_delay (%s) between 100ms and 1m", c.Redis.Timeout, c.Redis.BreakerDelay))
	}
	if c.Postgres.MaxConns < 0 || c.Postgres.MaxConns > 1000 || c.Postgres.IdleConns < 0 || c.Postgres.IdleConns > 1000 || c.Postgres.IdleTime < 0 {
		errs = append(errs, fmt.Errorf("postgres.max_conns (%d) and postgres.idle_conns (%d) must be between 0 and 1000 and postgres.idle_time (%s) not negative", c.Postgres.MaxConns, c.Postgres.IdleConns, c.Postgres.IdleTime))
	}
	if c.Breaker.Delay < 100*time.Millisecond || c.Breaker.Delay > time.Minute || c.Breaker.FailureThreshold < 1 || c.Breaker.FailureThreshold > 1000 {
		errs = append(errs, fmt.Errorf("breaker.delay (%s) must be between 100ms and 1m and breaker.failure_threshold (%d) between 1 and 1000", c.Breaker.Delay, c.Breaker.FailureThreshold))
	}
	if c.Redis.URL != "" {
		if u, err := url.Parse(c.Redis.URL); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") {
			errs = append(errs, errors.New("redis.url: want redis://host:port/db"))
		}
	}
	for _, b := range c.Kafka.Brokers {
		if _, _, err := net.SplitHostPort(b); err != nil {
			errs = append(errs, fmt.Errorf("kafka.brokers: %q is not host:port", b))
		}
	}
	if c.Tracing.SampleRatio < 0 || c.Tracing.SampleRatio > 1 {
		errs = append(errs, errors.New("tracing.sample_ratio: must be between 0 and 1"))
	}
	if e := c.Tracing.OTLPEndpoint; e != "" {
		if u, err := url.Parse(e); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("tracing.otlp_endpoint: %q is not an http(s) URL", e))
		}
	}
	if c.OutboxRetention < 0 {
		errs = append(errs, errors.New("outbox_retention: must not be negative"))
	} else if c.OutboxRetention > 0 && len(c.Kafka.Brokers) == 0 && c.OutboxRetention < c.Auth.AccessTTL+time.Minute {
		// Without Kafka the auth outbox is where a restarted process reads the revocations in force.
		errs = append(errs, fmt.Errorf("outbox_retention: without kafka.brokers, at least auth.access_ttl plus a minute (%s), or 0: the auth outbox keeps the revocations of tokens that have not expired", c.Auth.AccessTTL+time.Minute))
	}
	if c.Prune.Interval <= 0 {
		errs = append(errs, errors.New("prune.interval: must be positive"))
	}
	if c.Prune.Batch < 1 || c.Prune.Batch > 100000 {
		errs = append(errs, errors.New("prune.batch: must be from 1 to 100000"))
	}
	if c.Prune.EngagementRetention < 0 || c.Prune.InboxRetention < 0 {
		errs = append(errs, errors.New("prune.engagement_retention and prune.inbox_retention: must not be negative"))
	}
	if u, err := url.Parse(c.Client.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("client.url: %q is not an http(s) URL", c.Client.URL))
	}
	if err := c.validateIngest(); err != nil {
		errs = append(errs, err)
	}
	if c.Kafka.Partitions < 1 {
		errs = append(errs, errors.New("kafka.partitions: must be at least 1"))
	}
	if err := c.validateSearch(); err != nil {
		errs = append(errs, err)
	}
	for _, s := range AllServices {
		ep := c.Services.Endpoint(s)
		if ep.DatabaseURL != "" && !strings.HasPrefix(ep.DatabaseURL, "postgres://") && !strings.HasPrefix(ep.DatabaseURL, "postgresql://") && !strings.HasPrefix(ep.DatabaseURL, "sqlite:") {
			errs = append(errs, fmt.Errorf("services.%s.database_url: want postgres://... or sqlite:PATH", s))
		}
		check("services."+s+".addr", ep.Addr)
		if ep.URL != "" {
			u, err := url.Parse(ep.URL)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				errs = append(errs, fmt.Errorf("services.%s.url: %q is not an http(s) URL", s, ep.URL))
			}
		}
	}
	return errors.Join(errs...)
}

// Search engines (search.engine).
const (
	SearchEngineMemory     = search.EngineMemory
	SearchEnginePostgres   = search.EnginePostgres
	SearchEngineOpenSearch = search.EngineOpenSearch
)

// SearchEngine returns the index engine of the search service: search.engine, or by default
// postgres when the service's database is PostgreSQL and memory otherwise.
func (c *Config) SearchEngine() string {
	if c.Search.Engine != "" {
		return c.Search.Engine
	}
	if u := c.Services.Search.DatabaseURL; strings.HasPrefix(u, "postgres://") || strings.HasPrefix(u, "postgresql://") {
		return SearchEnginePostgres
	}
	return SearchEngineMemory
}

// validateSearch checks what the search service's settings need of where it runs: the postgres
// engine keeps its index in the service's PostgreSQL database (search.Settings.Validate checks the
// rest).
func (c *Config) validateSearch() error {
	if c.Search.Engine != SearchEnginePostgres {
		return nil
	}
	if u := c.Services.Search.DatabaseURL; !strings.HasPrefix(u, "postgres://") && !strings.HasPrefix(u, "postgresql://") {
		return errors.New("search.engine: postgres keeps the index in the search service's database: set services.search.database_url to a postgres:// URL")
	}
	return nil
}

// validateIngest checks what the ingest service's settings need of where it runs
// (ingest.Settings.Validate checks the rest).
func (c *Config) validateIngest() error {
	in := c.Ingest
	var errs []error
	// Ingest without auth beside it logs in to another process, which must know the same password;
	// ingest on a shared database may run as several processes, which must seal with the same key.
	here := func(s string) bool { return contains(c.Target, TargetAll) || contains(c.Target, s) }
	if here(ServiceIngest) && !here(ServiceAuth) && in.AccountPassword == "" {
		errs = append(errs, errors.New("ingest.account_password: required when ingest runs without auth in the same process (set the same value for the auth process)"))
	}
	if here(ServiceIngest) && c.Services.Ingest.DatabaseURL != "" && in.CredentialsKey == "" {
		errs = append(errs, errors.New("ingest.credentials_key: required when ingest has a database_url (every ingest process must seal with the same key)"))
	}
	return errors.Join(errs...)
}

// YAML returns the effective configuration, for `mediamesh config`, with secrets redacted.
func (c *Config) YAML() ([]byte, error) {
	out := *c
	out.ownTables()
	for _, f := range settings(&out) {
		if ps, ok := f.v.Interface().(auth.OIDCSettings); ok {
			f.v.Set(reflect.ValueOf(ps.Redacted()))
			continue
		}
		if f.secret && f.v.String() != "" {
			f.v.SetString(redact(f.v.String()))
		}
	}
	return out.encodeYAML()
}

// redact hides a secret; for a URL it keeps everything but the password.
func redact(v string) string {
	if u, err := url.Parse(v); err == nil && u.Scheme != "" && u.Host != "" {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "REDACTED")
		}
		return u.String()
	}
	return "REDACTED"
}

// Usage lists every setting with its flag, variable and default.
func Usage() string {
	def := Default()
	var b strings.Builder
	b.WriteString("Usage: mediamesh [run|migrate|replay|config|modules|version|help] [flags]\n       mediamesh import [flags] FILE\n       mediamesh admin reset-password [flags] EMAIL\n\n  run      serve the modules of --target (the default)\n  migrate  apply the pending migrations of the target's databases, then exit\n  replay   rebuild the target's read models (discovery, search) from the first event, then exit\n  import   post the NDJSON file of programs and episodes to the CMS gateway at --client.url\n           (POST /api/v1/cms/imports) as --client.token or --client.email; shows the progress,\n           prints each failed item and the counts; exits 1 when any item failed\n  admin reset-password  a new password for EMAIL, set on the auth database (--data-dir, or\n           --services.auth.database-url) with no server running; printed once, the account's\n           sessions and tokens revoked\n  config   print the configuration the flags, environment and file make, as YAML\n  modules  list the services (in start order) and gateways: default address, its variable, what each fronts or calls\n  version  print the version\n  help     print this help (as --help does)\n\n  --config FILE (MEDIAMESH_CONFIG)\n        YAML configuration file\n")
	for _, f := range settings(&def) {
		d := f.String()
		if d == "" {
			d = "empty"
		}
		fmt.Fprintf(&b, "  --%s (%s)\n        %s (default %s)\n", f.flag(), f.env(), f.help, d)
	}
	return b.String()
}

// setting is one leaf of Config reached by reflection.
type setting struct {
	key    string // yaml path, e.g. gateway.cms_addr
	help   string
	secret bool
	v      reflect.Value
}

func (s setting) flag() string { return strings.ReplaceAll(s.key, "_", "-") }
func (s setting) env() string {
	return "MEDIAMESH_" + strings.ToUpper(strings.NewReplacer(".", "_").Replace(s.key))
}

func (s setting) String() string {
	if s.secret && !s.v.IsZero() { // an empty secret is shown as empty: there is nothing to hide
		return "(secret)"
	}
	if d, ok := s.v.Interface().(time.Duration); ok {
		return d.String()
	}
	if l, ok := s.v.Interface().([]string); ok {
		return strings.Join(l, ",")
	}
	return fmt.Sprint(s.v.Interface())
}

func (s setting) set(raw string) error {
	if u, ok := s.v.Addr().Interface().(encoding.TextUnmarshaler); ok {
		return u.UnmarshalText([]byte(raw))
	}
	switch s.v.Interface().(type) {
	case time.Duration:
		d, err := time.ParseDuration(raw)
		if err != nil {
			return err
		}
		s.v.SetInt(int64(d))
	case []string:
		var out []string
		for _, p := range strings.Split(raw, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
		s.v.Set(reflect.ValueOf(out))
	case string:
		s.v.SetString(raw)
	case bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return err
		}
		s.v.SetBool(b)
	case float64:
		f, err := strconv.ParseFloat(raw, 64)
		if err != nil {
			return err
		}
		s.v.SetFloat(f)
	case int:
		n, err := strconv.Atoi(raw)
		if err != nil {
			return err
		}
		s.v.SetInt(int64(n))
	default:
		return fmt.Errorf("unsupported setting type %s", s.v.Type())
	}
	return nil
}

func settings(cfg *Config) []setting {
	var out []setting
	var walk func(prefix string, v reflect.Value)
	walk = func(prefix string, v reflect.Value) {
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name == "" || name == "-" {
				continue
			}
			key := prefix + name
			fv := v.Field(i)
			if fv.Kind() == reflect.Struct && f.Type != reflect.TypeOf(time.Duration(0)) {
				walk(key+".", fv)
				continue
			}
			out = append(out, setting{key: key, help: f.Tag.Get("help"), secret: f.Tag.Get("secret") == "true", v: fv})
		}
	}
	walk("", reflect.ValueOf(cfg).Elem())
	tableSettings(cfg, walk)
	sort.SliceStable(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out
}
