package app

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/internal/httpserver"
)

func TestLoadPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "mm.yaml")
	yaml := "log:\n  level: warn\n  format: text\ngateway:\n  cms_addr: 127.0.0.1:9000\ndata_dir: /var/lib/mm\n"
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"MEDIAMESH_CONFIG=" + file, "MEDIAMESH_LOG_LEVEL=debug", "MEDIAMESH_SHUTDOWN_TIMEOUT=3s", "PATH=/bin"}
	cfg, err := Load([]string{"--gateway.cms-addr", "127.0.0.1:9001"}, env)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Log.Level != "debug" { // env beats file
		t.Errorf("log.level = %q", cfg.Log.Level)
	}
	if cfg.Log.Format != "text" || cfg.DataDir != "/var/lib/mm" { // file beats default
		t.Errorf("file values not applied: %+v", cfg)
	}
	if cfg.Gateway.CMSAddr != "127.0.0.1:9001" { // flag beats file
		t.Errorf("gateway.cms_addr = %q", cfg.Gateway.CMSAddr)
	}
	if cfg.ShutdownTimeout != 3*time.Second || cfg.Gateway.DiscoveryAddr != ":8080" {
		t.Errorf("env duration or default lost: %+v", cfg)
	}
}

func TestLoadRejects(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("log:\n  levle: info\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	failOpen := filepath.Join(dir, "fail-open.yaml")
	if err := os.WriteFile(failOpen, []byte("redis:\n  url: redis://127.0.0.1:6379/0\n  fail_open: true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		env  []string
		want string
	}{
		{"unknown flag", []string{"--nope=1"}, nil, "nope"},
		{"bad level", []string{"--log.level=loud"}, nil, "log.level"},
		{"bad format", nil, []string{"MEDIAMESH_LOG_FORMAT=xml"}, "log.format"},
		{"bad duration", []string{"--shutdown-timeout=soon"}, nil, "shutdown-timeout"},
		{"bad addr", []string{"--gateway.discovery-addr=8080"}, nil, "gateway.discovery_addr"},
		{"bad url", []string{"--services.cms.url=ftp://x"}, nil, "services.cms.url"},
		{"unknown yaml key", []string{"--config", bad}, nil, "levle"},
		{"missing file", []string{"--config", filepath.Join(dir, "none.yaml")}, nil, "config file"},
		{"unknown target", []string{"--target=cms,blog"}, nil, "unknown blog"},
		{"all combined", []string{"--target=all,cms"}, nil, "cannot be combined"},
		{"gateway without upstream", []string{"--target=cms-gateway,cms"}, nil, "services.metadata.url"},
		{"service without auth", []string{"--target=search"}, nil, "services.auth.url"},
		{"relay without databases", []string{"--target=relay", "--kafka.brokers=127.0.0.1:9092"}, nil, "database_url"},
		{"relay without kafka", []string{"--target=relay", "--services.cms.database-url=postgres://x/y"}, nil, "kafka.brokers"},
		{"bad broker", []string{"--kafka.brokers=kafka"}, nil, "kafka.brokers"},
		{"unknown language", []string{"--metadata.languages=ar,xx"}, nil, "metadata.languages"},
		{"bad login rate", []string{"--auth.login-rate=often"}, nil, "auth.login_rate"},
		{"bad switch", nil, []string{"MEDIAMESH_GATEWAY_GRAPHQL_PLAYGROUND=maybe"}, "MEDIAMESH_GATEWAY_GRAPHQL_PLAYGROUND"},
		{"bad redis url", []string{"--redis.url=http://x"}, nil, "redis.url"},
		{"redis timeout too long", []string{"--redis.timeout=10s"}, nil, "redis.timeout"},
		{"redis breaker delay too short", []string{"--redis.breaker-delay=1ms"}, nil, "redis.breaker_delay"},
		{"bad trusted proxy", []string{"--gateway.trusted-proxies=10.0.0.0/8,lb.internal"}, nil, "gateway.trusted_proxies"},
		{"bad forwarded header", []string{"--gateway.forwarded-header=X-Real-IP"}, nil, "gateway.forwarded_header"},
		{"breaker delay too long", []string{"--breaker.delay=2m"}, nil, "breaker.delay"},
		{"no breaker threshold", nil, []string{"MEDIAMESH_BREAKER_FAILURE_THRESHOLD=0"}, "breaker.failure_threshold"},
		{"removed fail_open flag", []string{"--redis.fail-open=false"}, nil, "limits never turn off"},
		{"removed fail_open variable", nil, []string{"MEDIAMESH_REDIS_FAIL_OPEN=true"}, "MEDIAMESH_REDIS_FAIL_OPEN: removed"},
		{"removed fail_open key", []string{"--config", failOpen}, nil, "redis.fail_open: removed"},
		{"bad database url", []string{"--services.cms.database-url=mysql://x"}, nil, "services.cms.database_url"},
		{"stray argument", []string{"serve"}, nil, "unexpected argument"},
		{"cdn max age without purge hook", []string{"--gateway.cdn-max-age=60s"}, nil, "gateway.cdn_purge_url"},
		{"bad purge hook", []string{"--gateway.cdn-max-age=60s", "--gateway.cdn-purge-url=cdn.example"}, nil, "gateway.cdn_purge_url"},
		{"negative cache warm", []string{"--gateway.cache-warm=-1"}, nil, "gateway.cache_warm"},
		{"negative l1", []string{"--gateway.cache-l1-bytes=-1"}, nil, "gateway.cache_l1_bytes"},
		{"negative postgres connections", []string{"--postgres.max-conns=-1"}, nil, "postgres.max_conns"},
		{"outbox shorter than tokens", []string{"--outbox-retention=10m"}, nil, "outbox_retention: without kafka.brokers"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Load(c.args, c.env)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to mention %q", err, c.want)
			}
		})
	}
}

