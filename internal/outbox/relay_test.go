package outbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/gen/events/authevents"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
	"github.com/mediamesh/mediamesh/internal/eventbus"
)

// flakyBus fails every publish while down is set.
type flakyBus struct {
	*eventbus.Memory
	down  atomic.Bool
	tries atomic.Int32
}

func (f *flakyBus) Publish(ctx context.Context, msgs ...eventbus.Message) error {
	f.tries.Add(1)
	if f.down.Load() {
		return errors.New("broker unreachable")
	}
	return f.Memory.Publish(ctx, msgs...)
}

type received struct {
	mu    sync.Mutex
	byKey map[string][]string // aggregate -> event ids in delivery order
	ids   map[string]int
}

func (r *received) handler(_ context.Context, m eventbus.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.byKey[m.Key] = append(r.byKey[m.Key], m.Headers[eventbus.HeaderEventID])
	r.ids[m.Headers[eventbus.HeaderEventID]]++
	return nil
}

func (r *received) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.ids)
}

func appendEvents(t *testing.T, db *database.DB, keys []string, perKey int) map[string][]string {
	t.Helper()
	want := map[string][]string{}
	for i := 0; i < perKey; i++ {
		for _, k := range keys {
			id := uuid.Must(uuid.NewV7()).String()
			ev := &authevents.UserRoleChanged{EventID: id, OccurredAt: time.Now(), AggregateID: k, UserID: k, OldRoles: []string{"USER"}, NewRoles: []string{"EDITOR"}}
			if err := db.InTx(context.Background(), func(tx *sql.Tx) error { return Append(context.Background(), tx, db, ev, nil) }); err != nil {
				t.Fatal(err)
			}
			want[k] = append(want[k], id)
		}
	}
	return want
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// newFlakyBus returns an in-process bus that can be made to fail, and what its one subscriber to
// auth.events received.
func newFlakyBus(t *testing.T) (*flakyBus, *received) {
	t.Helper()
	bus := &flakyBus{Memory: eventbus.NewMemory()}
	got := &received{byKey: map[string][]string{}, ids: map[string]int{}}
	if _, err := bus.Register("test", []string{authevents.TopicAuthEvents}, got.handler, eventbus.SubscribeOptions{}); err != nil {
		t.Fatal(err)
	}
	return bus, got
}

func TestRelayDeliversInOrderThroughAnOutage(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		if err := Migrate(ctx, db); err != nil {
			t.Fatal(err)
		}
		bus, got := newFlakyBus(t)
		relay := &Relay{Name: "test", DB: db, Publisher: bus, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Batch: 7, Interval: 5 * time.Millisecond, MaxDelay: 20 * time.Millisecond}
		done := make(chan error, 1)
		go func() { done <- relay.Run(ctx) }()

		keys := []string{"u1", "u2", "u3"}
		want := appendEvents(t, db, keys, 10)
		waitFor(t, "first 30 events", func() bool { return got.count() == 30 })

		// The broker goes away: writes still succeed, nothing is delivered, rows wait.
		bus.down.Store(true)
		before := bus.tries.Load()
		more := appendEvents(t, db, keys, 5)
		waitFor(t, "failed attempts", func() bool { return bus.tries.Load() > before+2 })
		if n, _ := Backlog(ctx, db); n != 15 || got.count() != 30 {
			t.Fatalf("during the outage: backlog %d, delivered %d", n, got.count())
		}
		// It comes back: everything flows, each event once, in order per aggregate.
		bus.down.Store(false)
		relay.Wake()
		waitFor(t, "all 45 events", func() bool { return got.count() == 45 })
		for _, k := range keys {
			want[k] = append(want[k], more[k]...)
			if fmt.Sprint(got.byKey[k]) != fmt.Sprint(want[k]) {
				t.Fatalf("order for %s:\n got %v\nwant %v", k, got.byKey[k], want[k])
			}
		}
		for id, n := range got.ids {
			if n != 1 {
				t.Fatalf("event %s delivered %d times", id, n)
			}
		}
		waitFor(t, "backlog 0", func() bool { n, _ := Backlog(ctx, db); return n == 0 })
		// The relay counts a batch just after it marked it sent, which is what the backlog shows.
		waitFor(t, "45 sent", func() bool { return relay.Sent() == 45 })
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

// TestRelaysElectOneLeader runs two relays on one PostgreSQL outbox: one publishes, the other
// waits, so nothing is published twice.
func TestRelaysElectOneLeader(t *testing.T) {
	db := databasetest.Postgres(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	bus := eventbus.NewMemory()
	got := &received{byKey: map[string][]string{}, ids: map[string]int{}}
	if _, err := bus.Register("test", []string{authevents.TopicAuthEvents}, got.handler, eventbus.SubscribeOptions{}); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a := &Relay{Name: "a", DB: db, Publisher: bus, Log: log, Interval: 5 * time.Millisecond}
	b := &Relay{Name: "b", DB: db, Publisher: bus, Log: log, Interval: 5 * time.Millisecond}
	var wg sync.WaitGroup
	for _, r := range []*Relay{a, b} {
		wg.Add(1)
		go func() { defer wg.Done(); _ = r.Run(ctx) }()
	}
	appendEvents(t, db, []string{"u1", "u2"}, 20)
	waitFor(t, "40 events", func() bool { return got.count() == 40 })
	time.Sleep(50 * time.Millisecond)
	for id, n := range got.ids {
		if n != 1 {
			t.Fatalf("event %s delivered %d times", id, n)
		}
	}
	if a.Sent() > 0 && b.Sent() > 0 {
		t.Fatalf("both relays published: %d and %d", a.Sent(), b.Sent())
	}
	cancel()
	wg.Wait()
}

// TestStandbyTakesOver: the relay that waits (its retry policy probing the lock every 10
// intervals) publishes once the leader stops, and nothing goes out twice.
func TestStandbyTakesOver(t *testing.T) {
	db := databasetest.Postgres(t)
	if err := Migrate(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	bus := eventbus.NewMemory()
	got := &received{byKey: map[string][]string{}, ids: map[string]int{}}
	if _, err := bus.Register("test", []string{authevents.TopicAuthEvents}, got.handler, eventbus.SubscribeOptions{}); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	relays := []*Relay{
		{Name: "a", DB: db, Publisher: bus, Log: log, Interval: 5 * time.Millisecond},
		{Name: "b", DB: db, Publisher: bus, Log: log, Interval: 5 * time.Millisecond},
	}
	stops := make([]context.CancelFunc, len(relays))
	dones := make([]chan struct{}, len(relays))
	for i, r := range relays {
		ctx, cancel := context.WithCancel(context.Background())
		stops[i], dones[i] = cancel, make(chan struct{})
		go func() { defer close(dones[i]); _ = r.Run(ctx) }()
	}
	defer func() {
		for i := range relays {
			stops[i]()
			<-dones[i]
		}
	}()
	appendEvents(t, db, []string{"u1"}, 10)
	waitFor(t, "10 events", func() bool { return got.count() == 10 })
	leader := 0
	if relays[1].Sent() > 0 {
		leader = 1
	}
	stops[leader]()
	<-dones[leader]
	appendEvents(t, db, []string{"u2"}, 10)
	// (Sent counts a publish once the rows are marked sent, just after the bus delivered them.)
	waitFor(t, "10 more events from the standby", func() bool { return got.count() == 20 && relays[1-leader].Sent() == 10 })
	for id, n := range got.ids {
		if n != 1 {
			t.Fatalf("event %s delivered %d times", id, n)
		}
	}
}

func TestReplay(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		if err := Migrate(ctx, db); err != nil {
			t.Fatal(err)
		}
		want := appendEvents(t, db, []string{"u1", "u2"}, 300) // more than one replay page
		recs, _ := Unsent(ctx, db, 100)
		ids := make([]int64, 0, len(recs))
		for _, r := range recs {
			ids = append(ids, r.ID)
		}
		if err := MarkSent(ctx, db, ids...); err != nil { // replay covers sent rows too
			t.Fatal(err)
		}
		got := &received{byKey: map[string][]string{}, ids: map[string]int{}}
		if err := Replay(ctx, db, authevents.TopicAuthEvents, got.handler); err != nil {
			t.Fatal(err)
		}
		for k, ids := range want {
			if fmt.Sprint(got.byKey[k]) != fmt.Sprint(ids) {
				t.Fatalf("replay of %s out of order or incomplete", k)
			}
		}
		none := &received{byKey: map[string][]string{}, ids: map[string]int{}}
		if err := Replay(ctx, db, "content.events", none.handler); err != nil || none.count() != 0 {
			t.Fatalf("other topic: %v %d", err, none.count())
		}
	})
}

// TestRelayRetention: the relay deletes sent rows older than its retention and never unsent ones.
func TestRelayRetention(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		if err := Migrate(ctx, db); err != nil {
			t.Fatal(err)
		}
		bus := &flakyBus{Memory: eventbus.NewMemory()}
		appendEvents(t, db, []string{uuid.NewString()}, 3)
		// Three rows sent long ago, then an outage leaves two new rows unsent.
		recs, err := Unsent(ctx, db, 10)
		if err != nil || len(recs) != 3 {
			t.Fatalf("unsent = %d, %v", len(recs), err)
		}
		for _, rec := range recs {
			if err := MarkSent(ctx, db, rec.ID); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := db.ExecContext(ctx, db.Rebind(`UPDATE outbox SET sent_at = ?`), time.Now().Add(-48*time.Hour).UTC()); err != nil {
			t.Fatal(err)
		}
		appendEvents(t, db, []string{uuid.NewString()}, 2)
		bus.down.Store(true)

		r := &Relay{Name: "test", DB: db, Publisher: bus, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Retention: 24 * time.Hour, Interval: 10 * time.Millisecond}
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- r.Run(runCtx) }()
		waitFor(t, "the purge", func() bool {
			var n int
			_ = db.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox`).Scan(&n)
			return n == 2
		})
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if n, _ := Backlog(ctx, db); n != 2 {
			t.Fatalf("backlog = %d, want the 2 unsent rows kept", n)
		}
	})
}

// syncBuffer is a log sink safe for the relay's goroutine and the test.
type syncBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	return len(p), nil
}

func (b *syncBuffer) lines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(string(b.buf)), "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

// TestRelayOutageIsQuietAndRecoversFast: with the broker down for 2 s while writes keep coming
// (each commit used to wake the relay into another failing publish and warning: 84 lines in 20 s),
// the relay backs off instead, logs the outage once and its end once with its length, and
// publishes within about MaxDelay of the broker's return.
func TestRelayOutageIsQuietAndRecoversFast(t *testing.T) {
	db := databasetest.SQLite(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	bus, _ := newFlakyBus(t)
	logs := &syncBuffer{}
	const maxDelay = 500 * time.Millisecond
	relay := &Relay{Name: "test", DB: db, Publisher: bus, Log: slog.New(slog.NewTextHandler(logs, nil)), Interval: 5 * time.Millisecond, MaxDelay: maxDelay}
	go func() { _ = relay.Run(ctx) }()

	bus.down.Store(true)
	outage := time.Now()
	for time.Since(outage) < 2*time.Second {
		appendEvents(t, db, []string{"u1"}, 1) // a commit wakes the relay
		time.Sleep(10 * time.Millisecond)
	}
	tries := bus.tries.Load()
	bus.down.Store(false)
	back := time.Now()
	waitFor(t, "the backlog to drain", func() bool { n, _ := Backlog(ctx, db); return n == 0 })
	recovery := time.Since(back)
	t.Logf("2 s outage: %d publish attempts, first publish %s after the broker came back", tries, recovery.Round(time.Millisecond))
	if tries > 15 {
		t.Fatalf("%d publish attempts during a 2 s outage: the relay does not back off", tries)
	}
	if recovery > maxDelay*5/4+time.Second {
		t.Fatalf("published %s after the broker came back, want within about MaxDelay (%s)", recovery, maxDelay)
	}
	waitFor(t, "the recovery's log line", func() bool { return len(logs.lines()) >= 2 }) // logged just after the publish
	lines := logs.lines()
	if len(lines) != 2 || !strings.Contains(lines[0], "level=WARN") || !strings.Contains(lines[0], "failing") ||
		!strings.Contains(lines[1], "recovered") || !strings.Contains(lines[1], "outage=") {
		t.Fatalf("want one line for the outage and one for its end, got %d:\n%s", len(lines), strings.Join(lines, "\n"))
	}
}
