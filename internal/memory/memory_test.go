package memory

import (
	"context"
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

func unreturned() uint64 {
	s := []metrics.Sample{{Name: freeMetric}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

var sink [][]byte

// TestIdleReturnsFreeHeap frees 64 MiB of heap, and checks that Run hands it back once the
// process is quiet, where the runtime on its own keeps it (for more than 8 s when tried).
func TestIdleReturnsFreeHeap(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	for range 64 {
		sink = append(sink, make([]byte, 1<<20))
	}
	sink = nil
	runtime.GC() // the 64 MiB are free now, and mostly not returned yet
	if u := unreturned(); u < 32<<20 {
		t.Skipf("the runtime already returned the free heap (%d bytes left): nothing to test", u)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Idle{Every: 20 * time.Millisecond}.Run(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for unreturned() >= 16<<20 {
		if time.Now().After(deadline) {
			t.Fatalf("still %d bytes of free heap not returned after 5 s", unreturned())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestIdleCollectsGarbage leaves 64 MiB of garbage uncollected, and checks that Run collects it and
// returns it once the process is quiet: with nothing allocated, no collection would run.
func TestIdleCollectsGarbage(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(-1)) // no collection but Run's
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 64 {
		sink = append(sink, make([]byte, 1<<20))
	}
	sink = nil
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = Idle{Every: 20 * time.Millisecond}.Run(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var now runtime.MemStats
		runtime.ReadMemStats(&now)
		if now.NumForcedGC > before.NumForcedGC && now.HeapInuse < before.HeapInuse+16<<20 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("heap in use %d bytes (%d before the garbage), %d forced collections: the garbage was not collected", now.HeapInuse, before.HeapInuse, now.NumForcedGC-before.NumForcedGC)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestBusyIsLeftAlone: a process allocating more than Quiet between looks is not collected.
func TestBusyIsLeftAlone(t *testing.T) {
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	go func() { _ = Idle{Every: 20 * time.Millisecond, Quiet: 1, Free: 1}.Run(ctx) }()
	stop := time.Now().Add(300 * time.Millisecond)
	for time.Now().Before(stop) {
		sink = append(sink[:0], make([]byte, 4<<10)) // allocates all the time
	}
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if forced := after.NumForcedGC - before.NumForcedGC; forced != 0 {
		t.Errorf("%d forced collections while busy", forced)
	}
}

func TestSetLimit(t *testing.T) {
	prev := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(prev)
	debug.SetMemoryLimit(math.MaxInt64)
	if got := SetLimit(0); got != math.MaxInt64 {
		t.Errorf("SetLimit(0) = %d, want no limit", got)
	}
	if got := SetLimit(200 << 20); got != 200<<20 || debug.SetMemoryLimit(-1) != 200<<20 {
		t.Errorf("SetLimit(200 MiB) = %d", got)
	}
	// A limit already in force (GOMEMLIMIT) wins.
	if got := SetLimit(100 << 20); got != 200<<20 {
		t.Errorf("SetLimit over an existing limit = %d, want it kept", got)
	}
}
