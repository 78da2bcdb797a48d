package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/app"
	"github.com/mediamesh/mediamesh/internal/testenv"
)

// revokedCall is a call that a revoked token makes, which is refused with 401 once the revocation
// reached the process that answers it.
type revokedCall struct{ what, method, path, token string }

// refusedEverywhere checks that every call of revoked is refused through the CMS gateway at cms.
func refusedEverywhere(t *testing.T, cms string, revoked []revokedCall) {
	t.Helper()
	for _, r := range revoked {
		if code, out := call(t, r.method, cms+r.path, r.token, ""); code != 401 {
			t.Errorf("%s: %s %s answered %d, want 401: %s", r.what, r.method, r.path, code, out)
		}
	}
}

// revocations checks, through the CMS gateway at cms with an ADMIN's token, that a token stops
// working when its account does: deleted, disabled or demoted, logged out everywhere. It returns
// how long each took to be refused after the change was answered, and the refused calls.
func revocations(t *testing.T, cms, admin, unique string) ([]time.Duration, []revokedCall) {
	t.Helper()
	user := func(name, role string) (id, token string) {
		t.Helper()
		email := fmt.Sprintf("%s-%s@revoke.test", name, unique)
		body := fmt.Sprintf(`{"email":%q,"display_name":%q,"password":"revocation password 1","roles":[%q]}`, email, name, role)
		code, out := call(t, "POST", cms+"/api/v1/auth/users", admin, body)
		if code != 201 {
			t.Fatalf("create %s: %d %s", name, code, out)
		}
		var u struct{ ID string }
		if err := json.Unmarshal([]byte(out), &u); err != nil {
			t.Fatal(err)
		}
		return u.ID, login(t, cms, email, "revocation password 1")
	}
	// refused waits until token gets want on method url (a call that changes nothing), and returns
	// how long that took.
	var revoked []revokedCall
	refused := func(what, method, path, token string, want int) time.Duration {
		t.Helper()
		revoked = append(revoked, revokedCall{what, method, path, token})
		start := time.Now()
		for time.Since(start) < 10*time.Second {
			if code, _ := call(t, method, cms+path, token, ""); code == want {
				return time.Since(start)
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Fatalf("%s: still not %d after 10 s", what, want)
		return 0
	}
	var lags []time.Duration
	const usersPath = "/api/v1/auth/users"
	users := cms + usersPath

	// A deleted ADMIN's token cannot make a new ADMIN.
	adminID, adminToken := user("admin2", "ADMIN")
	if code, _ := call(t, "GET", users, adminToken, ""); code != 200 {
		t.Fatalf("the second ADMIN cannot list users: %d", code)
	}
	if code, out := call(t, "DELETE", users+"/"+adminID, admin, ""); code != 204 {
		t.Fatalf("delete: %d %s", code, out)
	}
	lags = append(lags, refused("deleted ADMIN", "GET", usersPath, adminToken, 401))
	body := fmt.Sprintf(`{"email":"heir-%s@revoke.test","display_name":"heir","password":"revocation password 1","roles":["ADMIN"]}`, unique)
	if code, out := call(t, "POST", users, adminToken, body); code != 401 {
		t.Fatalf("a deleted ADMIN's token created an account: %d %s", code, out)
	}

	// A disabled ADMIN cannot enable itself again.
	disabledID, disabledToken := user("admin3", "ADMIN")
	if code, out := call(t, "PATCH", users+"/"+disabledID, admin, `{"disabled":true}`); code != 200 {
		t.Fatalf("disable: %d %s", code, out)
	}
	lags = append(lags, refused("disabled ADMIN", "GET", usersPath, disabledToken, 401))
	if code, out := call(t, "PATCH", users+"/"+disabledID, disabledToken, `{"disabled":false}`); code != 401 {
		t.Fatalf("a disabled ADMIN enabled itself: %d %s", code, out)
	}

	// A demoted EDITOR's token stops speaking for an EDITOR; a new token is a USER's.
	editorID, editorToken := user("editor", "EDITOR")
	const programsPath = "/api/v1/cms/programs"
	programs := cms + programsPath
	if code, _ := call(t, "GET", programs, editorToken, ""); code != 200 {
		t.Fatalf("the EDITOR cannot list programs: %d", code)
	}
	if code, out := call(t, "PUT", users+"/"+editorID+"/roles", admin, `{"roles":["USER"]}`); code != 200 {
		t.Fatalf("demote: %d %s", code, out)
	}
	lags = append(lags, refused("demoted EDITOR", "GET", programsPath, editorToken, 401))
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second))) // tokens carry whole seconds
	fresh := login(t, cms, fmt.Sprintf("editor-%s@revoke.test", unique), "revocation password 1")
	if code, _ := call(t, "GET", programs, fresh, ""); code != 403 {
		t.Fatalf("a token issued after the demotion: %d, want 403", code)
	}

	// Logging out of every session ends the access tokens too.
	_, userToken := user("viewer", "USER")
	if code, out := call(t, "POST", cms+"/api/v1/auth/logout", userToken, `{"all_sessions":true}`); code != 204 {
		t.Fatalf("logout: %d %s", code, out)
	}
	lags = append(lags, refused("logged out everywhere", "GET", "/api/v1/auth/me", userToken, 401))
	return lags, revoked
}

