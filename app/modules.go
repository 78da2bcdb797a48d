package app

import (
	"context"
	"fmt"
	"reflect"
	"strings"

	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/eventbus"
	"github.com/mediamesh/mediamesh/internal/inbox"
	"github.com/mediamesh/mediamesh/internal/outbox"
	"github.com/mediamesh/mediamesh/services/auth"
	"github.com/mediamesh/mediamesh/services/cms"
	"github.com/mediamesh/mediamesh/services/discovery"
	"github.com/mediamesh/mediamesh/services/ingest"
	"github.com/mediamesh/mediamesh/services/media"
	"github.com/mediamesh/mediamesh/services/metadata"
	"github.com/mediamesh/mediamesh/services/search"
	"github.com/mediamesh/mediamesh/services/search/index"
)

// module is everything the composition root knows of one service. The targets (AllServices), the
// gateways' fronts, the calls between services, the default listen addresses, the migrations, the
// topics a replay reads and the constructors are all derived from the table below: adding a service
// is one line here (plus its contract, its generated code and its package; see CONTRIBUTING.md).
type module struct {
	name string
	// addr is where the service listens by default when it is a target of its own
	// (services.<name>.addr).
	addr string
	// fronted lists the gateways that route the service's contract.
	fronted []string
	// calls lists the services it calls over HTTP, through their generated clients: each one runs
	// in the same process or is reached at its services.<name>.url.
	calls []string
	// migrations are the service's own migrations for the dialect; nil: the service has no
	// database. Every service database also has the outbox (the relays read it).
	migrations func(d database.Dialect) []database.Migrations
	// consumes says the service consumes events: its database also has the inbox.
	consumes bool
	// replays says a replay rebuilds the service's state from its topics (a read model).
	replays bool
	// produces lists the topics its outbox publishes; a replay without Kafka reads them there.
	produces []string
	// build constructs the service; db is its database, opened and migrated (nil without
	// migrations).
	build func(ctx context.Context, p *platform, db *database.DB) (service, error)
	// config returns the service's own settings, its section of Config (a type of its package
	// with its own Validate, which Config.Validate calls); nil: it has none.
	config func(c *Config) validator
	// settings, for a service whose settings have no field in Config, are their defaults (a type of
	// its package with its own Validate): they are the configuration's <name> section, set like
	// the fields (flags --<name>.*, variables MEDIAMESH_<NAME>_*, YAML), validated by Validate, and
	// read by its constructor with sectionOf (tablesettings.go).
	settings validator
}

// validator is a service's settings: it refuses values the service cannot work with.
type validator interface{ Validate() error }

// own returns a migrations function of fixed migrations.
func own(ms ...database.Migrations) func(database.Dialect) []database.Migrations {
	return func(database.Dialect) []database.Migrations { return ms }
}

// modules lists the services in start order. The order matters where a service needs another at
// construction (the auth service first: in-process clients and the verifier use it).
var modules = []module{
	{name: ServiceAuth, addr: ":9101", fronted: []string{GatewayDiscovery, GatewayCMS},
		migrations: own(auth.Migrations), produces: []string{eventbus.TopicAuth}, build: buildAuth,
		config: func(c *Config) validator { return c.Auth }},
	{name: ServiceMetadata, addr: ":9103", fronted: []string{GatewayCMS}, calls: []string{ServiceCMS}, // a metadata PUT is written through the CMS
		migrations: own(metadata.Migrations), consumes: true, replays: true, produces: []string{eventbus.TopicMetadata}, build: buildMetadata,
		config: func(c *Config) validator { return c.Metadata }},
	{name: ServiceCMS, addr: ":9102", fronted: []string{GatewayCMS}, calls: []string{ServiceMetadata, ServiceMedia},
		migrations: own(cms.Migrations), consumes: true, produces: []string{eventbus.TopicContent}, build: buildCMS,
		config: func(c *Config) validator { return c.CMS }},
	{name: ServiceMedia, addr: ":9104", fronted: []string{GatewayCMS}, calls: []string{ServiceCMS}, // an upload's attach_as is set through the CMS
		migrations: own(media.Migrations), consumes: true, produces: []string{eventbus.TopicMedia}, build: buildMedia,
		config: func(c *Config) validator { return c.Media }},
	{name: ServiceIngest, addr: ":9105", fronted: []string{GatewayCMS}, calls: []string{ServiceAuth, ServiceCMS, ServiceMedia},
		migrations: own(ingest.Migrations), produces: []string{eventbus.TopicIngest}, build: buildIngest,
		config: func(c *Config) validator { return c.Ingest }},
	{name: ServiceDiscovery, addr: ":9106", fronted: []string{GatewayDiscovery},
		migrations: own(discovery.Migrations), consumes: true, replays: true, produces: []string{eventbus.TopicDiscovery}, build: buildDiscovery},
	{name: ServiceSearch, addr: ":9107", fronted: []string{GatewayDiscovery},
		migrations: searchMigrations, consumes: true, replays: true, build: buildSearch,
		config: func(c *Config) validator { return c.Search }},
}

