package cache

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// TestLayeredTwoGateways runs two gateways' stores on one Redis: a read is answered from the L1 of
// the gateway that holds it without Redis, and an invalidation by either reaches the other's L1 in
// well under MaxStale, through the announcement.
func TestLayeredTwoGateways(t *testing.T) {
	client, run := testRedis(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, b := NewLayered(NewRedis(client), 1<<20, nil), NewLayered(NewRedis(client), 1<<20, nil)
	var heard atomic.Int32
	a.OnInvalidate(func(string) { heard.Add(1) })
	go a.Run(ctx)
	go b.Run(ctx)
	time.Sleep(200 * time.Millisecond) // both subscribed
	ns := run + "-discovery/program/7"

	gen, err := a.Generation(ctx, ns)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Set(ctx, ns, "/p", entry("page", gen), time.Minute); err != nil {
		t.Fatal(err)
	}
	// From L1: the entry is gone from Redis, and a still answers it.
	if err := client.Del(ctx, entryKey(ns, "/p")).Err(); err != nil {
		t.Fatal(err)
	}
	if e, ok, _, err := a.Get(ctx, ns, "/p"); err != nil || !ok || string(e.Body) != "page" {
		t.Fatalf("L1 hit: %q ok=%v err=%v", e.Body, ok, err)
	}
	if _, ok, _, _ := b.Get(ctx, ns, "/p"); ok {
		t.Fatal("b answered an entry it never held and Redis no longer has")
	}

	start := time.Now()
	if err := b.Invalidate(ctx, ns); err != nil {
		t.Fatal(err)
	}
	for {
		if _, ok, g, _ := a.Get(ctx, ns, "/p"); !ok && g == gen+1 {
			break
		}
		if time.Since(start) > MaxStale/2 {
			t.Fatalf("the invalidation by b did not reach a's L1 within %s", MaxStale/2)
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("invalidation reached the other gateway's L1 in %s", time.Since(start))
	for heard.Load() == 0 && time.Since(start) < time.Second {
		time.Sleep(5 * time.Millisecond)
	}
	if heard.Load() == 0 {
		t.Fatal("a's watcher did not hear b's invalidation")
	}
}

// TestLayeredLostAnnouncement: a gateway that misses an announcement (not subscribed) still stops
// serving the invalidated entry once MaxStale has passed.
func TestLayeredLostAnnouncement(t *testing.T) {
	client, run := testRedis(t)
	ctx := context.Background()
	deaf, other := NewLayered(NewRedis(client), 1<<20, nil), NewRedis(client)
	ns := run + "-discovery"
	gen, _ := deaf.Generation(ctx, ns)
	if err := deaf.Set(ctx, ns, "/x", entry("v", gen), time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := other.Invalidate(ctx, ns); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for {
		_, ok, _, err := deaf.Get(ctx, ns, "/x")
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		if time.Since(start) > MaxStale+200*time.Millisecond {
			t.Fatalf("an invalidated entry was still served %s later", time.Since(start))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestLayeredBoundedByBytes: L1 holds at most its bytes, dropping the least recently used entries.
func TestLayeredBoundedByBytes(t *testing.T) {
	client, run := testRedis(t)
	ctx := context.Background()
	l := NewLayered(NewRedis(client), 10_000, nil)
	ns := run + "-lists"
	body := make([]byte, 900)
	for i := range 100 {
		e := entry(string(body), 0)
		if err := l.Set(ctx, ns, fmt.Sprint("/", i), e, time.Minute); err != nil {
			t.Fatal(err)
		}
		if i == 5 {
			// Keep /0 recently used: it survives the evictions of its neighbours.
			if _, ok, _, _ := l.Get(ctx, ns, "/0"); !ok {
				t.Fatal("/0 missing")
			}
		}
	}
	if got := l.l1Bytes(); got > 10_000 || got < 5_000 {
		t.Fatalf("L1 holds %d bytes, want at most the bound 10000 (and not empty)", got)
	}
	l.mu.Lock()
	_, newest := l.entries[ns+"\x00/99"]
	_, oldest := l.entries[ns+"\x00/1"]
	l.mu.Unlock()
	if !newest || oldest {
		t.Fatalf("L1 kept /1 (%v) or dropped /99 (%v): not least recently used first", oldest, !newest)
	}
}

// TestLayeredRunStops: Run returns soon after its context ends, though it waits on Redis.
func TestLayeredRunStops(t *testing.T) {
	client, _ := testRedis(t)
	l := NewLayered(NewRedis(client), 1<<20, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	time.Sleep(100 * time.Millisecond) // subscribed and waiting
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}
