package outbox_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	guuid "github.com/google/uuid"

	"github.com/mediamesh/mediamesh/gen/events/authevents"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
	"github.com/mediamesh/mediamesh/internal/eventbus"
	"github.com/mediamesh/mediamesh/internal/inbox"
	"github.com/mediamesh/mediamesh/internal/outbox"
	"github.com/mediamesh/mediamesh/internal/testenv"
)

// faultPort is where the fault test's own broker listens: it stops and restarts that broker, so it
// must not be the one other tests share.
const faultPort = "29092"

// kafkaBroker starts a broker of the test's own from the tools/kafka installation in
// MEDIAMESH_TEST_KAFKA_FAULT_HOME (tools/kafka/install.sh DIR), or skips.
func kafkaBroker(t *testing.T) ([]string, string) {
	t.Helper()
	home := testenv.Get(t, "MEDIAMESH_TEST_KAFKA_FAULT_HOME", "a Kafka installation of the test's own (bash tools/kafka/install.sh DIR)")
	kafkaScript(t, home, "start.sh")
	t.Cleanup(func() { kafkaScript(t, home, "stop.sh") })
	return []string{"127.0.0.1:" + faultPort}, home
}

func kafkaScript(t *testing.T, home, script string) {
	t.Helper()
	cmd := exec.Command("bash", "../../tools/kafka/"+script, home)
	cmd.Env = append(os.Environ(), "KAFKA_PORT="+faultPort, "KAFKA_CONTROLLER_PORT=29093")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
}

// effects is the consumer's read model: what it applied, per aggregate, in order.
type effects struct {
	mu    sync.Mutex
	order map[string][]string
	n     int
}

func (e *effects) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.n
}

