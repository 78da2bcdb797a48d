package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mediamesh/mediamesh/app"
	"github.com/mediamesh/mediamesh/gen/events/authevents"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
	"github.com/mediamesh/mediamesh/internal/eventbus"
	"github.com/mediamesh/mediamesh/internal/testenv"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// start runs cfg in the background and returns the base URLs printed in the banner, by name.
func start(t *testing.T, cfg app.Config) (map[string]string, context.CancelFunc, <-chan struct{}) {
	t.Helper()
	if cfg.AdminAddr == "" {
		cfg.AdminAddr = "127.0.0.1:0" // a test runs many processes' worth of servers
	}
	cfg.MemoryLimitBytes = 0 // the limit is the whole test process's, which runs many platforms
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := app.Run(ctx, cfg, quiet, pw); err != nil {
			t.Errorf("Run: %v", err)
		}
		pw.Close()
	}()
	urls := map[string]string{}
	re := regexp.MustCompile(`^\s+(.+?)\s+(http://\S+)`)
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			urls[strings.TrimSpace(m[1])] = m[2]
		}
		if urls["admin"] != "" { // the banner's last line
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	// As an orchestrator would, send nothing before the process is ready (on Kafka, it has read the
	// revocations in force).
	for deadline := time.Now().Add(30 * time.Second); urls["admin"] != ""; {
		if status(t, "GET", urls["admin"]+"/readyz") == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v is not ready after 30 s", cfg.Target)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("Run did not stop")
		}
	})
	return urls, cancel, done
}

// startSplit runs each of services from base as a process of its own, on a PostgreSQL database of
// its own, and gateways in one more process, and returns the gateways' URLs. Every service of the
// platform gets an address, so a gateway's fronts that are not started answer 503.
func startSplit(t *testing.T, base app.Config, services []string, gateways ...string) map[string]string {
	t.Helper()
	startServices(t, &base, services)
	return startGateways(t, base, gateways...)
}

// startServices gives every service of the platform an address in base, and runs each of services
// from base as a process of its own, on a PostgreSQL database of its own.
func startServices(t *testing.T, base *app.Config, services []string) {
	t.Helper()
	for _, s := range app.AllServices {
		ep := base.Services.Endpoint(s)
		ep.Addr = testenv.FreeAddr(t)
		ep.URL = "http://" + ep.Addr
	}
	for _, s := range services {
		cfg := *base
		cfg.Target = []string{s}
		cfg.DataDir = t.TempDir()
		cfg.Services.Endpoint(s).DatabaseURL = databasetest.PostgresURL(t)
		start(t, cfg)
	}
}

// startGateways runs gateways from base in one more process and returns their URLs.
func startGateways(t *testing.T, base app.Config, gateways ...string) map[string]string {
	t.Helper()
	gw := base
	gw.Target = gateways
	gw.DataDir = t.TempDir()
	gw.Gateway.DiscoveryAddr, gw.Gateway.CMSAddr = "127.0.0.1:0", "127.0.0.1:0"
	urls, _, _ := start(t, gw)
	return urls
}

