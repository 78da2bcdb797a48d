package app

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/mediamesh/mediamesh/internal/authn"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/eventbus"
	"github.com/mediamesh/mediamesh/internal/testenv"
)

// toy is the service of TestToyModuleIsWired: it answers every request with its greeting and what
// the CMS it calls answered, and consumes a topic.
type toy struct {
	cms      *http.Client
	base     string
	greeting string
}

// toySettings are the toy's own settings, as a service's package declares them: the `toy` section
// of the configuration, with its own Validate.
type toySettings struct {
	Greeting string        `yaml:"greeting" help:"what the toy says first"`
	Patience time.Duration `yaml:"patience" help:"how long the toy waits"`
	Secret   string        `yaml:"secret" secret:"true" help:"the toy's secret"`
}

func (s toySettings) Validate() error {
	if s.Greeting == "" || s.Patience <= 0 {
		return errors.New("toy.greeting must not be empty and toy.patience must be positive")
	}
	return nil
}

func (s *toy) Handler(*slog.Logger, authn.Verifier) (http.Handler, error) {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp, err := s.cms.Get(s.base + "/ping")
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		fmt.Fprintf(w, "%s: cms said %s", s.greeting, b)
	}), nil
}

func (s *toy) Topics() []string                                    { return []string{"toy.events"} }
func (s *toy) HandleEvent(context.Context, eventbus.Message) error { return nil }

