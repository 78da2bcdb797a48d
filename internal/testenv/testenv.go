// Package testenv gives tests the servers they need (PostgreSQL, Redis, Kafka) from the environment:
// a test that lacks its server skips locally, with the variable to set, and fails under CI=true,
// where .ci/run must have started it.
package testenv

import (
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"sync"
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

// FreeAddr returns a loopback address ("127.0.0.1:port") whose port was free a moment ago, for a
// server the test starts after: a random port below Linux's ephemeral range (32768 and up). A port
// the kernel hands out for ":0" comes from that range, where every outgoing connection of the
// other tests running at the same time takes its local port too, so between this call and the
// server's bind one of them could take it ("bind: address already in use"); below the range only
// another FreeAddr could, at one chance in thousands.
func FreeAddr(t testing.TB) string {
	t.Helper()
	handedMu.Lock()
	defer handedMu.Unlock()
	for range 100 {
		port := freeLow + rand.IntN(freeHigh-freeLow)
		if handed[port] {
			continue // given to an earlier caller, which may not have bound it yet
		}
		addr := "127.0.0.1:" + strconv.Itoa(port)
		if l, err := net.Listen("tcp", addr); err == nil {
			_ = l.Close()
			handed[port] = true
			return addr
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0") // the low range is full: any free port
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// The ports FreeAddr draws from: above the well-known and the usual development ports, below
// Linux's default ephemeral range (net.ipv4.ip_local_port_range 32768-60999).
const freeLow, freeHigh = 20000, 32768

// handed are the ports FreeAddr returned in this process: never returned twice.
var (
	handedMu sync.Mutex
	handed   = map[int]bool{}
)

// FreePort is the port of FreeAddr.
func FreePort(t testing.TB) int {
	t.Helper()
	_, p, _ := net.SplitHostPort(FreeAddr(t))
	n, _ := strconv.Atoi(p)
	return n
}