func status(t *testing.T, method, url string) int {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestRunAll(t *testing.T) {
	cfg := app.Default()
	cfg.Gateway.DiscoveryAddr, cfg.Gateway.CMSAddr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.AdminAddr = testenv.FreeAddr(t)
	admin := "http://" + cfg.AdminAddr
	urls, _, _ := start(t, cfg)
	disc, cms := urls["discovery gateway"], urls["cms gateway"]
	if disc == "" || cms == "" {
		t.Fatalf("banner: %v", urls)
	}
	for _, c := range []struct {
		method, url string
		want        int
	}{
		{"GET", disc + "/healthz", 200},
		{"GET", disc + "/readyz", 200},
		{"GET", disc + "/openapi.json", 200},
		{"GET", disc + "/docs", 200},
		{"GET", cms + "/openapi.json", 200},
		{"GET", cms + "/docs/swagger-ui-bundle.js", 200},
		{"GET", disc + "/api/v1/discovery/programs", 200}, // public
		{"GET", disc + "/api/v1/auth/.well-known/jwks.json", 200},
		{"GET", cms + "/api/v1/cms/programs", 401}, // secured
		{"DELETE", disc + "/api/v1/discovery/programs", 405},
		{"GET", cms + "/api/v1/discovery/programs", 404}, // not fronted by the CMS gateway
		{"GET", disc + "/metrics", 404},                  // metrics only on the admin address
		{"GET", cms + "/metrics", 404},
		{"GET", admin + "/metrics", 200},
		{"GET", admin + "/readyz", 200},
		{"GET", admin + "/debug/pprof/", 404}, // the profiler only with admin_pprof
	} {
		if got := status(t, c.method, c.url); got != c.want {
			t.Errorf("%s %s: %d, want %d", c.method, c.url, got, c.want)
		}
	}
	// Every server of the process names the same instance in /readyz, a fresh one per start (no
	// instance_id set), so a test script can tell its process from another one on the port.
	instances := map[string]bool{}
	for _, base := range []string{disc, cms, admin} {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		var body struct{ Instance string }
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil || body.Instance == "" {
			t.Fatalf("%s/readyz: no instance (%v)", base, err)
		}
		instances[body.Instance] = true
	}
	if len(instances) != 1 {
		t.Errorf("the servers of one process name %d instances: %v", len(instances), instances)
	}
}

// TestGraphQLPlaygroundSwitch: the discovery gateway serves GraphiQL to a browser that opens
// /graphql unless gateway.graphql_playground is off, when the browser gets the endpoint's own answer
// to a GET without a query; the CMS gateway has no GraphQL, so no playground either.
func TestGraphQLPlaygroundSwitch(t *testing.T) {
	for _, on := range []bool{true, false} {
		cfg := app.Default()
		cfg.Gateway.DiscoveryAddr, cfg.Gateway.CMSAddr = "127.0.0.1:0", "127.0.0.1:0"
		cfg.Gateway.GraphQLPlayground = on
		cfg.DataDir = t.TempDir()
		urls, stop, done := start(t, cfg)
		want := map[string]string{"discovery gateway": "200 text/html; charset=utf-8", "cms gateway": "404 application/problem+json"}
		if !on {
			want["discovery gateway"] = "422 application/json"
		}
		for gw, want := range want {
			req, _ := http.NewRequest(http.MethodGet, urls[gw]+"/graphql", nil)
			req.Header.Set("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := fmt.Sprintf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type")); got != want {
				t.Errorf("playground %v: a browser at the %s's /graphql: %s, want %s", on, gw, got, want)
			}
		}
		stop()
		<-done
	}
}

