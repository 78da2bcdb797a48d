package main

import (
	"io"
	"os"
	"strings"
	"testing"

	"github.com/mediamesh/mediamesh/app"
)

// capture runs run(args) and returns its exit code and what it printed on stdout.
func capture(t *testing.T, args ...string) (int, string) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = w
	code := run(args)
	os.Stdout = stdout
	w.Close()
	out, _ := io.ReadAll(r)
	return code, string(out)
}

// TestHelpCommands proves `mediamesh help` prints the same help as --help, listing every
// command, and that an unknown command is refused.
func TestHelpCommands(t *testing.T) {
	code, help := capture(t, "help")
	if code != 0 || !strings.HasPrefix(help, "Usage: mediamesh [") {
		t.Fatalf("mediamesh help: exit %d, output %.80q", code, help)
	}
	for _, cmd := range []string{"run", "migrate", "replay", "config", "modules", "version", "help"} {
		if !strings.Contains(help, "\n  "+cmd+" ") {
			t.Errorf("mediamesh help does not describe the %s command", cmd)
		}
	}
	if code, flagHelp := capture(t, "--help"); code != 0 || flagHelp != help {
		t.Errorf("mediamesh --help: exit %d, and its text differs from mediamesh help", code)
	}
	if code, _ := capture(t, "nonsense"); code != 2 {
		t.Errorf("mediamesh nonsense: exit %d, want 2", code)
	}
}

// TestModulesCommand: `mediamesh modules` lists every service of the module table in start order,
// then the gateways, with the default port and the variable of each one's address, as
// deploy/run-split.sh reads it.
func TestModulesCommand(t *testing.T) {
	code, out := capture(t, "modules")
	if code != 0 {
		t.Fatalf("mediamesh modules: exit %d", code)
	}
	var services, gateways []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 || strings.HasPrefix(line, "#") {
			continue
		}
		switch f[0] {
		case "service":
			services = append(services, f[1])
			if f[3] != "MEDIAMESH_SERVICES_"+strings.ToUpper(f[1])+"_ADDR" {
				t.Errorf("%s: address variable %s", f[1], f[3])
			}
		case "gateway":
			gateways = append(gateways, f[1])
		default:
			t.Errorf("unknown kind in %q", line)
		}
	}
	if strings.Join(services, " ") != strings.Join(app.AllServices, " ") || strings.Join(gateways, " ") != strings.Join(app.AllGateways, " ") {
		t.Errorf("modules lists services %v and gateways %v, want %v and %v", services, gateways, app.AllServices, app.AllGateways)
	}
	if !strings.Contains(out, "\ngateway   discovery-gateway  :8080   MEDIAMESH_GATEWAY_DISCOVERY_ADDR   fronts=") ||
		!strings.Contains(out, "\nservice   auth               :9101   MEDIAMESH_SERVICES_AUTH_ADDR") {
		t.Errorf("modules output:\n%s", out)
	}
}

// TestAdminResetPasswordUsage: `mediamesh admin reset-password` needs an email after its flags, the
// help lists it, and an email no account has is an error (exit 1) on a fresh data directory.
func TestAdminResetPasswordUsage(t *testing.T) {
	for _, args := range [][]string{{"admin"}, {"admin", "reset-password"}, {"admin", "reset-password", "--data-dir=x"}, {"admin", "unknown", "a@b.c"}} {
		if code, _ := capture(t, args...); code != 2 {
			t.Errorf("mediamesh %v: exit %d, want 2", args, code)
		}
	}
	if _, help := capture(t, "help"); !strings.Contains(help, "\n  admin reset-password ") {
		t.Error("mediamesh help does not describe admin reset-password")
	}
	dir := t.TempDir()
	if code, _ := capture(t, "migrate", "--data-dir="+dir, "--target=auth"); code != 0 {
		t.Fatalf("migrate: exit %d", code)
	}
	if code, _ := capture(t, "admin", "reset-password", "--data-dir="+dir, "nobody@example.com"); code != 1 {
		t.Errorf("reset of an unknown email: exit %d, want 1", code)
	}
}