// searchMigrations are the search service's tables, and the search index's table when the
// database is PostgreSQL (search.engine postgres keeps the index beside them).
func searchMigrations(d database.Dialect) []database.Migrations {
	if d == database.Postgres {
		return []database.Migrations{search.Migrations, index.PostgresMigrations}
	}
	return []database.Migrations{search.Migrations}
}

// The views of the table the rest of the composition root uses (set by useModules).
var (
	// AllServices lists the services in start order.
	AllServices []string
	// fronts lists the services behind each gateway, in start order.
	fronts map[string][]string
	// calls lists the services each service calls over HTTP (through their generated clients).
	calls map[string][]string
	// readModels are the services whose state a replay rebuilds from events: the read models, and
	// the metadata service's knowledge of the CMS's content (a replay reconciles its metadata
	// versions with the CMS, see metadata.Service.BeginRebuild).
	readModels []string
	// producers names the service whose outbox holds each topic's events.
	producers map[string]string
)

func init() { useModules(modules) }

// useModules makes ms the module table and derives its views.
func useModules(ms []module) {
	modules = ms
	AllServices = make([]string, len(ms))
	for i, m := range ms {
		AllServices[i] = m.name
	}
	fronts, calls, readModels, producers = frontsOf(ms), callsOf(ms), replaysOf(ms), producersOf(ms)
}

func frontsOf(ms []module) map[string][]string {
	out := map[string][]string{}
	for _, m := range ms {
		for _, g := range m.fronted {
			out[g] = append(out[g], m.name)
		}
	}
	return out
}

func callsOf(ms []module) map[string][]string {
	out := map[string][]string{}
	for _, m := range ms {
		if len(m.calls) > 0 {
			out[m.name] = m.calls
		}
	}
	return out
}

func replaysOf(ms []module) []string {
	var out []string
	for _, m := range ms {
		if m.replays {
			out = append(out, m.name)
		}
	}
	return out
}

func producersOf(ms []module) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for _, t := range m.produces {
			out[t] = m.name
		}
	}
	return out
}

// moduleNamed returns the module of service name.
func moduleNamed(name string) (module, bool) {
	for _, m := range modules {
		if m.name == name {
			return m, true
		}
	}
	return module{}, false
}

// migrations lists the migrations of service name's database of dialect d: its own, the outbox,
// which every service database has (the relays read it), and the inbox of those that consume
// events. Services without a database have none.
func migrations(name string, d database.Dialect) []database.Migrations {
	m, ok := moduleNamed(name)
	if !ok || m.migrations == nil {
		return nil
	}
	out := append([]database.Migrations{}, m.migrations(d)...)
	out = append(out, database.Migrations{Component: outbox.Component, FS: outbox.Migrations()})
	if m.consumes {
		out = append(out, database.Migrations{Component: inbox.Component, FS: inbox.Migrations()})
	}
	return out
}

// newService builds service name from its module: its database opened and migrated first when it
// has one.
func (p *platform) newService(ctx context.Context, name string) (service, error) {
	m, ok := moduleNamed(name)
	if !ok {
		return nil, fmt.Errorf("unknown service %q", name)
	}
	var db *database.DB
	if m.migrations != nil {
		var err error
		if db, err = p.database(ctx, name); err != nil {
			return nil, err
		}
	}
	return m.build(ctx, p, db)
}

// Endpoint returns the endpoint of service name: the field of Services whose yaml key is the name.
// A service of the module table without a field of its own yet has an endpoint with the defaults
// (its table address, SQLite under data_dir, no URL), which no setting changes; nil for a name
// that is no service.
func (s *Services) Endpoint(name string) *Endpoint {
	v := reflect.ValueOf(s).Elem()
	for i := 0; i < v.NumField(); i++ {
		if key, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("yaml"), ","); key == name && key != "" {
			return v.Field(i).Addr().Interface().(*Endpoint)
		}
	}
	if _, ok := moduleNamed(name); !ok {
		return nil
	}
	if s.unlisted == nil {
		s.unlisted = map[string]*Endpoint{}
	}
	if s.unlisted[name] == nil {
		s.unlisted[name] = &Endpoint{}
	}
	return s.unlisted[name]
}

// defaultServices returns every service's endpoint with its default listen address.
func defaultServices() Services {
	var s Services
	for _, m := range modules {
		if ep := s.Endpoint(m.name); ep != nil {
			ep.Addr = m.addr
		}
	}
	return s
}