func TestPlan(t *testing.T) {
	cfg := Default()
	p, err := cfg.Plan()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p.Gateways, AllGateways) || !reflect.DeepEqual(p.InProcess, AllServices) || len(p.Listening) != 0 || len(p.Remote) != 0 {
		t.Errorf("all: %+v", p)
	}

	cfg.Target = []string{"cms", "cms"}
	if _, err = cfg.Plan(); err == nil || !strings.Contains(err.Error(), "services.auth.url") {
		t.Errorf("cms alone without auth: %v", err)
	}
	cfg.Services.Auth.URL = "http://127.0.0.1:9101"
	if _, err = cfg.Plan(); err == nil || !strings.Contains(err.Error(), "cms needs services.metadata.url") {
		t.Errorf("cms alone without metadata, which it calls: %v", err)
	}
	cfg.Services.Metadata.URL = "http://127.0.0.1:9103"
	if _, err = cfg.Plan(); err == nil || !strings.Contains(err.Error(), "cms needs services.media.url") {
		t.Errorf("cms alone without media, which it calls: %v", err)
	}
	cfg.Services.Media.URL = "http://127.0.0.1:9104"
	p, err = cfg.Plan()
	if err != nil || !reflect.DeepEqual(p.Listening, []string{"cms"}) || len(p.Gateways) != 0 || p.AuthURL != cfg.Services.Auth.URL ||
		p.Remote["metadata"] != cfg.Services.Metadata.URL || p.Remote["media"] != cfg.Services.Media.URL {
		t.Errorf("cms alone: %+v %v", p, err)
	}
	cfg.Services.Auth.URL, cfg.Services.Metadata.URL, cfg.Services.Media.URL = "", "", ""

	// ingest calls auth (to log in), cms and media, and alone needs the service account's password.
	cfg.Target = []string{ServiceIngest}
	cfg.Services.Auth.URL, cfg.Services.CMS.URL, cfg.Services.Media.URL = "http://127.0.0.1:9101", "http://127.0.0.1:9102", "http://127.0.0.1:9104"
	if p, err = cfg.Plan(); err != nil || p.Remote["auth"] == "" || p.Remote["cms"] == "" || p.Remote["media"] == "" {
		t.Errorf("ingest alone: %+v %v", p, err)
	}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "ingest.account_password") {
		t.Errorf("ingest alone without the account password: %v", err)
	}
	cfg.Ingest.AccountPassword = "a long enough password"
	cfg.Services.Ingest.DatabaseURL = "postgres://x@127.0.0.1/ingest"
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "ingest.credentials_key") {
		t.Errorf("ingest on PostgreSQL without a credentials key: %v", err)
	}
	cfg.Ingest.CredentialsKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
	if err := cfg.Validate(); err != nil {
		t.Errorf("ingest alone, configured: %v", err)
	}
	cfg.Ingest.AccountPassword, cfg.Ingest.CredentialsKey, cfg.Services.Ingest.DatabaseURL = "", "", ""
	cfg.Services.Auth.URL, cfg.Services.CMS.URL, cfg.Services.Media.URL = "", "", ""

	cfg.Target = []string{GatewayDiscovery, ServiceSearch}
	cfg.Services.Discovery.URL = "http://127.0.0.1:9106"
	cfg.Services.Auth.URL = "http://127.0.0.1:9101"
	p, err = cfg.Plan()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"discovery": "http://127.0.0.1:9106", "auth": "http://127.0.0.1:9101"}
	if !reflect.DeepEqual(p.Remote, want) || !reflect.DeepEqual(p.Listening, []string{"search"}) {
		t.Errorf("split gateway: %+v", p)
	}
}

