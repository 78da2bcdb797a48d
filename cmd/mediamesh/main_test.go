package main

import (
	"io"
	"os"
	"strings"
	"testing"
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
	for _, cmd := range []string{"run", "migrate", "replay", "config", "version", "help"} {
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
