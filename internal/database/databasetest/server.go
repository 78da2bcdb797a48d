package databasetest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/internal/testenv"
)

// EnvPostgresBin is the environment variable naming the directory of the PostgreSQL server
// binaries (initdb, pg_ctl), for tests that need a server of their own to stop and start.
const EnvPostgresBin = "MEDIAMESH_TEST_POSTGRES_BIN"

// Server is a private PostgreSQL server that a fault test may restart without disturbing the
// shared test server.
type Server struct {
	t    testing.TB
	bin  string
	dir  string
	port int
	as   string // run the server as this OS user (PostgreSQL refuses to run as root)
	// URL reaches the server's postgres database as the superuser mediamesh, without a password.
	URL string
}

// StartServer initialises and starts a private server on a free loopback port, stopped when the
// test ends. Without MEDIAMESH_TEST_POSTGRES_BIN the test skips, or fails under CI=true.
func StartServer(t testing.TB) *Server {
	t.Helper()
	bin := testenv.Get(t, EnvPostgresBin, "the PostgreSQL server binaries, e.g. /usr/lib/postgresql/16/bin")
	s := &Server{t: t, bin: bin}
	if u, err := user.Current(); err == nil && u.Uid == "0" {
		s.as = "postgres"
	}
	dir, err := os.MkdirTemp("", "mediamesh-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s.dir = filepath.Join(dir, "data")
	if s.as != "" {
		if out, err := exec.Command("chown", s.as, dir).CombinedOutput(); err != nil {
			t.Fatalf("databasetest: chown %s: %v\n%s", dir, err, out)
		}
	}
	s.port = testenv.FreePort(t)
	s.run("initdb", "-D", s.dir, "-U", "mediamesh", "--auth=trust", "--no-sync", "-E", "UTF8")
	s.URL = fmt.Sprintf("postgres://mediamesh@127.0.0.1:%d/postgres?sslmode=disable", s.port)
	s.Start()
	t.Cleanup(func() { s.Stop() })
	return s
}

// Start starts the server and waits until it accepts connections.
func (s *Server) Start() {
	s.t.Helper()
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off", s.port, filepath.Dir(s.dir))
	s.run("pg_ctl", "-D", s.dir, "-o", opts, "-l", filepath.Join(filepath.Dir(s.dir), "server.log"), "-w", "-t", "30", "start")
}

// Stop stops the server, disconnecting every client (fast shutdown); a paused server is resumed
// first.
func (s *Server) Stop() {
	s.t.Helper()
	if _, err := s.postmaster(); err == nil {
		s.signal(syscall.SIGCONT)
	}
	cmd := s.command("pg_ctl", "-D", s.dir, "-m", "fast", "-w", "-t", "30", "stop")
	_ = cmd.Run() // already stopped is fine
}

// Pause stops every process of the server (SIGSTOP to the postmaster and its children): connections
// are accepted by the kernel and never answered, and open sessions hang, like a hung host. Resume
// lets them go on; a paused server is resumed before it is stopped at the end of the test.
func (s *Server) Pause() {
	s.t.Helper()
	s.signal(syscall.SIGSTOP)
}

// Resume lets a paused server go on (SIGCONT).
func (s *Server) Resume() {
	s.t.Helper()
	s.signal(syscall.SIGCONT)
}

// signal sends sig to the postmaster (its pid from postmaster.pid) and to its children.
func (s *Server) signal(sig syscall.Signal) {
	s.t.Helper()
	pid, err := s.postmaster()
	if err != nil {
		s.t.Fatalf("databasetest: %v", err)
	}
	pids := []int{pid}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so read after its closing parenthesis.
		rest := string(stat[bytes.LastIndexByte(stat, ')')+1:])
		var state string
		var ppid int
		if _, err := fmt.Sscan(rest, &state, &ppid); err == nil && ppid == pid {
			pids = append(pids, child)
		}
	}
	if sig == syscall.SIGCONT {
		slices.Reverse(pids) // the children first, then the postmaster that supervises them
	}
	for _, p := range pids {
		if err := syscall.Kill(p, sig); err != nil && p == pid {
			s.t.Fatalf("databasetest: signal %v to the postmaster %d: %v", sig, pid, err)
		}
	}
}

// postmaster reads the server's pid from its data directory.
func (s *Server) postmaster() (int, error) {
	b, err := os.ReadFile(filepath.Join(s.dir, "postmaster.pid"))
	if err != nil {
		return 0, fmt.Errorf("the server is not running: %v", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return strconv.Atoi(strings.TrimSpace(line))
}

func (s *Server) command(name string, args ...string) *exec.Cmd {
	path := filepath.Join(s.bin, name)
	if s.as != "" {
		return exec.Command("runuser", append([]string{"-u", s.as, "--", path}, args...)...)
	}
	return exec.Command(path, args...)
}

func (s *Server) run(name string, args ...string) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := s.command(name, args...)
	cmd = exec.CommandContext(ctx, cmd.Path, cmd.Args[1:]...)
	if out, err := cmd.CombinedOutput(); err != nil {
		s.t.Fatalf("databasetest: %s: %v\n%s", name, err, out)
	}
}
