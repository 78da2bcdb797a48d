package outbox_test

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	guuid "github.com/google/uuid"

	"github.com/mediamesh/mediamesh/gen/events/authevents"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
	"github.com/mediamesh/mediamesh/internal/eventbus"
	"github.com/mediamesh/mediamesh/internal/outbox"
)

// benchBus returns the bus to measure: Kafka when MEDIAMESH_TEST_KAFKA_BROKERS is set, else the
// in-process bus of the embedded mode.
func benchBus(b *testing.B) (string, eventbus.Publisher, func(ctx context.Context, group string, h eventbus.Handler)) {
	b.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if brokers := os.Getenv("MEDIAMESH_TEST_KAFKA_BROKERS"); brokers != "" {
		list := strings.Split(brokers, ",")
		pub := eventbus.NewKafkaPublisher(list, eventbus.WithKafkaLogger(log))
		sub := eventbus.NewKafkaSubscriber(list, eventbus.WithKafkaLogger(log))
		return "kafka", pub, func(ctx context.Context, group string, h eventbus.Handler) {
			go func() {
				_ = sub.Subscribe(ctx, group, []string{authevents.TopicAuthEvents}, h, eventbus.SubscribeOptions{})
			}()
		}
	}
	bus := eventbus.NewMemory()
	return "memory", bus, func(ctx context.Context, group string, h eventbus.Handler) {
		cancel, err := bus.Register(group, []string{authevents.TopicAuthEvents}, h, eventbus.SubscribeOptions{})
		if err != nil {
			b.Fatal(err)
		}
		go func() { <-ctx.Done(); cancel() }()
	}
}

func appendN(b *testing.B, db *database.DB, n int, key string) {
	b.Helper()
	ctx := context.Background()
	err := db.InTx(ctx, func(tx *sql.Tx) error {
		for i := 0; i < n; i++ {
			id := guuid.Must(guuid.NewV7()).String()
			ev := &authevents.UserRoleChanged{EventID: id, OccurredAt: time.Now(), AggregateID: key, UserID: key, OldRoles: []string{"USER"}, NewRoles: []string{"EDITOR"}}
			if err := outbox.Append(ctx, tx, db, ev, nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

// BenchmarkRelayThroughput measures how many outbox rows per second the relay publishes.
func BenchmarkRelayThroughput(b *testing.B) {
	name, pub, _ := benchBus(b)
	defer pub.Close()
	db := databasetest.SQLite(b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := outbox.Migrate(ctx, db); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < 8; i++ { // 8 aggregates, spread over the partitions
		appendN(b, db, b.N/8+1, guuid.NewString())
	}
	total := 8 * (b.N/8 + 1)
	relay := &outbox.Relay{Name: "bench", DB: db, Publisher: pub, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Batch: 500, Interval: time.Millisecond}
	b.ResetTimer()
	start := time.Now()
	go func() { _ = relay.Run(ctx) }()
	for relay.Sent() < int64(total) {
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(total)/elapsed.Seconds(), name+"_events/s")
}

// BenchmarkPublishToConsume measures the time from a committed outbox row to its handler, through
// the relay and the bus, and reports p50 and p99.
func BenchmarkPublishToConsume(b *testing.B) {
	name, pub, subscribe := benchBus(b)
	defer pub.Close()
	db := databasetest.SQLite(b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := outbox.Migrate(ctx, db); err != nil {
		b.Fatal(err)
	}
	key := guuid.NewString()
	var mu sync.Mutex
	committed := map[string]time.Time{}
	var lat []time.Duration
	done := make(chan struct{}, 1)
	subscribe(ctx, "bench-"+key[:8], func(_ context.Context, m eventbus.Message) error {
		if m.Key != key {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		if at, ok := committed[m.Headers[eventbus.HeaderEventID]]; ok {
			lat = append(lat, time.Since(at))
			delete(committed, m.Headers[eventbus.HeaderEventID])
			select {
			case done <- struct{}{}:
			default:
			}
		}
		return nil
	})
	relay := &outbox.Relay{Name: "bench", DB: db, Publisher: pub, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Interval: time.Millisecond}
	go func() { _ = relay.Run(ctx) }()
	time.Sleep(2 * time.Second) // let a Kafka consumer join its group
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id := guuid.Must(guuid.NewV7()).String()
		ev := &authevents.UserRoleChanged{EventID: id, OccurredAt: time.Now(), AggregateID: key, UserID: key, OldRoles: []string{"USER"}, NewRoles: []string{"EDITOR"}}
		mu.Lock()
		err := db.InTx(ctx, func(tx *sql.Tx) error { return outbox.Append(ctx, tx, db, ev, nil) })
		committed[id] = time.Now()
		mu.Unlock()
		if err != nil {
			b.Fatal(err)
		}
		relay.Wake()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			b.Fatalf("event %d not consumed", i)
		}
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, name+"_p50_ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, name+"_p99_ms")
	}
}
