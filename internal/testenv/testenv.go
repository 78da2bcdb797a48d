// Package testenv gives tests the servers they need (PostgreSQL, Redis, Kafka) from the environment:
// a test that lacks its server skips locally, with the variable to set, and fails under CI=true,
// where .ci/run must have started it.
package testenv

import (
	"net"
	"os"
	"strconv"
	"testing"
)

// Get returns the value of the environment variable name, which locates a server the test needs
// (what describes it). Without it the test skips, or fails when CI=true.
func Get(t testing.TB, name, what string) string {
	t.Helper()
	v := os.Getenv(name)
	if v != "" {
		return v
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not set: CI must provide %s", name, what)
	}
	t.Skipf("%s is not set; this test needs %s", name, what)
	return ""
}

// FreeAddr returns a loopback address ("127.0.0.1:port") whose port was free a moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// FreePort is the port of FreeAddr.
func FreePort(t testing.TB) int {
	t.Helper()
	_, p, _ := net.SplitHostPort(FreeAddr(t))
	n, _ := strconv.Atoi(p)
	return n
}
