package outbox

import (
	"context"
	"log/slog"
	"sort"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
)

// TestPruneSent: sent rows past their event type's retention (or the default) go, in batches
// until none is left; unsent rows, rows within retention and types kept forever stay.
func TestPruneSent(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		if err := Migrate(ctx, db); err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC().Truncate(time.Millisecond)
		add := func(name, eventType string, sentAgo time.Duration, sent bool) {
			t.Helper()
			var sentAt any
			if sent {
				sentAt = now.Add(-sentAgo)
			}
			_, err := db.ExecContext(ctx, db.Rebind(`INSERT INTO outbox (event_id, topic, aggregate_id, event_type, payload, occurred_at, sent_at) VALUES (?, ?, ?, ?, ?, ?, ?)`),
				name+"-"+uuid.NewString(), "t.events", "a", eventType, []byte{0xc3, 0x01}, now.Add(-sentAgo), sentAt)
			if err != nil {
				t.Fatal(err)
			}
		}
		for range 5 {
			add("old-engagement", "engagement.recorded", 2*time.Hour, true) // past its 1 h
		}
		add("new-engagement", "engagement.recorded", 30*time.Minute, true)
		add("unsent-engagement", "engagement.recorded", 3*time.Hour, false)
		for range 3 {
			add("old-other", "content.published", 48*time.Hour, true) // past the default 24 h
		}
		add("new-other", "content.published", 2*time.Hour, true)
		add("kept", "category.upserted", 1000*time.Hour, true) // 0: kept forever

		r := Retention{Default: 24 * time.Hour, EventTypes: map[string]time.Duration{"engagement.recorded": time.Hour, "category.upserted": 0}}
		n, err := PruneSent(ctx, db, r, now, 2, time.Millisecond)
		if err != nil || n != 8 {
			t.Fatalf("PruneSent = %d, %v; want 8", n, err)
		}
		rows, err := db.QueryContext(ctx, `SELECT event_id FROM outbox`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var left []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				t.Fatal(err)
			}
			left = append(left, id[:len(id)-37])
		}
		sort.Strings(left)
		if want := []string{"kept", "new-engagement", "new-other", "unsent-engagement"}; len(left) != len(want) || left[0] != want[0] || left[1] != want[1] || left[2] != want[2] || left[3] != want[3] {
			t.Fatalf("left %v, want %v", left, want)
		}
		// Without a default, only the named types are pruned.
		add("old-other", "content.published", 48*time.Hour, true)
		if n, err := PruneSent(ctx, db, Retention{EventTypes: map[string]time.Duration{"engagement.recorded": time.Minute}}, now, 0, 0); err != nil || n != 1 {
			t.Fatalf("PruneSent of engagement only = %d, %v; want 1 (the 30 minutes old engagement row)", n, err)
		}
		var others int
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox WHERE event_type = 'content.published'`).Scan(&others); err != nil || others != 2 {
			t.Fatalf("content.published rows = %d, %v; want 2", others, err)
		}
	})
}

// TestPrunerRuns: the pruner prunes at start, then its inbox step, and stops with its context.
func TestPrunerRuns(t *testing.T) {
	db := databasetest.SQLite(t)
	ctx, cancel := context.WithCancel(context.Background())
	if err := Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * time.Hour).UTC()
	if _, err := db.ExecContext(ctx, `INSERT INTO outbox (event_id, topic, aggregate_id, event_type, payload, occurred_at, sent_at) VALUES ('e1', 't', 'a', 'x', x'00', ?, ?)`, old, old); err != nil {
		t.Fatal(err)
	}
	inboxRan := make(chan struct{}, 1)
	p := &Pruner{Name: "test", DB: db, Retention: Retention{Default: time.Hour}, Every: time.Hour, Log: slog.New(slog.DiscardHandler),
		Inbox: func(context.Context, time.Time, int, time.Duration) (int64, error) {
			select {
			case inboxRan <- struct{}{}:
			default:
			}
			return 0, nil
		}}
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	select {
	case <-inboxRan:
	case <-time.After(10 * time.Second):
		t.Fatal("the pruner did not run a pass at start")
	}
	var n int
	if err := db.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM outbox`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("outbox rows after a pass = %d, %v", n, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
}
