package testenv

import (
	"net"
	"strconv"
	"testing"
)

// FreeAddr hands out distinct, bindable loopback ports below the ephemeral range.
func TestFreeAddr(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		addr := FreeAddr(t)
		host, p, err := net.SplitHostPort(addr)
		if err != nil || host != "127.0.0.1" {
			t.Fatalf("FreeAddr = %q", addr)
		}
		port, _ := strconv.Atoi(p)
		if port < freeLow || port >= freeHigh {
			t.Errorf("port %d outside [%d, %d)", port, freeLow, freeHigh)
		}
		if seen[addr] {
			t.Fatalf("%s handed out twice", addr)
		}
		seen[addr] = true
	}
	l, err := net.Listen("tcp", FreeAddr(t))
	if err != nil {
		t.Fatalf("a FreeAddr port cannot be bound: %v", err)
	}
	_ = l.Close()
}