// TestRunSplit runs the services of the discovery gateway in one process and the gateway in another
// (two Runs), then stops the services: the gateway answers 503 fast, and stays ready with its
// services reported as degraded dependencies.
func TestRunSplit(t *testing.T) {
	svc := app.Default()
	svc.Target = []string{app.ServiceDiscovery, app.ServiceSearch, app.ServiceAuth}
	svc.DataDir = t.TempDir()
	for _, s := range svc.Target {
		svc.Services.Endpoint(s).Addr = testenv.FreeAddr(t)
	}
	_, stopServices, servicesDone := start(t, svc)

	gw := app.Default()
	gw.Target = []string{app.GatewayDiscovery}
	gw.Gateway.DiscoveryAddr = "127.0.0.1:0"
	gw.AdminAddr = testenv.FreeAddr(t)
	gw.DataDir = t.TempDir()
	for _, s := range svc.Target {
		gw.Services.Endpoint(s).URL = "http://" + svc.Services.Endpoint(s).Addr
	}
	urls, _, _ := start(t, gw)
	base := urls["discovery gateway"]
	if got := status(t, "GET", base+"/readyz"); got != 200 {
		t.Fatalf("readyz %d", got)
	}
	if got := status(t, "GET", base+"/api/v1/discovery/programs"); got != 200 {
		t.Fatalf("forwarded call: %d, want the remote service's 200", got)
	}
	if got := status(t, "GET", "http://"+svc.Services.Discovery.Addr+"/api/v1/discovery/programs"); got != 200 {
		t.Fatalf("direct call: %d", got)
	}

	stopServices()
	<-servicesDone
	if got := status(t, "GET", base+"/api/v1/discovery/programs"); got != 503 {
		t.Fatalf("with the service down: %d, want 503", got)
	}
	// The gateway still serves (503s with Retry-After at once, cached reads): it stays ready and
	// reports its fronts as degraded dependencies, on /readyz and as mediamesh_dependency_up.
	code, body := call(t, "GET", base+"/readyz?verbose", "", "")
	if code != 200 || !strings.Contains(body, `"status":"degraded"`) || !strings.Contains(body, `"degraded":["auth","discovery","search"]`) ||
		!strings.Contains(body, `{"name":"search","up":false,"critical":false`) {
		t.Fatalf("readyz with the services down: %d %s, want 200, degraded", code, body)
	}
	if code, _ := call(t, "GET", "http://"+gw.AdminAddr+"/readyz", "", ""); code != 200 {
		t.Fatalf("admin readyz with the services down: %d", code)
	}
	_, metrics := call(t, "GET", "http://"+gw.AdminAddr+"/metrics", "", "")
	if !strings.Contains(metrics, `mediamesh_dependency_up{critical="false",dependency="search"} 0`) {
		t.Fatalf("metrics lack the search dependency down:\n%s", metrics)
	}
}

// TestRunSplitSharedRateLimit runs two discovery gateways in separate processes (Runs) on one Redis:
// the login limit per client IP (x-rate-limit: 10/min, burst 5) is shared, so attempts spread over
// both gateways are refused together once the bucket is empty.
func TestRunSplitSharedRateLimit(t *testing.T) {
	redisURL := testenv.Get(t, "MEDIAMESH_TEST_REDIS_URL", "a Redis server (e.g. redis://127.0.0.1:6379/0)")
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	client := redis.NewClient(opts)
	defer client.Close()
	// Start from an empty bucket for loopback on the login operation.
	keys, _ := client.Keys(context.Background(), "mm:rl:gw:login:*").Result()
	if len(keys) > 0 {
		client.Del(context.Background(), keys...)
	}

	svc := app.Default()
	svc.Target = []string{app.ServiceDiscovery, app.ServiceSearch, app.ServiceAuth}
	svc.DataDir = t.TempDir()
	svc.Redis.URL = redisURL
	for _, s := range svc.Target {
		svc.Services.Endpoint(s).Addr = testenv.FreeAddr(t)
	}
	start(t, svc)

	var gateways []string
	for i := 0; i < 2; i++ {
		gw := app.Default()
		gw.Target = []string{app.GatewayDiscovery}
		gw.Gateway.DiscoveryAddr = "127.0.0.1:0"
		gw.DataDir = t.TempDir()
		gw.Redis.URL = redisURL
		for _, s := range svc.Target {
			gw.Services.Endpoint(s).URL = "http://" + svc.Services.Endpoint(s).Addr
		}
		urls, _, _ := start(t, gw)
		gateways = append(gateways, urls["discovery gateway"])
	}
	var codes []int
	for i := 0; i < 7; i++ {
		body := fmt.Sprintf(`{"email":"nobody%d@example.com","password":"not the password"}`, i)
		code, _ := call(t, "POST", gateways[i%2]+"/api/v1/auth/login", "", body)
		codes = append(codes, code)
	}
	for i, c := range codes[:6] {
		if c != 401 {
			t.Fatalf("attempt %d: %d (all: %v)", i, c, codes)
		}
	}
	if codes[6] != 429 {
		t.Fatalf("the 7th attempt across both gateways must be refused: %v", codes)
	}
}

