package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/app"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
	"github.com/mediamesh/mediamesh/internal/testenv"
)

// TestPostgresRestart runs the auth service on a PostgreSQL server of its own, restarts the
// server, and checks that the running process recovers by itself: during the outage requests that
// need the database answer 503 (never 500) and /readyz reports unready; once the server is back,
// the same process serves them again without a restart.
func TestPostgresRestart(t *testing.T) {
	pg := databasetest.StartServer(t)
	cfg := app.Default()
	cfg.Target = []string{app.ServiceAuth}
	cfg.DataDir = t.TempDir()
	cfg.Services.Auth.DatabaseURL = pg.URL
	cfg.Services.Auth.Addr = testenv.FreeAddr(t)
	start(t, cfg)
	base := "http://" + cfg.Services.Auth.Addr
	signup := func(i int) int {
		code, _ := call(t, "POST", base+"/api/v1/auth/signup", "", fmt.Sprintf(`{"email":"pg-restart-%d-%d@example.com","display_name":"P","password":"a long enough password"}`, time.Now().UnixNano(), i))
		return code
	}
	if got := signup(0); got != 201 {
		t.Fatalf("signup before the restart: %d", got)
	}

	pg.Stop()
	for i := 1; i <= 3; i++ {
		if got := signup(i); got != 503 {
			t.Fatalf("signup while PostgreSQL is down: %d, want 503", got)
		}
	}
	if got := status(t, "GET", base+"/readyz"); got != 503 {
		t.Fatalf("readyz while PostgreSQL is down: %d, want 503", got)
	}

	pg.Start()
	deadline := time.Now().Add(15 * time.Second)
	for i := 4; ; i++ {
		got := signup(i)
		if got == 201 {
			break
		}
		if got != 503 || time.Now().After(deadline) {
			t.Fatalf("signup after PostgreSQL came back: %d", got)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if got := status(t, "GET", base+"/readyz"); got != 200 {
		t.Fatalf("readyz after the restart: %d", got)
	}
}
