package redisclient

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mediamesh/mediamesh/internal/testenv"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// TestHungRedis pauses a real redis-server (SIGSTOP: it accepts connections and never answers).
// No command may take much more than the timeout; after three failures the breaker opens and
// commands fail at once with ErrOpen; once Redis is resumed a trial command closes the breaker
// within the breaker delay.
func TestHungRedis(t *testing.T) {
	srv := testenv.StartRedis(t)
	const timeout, delay = 50 * time.Millisecond, 500 * time.Millisecond
	c, err := New(Config{URL: srv.URL(), Timeout: timeout, BreakerDelay: delay, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	if err := c.Set(ctx, "k", "v", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Get(ctx, "missing").Err(); !errors.Is(err, redis.Nil) {
		t.Fatalf("GET missing: %v", err)
	}
	if err := c.Check(ctx); err != nil {
		t.Fatalf("check while up: %v", err)
	}

	srv.Pause(t)
	var slowest time.Duration
	for i := 0; i < 20; i++ {
		start := time.Now()
		err := c.Get(ctx, "k").Err()
		took := time.Since(start)
		slowest = max(slowest, took)
		if err == nil {
			t.Fatalf("GET %d answered from a paused Redis", i)
		}
		if i >= 3 && (!errors.Is(err, ErrOpen) || took > 5*time.Millisecond) {
			t.Fatalf("GET %d after 3 failures: %v in %s, want ErrOpen at once", i, err, took)
		}
	}
	if slowest > 3*timeout {
		t.Fatalf("slowest command against a hung Redis took %s, want about the %s timeout", slowest, timeout)
	}
	if err := c.Check(ctx); !errors.Is(err, ErrOpen) {
		t.Fatalf("check while hung: %v, want ErrOpen", err)
	}
	t.Logf("hung Redis: slowest command %s, then ErrOpen at once", slowest)

	srv.Resume(t)
	resumed := time.Now()
	for c.Get(ctx, "k").Err() != nil {
		if time.Since(resumed) > delay+time.Second {
			t.Fatalf("Redis resumed %s ago and the client still fails", time.Since(resumed))
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("recovered %s after the resume (breaker delay %s)", time.Since(resumed).Round(time.Millisecond), delay)
	if c.Open() || c.Check(ctx) != nil {
		t.Fatal("breaker still open after recovery")
	}
}

// TestAnswersAreNotFailures: replies of the server (nil, a wrong type) never open the breaker.
func TestAnswersAreNotFailures(t *testing.T) {
	srv := testenv.StartRedis(t)
	c, err := New(Config{URL: srv.URL(), Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	_ = c.Set(ctx, "s", "v", time.Minute).Err()
	for i := 0; i < 10; i++ {
		_ = c.Get(ctx, "missing").Err()
		if err := c.LPush(ctx, "s", "x").Err(); err == nil {
			t.Fatal("LPUSH on a string: no WRONGTYPE")
		}
	}
	if c.Open() {
		t.Fatal("answers opened the breaker")
	}
}
