package app

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/gen/events/authevents"
	"github.com/mediamesh/mediamesh/internal/authn"
	"github.com/mediamesh/mediamesh/internal/eventbus"
	"github.com/mediamesh/mediamesh/internal/outbox"
)

// TestRevocationFeedReady holds a process on Kafka not ready until its feed has applied every
// message auth.events held when it looked, and ready once the grace has passed without that.
func TestRevocationFeedReady(t *testing.T) {
	revoked := authn.NewRevocations(time.Hour)
	f := newRevocationFeed(revoked, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx := context.Background()
	if f.Ready(ctx) == nil {
		t.Fatal("ready before the end of auth.events was known")
	}
	f.mu.Lock()
	f.want = map[int]int64{0: 2, 2: 1} // partition 1 is empty
	f.check()
	f.mu.Unlock()

	msg := func(partition int, offset int64, user string) eventbus.Message {
		t.Helper()
		now := time.Now()
		v, err := outbox.Encode(&authevents.UserTokensRevoked{EventID: user + "-event", OccurredAt: now, AggregateID: user,
			UserID: user, RevokedAt: now, Reason: authevents.RevocationReasonDeleted})
		if err != nil {
			t.Fatal(err)
		}
		return eventbus.Message{Topic: authevents.TopicAuthEvents, Key: user, Value: v, Partition: partition, Offset: offset}
	}
	steps := []struct {
		m     eventbus.Message
		ready bool
	}{
		{msg(0, 0, "a"), false},
		{msg(2, 0, "b"), false},
		{msg(0, 1, "c"), true},
	}
	for _, s := range steps {
		if err := f.HandleBatch(ctx, []eventbus.Message{s.m}); err != nil {
			t.Fatal(err)
		}
		if got := f.Ready(ctx) == nil; got != s.ready {
			t.Fatalf("after partition %d offset %d: ready %v, want %v", s.m.Partition, s.m.Offset, got, s.ready)
		}
	}
	for _, user := range []string{"a", "b", "c"} {
		if !revoked.Revoked(user, time.Now().Add(-time.Minute)) {
			t.Errorf("the tokens of %s are not revoked", user)
		}
	}

	late := newRevocationFeed(revoked, slog.New(slog.NewTextHandler(io.Discard, nil)))
	late.started = time.Now().Add(-revocationGrace - time.Second) // Kafka never answered
	if err := late.Ready(ctx); err != nil {
		t.Fatalf("not ready after the grace: %v", err)
	}
}