// TestRunSplitKafka runs the auth service on its own with Kafka: a user created through its API
// reaches auth.events as a user.registered event, through the outbox and the relay.
func TestRunSplitKafka(t *testing.T) {
	brokers := testenv.Get(t, "MEDIAMESH_TEST_KAFKA_BROKERS", "a Kafka broker (bash tools/kafka/start.sh; e.g. 127.0.0.1:9092)")
	cfg := app.Default()
	cfg.Target = []string{app.ServiceAuth}
	cfg.DataDir = t.TempDir()
	cfg.Kafka.Brokers = strings.Split(brokers, ",")
	cfg.Auth.AdminPassword = "kafka admin password"
	cfg.Services.Auth.Addr = testenv.FreeAddr(t)
	start(t, cfg)
	base := "http://" + cfg.Services.Auth.Addr

	email := fmt.Sprintf("kafka-%d@example.com", time.Now().UnixNano())
	code, body := call(t, "POST", base+"/api/v1/auth/signup", "", fmt.Sprintf(`{"email":%q,"display_name":"K","password":"a long enough password"}`, email))
	if code != 201 {
		t.Fatalf("signup: %d %s", code, body)
	}

	awaitRegistered(t, cfg.Kafka.Brokers, email)
}

// awaitRegistered waits until a user.registered event for email is on auth.events.
func awaitRegistered(t *testing.T, brokers []string, email string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	found := make(chan struct{})
	sub := eventbus.NewKafkaSubscriber(brokers, eventbus.WithKafkaLogger(quiet))
	go func() {
		_ = sub.Subscribe(ctx, "await-"+email, []string{eventbus.TopicAuth}, func(_ context.Context, m eventbus.Message) error {
			if m.Headers[eventbus.HeaderEventType] != authevents.TypeUserRegistered {
				return nil
			}
			var ev authevents.UserRegistered
			if err := eventbus.Decode(m.Value, (&ev).AvroSchema(), &ev); err != nil {
				return err
			}
			if ev.Email == email && m.Key == ev.UserID {
				close(found)
				cancel()
			}
			return nil
		}, eventbus.SubscribeOptions{})
	}()
	select {
	case <-found:
	case <-ctx.Done():
		t.Fatalf("user.registered for %s did not reach Kafka", email)
	}
}

// TestRunRelayTarget runs auth without Kafka, so its events wait in its outbox on PostgreSQL, and
// then the relay target alone, which publishes them.
func TestRunRelayTarget(t *testing.T) {
	brokers := testenv.Get(t, "MEDIAMESH_TEST_KAFKA_BROKERS", "a Kafka broker (bash tools/kafka/start.sh; e.g. 127.0.0.1:9092)")
	dbURL := databasetest.PostgresURL(t)

	authCfg := app.Default()
	authCfg.Target = []string{app.ServiceAuth}
	authCfg.DataDir = t.TempDir()
	authCfg.Services.Auth.DatabaseURL = dbURL
	authCfg.Services.Auth.Addr = testenv.FreeAddr(t)
	start(t, authCfg)
	email := fmt.Sprintf("relay-%d@example.com", time.Now().UnixNano())
	code, body := call(t, "POST", "http://"+authCfg.Services.Auth.Addr+"/api/v1/auth/signup", "", fmt.Sprintf(`{"email":%q,"display_name":"R","password":"a long enough password"}`, email))
	if code != 201 {
		t.Fatalf("signup: %d %s", code, body)
	}

	relayCfg := app.Default()
	relayCfg.Target = []string{app.TargetRelay}
	relayCfg.DataDir = t.TempDir()
	relayCfg.RelayAddr = "127.0.0.1:0"
	relayCfg.Services.Auth.DatabaseURL = dbURL
	relayCfg.Kafka.Brokers = strings.Split(brokers, ",")
	urls, _, _ := start(t, relayCfg)
	if got := status(t, "GET", urls["outbox relay"]+"/readyz"); got != 200 {
		t.Fatalf("relay readyz %d", got)
	}
	awaitRegistered(t, relayCfg.Kafka.Brokers, email)
}