func checkRevocationLags(t *testing.T, lags []time.Duration) {
	t.Helper()
	for _, l := range lags {
		if l > time.Second {
			t.Errorf("a revoked token worked for %v after the change (want under 1 s): %v", l, lags)
		}
	}
	t.Logf("revoked tokens refused after %v", lags)
}

func TestTokenRevocationAll(t *testing.T) {
	cfg := app.Default()
	cfg.Gateway.DiscoveryAddr, cfg.Gateway.CMSAddr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.Auth.AdminPassword = "revocation admin password"
	cfg.Gateway.RateLimits = false // the test polls every 5 ms
	urls, stop, stopped := start(t, cfg)
	cms := urls["cms gateway"]
	admin := login(t, cms, "admin@mediamesh.local", "revocation admin password")
	lags, revoked := revocations(t, cms, admin, fmt.Sprint(time.Now().UnixNano()))
	checkRevocationLags(t, lags)

	// The revocations outlive the process: restarted on the same data, it reads them from the auth
	// outbox before it serves (a restart made every revoked token act again until it expired).
	stop()
	<-stopped
	urls, _, _ = start(t, cfg)
	refusedEverywhere(t, urls["cms gateway"], revoked)
}

// TestTokenRevocationSplit runs the same with auth, cms and the gateways each in a process of its
// own over Kafka: the gateway and the cms service each learn the revocations from auth.events. A
// gateway process started afterwards refuses the revoked tokens from its first ready moment: it is
// not ready before it has read the revocations in force.
func TestTokenRevocationSplit(t *testing.T) {
	brokers := testenv.Get(t, "MEDIAMESH_TEST_KAFKA_BROKERS", "a Kafka broker (bash tools/kafka/start.sh; e.g. 127.0.0.1:9092)")
	base := app.Default()
	base.Kafka.Brokers = strings.Split(brokers, ",")
	base.Auth.AdminPassword = "split revocation admin password"
	base.Auth.AdminEmail = fmt.Sprintf("admin-%d@revoke.test", time.Now().UnixNano())
	base.Gateway.RateLimits = false
	startServices(t, &base, []string{app.ServiceAuth, app.ServiceMetadata, app.ServiceCMS})
	cms := startGateways(t, base, app.GatewayCMS)["cms gateway"]
	admin := login(t, cms, base.Auth.AdminEmail, base.Auth.AdminPassword)
	lags, revoked := revocations(t, cms, admin, fmt.Sprint(time.Now().UnixNano()))
	checkRevocationLags(t, lags)

	// A process started afterwards that decides alone (cms and its gateway; auth's own calls are
	// decided by auth) refuses the revoked tokens from its first ready moment.
	late := base
	late.Target = []string{app.ServiceCMS, app.GatewayCMS}
	late.DataDir = t.TempDir()
	late.Gateway.DiscoveryAddr, late.Gateway.CMSAddr = "127.0.0.1:0", "127.0.0.1:0"
	ep := late.Services.Endpoint(app.ServiceCMS) // late's own: Services is a value
	ep.Addr = testenv.FreeAddr(t)
	ep.URL = "http://" + ep.Addr
	urls, _, _ := start(t, late)
	refusedEverywhere(t, urls["cms gateway"], revoked)
}