// TestKafkaOutage stops the broker while events keep being written, restarts it, and checks that
// every event takes effect exactly once, none lost, in order per aggregate.
func TestKafkaOutage(t *testing.T) {
	brokers, home := kafkaBroker(t)
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		logs := &lineLog{}
		var sink io.Writer = logs
		if os.Getenv("MEDIAMESH_TEST_VERBOSE") != "" {
			sink = io.MultiWriter(logs, os.Stderr)
		}
		log := slog.New(slog.NewTextHandler(sink, nil))
		if err := outbox.Migrate(ctx, db); err != nil {
			t.Fatal(err)
		}
		if err := inbox.Migrate(ctx, db); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, `CREATE TABLE applied (aggregate_id TEXT NOT NULL, event_id TEXT NOT NULL, seq INTEGER NOT NULL)`); err != nil {
			t.Fatal(err)
		}

		pub := eventbus.NewKafkaPublisher(brokers, eventbus.WithKafkaLogger(log))
		defer pub.Close()
		relay := &outbox.Relay{Name: "fault", DB: db, Publisher: pub, Log: log, Interval: 20 * time.Millisecond, MaxDelay: 500 * time.Millisecond}
		go func() { _ = relay.Run(ctx) }()

		run := guuid.NewString()[:8]
		aggregates := []string{}
		for i := 0; i < 4; i++ {
			aggregates = append(aggregates, guuid.Must(guuid.NewV7()).String())
		}
		mine := map[string]bool{}
		for _, a := range aggregates {
			mine[a] = true
		}
		got := &effects{order: map[string][]string{}}
		sub := eventbus.NewKafkaSubscriber(brokers, eventbus.WithKafkaLogger(log))
		subErr := make(chan error, 1)
		go func() {
			subErr <- sub.Subscribe(ctx, "fault-"+run, []string{authevents.TopicAuthEvents}, func(ctx context.Context, m eventbus.Message) error {
				if !mine[m.Key] {
					return nil // another run's events on the shared topic
				}
				id := m.Headers[eventbus.HeaderEventID]
				_, err := inbox.Apply(ctx, db, "fault-"+run, id, func(tx *sql.Tx) error {
					if _, err := tx.ExecContext(ctx, db.Rebind(`INSERT INTO applied (aggregate_id, event_id, seq) VALUES (?, ?, 0)`), m.Key, id); err != nil {
						return err
					}
					got.mu.Lock()
					got.order[m.Key] = append(got.order[m.Key], id)
					got.n++
					got.mu.Unlock()
					return nil
				})
				return err
			}, eventbus.SubscribeOptions{MaxAttempts: 20, Backoff: 50 * time.Millisecond})
		}()

		want := map[string][]string{}
		total := 0
		write := func(n int) {
			for i := 0; i < n; i++ {
				a := aggregates[total%len(aggregates)]
				id := guuid.Must(guuid.NewV7()).String()
				ev := &authevents.UserRoleChanged{EventID: id, OccurredAt: time.Now(), AggregateID: a, UserID: a, OldRoles: []string{"USER"}, NewRoles: []string{"EDITOR"}}
				if err := db.InTx(ctx, func(tx *sql.Tx) error { return outbox.Append(ctx, tx, db, ev, nil) }); err != nil {
					t.Fatalf("write %d: %v", total, err)
				}
				want[a] = append(want[a], id)
				total++
				time.Sleep(2 * time.Millisecond)
			}
		}
		wait := func(n int, within time.Duration) {
			deadline := time.Now().Add(within)
			for got.count() < n {
				if time.Now().After(deadline) {
					backlog, _ := outbox.Backlog(ctx, db)
					stopped := "running"
					select {
					case err := <-subErr:
						stopped = fmt.Sprintf("stopped: %v", err)
					default:
					}
					t.Fatalf("%d of %d events took effect; relay sent %d, backlog %d, consumer %s, lag %v", got.count(), n, relay.Sent(), backlog, stopped, sub.Lag())
				}
				time.Sleep(20 * time.Millisecond)
			}
		}

		write(60)
		wait(60, 60*time.Second)
		// A new consumer group may flap once while it joins (the coordinator not ready yet); the
		// outage is what is counted, from here.
		beforeOutage := logs.count()
		kafkaScript(t, home, "stop.sh") // the broker goes away mid-stream
		for _, b := range brokers {
			if c, err := net.DialTimeout("tcp", b, time.Second); err == nil {
				c.Close()
				t.Fatalf("broker %s still answers after stop.sh: the test does not control it", b)
			}
		}
		write(60) // writes go on
		if n, _ := outbox.Backlog(ctx, db); n == 0 {
			t.Fatal("with the broker down the events must wait in the outbox")
		}
		downLines := logs.count()
		kafkaScript(t, home, "start.sh")
		back := time.Now()
		write(60)
		wait(180, 90*time.Second)
		caughtUp := time.Since(back)
		time.Sleep(500 * time.Millisecond) // let any duplicate arrive

		var rows int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM applied`).Scan(&rows); err != nil {
			t.Fatal(err)
		}
		if rows != 180 || got.count() != 180 {
			t.Fatalf("effects %d (rows %d), want exactly 180", got.count(), rows)
		}
		for _, a := range aggregates {
			if fmt.Sprint(got.order[a]) != fmt.Sprint(want[a]) {
				t.Fatalf("order for %s differs:\n got %v\nwant %v", a, got.order[a], want[a])
			}
		}
		if n, _ := outbox.Backlog(ctx, db); n != 0 {
			t.Fatalf("backlog %d after recovery", n)
		}
		// Quiet and fast: the relay and the consumer log the outage and its end, not every retry
		// (the producer logged 84 lines in 20 s), and catch up soon after the broker is back.
		outageLines := logs.count() - beforeOutage
		t.Logf("broker outage: %d log lines while down, %d for the outage and its recovery, %d in all; caught up %s after start.sh returned", downLines-beforeOutage, outageLines, logs.count(), caughtUp.Round(time.Millisecond))
		if outageLines > 8 {
			t.Errorf("%d log lines for one outage, want a few:\n%s", outageLines, logs.String())
		}
		for _, who := range []string{"outbox relay: publishing to the bus", "eventbus: kafka consumer"} {
			if strings.Count(logs.String(), who+" failing") != strings.Count(logs.String(), who+" recovered") {
				t.Errorf("%s: an outage logged without its end:\n%s", who, logs.String())
			}
		}
		if caughtUp > 15*time.Second {
			t.Errorf("caught up %s after the broker was back", caughtUp)
		}
	})
}

// lineLog keeps log output for a test, safe for concurrent writers.
type lineLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lineLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lineLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *lineLog) count() int { return strings.Count(l.String(), "\n") }
