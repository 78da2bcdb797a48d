package eventbus

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestMemoryDelivery(t *testing.T) {
	bus := NewMemory()
	var mu sync.Mutex
	got := map[string][]string{}
	record := func(group string) Handler {
		return func(_ context.Context, m Message) error {
			mu.Lock()
			defer mu.Unlock()
			got[group] = append(got[group], m.Key+":"+m.Headers[HeaderEventID])
			return nil
		}
	}
	stopA, err := bus.Register("search", []string{TopicContent}, record("search"), SubscribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bus.Register("discovery", []string{TopicContent, TopicAuth}, record("discovery"), SubscribeOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := bus.Register("search", []string{TopicContent}, record("x"), SubscribeOptions{}); err == nil {
		t.Fatal("a group subscribes to a topic once")
	}
	for i := 0; i < 5; i++ {
		if err := bus.Publish(context.Background(), Message{Topic: TopicContent, Key: "p1", Headers: map[string]string{HeaderEventID: fmt.Sprint(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	stopA()
	_ = bus.Publish(context.Background(), Message{Topic: TopicContent, Key: "p1", Headers: map[string]string{HeaderEventID: "5"}})
	if fmt.Sprint(got["search"]) != "[p1:0 p1:1 p1:2 p1:3 p1:4]" || len(got["discovery"]) != 6 {
		t.Fatalf("deliveries %v", got)
	}
}

func TestMemoryRetriesThenDeadLetters(t *testing.T) {
	bus := NewMemory()
	calls := 0
	_, _ = bus.Register("flaky", []string{TopicContent}, func(context.Context, Message) error {
		calls++
		if calls < 3 {
			return errors.New("transient")
		}
		return nil
	}, SubscribeOptions{MaxAttempts: 3, Backoff: time.Microsecond})
	var dead []Message
	_, _ = bus.Register("broken", []string{TopicIngest}, func(context.Context, Message) error { return errors.New("poison") }, SubscribeOptions{MaxAttempts: 2, Backoff: time.Microsecond})
	_, _ = bus.Register("dlq-reader", []string{DeadLetterTopic(TopicIngest)}, func(_ context.Context, m Message) error {
		dead = append(dead, m)
		return nil
	}, SubscribeOptions{})
	if err := bus.Publish(context.Background(), Message{Topic: TopicContent, Key: "a"}); err != nil || calls != 3 {
		t.Fatalf("retry: %v after %d calls", err, calls)
	}
	if err := bus.Publish(context.Background(), Message{Topic: TopicIngest, Key: "b", Headers: map[string]string{HeaderEventID: "e1"}}); err != nil {
		t.Fatal(err)
	}
	if len(dead) != 1 || dead[0].Headers[HeaderEventID] != "e1" || dead[0].Headers[HeaderError] == "" {
		t.Fatalf("dead letters %+v", dead)
	}
}

func TestMemoryCancelledPublishFails(t *testing.T) {
	bus := NewMemory()
	_, _ = bus.Register("slow", []string{TopicContent}, func(ctx context.Context, _ Message) error { return errors.New("down") }, SubscribeOptions{MaxAttempts: 3, Backoff: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := bus.Publish(ctx, Message{Topic: TopicContent}); err == nil {
		t.Fatal("a publish whose delivery was cut short must fail, so the outbox keeps the row")
	}
}

// A group with a batch handler gets the messages of one publish as runs of at most MaxBatch; when
// a run fails it gets that run one message at a time, so only the bad message is dead-lettered.
func TestMemoryBatches(t *testing.T) {
	bus := NewMemory()
	var runs []string
	var single []string
	var dead []string
	key := func(m Message) string { return m.Headers[HeaderEventID] }
	_, _ = bus.Register("read-model", []string{TopicContent}, func(_ context.Context, m Message) error {
		if key(m) == "bad" {
			return errors.New("poison")
		}
		single = append(single, key(m))
		return nil
	}, SubscribeOptions{MaxAttempts: 2, Backoff: time.Microsecond, MaxBatch: 3, Batch: func(_ context.Context, msgs []Message) error {
		ids := make([]string, len(msgs))
		for i, m := range msgs {
			if key(m) == "bad" {
				return errors.New("poison in the batch")
			}
			ids[i] = key(m)
		}
		runs = append(runs, fmt.Sprint(ids))
		return nil
	}})
	_, _ = bus.Register("dlq-reader", []string{DeadLetterTopic(TopicContent)}, func(_ context.Context, m Message) error {
		dead = append(dead, key(m))
		return nil
	}, SubscribeOptions{})
	msg := func(id string) Message {
		return Message{Topic: TopicContent, Key: "p1", Headers: map[string]string{HeaderEventID: id}}
	}
	if err := bus.Publish(context.Background(), msg("1"), msg("2"), msg("3"), msg("4"), msg("5"), msg("bad"), msg("7")); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(runs) != "[[1 2 3]]" || fmt.Sprint(single) != "[4 5 7]" || fmt.Sprint(dead) != "[bad]" {
		t.Fatalf("batches %v, one by one %v, dead letters %v", runs, single, dead)
	}
	if err := bus.Publish(context.Background(), msg("8")); err != nil || fmt.Sprint(single) != "[4 5 7 8]" {
		t.Fatalf("a lone message goes to the handler: %v, %v", err, single)
	}
}

// TestMemoryTransientNeverDeadLetters: a handler whose dependency is down (Transient) is retried
// past MaxAttempts until it succeeds, and nothing is dead-lettered; a failure that is not
// transient still is.
func TestMemoryTransientNeverDeadLetters(t *testing.T) {
	bus := NewMemory()
	errDown := errors.New("database down")
	calls := 0
	opts := SubscribeOptions{MaxAttempts: 2, Backoff: time.Microsecond, Transient: func(err error) bool { return errors.Is(err, errDown) }}
	_, _ = bus.Register("reader", []string{TopicContent}, func(_ context.Context, m Message) error {
		calls++
		if m.Key == "poison" {
			return errors.New("cannot decode")
		}
		if calls <= 10 {
			return fmt.Errorf("apply: %w", errDown)
		}
		return nil
	}, opts)
	var dead []Message
	_, _ = bus.Register("dlq-reader", []string{DeadLetterTopic(TopicContent)}, func(_ context.Context, m Message) error {
		dead = append(dead, m)
		return nil
	}, SubscribeOptions{})
	if err := bus.Publish(context.Background(), Message{Topic: TopicContent, Key: "a"}); err != nil || calls != 11 {
		t.Fatalf("a transient failure: %v after %d calls, want success on the 11th", err, calls)
	}
	if len(dead) != 0 {
		t.Fatalf("dead letters after transient failures: %+v", dead)
	}
	if err := bus.Publish(context.Background(), Message{Topic: TopicContent, Key: "poison"}); err != nil || len(dead) != 1 {
		t.Fatalf("a poison message: %v, dead letters %d, want 1", err, len(dead))
	}
}
