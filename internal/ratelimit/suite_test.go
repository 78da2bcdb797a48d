package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/mediamesh/mediamesh/internal/testenv"
)

// backend is one Limiter implementation under the shared suite.
type backend struct {
	limiter Limiter
	// advance moves the limiter's clock forward by d: a fake clock, miniredis's TIME, or a
	// real sleep.
	advance func(d time.Duration)
	// exact is true when time moves only through advance, so durations and counts can be
	// compared exactly; false for a real Redis, whose clock runs during the test.
	exact bool
}

// testStart is where the fake clocks start.
var testStart = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// fakeClock is a manually advanced clock for the memory limiter.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// deleteTestKeys removes the keys this test binary wrote to a real Redis.
func deleteTestKeys(t *testing.T, client *redis.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	iter := client.Scan(ctx, 0, fmt.Sprintf("%stest:%d:*", KeyPrefix, testRun), 100).Iterator()
	for iter.Next(ctx) {
		if err := client.Del(ctx, iter.Val()).Err(); err != nil {
			t.Errorf("cleaning up %s: %v", iter.Val(), err)
		}
	}
	if err := iter.Err(); err != nil {
		t.Errorf("cleaning up test keys: %v", err)
	}
}

func newMemoryBackend(t *testing.T) backend {
	t.Helper()
	clock := &fakeClock{now: testStart}
	return backend{limiter: NewMemory(WithClock(clock.Now)), advance: clock.Advance, exact: true}
}

// newMiniredis starts a miniredis whose clock (Redis TIME, which redis_rate reads, and key
// expiry) moves only through the returned advance function.
func newMiniredis(t *testing.T) (*miniredis.Miniredis, *redis.Client, func(time.Duration)) {
	t.Helper()
	mr := miniredis.RunT(t)
	now := testStart
	mr.SetTime(now)
	mr.ClockTTL(true)
	client := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = client.Close() })
	return mr, client, func(d time.Duration) {
		now = now.Add(d)
		mr.SetTime(now)
	}
}

func newMiniredisBackend(t *testing.T) backend {
	t.Helper()
	_, client, advance := newMiniredis(t)
	return backend{limiter: NewRedis(client), advance: advance, exact: true}
}

// realRedis connects to the Redis named by MEDIAMESH_TEST_REDIS_URL. Without it the test is
// skipped, or fails under CI=true. Tests share that Redis with whoever else uses it: they
// only touch keys of their own (testKey) and never flush.
func realRedis(t *testing.T) *redis.Client {
	t.Helper()
	url := testenv.Get(t, "MEDIAMESH_TEST_REDIS_URL", "a Redis server (e.g. redis://127.0.0.1:6379/0)")
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("MEDIAMESH_TEST_REDIS_URL: %v", err)
	}
	client := redis.NewClient(opts)
	t.Cleanup(func() { _ = client.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		t.Fatalf("Redis at MEDIAMESH_TEST_REDIS_URL: %v", err)
	}
	t.Cleanup(func() { deleteTestKeys(t, client) })
	return client
}

// testRun tells this test binary's keys from those of other runs sharing a Redis.
var testRun = time.Now().UnixNano()

// testKey returns a key no other test or run uses, so runs against a shared Redis do not meet.
func testKey(t *testing.T, name string) string {
	t.Helper()
	return fmt.Sprintf("test:%d:%s:%d:%s", testRun, t.Name(), time.Now().UnixNano(), name)
}

func TestMemory(t *testing.T)    { runSuite(t, newMemoryBackend) }
func TestMiniredis(t *testing.T) { runSuite(t, newMiniredisBackend) }

func TestRedis(t *testing.T) {
	client := realRedis(t)
	runSuite(t, func(*testing.T) backend {
		return backend{limiter: NewRedis(client), advance: func(d time.Duration) { time.Sleep(d) }, exact: false}
	})
}

