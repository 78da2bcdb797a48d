package testenv

import (
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// RedisServer is a redis-server of the test's own, which it may pause (SIGSTOP: connections are
// accepted and never answered, like a hung Redis) and resume.
type RedisServer struct {
	Addr string
	cmd  *exec.Cmd
	bin  string
	args []string
}

// URL is the server's redis:// URL, database 0.
func (r *RedisServer) URL() string { return "redis://" + r.Addr + "/0" }

// Pause stops the server process (SIGSTOP).
func (r *RedisServer) Pause(t testing.TB) {
	t.Helper()
	if err := r.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
}

// Resume lets a paused server go on (SIGCONT).
func (r *RedisServer) Resume(t testing.TB) {
	t.Helper()
	if err := r.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
}

// Stop kills the server (SIGKILL: a crash; its data, kept in memory only, goes with it) and waits
// until it has exited. Start brings it back on the same port.
func (r *RedisServer) Stop(t testing.TB) {
	t.Helper()
	_ = r.cmd.Process.Signal(syscall.SIGCONT)
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
}

// Start starts a stopped server again on its port, empty, and waits until it accepts connections.
func (r *RedisServer) Start(t testing.TB) {
	t.Helper()
	r.cmd = exec.Command(r.bin, r.args...)
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r.await(t)
}

// await waits until the server accepts connections.
func (r *RedisServer) await(t testing.TB) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		if c, err := net.DialTimeout("tcp", r.Addr, 100*time.Millisecond); err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server on %s did not start", strconv.Quote(r.Addr))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// StartRedis starts redis-server (from PATH) on a free loopback port, without persistence, and
// stops it when the test ends. Without redis-server the test skips, or fails when CI=true.
func StartRedis(t testing.TB) *RedisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server is not on PATH: CI must install it")
		}
		t.Skip("redis-server is not on PATH; this test runs a Redis of its own")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, port, _ := net.SplitHostPort(addr)
	args := []string{"--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no", "--dir", t.TempDir()}
	r := &RedisServer{Addr: addr, cmd: exec.Command(bin, args...), bin: bin, args: args}
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // r.cmd is the running process, after any Stop and Start
		_ = r.cmd.Process.Signal(syscall.SIGCONT)
		_ = r.cmd.Process.Kill()
		_ = r.cmd.Wait()
	})
	r.await(t)
	return r
}
