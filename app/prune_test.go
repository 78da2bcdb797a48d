package app

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/gen/events/discoveryevents"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
	"github.com/mediamesh/mediamesh/internal/inbox"
	"github.com/mediamesh/mediamesh/internal/outbox"
)

// TestPruners: every service database gets a pruner; engagement events are pruned after
// prune.engagement_retention unless outbox_retention is shorter, and a pass prunes old engagement
// rows and inbox entries while the embedded log of the other events stays.
func TestPruners(t *testing.T) {
	db := databasetest.SQLite(t)
	ctx := context.Background()
	for _, m := range []func(context.Context, *database.DB) error{outbox.Migrate, inbox.Migrate} {
		if err := m(ctx, db); err != nil {
			t.Fatal(err)
		}
	}
	cfg := Default()
	p := &platform{cfg: cfg, log: slog.New(slog.DiscardHandler), dbs: map[string]*database.DB{"discovery": db, "cms": databasetest.SQLite(t), "auth": databasetest.SQLite(t)}}
	ps := p.pruners()
	if len(ps) != 3 || ps[0].Name != "auth" || ps[1].Name != "cms" || ps[2].Name != "discovery" || ps[2].Inbox == nil || ps[2].Batch != 1000 || ps[2].Every != time.Minute {
		t.Fatalf("pruners = %+v", ps)
	}
	if ps[0].Inbox != nil {
		t.Error("the pruner of auth, which consumes no events and has no inbox table, prunes an inbox")
	}
	p.dbs = map[string]*database.DB{"discovery": db, "cms": p.dbs["cms"]}
	ps = p.pruners()
	if r := ps[1].Retention; r.Default != 0 || r.EventTypes[discoveryevents.TypeEngagementRecorded] != 7*24*time.Hour {
		t.Fatalf("default retention = %+v, want engagement events 7 days and the rest kept", r)
	}
	p.cfg.OutboxRetention = 24 * time.Hour
	if r := p.pruners()[0].Retention; r.Default != 24*time.Hour || len(r.EventTypes) != 0 {
		t.Fatalf("with outbox_retention 24h: %+v, want 24h for every event", r)
	}
	p.cfg.OutboxRetention, p.cfg.Prune.InboxRetention = 0, 0
	if p.pruners()[0].Inbox != nil {
		t.Fatal("prune.inbox_retention 0 still prunes the inbox")
	}

	// One pass of the default pruner.
	old := time.Now().Add(-8 * 24 * time.Hour).UTC()
	for _, row := range []struct{ id, eventType string }{{"e1", discoveryevents.TypeEngagementRecorded}, {"c1", "content.published"}} {
		if _, err := db.ExecContext(ctx, `INSERT INTO outbox (event_id, topic, aggregate_id, event_type, payload, occurred_at, sent_at) VALUES (?, 't', 'a', ?, x'00', ?, ?)`, row.id, row.eventType, old, old); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO inbox (consumer, event_id, processed_at) VALUES ('discovery', 'e0', ?), ('discovery', 'e1', ?)`,
		time.Now().Add(-9*24*time.Hour).UnixMilli(), time.Now().UnixMilli()); err != nil {
		t.Fatal(err)
	}
	p.cfg = Default()
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := p.pruners()[1].Run(pctx); err != nil {
		t.Fatal(err)
	}
	var outboxLeft, inboxLeft string
	if err := db.QueryRowContext(ctx, `SELECT (SELECT group_concat(event_id) FROM outbox), (SELECT group_concat(event_id) FROM inbox)`).Scan(&outboxLeft, &inboxLeft); err != nil {
		t.Fatal(err)
	}
	if outboxLeft != "c1" || inboxLeft != "e1" {
		t.Fatalf("after a pass: outbox %q, inbox %q; want c1 and e1", outboxLeft, inboxLeft)
	}
}