// TestToyModuleIsWired registers a service in the module table, one line as CONTRIBUTING.md says
// (its type, settings and migration stand for its package), and checks that everything the
// composition root derives from the table knows it: it is a target, a gateway fronts it, its
// settings and endpoint are set by flag, variable and file, shown by help and `mediamesh config`
// and validated by its own Validate, it reaches the service it calls at its URL, it listens on its
// own, its database gets its own migrations, the outbox and (a consumer) the inbox, a replay knows
// its topic's producer, and `mediamesh modules` (which deploy/run-split.sh reads) lists it.
func TestToyModuleIsWired(t *testing.T) {
	toyMigrations := database.Migrations{Component: "toy", FS: fstest.MapFS{
		"sqlite/0001_init.sql": {Data: []byte("CREATE TABLE toys (id TEXT PRIMARY KEY);\n")},
	}}
	saved := modules
	t.Cleanup(func() { useModules(saved) })
	useModules(append(slices.Clip(saved), module{
		name: "toy", addr: ":9199", fronted: []string{GatewayCMS}, calls: []string{ServiceCMS},
		migrations: own(toyMigrations), consumes: true, replays: true, produces: []string{"toy.events"},
		settings: toySettings{Greeting: "hello", Patience: time.Second},
		build: func(_ context.Context, p *platform, db *database.DB) (service, error) {
			if db == nil {
				return nil, fmt.Errorf("toy built without its database")
			}
			hc, base, err := p.client("toy", ServiceCMS)
			return &toy{cms: hc, base: base, greeting: sectionOf[toySettings](&p.cfg, "toy").Greeting}, err
		},
	}))

	if !slices.Contains(AllServices, "toy") || !slices.Contains(fronts[GatewayCMS], "toy") || !slices.Equal(calls["toy"], []string{ServiceCMS}) ||
		producers["toy.events"] != "toy" || !slices.Contains(readModels, "toy") {
		t.Fatalf("views of the table miss the toy: services %v, cms gateway fronts %v, toy calls %v, producers %v, read models %v",
			AllServices, fronts[GatewayCMS], calls["toy"], producers, readModels)
	}
	cfg := Default()
	if got := cfg.Services.Endpoint("toy").Addr; got != ":9199" {
		t.Errorf("toy's default address %q, want the table's :9199", got)
	}
	cfg.Target = []string{"toy"}
	if _, err := cfg.Plan(); err == nil || !strings.Contains(err.Error(), "toy needs services.cms.url") {
		t.Errorf("plan of the toy without the CMS's URL: %v, want the missing services.cms.url named", err)
	}
	cfg.Target = []string{GatewayCMS}
	if _, err := cfg.Plan(); err == nil || !strings.Contains(err.Error(), "cms-gateway needs services.toy.url") {
		t.Errorf("plan of the cms gateway without the toy: %v, want the missing services.toy.url named", err)
	}

	// The CMS the toy calls, and the auth service whose keys verify tokens, are elsewhere.
	cms := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "pong at "+r.URL.Path) }))
	defer cms.Close()
	if !strings.Contains(ModulesText(), "\nservice   toy                :9199   MEDIAMESH_SERVICES_TOY_ADDR") {
		t.Errorf("mediamesh modules does not list the toy:\n%s", ModulesText())
	}
	for _, want := range []string{"--toy.greeting (MEDIAMESH_TOY_GREETING)\n        what the toy says first (default hello)", "--services.toy.url (MEDIAMESH_SERVICES_TOY_URL)"} {
		if !strings.Contains(Usage(), want) {
			t.Errorf("help does not show %q", want)
		}
	}
	// Its settings and endpoint from a file, a variable and flags, like any other service's.
	dir := t.TempDir()
	file := filepath.Join(dir, "mediamesh.yaml")
	if err := os.WriteFile(file, []byte("toy:\n  greeting: hi\n  secret: hunter2\nservices:\n  toy:\n    database_url: sqlite:"+filepath.Join(dir, "toy.db")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"--config", file, "--target=toy", "--data-dir=" + dir, "--admin-addr=127.0.0.1:0",
		"--services.cms.url=" + cms.URL, "--services.auth.url=" + cms.URL}
	if _, err := Load(append(args, "--toy.patience=0s"), nil); err == nil || !strings.Contains(err.Error(), "toy.greeting must not be empty and toy.patience must be positive") {
		t.Errorf("a bad toy.patience: %v, want the toy's Validate's error", err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("toy:\n  greting: hi\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load([]string{"--config", bad}, nil); err == nil || !strings.Contains(err.Error(), "field greting not found") {
		t.Errorf("an unknown key in the toy's section: %v, want it refused", err)
	}
	// As deploy/run-split.sh sets it: the variable mediamesh modules names.
	cfg, err := Load(args, []string{"MEDIAMESH_TOY_PATIENCE=3s", "MEDIAMESH_SERVICES_TOY_ADDR=" + testenv.FreeAddr(t)})
	if err != nil {
		t.Fatal(err)
	}
	if got := sectionOf[toySettings](&cfg, "toy"); got != (toySettings{Greeting: "hi", Patience: 3 * time.Second, Secret: "hunter2"}) {
		t.Errorf("toy settings %+v, want the file's greeting and secret and the variable's patience", got)
	}
	if cfg.Services.Endpoint("toy").DatabaseURL == "" || cfg.Services.Endpoint("toy").Addr == ":9199" {
		t.Errorf("toy endpoint %+v, want the file's database_url and the variable's address", cfg.Services.Endpoint("toy"))
	}
	out, err := cfg.YAML()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "\ntoy:\n    greeting: hi\n    patience: 3s\n    secret: REDACTED\n") || !strings.Contains(string(out), "\n    toy:\n        addr: ") ||
		sectionOf[toySettings](&cfg, "toy").Secret != "hunter2" {
		t.Errorf("mediamesh config shows the toy as\n%s", out)
	}
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), pw); pw.Close() }()
	var url string
	sc := bufio.NewScanner(pr)
	for url == "" && sc.Scan() {
		if m := regexp.MustCompile(`^\s+toy service\s+(http://\S+)`).FindStringSubmatch(sc.Text()); m != nil {
			url = m[1]
		}
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if url == "" {
		cancel()
		t.Fatalf("no toy service in the banner; Run: %v", <-done)
	}
	resp, err := http.Get(url + "/anything")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "hi: cms said pong at /ping" {
		t.Errorf("toy answered %d %q, want what the CMS at its URL said", resp.StatusCode, body)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not stop")
	}

	db, err := database.Open(context.Background(), cfg.Services.Endpoint("toy").DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRowContext(context.Background(), "SELECT count(*) FROM toys").Scan(&n); err != nil {
		t.Errorf("the toy's own migration did not run: %v", err)
	}
	var components []string
	for _, m := range migrations("toy", db.Dialect) {
		components = append(components, m.Component)
		if pending, err := db.Pending(context.Background(), m.Component, m.FS); err != nil || len(pending) > 0 {
			t.Errorf("toy database, %s: pending %v, %v", m.Component, pending, err)
		}
	}
	if want := []string{"toy", "outbox", "inbox"}; !slices.Equal(components, want) {
		t.Errorf("toy database components %v, want %v", components, want)
	}
}

// TestModuleTable: every module has a constructor and its default address (services.<name>.addr), a
// topic has one producer, and every service's settings (a section of Config whose type has its own
// Validate) are validated through the table line of its service.
func TestModuleTable(t *testing.T) {
	cfg := Default()
	claimed := map[reflect.Type]string{}
	for _, m := range modules {
		if m.settings != nil && (m.config != nil || hasYAMLField(reflect.TypeOf(cfg), m.name)) {
			t.Errorf("%s: settings in its table line and a section of Config (config, or a Config key %q): one or the other", m.name, m.name)
		}
		if m.config != nil {
			v := m.config(&cfg)
			if v.Validate() != nil {
				t.Errorf("%s: its default settings are invalid: %v", m.name, v.Validate())
			}
			claimed[reflect.TypeOf(v)] = m.name
		}
	}
	ct := reflect.TypeOf(cfg)
	for i := 0; i < ct.NumField(); i++ {
		f := ct.Field(i)
		if f.Type.Implements(reflect.TypeOf((*validator)(nil)).Elem()) && claimed[f.Type] == "" {
			t.Errorf("Config.%s (%s) has a Validate that no module's config calls", f.Name, f.Type)
		}
	}
	seen := map[string]string{}
	for _, m := range modules {
		if m.build == nil || m.addr == "" {
			t.Errorf("%s: no constructor or default address", m.name)
		}
		if ep := cfg.Services.Endpoint(m.name); ep == nil || ep.Addr != m.addr {
			t.Errorf("%s: its endpoint has not its default address %s", m.name, m.addr)
		}
		for _, topic := range m.produces {
			if other, ok := seen[topic]; ok {
				t.Errorf("topic %s produced by %s and %s", topic, other, m.name)
			}
			seen[topic] = m.name
			if !slices.Contains(eventbus.Topics, topic) {
				t.Errorf("%s produces %s, which no event spec names", m.name, topic)
			}
		}
	}
}
