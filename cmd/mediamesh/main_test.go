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
