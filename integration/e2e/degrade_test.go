package e2e

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/app"
	"github.com/mediamesh/mediamesh/internal/testenv"
)

// loginAttempts makes n failed logins from one address through base and returns their statuses.
func loginAttempts(t *testing.T, base string, n int) []int {
	t.Helper()
	var codes []int
	for i := 0; i < n; i++ {
		code, _ := call(t, "POST", base+"/api/v1/auth/login", "", fmt.Sprintf(`{"email":"nobody%d@example.com","password":"not the password"}`, i))
		codes = append(codes, code)
	}
	return codes
}

// checkLimited checks that the first attempts were let through (401: wrong credentials) and the
// last refused by the login limit (10/min, burst 5 per address): limits hold without Redis.
func checkLimited(t *testing.T, codes []int) {
	t.Helper()
	for i, c := range codes[:6] {
		if c != 401 {
			t.Fatalf("login %d: %d (all: %v)", i+1, c, codes)
		}
	}
	if codes[6] != 429 {
		t.Fatalf("the 7th login must be refused by the in-process limiter while Redis is down: %v", codes)
	}
}

// TestRedisDown runs the platform against a Redis that refuses connections: the login limit is
// enforced in process (it used to turn off with redis.fail_open=true), nothing answers 500, and
// the admin /readyz stays 200 with Redis reported as a degraded dependency.
func TestRedisDown(t *testing.T) {
	cfg := app.Default()
	cfg.Gateway.DiscoveryAddr, cfg.Gateway.CMSAddr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.Redis.URL = "redis://" + testenv.FreeAddr(t) + "/0" // nothing listens there
	cfg.AdminAddr = testenv.FreeAddr(t)
	urls, _, _ := start(t, cfg)
	gw := urls["discovery gateway"]
	checkLimited(t, loginAttempts(t, gw, 7))
	if code, _ := call(t, "GET", gw+"/api/v1/auth/.well-known/jwks.json", "", ""); code != 200 {
		t.Fatalf("jwks with Redis down: %d", code)
	}
	code, body := call(t, "GET", "http://"+cfg.AdminAddr+"/readyz?verbose", "", "")
	if code != 200 || !strings.Contains(body, `"degraded":["redis"]`) {
		t.Fatalf("admin readyz with Redis down: %d %s, want 200 with redis degraded", code, body)
	}
}

// TestRedisHung pauses a Redis of the test's own (SIGSTOP, as a hung server) under a running
// platform: public reads and logins keep their speed (issue 19: p50 1,004 ms and 1 s logins), the
// login limit holds in process, and once Redis is resumed the gateway caches again by itself.
func TestRedisHung(t *testing.T) {
	srv := testenv.StartRedis(t)
	cfg := app.Default()
	cfg.Gateway.DiscoveryAddr, cfg.Gateway.CMSAddr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.Redis.URL = srv.URL()
	urls, _, _ := start(t, cfg)
	gw := urls["discovery gateway"]
	read := func() (time.Duration, string) {
		start := time.Now()
		resp, err := http.Get(gw + "/api/v1/discovery/programs")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("read: %d", resp.StatusCode)
		}
		return time.Since(start), resp.Header.Get("X-Cache")
	}
	read()
	if _, x := read(); x != "HIT" {
		t.Fatalf("X-Cache %q before the pause, want HIT", x)
	}

	srv.Pause(t)
	var took []time.Duration
	for i := 0; i < 40; i++ {
		d, _ := read()
		took = append(took, d)
	}
	sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
	p50, worst := took[len(took)/2], took[len(took)-1]
	t.Logf("reads with Redis paused: p50 %s, max %s", p50, worst)
	if p50 > 50*time.Millisecond || worst > 500*time.Millisecond {
		t.Fatalf("reads with Redis paused: p50 %s, max %s; want p50 under 50ms", p50, worst)
	}
	loginStart := time.Now()
	codes := loginAttempts(t, gw, 7)
	perLogin := time.Since(loginStart) / 7
	t.Logf("logins with Redis paused: %s each, %v", perLogin, codes)
	checkLimited(t, codes)
	if perLogin > 500*time.Millisecond {
		t.Fatalf("a login took %s on average with Redis paused", perLogin)
	}

	srv.Resume(t)
	resumed := time.Now()
	for {
		if _, x := read(); x == "HIT" {
			break
		}
		if time.Since(resumed) > 5*time.Second {
			t.Fatal("the gateway does not cache again 5s after Redis was resumed")
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("caching again %s after the resume", time.Since(resumed).Round(time.Millisecond))
}

// TestTrustedProxies: a gateway believes the forwarding header only from gateway.trusted_proxies.
// Without them, a client that writes X-Forwarded-For still shares one login budget with itself;
// behind a trusted proxy every client has its own budget (the right-most untrusted address), and
// Forwarded is read instead when the proxies write that one.
func TestTrustedProxies(t *testing.T) {
	logins := func(base string, header func(i int) []string) []int {
		var codes []int
		for i := 0; i < 7; i++ {
			code, _, _ := callWith(t, "POST", base+"/api/v1/auth/login", "", fmt.Sprintf(`{"email":"nobody%d@example.com","password":"not the password"}`, i), header(i)...)
			codes = append(codes, code)
		}
		return codes
	}
	run := func(t *testing.T, trusted []string, header string) string {
		cfg := app.Default()
		cfg.Gateway.DiscoveryAddr, cfg.Gateway.CMSAddr = "127.0.0.1:0", "127.0.0.1:0"
		cfg.DataDir = t.TempDir()
		cfg.Gateway.TrustedProxies, cfg.Gateway.ForwardedHeader = trusted, header
		urls, _, _ := start(t, cfg)
		return urls["discovery gateway"]
	}
	t.Run("no trusted proxies: spoofed headers ignored", func(t *testing.T) {
		gw := run(t, nil, "X-Forwarded-For")
		checkLimited(t, logins(gw, func(i int) []string { return []string{"X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i)} }))
	})
	t.Run("trusted proxy: one budget per client", func(t *testing.T) {
		gw := run(t, []string{"127.0.0.1/32"}, "X-Forwarded-For")
		codes := logins(gw, func(i int) []string {
			return []string{"X-Forwarded-For", fmt.Sprintf("203.0.113.66, 198.51.100.%d", i)} // left of the client: written by it
		})
		for i, c := range codes {
			if c != 401 {
				t.Fatalf("login %d from its own client: %d (all %v), want each client limited apart", i+1, c, codes)
			}
		}
		checkLimited(t, logins(gw, func(i int) []string { return []string{"X-Forwarded-For", fmt.Sprintf("198.51.100.%d, 192.0.2.44", i)} }))
	})
	t.Run("trusted proxy writing Forwarded", func(t *testing.T) {
		gw := run(t, []string{"127.0.0.1"}, "Forwarded")
		codes := logins(gw, func(i int) []string { return []string{"Forwarded", fmt.Sprintf("for=198.51.100.%d;proto=https", i)} })
		for i, c := range codes {
			if c != 401 {
				t.Fatalf("login %d: %d (all %v)", i+1, c, codes)
			}
		}
		// X-Forwarded-For is not the configured header: varying it changes nothing.
		checkLimited(t, logins(gw, func(i int) []string {
			return []string{"Forwarded", "for=192.0.2.45", "X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i)}
		}))
	})
}
