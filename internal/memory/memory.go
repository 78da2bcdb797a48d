// Package memory bounds what the process keeps of the memory it no longer uses: a soft limit on the
// Go runtime's memory under load, and the return of the free heap to the operating system when the
// process turns idle.
package memory

import (
	"context"
	"math"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// SetLimit sets the Go runtime's soft memory limit to bytes (runtime/debug.SetMemoryLimit): as the
// runtime's memory nears it the garbage collector runs more often, so a burst of load does not grow
// the heap to twice its live size. A limit set by the GOMEMLIMIT environment variable wins, and 0
// sets none. It returns the limit in force.
func SetLimit(bytes int64) int64 {
	cur := debug.SetMemoryLimit(-1)
	if cur != math.MaxInt64 || bytes <= 0 {
		return cur // GOMEMLIMIT, or no limit asked for
	}
	debug.SetMemoryLimit(bytes)
	return bytes
}

// Idle says when the process is idle enough to hand its free heap back to the operating system.
type Idle struct {
	Every time.Duration // how often to look; 0 means 1 s
	// Quiet is at most how many bytes the process may allocate between two looks and still be
	// idle; 0 means 1 MiB.
	Quiet uint64
	// Free is at least how many bytes a collection and return would give back (garbage since the
	// last collection, and free heap not yet returned) for them to be worth it; 0 means 16 MiB.
	Free uint64
}

const (
	allocsMetric  = "/gc/heap/allocs:bytes"
	freeMetric    = "/memory/classes/heap/free:bytes"    // free heap the runtime has not returned yet
	objectsMetric = "/memory/classes/heap/objects:bytes" // live objects and garbage not yet swept
	liveMetric    = "/gc/heap/live:bytes"                // the live heap as the last collection found it
)

// Run looks every i.Every until ctx ends, and when the process allocated at most i.Quiet since the
// last look while at least i.Free could be given back, collects and returns the free heap to the
// operating system (debug.FreeOSMemory). The runtime does neither soon on its own: with nothing
// allocated no collection runs, and free memory goes back slowly; an idle process kept the 25 MB of
// garbage its start-up had left, and the 30 MB a load had freed, for minutes. A process under load
// allocates more than i.Quiet between looks and is left alone.
func (i Idle) Run(ctx context.Context) error {
	every, quiet, free := i.Every, i.Quiet, i.Free
	if every <= 0 {
		every = time.Second
	}
	if quiet == 0 {
		quiet = 1 << 20
	}
	if free == 0 {
		free = 16 << 20
	}
	samples := []metrics.Sample{{Name: allocsMetric}, {Name: freeMetric}, {Name: objectsMetric}, {Name: liveMetric}}
	read := func() (allocs, reclaimable uint64) {
		metrics.Read(samples)
		allocs, free, objects, live := samples[0].Value.Uint64(), samples[1].Value.Uint64(), samples[2].Value.Uint64(), samples[3].Value.Uint64()
		if objects > live {
			free += objects - live
		}
		return allocs, free
	}
	last, _ := read()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		allocs, reclaimable := read()
		if allocs-last <= quiet && reclaimable >= free {
			debug.FreeOSMemory()
			allocs, _ = read()
		}
		last = allocs
	}
}
