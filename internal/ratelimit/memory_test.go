package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/internal/policy"
)

func TestMemoryEvictsFullBuckets(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{now: testStart}
	m := NewMemory(WithClock(clock.Now), WithSweepInterval(time.Second))
	short := Limit{Rate: 1, Per: time.Second}   // back to full capacity 1s after use
	long := Limit{Rate: 1, Per: 24 * time.Hour} // a day

	const n = 4096 // enough keys to touch every shard
	for i := range n {
		if _, err := m.Allow(ctx, fmt.Sprintf("short-%d", i), short); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.Allow(ctx, "long", long); err != nil {
		t.Fatal(err)
	}
	if got := m.Len(); got != n+1 {
		t.Fatalf("Len = %d, want %d", got, n+1)
	}

	clock.Advance(2 * time.Second)
	for i := range n {
		if _, err := m.Allow(ctx, fmt.Sprintf("new-%d", i), long); err != nil {
			t.Fatal(err)
		}
	}
	if got := m.Len(); got != n+1 {
		t.Fatalf("Len after the short keys refilled = %d, want %d (the new keys and long)", got, n+1)
	}
	// Eviction never forgets a key that is still limited.
	if r, err := m.Allow(ctx, "long", long); err != nil || r.Allowed {
		t.Fatalf("long after eviction: %+v, %v; want still denied", r, err)
	}
}

func TestMemoryRealClock(t *testing.T) {
	m := NewMemory()
	l := Limit{Rate: 1, Per: time.Hour, Burst: 2}
	for i := range 3 {
		if r, err := m.Allow(context.Background(), "k", l); err != nil || !r.Allowed {
			t.Fatalf("request %d: %+v, %v; want allowed", i, r, err)
		}
	}
	if r, err := m.Allow(context.Background(), "k", l); err != nil || r.Allowed || r.RetryAfter <= 0 {
		t.Fatalf("past the burst: %+v, %v; want denied with RetryAfter > 0", r, err)
	}
}

func TestFromPolicy(t *testing.T) {
	for _, tc := range []struct {
		in      string
		burst   int
		want    Limit
		wantErr bool
	}{
		{"60/min", 20, Limit{Rate: 60, Per: time.Minute, Burst: 20}, false},
		{"5/s", 0, Limit{Rate: 5, Per: time.Second, Burst: 0}, false},
		{"1/day", 3, Limit{Rate: 1, Per: 24 * time.Hour, Burst: 3}, false},
		{"10/min", -1, Limit{}, true},
	} {
		p, err := policy.ParseRate(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		p.Key, p.Burst = "ip", tc.burst
		got, err := FromPolicy(p)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("FromPolicy(%s burst %d) = %+v, %v; want %+v, error %v", tc.in, tc.burst, got, err, tc.want, tc.wantErr)
		}
	}
	if _, err := FromPolicy(nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("FromPolicy(nil) error = %v, want ErrInvalid", err)
	}
}

func TestLimitDerived(t *testing.T) {
	l := Limit{Rate: 60, Per: time.Minute, Burst: 20}
	if l.Capacity() != 21 || l.Interval() != time.Second {
		t.Fatalf("Capacity %d, Interval %v; want 21, 1s", l.Capacity(), l.Interval())
	}
	if got := (Limit{Rate: 3, Per: time.Second}).Interval(); got != 333333334*time.Nanosecond {
		t.Fatalf("Interval of 3/s = %v, want 333.333334ms (rounded up)", got)
	}
}

func BenchmarkMemoryAllow(b *testing.B) {
	m := NewMemory()
	l := Limit{Rate: 1_000_000, Per: time.Second, Burst: 1000}
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = fmt.Sprintf("op:getContent:ip:198.51.100.%d:%d", i%256, i)
	}
	var next atomic.Uint64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := next.Add(1) * 7919
		ctx := context.Background()
		for pb.Next() {
			if _, err := m.Allow(ctx, keys[i%uint64(len(keys))], l); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}