func TestConfigRedactsSecrets(t *testing.T) {
	cfg, err := Load([]string{"--auth.admin-password=hunter2-hunter2", "--services.auth.database-url=postgres://mm:s3cret@db:5432/auth"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	out, err := cfg.YAML()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "hunter2") || strings.Contains(string(out), "s3cret") || !strings.Contains(string(out), "postgres://mm:REDACTED@db:5432/auth") {
		t.Fatalf("secrets leak or URL lost:\n%s", out)
	}
	if cfg.Auth.AdminPassword != "hunter2-hunter2" {
		t.Fatal("redaction must not change the live configuration")
	}
	if strings.Contains(Usage(), "hunter2") {
		t.Fatal("usage prints a secret")
	}
}

func TestUsageListsEverySetting(t *testing.T) {
	u := Usage()
	for _, want := range []string{"--target", "MEDIAMESH_TARGET", "--services.cms.url", "MEDIAMESH_GATEWAY_CMS_ADDR", "--config", "--gateway.graphql-playground"} {
		if !strings.Contains(u, want) {
			t.Errorf("usage lacks %q", want)
		}
	}
	// An empty secret is shown as empty, not as "(secret)": there is nothing to hide, and
	// "(secret)" reads as if something were set.
	if i := strings.Index(u, "--auth.admin-password "); i < 0 || !strings.Contains(u[i:i+strings.Index(u[i:], "\n  --")], "(default empty)") {
		t.Error("usage does not show the empty default of auth.admin-password as empty")
	}
	if strings.Contains(u, "(secret)") {
		t.Error("usage shows (secret) for a secret whose default is empty")
	}
	set := setting{secret: true, v: reflect.ValueOf("hunter2")}
	if got := set.String(); got != "(secret)" {
		t.Errorf("a set secret prints %q, want (secret)", got)
	}
}

// TestAdminAddr: the admin address is the configured one, or loopback 1000 above the first
// server's port (0 stays 0, a port that would pass 65535 too).
func TestAdminAddr(t *testing.T) {
	srv := func(addr string) []*httpserver.Server { return []*httpserver.Server{{Addr: addr}} }
	for _, tc := range []struct {
		configured string
		servers    []*httpserver.Server
		want       string
	}{
		{"10.0.0.5:9100", srv(":8080"), "10.0.0.5:9100"},
		{"", srv(":8080"), "127.0.0.1:9080"},
		{"", srv("0.0.0.0:9101"), "127.0.0.1:10101"},
		{"", srv("127.0.0.1:0"), "127.0.0.1:0"},
		{"", srv(":65000"), "127.0.0.1:0"},
		{"", nil, "127.0.0.1:0"},
	} {
		if got := adminAddr(tc.configured, tc.servers); got != tc.want {
			t.Errorf("adminAddr(%q, %v) = %q, want %q", tc.configured, tc.servers, got, tc.want)
		}
	}
}

// TestGraphQLSwitches: introspection and the playground are on in embedded mode, and the compose
// and PM2 deployments (production) turn both off.
func TestGraphQLSwitches(t *testing.T) {
	cfg, err := Load(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Gateway.GraphQLIntrospection || !cfg.Gateway.GraphQLPlayground {
		t.Errorf("defaults: introspection %v, playground %v", cfg.Gateway.GraphQLIntrospection, cfg.Gateway.GraphQLPlayground)
	}
	cfg, err = Load([]string{"--gateway.graphql-playground=false"}, []string{"MEDIAMESH_GATEWAY_GRAPHQL_INTROSPECTION=false"})
	if err != nil || cfg.Gateway.GraphQLIntrospection || cfg.Gateway.GraphQLPlayground {
		t.Errorf("turned off: introspection %v, playground %v (%v)", cfg.Gateway.GraphQLIntrospection, cfg.Gateway.GraphQLPlayground, err)
	}
	for file, quote := range map[string]string{"docker-compose.yml": `"`, "ecosystem.config.js": `'`} {
		data, err := os.ReadFile(filepath.Join("..", "deploy", file))
		if err != nil {
			t.Fatal(err)
		}
		for _, key := range []string{"MEDIAMESH_GATEWAY_GRAPHQL_INTROSPECTION", "MEDIAMESH_GATEWAY_GRAPHQL_PLAYGROUND"} {
			if !strings.Contains(string(data), "\n  "+key+": "+quote+"false"+quote) {
				t.Errorf("deploy/%s does not set %s to false", file, key)
			}
		}
	}
}

// TestLocalMediaURL: without media.local_base_url, the local store's URLs follow the address of
// the listener that serves /media, so changing a port needs no second setting.
func TestLocalMediaURL(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "http://localhost:8080/media"},
		{[]string{"--gateway.discovery-addr=127.0.0.1:9080"}, "http://127.0.0.1:9080/media"},
		{[]string{"--gateway.discovery-addr=0.0.0.0:9090"}, "http://localhost:9090/media"},
		{[]string{"--target=media", "--services.media.addr=:9204", "--services.auth.url=http://127.0.0.1:9101", "--services.cms.url=http://127.0.0.1:9102"}, "http://localhost:9204/media"},
		{[]string{"--gateway.discovery-addr=127.0.0.1:9080", "--media.local-base-url=https://media.example.com/media"}, "https://media.example.com/media"},
	} {
		cfg, err := Load(c.args, nil)
		if err != nil {
			t.Errorf("Load(%v): %v", c.args, err)
			continue
		}
		if cfg.Media.LocalBaseURL != c.want {
			t.Errorf("Load(%v): media.local_base_url %q, want %q", c.args, cfg.Media.LocalBaseURL, c.want)
		}
	}
}