// runSuite is the contract every Limiter implementation meets.
func runSuite(t *testing.T, newBackend func(t *testing.T) backend) {
	ctx := context.Background()

	// near checks got against an exact want; when the backend's clock runs on its own, got
	// may be up to slack less than want.
	near := func(t *testing.T, b backend, what string, got, want, slack time.Duration) {
		t.Helper()
		if b.exact && got != want || !b.exact && (got > want || got < want-slack) {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}

	t.Run("burst then deny", func(t *testing.T) {
		b := newBackend(t)
		key := testKey(t, "k")
		l := Limit{Rate: 10, Per: time.Minute, Burst: 4} // one every 6s, 5 at once
		for i := range l.Capacity() {
			r, err := b.limiter.Allow(ctx, key, l)
			if err != nil {
				t.Fatal(err)
			}
			if !r.Allowed || r.Limit != 5 || r.Remaining != 4-i || r.RetryAfter != 0 {
				t.Fatalf("request %d: %+v, want allowed, limit 5, remaining %d", i, r, 4-i)
			}
			near(t, b, fmt.Sprintf("request %d: ResetAfter", i), r.ResetAfter, time.Duration(i+1)*6*time.Second, time.Second)
		}
		r, err := b.limiter.Allow(ctx, key, l)
		if err != nil {
			t.Fatal(err)
		}
		if r.Allowed || r.Limit != 5 || r.Remaining != 0 || r.RetryAfter <= 0 {
			t.Fatalf("request past the burst: %+v, want denied with RetryAfter > 0", r)
		}
		near(t, b, "RetryAfter", r.RetryAfter, 6*time.Second, time.Second)
		near(t, b, "ResetAfter", r.ResetAfter, 30*time.Second, time.Second)
		// A denied request consumes nothing.
		r2, err := b.limiter.Allow(ctx, key, l)
		if err != nil {
			t.Fatal(err)
		}
		if r2.Allowed || r2.RetryAfter > r.RetryAfter {
			t.Fatalf("second denied request: %+v, want denied, RetryAfter <= %v", r2, r.RetryAfter)
		}
	})

	t.Run("burst 0 allows one at a time", func(t *testing.T) {
		b := newBackend(t)
		key := testKey(t, "k")
		l := Limit{Rate: 2, Per: time.Hour, Burst: 0}
		r, err := b.limiter.Allow(ctx, key, l)
		if err != nil || !r.Allowed || r.Limit != 1 || r.Remaining != 0 {
			t.Fatalf("first: %+v, %v; want allowed, limit 1, remaining 0", r, err)
		}
		r, err = b.limiter.Allow(ctx, key, l)
		if err != nil || r.Allowed {
			t.Fatalf("second: %+v, %v; want denied", r, err)
		}
		near(t, b, "RetryAfter", r.RetryAfter, 30*time.Minute, time.Second)
	})

	t.Run("keys are independent", func(t *testing.T) {
		b := newBackend(t)
		l := Limit{Rate: 1, Per: time.Hour, Burst: 1}
		a, c := testKey(t, "a"), testKey(t, "b")
		for i := range 2 {
			if r, err := b.limiter.Allow(ctx, a, l); err != nil || !r.Allowed {
				t.Fatalf("a %d: %+v, %v; want allowed", i, r, err)
			}
		}
		if r, err := b.limiter.Allow(ctx, a, l); err != nil || r.Allowed {
			t.Fatalf("a exhausted: %+v, %v; want denied", r, err)
		}
		r, err := b.limiter.Allow(ctx, c, l)
		if err != nil || !r.Allowed || r.Remaining != 1 {
			t.Fatalf("b: %+v, %v; want allowed with remaining 1", r, err)
		}
	})

	t.Run("recovers as time passes", func(t *testing.T) {
		b := newBackend(t)
		key := testKey(t, "k")
		l := Limit{Rate: 4, Per: time.Second, Burst: 1} // one every 250ms, 2 at once
		const margin = 25 * time.Millisecond            // slack for a real clock; harmless for a fake one
		for range 2 {
			if r, err := b.limiter.Allow(ctx, key, l); err != nil || !r.Allowed {
				t.Fatalf("burst: %+v, %v; want allowed", r, err)
			}
		}
		denied, err := b.limiter.Allow(ctx, key, l)
		if err != nil || denied.Allowed {
			t.Fatalf("after burst: %+v, %v; want denied", denied, err)
		}
		near(t, b, "RetryAfter", denied.RetryAfter, 250*time.Millisecond, 100*time.Millisecond)

		if b.exact {
			// Just before RetryAfter the request is still denied; at RetryAfter it is allowed.
			b.advance(denied.RetryAfter - time.Microsecond)
			if r, err := b.limiter.Allow(ctx, key, l); err != nil || r.Allowed || r.RetryAfter <= 0 || r.RetryAfter > 2*time.Microsecond {
				// Exactly 1µs for the memory limiter; redis_rate's float seconds may add ns.
				t.Fatalf("1µs before RetryAfter: %+v, %v; want denied with RetryAfter about 1µs", r, err)
			}
			b.advance(time.Microsecond)
		} else {
			b.advance(denied.RetryAfter + margin)
		}
		r, err := b.limiter.Allow(ctx, key, l)
		if err != nil || !r.Allowed || r.Remaining != 0 {
			t.Fatalf("after RetryAfter: %+v, %v; want allowed with remaining 0", r, err)
		}
		if b.exact {
			if r, err := b.limiter.Allow(ctx, key, l); err != nil || r.Allowed {
				t.Fatalf("one unit back, used: %+v, %v; want denied", r, err)
			}
		}

		b.advance(r.ResetAfter + margin)
		for i := range 2 {
			r, err := b.limiter.Allow(ctx, key, l)
			if err != nil || !r.Allowed || r.Remaining != 1-i {
				t.Fatalf("after ResetAfter, request %d: %+v, %v; want allowed, remaining %d", i, r, err, 1-i)
			}
		}
	})

	t.Run("AllowN", func(t *testing.T) {
		b := newBackend(t)
		key := testKey(t, "k")
		l := Limit{Rate: 10, Per: time.Minute, Burst: 4}
		r, err := b.limiter.AllowN(ctx, key, l, 3)
		if err != nil || !r.Allowed || r.Remaining != 2 {
			t.Fatalf("AllowN 3: %+v, %v; want allowed, remaining 2", r, err)
		}
		r, err = b.limiter.AllowN(ctx, key, l, 3)
		if err != nil || r.Allowed || r.Remaining != 0 {
			t.Fatalf("AllowN 3 again: %+v, %v; want denied", r, err)
		}
		near(t, b, "RetryAfter", r.RetryAfter, 6*time.Second, time.Second)
		r, err = b.limiter.AllowN(ctx, key, l, 2)
		if err != nil || !r.Allowed || r.Remaining != 0 {
			t.Fatalf("AllowN 2: %+v, %v; want allowed, remaining 0", r, err)
		}
		for _, n := range []int{0, -1, 6} {
			if _, err := b.limiter.AllowN(ctx, key, l, n); !errors.Is(err, ErrInvalid) {
				t.Errorf("AllowN %d: error %v, want ErrInvalid", n, err)
			}
		}
	})

	t.Run("invalid limits", func(t *testing.T) {
		b := newBackend(t)
		for _, l := range []Limit{
			{},
			{Rate: 0, Per: time.Second},
			{Rate: 1, Per: 0},
			{Rate: 1, Per: time.Second, Burst: -1},
			{Rate: 1, Per: 24 * time.Hour, Burst: maxBurst},
		} {
			if _, err := b.limiter.Allow(ctx, testKey(t, "k"), l); !errors.Is(err, ErrInvalid) {
				t.Errorf("Allow under %+v: error %v, want ErrInvalid", l, err)
			}
		}
	})

	t.Run("concurrent callers never exceed the limit", func(t *testing.T) {
		b := newBackend(t)
		key := testKey(t, "k")
		l := Limit{Rate: 1, Per: time.Hour, Burst: 9} // 10 at once, then one an hour
		const workers, calls = 32, 5
		var allowed, denied atomic.Int64
		var wg sync.WaitGroup
		errs := make(chan error, workers*calls)
		for range workers {
			wg.Go(func() {
				for range calls {
					r, err := b.limiter.Allow(ctx, key, l)
					switch {
					case err != nil:
						errs <- err
					case r.Allowed:
						allowed.Add(1)
					default:
						denied.Add(1)
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if allowed.Load() != 10 || denied.Load() != workers*calls-10 {
			t.Fatalf("allowed %d, denied %d of %d; want exactly 10 allowed", allowed.Load(), denied.Load(), workers*calls)
		}
	})
}
