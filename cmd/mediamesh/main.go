// Command mediamesh runs the MediaMesh platform: every service and both gateways in one process
// (--target=all, the default), or any of them on its own. See `mediamesh --help`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/mediamesh/mediamesh/app"
	"github.com/mediamesh/mediamesh/internal/telemetry"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	cmd := "run"
	if len(args) > 0 && (args[0] == "run" || args[0] == "migrate" || args[0] == "replay" || args[0] == "import" || args[0] == "config" || args[0] == "modules" || args[0] == "version" || args[0] == "help") {
		cmd, args = args[0], args[1:]
	}
	if len(args) > 0 && args[0] == "admin" {
		return admin(args[1:])
	}
	var file string // the file of import, its last argument
	if cmd == "import" {
		if len(args) == 0 || strings.HasPrefix(args[len(args)-1], "-") {
			fmt.Fprintln(os.Stderr, "mediamesh: usage: mediamesh import [flags] FILE (see mediamesh help)")
			return 2
		}
		file, args = args[len(args)-1], args[:len(args)-1]
	}
	switch cmd {
	case "version":
		fmt.Println("mediamesh", version)
		return 0
	case "help":
		fmt.Print(app.Usage())
		return 0
	case "modules":
		fmt.Print(app.ModulesText())
		return 0
	}
	cfg, err := app.Load(args, os.Environ())
	if errors.Is(err, flag.ErrHelp) {
		fmt.Print(app.Usage())
		return 0
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "mediamesh: configuration:", err)
		return 2
	}
	if cmd == "config" {
		out, err := cfg.YAML()
		if err != nil {
			fmt.Fprintln(os.Stderr, "mediamesh:", err)
			return 1
		}
		os.Stdout.Write(out)
		return 0
	}
	if cmd == "migrate" {
		if err := app.Migrate(context.Background(), cfg, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "mediamesh: migrate:", err)
			return 1
		}
		return 0
	}
	if cmd == "import" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		o := app.ImportOptions{Out: os.Stdout}
		if isTerminal(os.Stderr) {
			o.Bar = os.Stderr
		}
		err := app.Import(ctx, cfg.Client, file, o)
		if errors.Is(err, app.ErrItemsFailed) {
			return 1
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "mediamesh: import:", err)
			return 1
		}
		return 0
	}
	log, err := telemetry.NewLogger(os.Stdout, cfg.Log.Level, cfg.Log.Format)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mediamesh:", err)
		return 2
	}
	log = log.With("version", version)
	app.Version = version
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if cmd == "replay" {
		if err := app.Replay(ctx, cfg, log, os.Stdout); err != nil {
			log.Error("replay failed", "error", err)
			return 1
		}
		return 0
	}
	if err := app.Run(ctx, cfg, log, os.Stdout); err != nil {
		log.Error("mediamesh failed", "error", err)
		return 1
	}
	return 0
}

// isTerminal reports whether f is a terminal (a character device), where a progress bar can be
// redrawn in place.
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// admin runs `mediamesh admin reset-password [flags] EMAIL`: a new password for the account, set
// directly on the auth database the flags name (no server needs to run), printed once.
func admin(args []string) int {
	if len(args) < 2 || args[0] != "reset-password" || strings.HasPrefix(args[len(args)-1], "-") {
		fmt.Fprintln(os.Stderr, "mediamesh: usage: mediamesh admin reset-password [flags] EMAIL (see mediamesh help)")
		return 2
	}
	email, args := args[len(args)-1], args[1:len(args)-1]
	cfg, err := app.Load(args, os.Environ())
	if err != nil {
		fmt.Fprintln(os.Stderr, "mediamesh: configuration:", err)
		return 2
	}
	password, err := app.ResetPassword(context.Background(), cfg, email)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mediamesh: reset-password:", err)
		return 1
	}
	fmt.Printf("new password of %s: %s\nIts sessions and access tokens are revoked; log in and change it.\n", strings.ToLower(strings.TrimSpace(email)), password)
	return 0
}
