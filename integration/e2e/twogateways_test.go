package e2e

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/app"
	"github.com/mediamesh/mediamesh/internal/testenv"
)

// TestTwoGatewaysSplit runs two discovery gateway processes on one Redis in front of split services
// over Kafka: both answer a published program from their in-process cache (L1), and when it is
// unpublished both stop answering it within a second, the invalidation reaching the second
// gateway's L1 through Redis.
func TestTwoGatewaysSplit(t *testing.T) {
	brokers := testenv.Get(t, "MEDIAMESH_TEST_KAFKA_BROKERS", "a Kafka broker (bash tools/kafka/start.sh; e.g. 127.0.0.1:9092)")
	redisURL := testenv.Get(t, "MEDIAMESH_TEST_REDIS_URL", "a Redis server, e.g. redis://127.0.0.1:6379/0")
	base := app.Default()
	base.Kafka.Brokers = strings.Split(brokers, ",")
	base.Redis.URL = redisURL
	base.Auth.AdminPassword = "two gateways admin password"
	base.Auth.AdminEmail = fmt.Sprintf("admin-%d@two-gateways.test", time.Now().UnixNano())
	base.Gateway.RateLimits = false // the test polls the public side every 5ms
	startServices(t, &base, []string{app.ServiceAuth, app.ServiceMetadata, app.ServiceCMS, app.ServiceDiscovery})
	first := startGateways(t, base, app.GatewayDiscovery, app.GatewayCMS)
	second := startGateways(t, base, app.GatewayDiscovery)["discovery gateway"]
	a := &api{t: t, cms: first["cms gateway"], disc: first["discovery gateway"], unique: fmt.Sprint(time.Now().UnixNano())}
	a.token = login(t, a.cms, base.Auth.AdminEmail, base.Auth.AdminPassword)

	var p struct{ ID string }
	a.do("POST", "/api/v1/cms/programs", fmt.Sprintf(`{"kind":"show","title":"Two gateways %s","slug":"two-gateways-%s","language":"en"}`, a.unique, a.unique), 201, &p)
	a.do("POST", "/api/v1/cms/programs/"+p.ID+"/publish", "", 200, nil)
	page := "/api/v1/discovery/programs/" + p.ID
	a.await(page, 200, "Two gateways")
	cached := func(gw string) bool {
		code, _, header := callHeader(t, gw+page, "X-Cache")
		return code == 200 && header == "HIT"
	}
	for _, gw := range []string{a.disc, second} {
		deadline := time.Now().Add(5 * time.Second)
		for !cached(gw) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: the published program never came from the cache", gw)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}

	a.do("POST", "/api/v1/cms/programs/"+p.ID+"/unpublish", "", 200, nil)
	start := time.Now()
	gone := map[string]time.Duration{}
	for len(gone) < 2 {
		for _, gw := range []string{a.disc, second} {
			if _, done := gone[gw]; !done {
				if code, _, _ := callHeader(t, gw+page, "X-Cache"); code == 404 {
					gone[gw] = time.Since(start)
				}
			}
		}
		if time.Since(start) > 5*time.Second {
			t.Fatalf("the unpublished program was still answered after 5 s (gone: %v)", gone)
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("unpublished program gone from the first gateway after %s, from the second after %s", gone[a.disc], gone[second])
	for gw, d := range gone {
		if d > time.Second {
			t.Errorf("%s answered the unpublished program for %s, want under 1 s", gw, d)
		}
	}
}

// callHeader GETs url and returns the status, the body and the value of header name.
func callHeader(t *testing.T, url, name string) (int, string, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header.Get(name)
}
