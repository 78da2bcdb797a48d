package discovery

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/gen/events/contentevents"
	"github.com/mediamesh/mediamesh/gen/events/discoveryevents"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
	"github.com/mediamesh/mediamesh/internal/eventbus"
	"github.com/mediamesh/mediamesh/internal/inbox"
	"github.com/mediamesh/mediamesh/internal/outbox"
)

// benchCatalogue returns a discovery service on a SQLite file with programs × episodes published,
// its HTTP handler, the episode ids and the program of each.
func benchCatalogue(b *testing.B, programs, episodes int) (*Service, http.Handler, []string, map[string]string) {
	b.Helper()
	ctx := context.Background()
	db := databasetest.SQLite(b)
	for _, m := range []func(context.Context) error{
		func(ctx context.Context) error { return db.Migrate(ctx, Migrations.Component, Migrations.FS) },
		func(ctx context.Context) error { return inbox.Migrate(ctx, db) },
		func(ctx context.Context) error { return outbox.Migrate(ctx, db) },
	} {
		if err := m(ctx); err != nil {
			b.Fatal(err)
		}
	}
	log := slog.New(slog.DiscardHandler)
	svc, err := New(Config{}, Deps{DB: db, Log: log})
	if err != nil {
		b.Fatal(err)
	}
	h, err := svc.Handler(log, nil)
	if err != nil {
		b.Fatal(err)
	}
	var msgs []eventbus.Message
	var ids []string
	programOf := map[string]string{}
	publish := func(s contentevents.ContentSnapshot, aggregateType string) {
		id := newID()
		ev := &contentevents.ContentPublished{EventID: id, OccurredAt: base, AggregateID: s.ID, AggregateType: aggregateType, Snapshot: s, PublishedAt: base}
		payload, err := outbox.Encode(ev)
		if err != nil {
			b.Fatal(err)
		}
		msgs = append(msgs, eventbus.Message{Topic: ev.Topic(), Key: ev.MessageKey(), Value: payload,
			Headers: map[string]string{eventbus.HeaderEventType: ev.EventType(), eventbus.HeaderEventID: id}})
	}
	for range programs {
		p := newID()
		publish(programSnap(p, 1, "Bench "+p, "en"), contentevents.AggregateTypeProgram)
		for n := range episodes {
			e := newID()
			ids = append(ids, e)
			programOf[e] = p
			publish(episodeSnap(e, p, 1, nil, n+1, base), contentevents.AggregateTypeEpisode)
		}
	}
	if err := svc.HandleBatch(ctx, msgs); err != nil {
		b.Fatal(err)
	}
	return svc, h, ids, programOf
}

// BenchmarkRecordEngagement measures the ingestion path of recordEngagement through the service's
// handler (contract validation, the crawler check, the lookup of the programs, the outbox insert),
// in batches of 20 plays from parallel clients on SQLite. It reports events/s; counting is not
// part of it (see BenchmarkCountEngagement).
func BenchmarkRecordEngagement(b *testing.B) {
	_, h, episodes, _ := benchCatalogue(b, 50, 4)
	const batch = 20
	var seq atomic.Int64
	b.SetParallelism(8) // many clients at once, as the gateway sees them: commits are grouped
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		client := fmt.Sprintf("bench-client-%d", seq.Add(1))
		var body strings.Builder
		for pb.Next() {
			body.Reset()
			fmt.Fprintf(&body, `{"client_id":%q,"events":[`, client)
			for i := range batch {
				if i > 0 {
					body.WriteByte(',')
				}
				n := seq.Add(1)
				fmt.Fprintf(&body, `{"event_id":%q,"type":"play","content_type":"episode","content_id":%q,"position_seconds":%d}`,
					uuid.Must(uuid.NewV7()), episodes[int(n)%len(episodes)], n%3600)
			}
			body.WriteString("]}")
			req := httptest.NewRequest(http.MethodPost, "/api/v1/discovery/events", strings.NewReader(body.String()))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("User-Agent", "MediaMeshPlayer/1.0")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusAccepted {
				b.Fatalf("%d %s", rec.Code, rec.Body)
			}
		}
	})
	b.ReportMetric(float64(b.N*batch)/time.Since(start).Seconds(), "events/s")
}

// BenchmarkCountEngagement measures the consumer: runs of 256 engagement.recorded events (of a
// few hundred episodes, a tenth signed in) applied with their inbox records on SQLite.
func BenchmarkCountEngagement(b *testing.B) {
	svc, _, episodes, programOf := benchCatalogue(b, 50, 4)
	ctx := context.Background()
	user := uuid.Must(uuid.NewV7()).String()
	const run = 256
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		b.StopTimer()
		msgs := make([]eventbus.Message, run)
		for j := range msgs {
			id := newID()
			pos, episode := j, episodes[(i*run+j)%len(episodes)]
			ev := &discoveryevents.EngagementRecorded{EventID: id, OccurredAt: time.Now().Truncate(time.Millisecond), AggregateID: programOf[episode],
				Action: "play", ContentType: "episode", ContentID: episode, ReceivedAt: time.Now().Truncate(time.Millisecond), PositionSeconds: &pos}
			if j%10 == 0 {
				ev.UserID = &user
			}
			payload, err := outbox.Encode(ev)
			if err != nil {
				b.Fatal(err)
			}
			msgs[j] = eventbus.Message{Topic: ev.Topic(), Key: ev.MessageKey(), Value: payload,
				Headers: map[string]string{eventbus.HeaderEventType: ev.EventType(), eventbus.HeaderEventID: id}}
		}
		b.StartTimer()
		if err := svc.HandleBatch(ctx, msgs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*run)/time.Since(start).Seconds(), "events/s")
}
