package eventbus

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/mediamesh/mediamesh/internal/testenv"
)

// kafkaWait bounds every wait for something to arrive; tests never assert on speed.
const kafkaWait = 20 * time.Second

// TestKafkaFake runs the Kafka suite against an in-process Kafka-protocol broker (kfake): fast,
// hermetic, always on.
func TestKafkaFake(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(3))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	runKafkaSuite(t, c.ListenAddrs())
}

// TestKafkaReal runs the same suite against the real broker(s) in MEDIAMESH_TEST_KAFKA_BROKERS
// (comma-separated host:port). Unset, it skips, except under CI=true where it fails.
func TestKafkaReal(t *testing.T) {
	env := testenv.Get(t, "MEDIAMESH_TEST_KAFKA_BROKERS", "a Kafka broker (bash tools/kafka/start.sh; e.g. 127.0.0.1:9092)")
	var brokers []string
	for _, b := range strings.Split(env, ",") {
		if b = strings.TrimSpace(b); b != "" {
			brokers = append(brokers, b)
		}
	}
	runKafkaSuite(t, brokers)
}

// runKafkaSuite is the Kafka adapter suite, written once and run against every broker.
func runKafkaSuite(t *testing.T, brokers []string) {
	k := &kafkaSuite{brokers: brokers, run: kafkaRandom()}
	tests := []struct {
		name string
		fn   func(t *testing.T, k *kafkaSuite)
	}{
		{"RoundTrip", testKafkaRoundTrip},
		{"KeyOrder", testKafkaKeyOrder},
		{"DeadLetter", testKafkaDeadLetter},
		{"TransientNeverDeadLetters", testKafkaTransient},
		{"Batches", testKafkaBatches},
		{"CommitAfterSuccess", testKafkaCommitAfterSuccess},
		{"Replay", testKafkaReplay},
		{"PublishErrors", testKafkaPublishErrors},
		{"MultipleTopics", testKafkaMultipleTopics},
		{"EnsureTopics", testKafkaEnsureTopics},
		{"SubscribeCreatesTopics", testKafkaSubscribeCreatesTopics},
		{"Lag", testKafkaLag},
		{"Rebalance", testKafkaRebalance},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, k)
		})
	}
}

type kafkaSuite struct {
	brokers []string
	run     string // random per run, so reruns against one broker do not meet old data
}

func kafkaRandom() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// topic returns a fresh topic with the given partitions (and its dead-letter topic), created.
func (k *kafkaSuite) topic(t *testing.T, name string, partitions int) string {
	t.Helper()
	topic := fmt.Sprintf("mmtest.%s.%s.%s", k.run, name, kafkaRandom())
	ctx, cancel := context.WithTimeout(context.Background(), kafkaWait)
	defer cancel()
	if err := EnsureTopics(ctx, k.brokers, []string{topic, DeadLetterTopic(topic)}, partitions, k.opts(t)...); err != nil {
		t.Fatalf("ensure topics: %v", err)
	}
	return topic
}

func (k *kafkaSuite) group(name string) string {
	return fmt.Sprintf("mmtest.%s.%s.%s", k.run, name, kafkaRandom())
}

// opts logs to the test (warnings and up) and keeps fetch waits short.
func (k *kafkaSuite) opts(t *testing.T) []KafkaOption {
	return []KafkaOption{WithKafkaLogger(kafkaTestLogger(t)), WithKafkaMaxWait(500 * time.Millisecond)}
}

// client is an admin client whose metadata is at most 100ms stale.
func (k *kafkaSuite) client(t *testing.T) *kafka.Client {
	tr := &kafka.Transport{MetadataTTL: 100 * time.Millisecond}
	t.Cleanup(tr.CloseIdleConnections)
	return &kafka.Client{Addr: kafka.TCP(k.brokers...), Transport: tr}
}

func (k *kafkaSuite) publisher(t *testing.T) *KafkaPublisher {
	p := NewKafkaPublisher(k.brokers, k.opts(t)...)
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func (k *kafkaSuite) publish(t *testing.T, p *KafkaPublisher, msgs ...Message) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), kafkaWait)
	defer cancel()
	if err := p.Publish(ctx, msgs...); err != nil {
		t.Fatalf("publish: %v", err)
	}
}

// subscription is a Subscribe call running in the background.
type subscription struct {
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

func (k *kafkaSuite) subscribe(t *testing.T, sub *KafkaSubscriber, group string, topics []string, h Handler, opts SubscribeOptions) *subscription {
	ctx, cancel := context.WithCancel(context.Background())
	s := &subscription{cancel: cancel, done: make(chan error, 1)}
	go func() { s.done <- sub.Subscribe(ctx, group, topics, h, opts) }()
	t.Cleanup(func() {
		if err := s.stop(t); err != nil {
			t.Errorf("subscribe: %v", err)
		}
	})
	return s
}

// stop ends the subscription and returns what Subscribe returned.
func (s *subscription) stop(t *testing.T) error {
	s.once.Do(func() {
		s.cancel()
		select {
		case s.err = <-s.done:
		case <-time.After(kafkaWait):
			s.err = errors.New("subscribe did not return after its context ended")
		}
	})
	return s.err
}

// collector records handled messages.
type collector struct {
	mu   sync.Mutex
	msgs []Message
}

func (c *collector) add(m Message) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.msgs = append(c.msgs, m)
}

func (c *collector) handler(_ context.Context, m Message) error {
	c.add(m)
	return nil
}

func (c *collector) snapshot() []Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Message(nil), c.msgs...)
}

// waitFor waits up to kafkaWait for cond.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(kafkaWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", kafkaWait, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func event(topic, key string, i int) Message {
	return Message{
		Topic: topic,
		Key:   key,
		Value: []byte(key + ":" + strconv.Itoa(i)),
		Headers: map[string]string{
			HeaderEventID:   fmt.Sprintf("%s-%d", key, i),
			HeaderEventType: "content.published",
		},
	}
}

func testKafkaRoundTrip(t *testing.T, k *kafkaSuite) {
	topic := k.topic(t, "roundtrip", 3)
	p := k.publisher(t)
	sent := []Message{
		{Topic: topic, Key: "a1", Value: []byte{0xc3, 0x01, 0, 1, 2}, Headers: map[string]string{
			HeaderEventType: "content.published", HeaderEventID: "e1", HeaderFingerprint: "0123456789abcdef",
			HeaderTraceParent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		}},
		{Topic: topic, Key: "مقال-٢", Value: []byte("عربي"), Headers: map[string]string{HeaderEventID: "e2"}},
		{Topic: topic, Key: "a3", Value: nil},
	}
	before := time.Now().Add(-time.Minute)
	k.publish(t, p, sent...)

	var c collector
	sub := NewKafkaSubscriber(k.brokers, k.opts(t)...)
	k.subscribe(t, sub, k.group("roundtrip"), []string{topic}, c.handler, SubscribeOptions{})
	waitFor(t, "3 messages", func() bool { return len(c.snapshot()) >= 3 })

	got := map[string]Message{}
	for _, m := range c.snapshot() {
		got[m.Key] = m
	}
	for _, want := range sent {
		m, ok := got[want.Key]
		if !ok {
			t.Fatalf("message %q not received; got %v", want.Key, got)
		}
		if m.Topic != topic || string(m.Value) != string(want.Value) || m.Partition < 0 || m.Offset < 0 || m.Time.Before(before) {
			t.Errorf("received %+v, sent %+v", m, want)
		}
		if len(m.Headers) != len(want.Headers) {
			t.Errorf("%s: headers %v, want %v", want.Key, m.Headers, want.Headers)
		}
		for h, v := range want.Headers {
			if m.Headers[h] != v {
				t.Errorf("%s: header %s = %q, want %q", want.Key, h, m.Headers[h], v)
			}
		}
	}
	if len(c.snapshot()) != 3 {
		t.Errorf("received %d messages, want 3", len(c.snapshot()))
	}
	// Everything is processed: the lag of each partition read is 0.
	waitFor(t, "lag 0", func() bool {
		lag := sub.Lag()
		if len(lag) == 0 {
			return false
		}
		for name, v := range lag {
			if !strings.HasPrefix(name, topic+"/") || v != 0 {
				return false
			}
		}
		return true
	})
}

func testKafkaKeyOrder(t *testing.T, k *kafkaSuite) {
	const keys, perKey = 8, 40
	topic := k.topic(t, "order", 4)
	p := k.publisher(t)
	// Several Publish calls, each with messages of every key interleaved.
	for batch := 0; batch < 4; batch++ {
		var msgs []Message
		for i := batch * perKey / 4; i < (batch+1)*perKey/4; i++ {
			for key := 0; key < keys; key++ {
				msgs = append(msgs, event(topic, "agg-"+strconv.Itoa(key), i))
			}
		}
		k.publish(t, p, msgs...)
	}

	var c collector
	sub := NewKafkaSubscriber(k.brokers, k.opts(t)...)
	k.subscribe(t, sub, k.group("order"), []string{topic}, c.handler, SubscribeOptions{})
	waitFor(t, "all messages", func() bool { return len(c.snapshot()) >= keys*perKey })

	seq := map[string][]int{}
	partitionOf := map[string]int{}
	for _, m := range c.snapshot() {
		_, n, _ := strings.Cut(string(m.Value), ":")
		i, _ := strconv.Atoi(n)
		seq[m.Key] = append(seq[m.Key], i)
		if p, ok := partitionOf[m.Key]; ok && p != m.Partition {
			t.Errorf("key %s on partitions %d and %d", m.Key, p, m.Partition)
		}
		partitionOf[m.Key] = m.Partition
	}
	for key, s := range seq {
		if len(s) != perKey {
			t.Errorf("key %s: %d messages, want %d", key, len(s), perKey)
		}
		for i, v := range s {
			if v != i {
				t.Fatalf("key %s out of order: %v", key, s)
			}
		}
	}
	used := map[int]bool{}
	for _, p := range partitionOf {
		used[p] = true
	}
	if len(used) < 2 {
		t.Errorf("%d keys all on partition(s) %v: the key does not spread load", keys, used)
	}
}

func testKafkaDeadLetter(t *testing.T, k *kafkaSuite) {
	topic := k.topic(t, "dlq", 2)
	p := k.publisher(t)
	poison := event(topic, "agg-1", 2)
	poison.Value = []byte("poison")
	poison.Headers[HeaderTraceParent] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	// Same key: the message after the poison one is on the same partition, behind it.
	k.publish(t, p, event(topic, "agg-1", 1), poison, event(topic, "agg-1", 3))

	var (
		mu       sync.Mutex
		attempts int
		ok       []string
	)
	h := func(_ context.Context, m Message) error {
		mu.Lock()
		defer mu.Unlock()
		if string(m.Value) == "poison" {
			attempts++
			if attempts == 2 {
				panic("boom") // a panic is a failure like any other
			}
			return errors.New("cannot decode")
		}
		ok = append(ok, string(m.Value))
		return nil
	}
	group := k.group("dlq")
	sub := NewKafkaSubscriber(k.brokers, k.opts(t)...)
	s := k.subscribe(t, sub, group, []string{topic}, h, SubscribeOptions{MaxAttempts: 3, Backoff: 10 * time.Millisecond})
	waitFor(t, "the group to move past the poison message", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(ok) == 2
	})
	mu.Lock()
	if attempts != 3 || fmt.Sprint(ok) != "[agg-1:1 agg-1:3]" {
		t.Errorf("attempts %d (want 3), handled %v", attempts, ok)
	}
	mu.Unlock()
	if err := s.stop(t); err != nil {
		t.Fatalf("subscribe: %v", err)
	}

	var dead []Message
	ctx, cancel := context.WithTimeout(context.Background(), kafkaWait)
	defer cancel()
	err := Replay(ctx, k.brokers, DeadLetterTopic(topic), func(_ context.Context, m Message) error {
		dead = append(dead, m)
		return nil
	}, k.opts(t)...)
	if err != nil {
		t.Fatalf("replay dead letters: %v", err)
	}
	if len(dead) != 1 {
		t.Fatalf("dead letters: %+v, want 1", dead)
	}
	d := dead[0]
	if d.Key != poison.Key || string(d.Value) != "poison" {
		t.Errorf("dead letter %+v", d)
	}
	for h, v := range poison.Headers {
		if d.Headers[h] != v {
			t.Errorf("dead letter header %s = %q, want %q", h, d.Headers[h], v)
		}
	}
	if e := d.Headers[HeaderError]; !strings.Contains(e, "cannot decode") || !strings.Contains(e, group) {
		t.Errorf("error header %q", e)
	}
	if d.Headers[HeaderDeadLetterTopic] != topic || d.Headers[HeaderDeadLetterGroup] != group || d.Headers[HeaderDeadLetterAttempts] != "3" ||
		d.Headers[HeaderDeadLetterPartition] == "" || d.Headers[HeaderDeadLetterOffset] != "1" {
		t.Errorf("dead letter headers %v", d.Headers)
	}
}

// testKafkaTransient: a handler whose dependency is down (Transient) is retried past MaxAttempts
// until it succeeds; the message is applied, in order before the next, and nothing is
// dead-lettered.
func testKafkaTransient(t *testing.T, k *kafkaSuite) {
	topic := k.topic(t, "transient", 1)
	p := k.publisher(t)
	k.publish(t, p, event(topic, "agg-1", 1), event(topic, "agg-1", 2))
	errDown := errors.New("database down")
	var (
		mu    sync.Mutex
		fails int
		ok    []string
	)
	h := func(_ context.Context, m Message) error {
		mu.Lock()
		defer mu.Unlock()
		if len(ok) == 0 && fails < 6 {
			fails++
			return fmt.Errorf("apply: %w", errDown)
		}
		ok = append(ok, string(m.Value))
		return nil
	}
	sub := NewKafkaSubscriber(k.brokers, k.opts(t)...)
	s := k.subscribe(t, sub, k.group("transient"), []string{topic}, h, SubscribeOptions{
		MaxAttempts: 2, Backoff: 10 * time.Millisecond, Transient: func(err error) bool { return errors.Is(err, errDown) },
	})
	waitFor(t, "both messages to be applied", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(ok) == 2
	})
	if err := s.stop(t); err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	mu.Lock()
	if fails != 6 || fmt.Sprint(ok) != "[agg-1:1 agg-1:2]" {
		t.Errorf("failures %d (want 6), applied %v", fails, ok)
	}
	mu.Unlock()
	var dead []Message
	ctx, cancel := context.WithTimeout(context.Background(), kafkaWait)
	defer cancel()
	err := Replay(ctx, k.brokers, DeadLetterTopic(topic), func(_ context.Context, m Message) error {
		dead = append(dead, m)
		return nil
	}, k.opts(t)...)
	if err == nil && len(dead) != 0 {
		t.Errorf("dead letters after transient failures: %+v", dead)
	}
}

// testKafkaBatches: a group with a batch handler gets what is ready together in runs, in order per
// key; a run with a poison message goes to the handler one by one, which dead-letters only it;
// everything is committed once.
func testKafkaBatches(t *testing.T, k *kafkaSuite) {
	topic := k.topic(t, "batches", 1)
	p := k.publisher(t)
	var msgs []Message
	for i := 1; i <= 40; i++ {
		m := event(topic, "agg-1", i)
		if i == 25 {
			m.Value = []byte("poison")
		}
		msgs = append(msgs, m)
	}
	k.publish(t, p, msgs...)
	var (
		mu      sync.Mutex
		batched int
		runs    int
		single  []string
		applied []string
	)
	h := func(_ context.Context, m Message) error {
		mu.Lock()
		defer mu.Unlock()
		if string(m.Value) == "poison" {
			return errors.New("cannot decode")
		}
		single = append(single, string(m.Value))
		applied = append(applied, string(m.Value))
		return nil
	}
	batch := func(_ context.Context, ms []Message) error {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range ms {
			if string(m.Value) == "poison" {
				return errors.New("poison in the run")
			}
		}
		runs++
		batched += len(ms)
		for _, m := range ms {
			applied = append(applied, string(m.Value))
		}
		return nil
	}
	group := k.group("batches")
	sub := NewKafkaSubscriber(k.brokers, k.opts(t)...)
	s := k.subscribe(t, sub, group, []string{topic}, h, SubscribeOptions{MaxAttempts: 2, Backoff: 10 * time.Millisecond, Batch: batch, MaxBatch: 16})
	waitFor(t, "every message but the poison one to be applied", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(applied) == 39
	})
	if err := s.stop(t); err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := make([]string, 0, 39)
	for i := 1; i <= 40; i++ {
		if i != 25 {
			want = append(want, fmt.Sprintf("agg-1:%d", i))
		}
	}
	if fmt.Sprint(applied) != fmt.Sprint(want) {
		t.Fatalf("applied out of order or twice: %v", applied)
	}
	if runs == 0 || batched < 20 {
		t.Errorf("%d messages in %d batch runs, %d one by one: the ready messages were not batched", batched, runs, len(single))
	}
	// A new member of the group finds nothing left: every message was committed.
	var again []string
	s2 := k.subscribe(t, NewKafkaSubscriber(k.brokers, k.opts(t)...), group, []string{topic}, func(_ context.Context, m Message) error {
		mu.Lock()
		defer mu.Unlock()
		again = append(again, string(m.Value))
		return nil
	}, SubscribeOptions{})
	mu.Unlock()
	time.Sleep(2 * time.Second)
	mu.Lock()
	if err := s2.stop(t); err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	if len(again) != 0 {
		t.Fatalf("delivered again after commit: %v", again)
	}
}

func testKafkaCommitAfterSuccess(t *testing.T, k *kafkaSuite) {
	const n = 120
	topic := k.topic(t, "commit", 3)
	p := k.publisher(t)
	var msgs []Message
	for i := 0; i < n; i++ {
		msgs = append(msgs, event(topic, "agg-"+strconv.Itoa(i%7), i))
	}
	k.publish(t, p, msgs...)
	group := k.group("commit")

	// First member: succeeds on 40 messages, then "crashes" while handling the 41st (its context
	// ends and the handler fails), so that one must not be committed.
	var (
		mu      sync.Mutex
		first   = map[string]bool{}
		crashed string
	)
	ctx1, cancel1 := context.WithCancel(context.Background())
	defer cancel1()
	h1 := func(_ context.Context, m Message) error {
		mu.Lock()
		defer mu.Unlock()
		if len(first) == 40 {
			crashed = m.Headers[HeaderEventID]
			cancel1()
			return errors.New("crashed")
		}
		first[m.Headers[HeaderEventID]] = true
		return nil
	}
	sub1 := NewKafkaSubscriber(k.brokers, k.opts(t)...)
	done1 := make(chan error, 1)
	go func() {
		done1 <- sub1.Subscribe(ctx1, group, []string{topic}, h1, SubscribeOptions{Backoff: 10 * time.Millisecond})
	}()
	select {
	case err := <-done1:
		if err != nil {
			t.Fatalf("first member: %v", err)
		}
	case <-time.After(2 * kafkaWait):
		t.Fatal("first member did not stop")
	}
	if crashed == "" {
		t.Fatal("the first member never reached its crash")
	}

	// Second member of the same group: gets exactly what the first did not finish.
	var c collector
	sub2 := NewKafkaSubscriber(k.brokers, k.opts(t)...)
	k.subscribe(t, sub2, group, []string{topic}, c.handler, SubscribeOptions{})
	waitFor(t, "the rest of the messages", func() bool { return len(c.snapshot()) >= n-40 })
	time.Sleep(500 * time.Millisecond) // a redelivery of a committed message would show up here
	second := map[string]bool{}
	for _, m := range c.snapshot() {
		id := m.Headers[HeaderEventID]
		if first[id] {
			t.Errorf("%s was committed by the first member but delivered again", id)
		}
		second[id] = true
	}
	if !second[crashed] {
		t.Errorf("the message being handled at the crash (%s) was lost", crashed)
	}
	for _, m := range msgs {
		if id := m.Headers[HeaderEventID]; !first[id] && !second[id] {
			t.Errorf("%s lost", id)
		}
	}
}

func testKafkaReplay(t *testing.T, k *kafkaSuite) {
	const n = 90
	topic := k.topic(t, "replay", 3)
	p := k.publisher(t)
	var msgs []Message
	for i := 0; i < n; i++ {
		msgs = append(msgs, event(topic, "agg-"+strconv.Itoa(i%5), i))
	}
	k.publish(t, p, msgs[:n/2]...)
	k.publish(t, p, msgs[n/2:]...)

	ctx, cancel := context.WithTimeout(context.Background(), kafkaWait)
	defer cancel()
	for round := 0; round < 2; round++ { // nothing is committed: a second replay sees it all again
		var got []Message
		err := Replay(ctx, k.brokers, topic, func(_ context.Context, m Message) error {
			got = append(got, m)
			return nil
		}, k.opts(t)...)
		if err != nil {
			t.Fatalf("replay: %v", err)
		}
		if len(got) != n {
			t.Fatalf("replay %d: %d messages, want %d", round, len(got), n)
		}
		last := map[string]int{}
		seen := map[string]bool{}
		for _, m := range got {
			_, s, _ := strings.Cut(string(m.Value), ":")
			i, _ := strconv.Atoi(s)
			if prev, ok := last[m.Key]; ok && i <= prev {
				t.Fatalf("key %s: %d after %d", m.Key, i, prev)
			}
			last[m.Key] = i
			seen[m.Headers[HeaderEventID]] = true
		}
		if len(seen) != n {
			t.Fatalf("replay %d: %d distinct events, want %d", round, len(seen), n)
		}
	}

	// A handler error stops the replay and is returned.
	calls := 0
	err := Replay(ctx, k.brokers, topic, func(context.Context, Message) error {
		calls++
		return errors.New("disk full")
	}, k.opts(t)...)
	if err == nil || !strings.Contains(err.Error(), "disk full") || calls != 1 {
		t.Errorf("replay with failing handler: %v after %d calls", err, calls)
	}

	// An empty topic replays nothing; an unknown one is an error.
	empty := k.topic(t, "replay-empty", 2)
	if err := Replay(ctx, k.brokers, empty, func(context.Context, Message) error {
		t.Error("handler called for an empty topic")
		return nil
	}, k.opts(t)...); err != nil {
		t.Errorf("replay of an empty topic: %v", err)
	}
	if err := Replay(ctx, k.brokers, "mmtest.missing."+kafkaRandom(), func(context.Context, Message) error { return nil }, k.opts(t)...); err == nil {
		t.Error("replay of a missing topic succeeded")
	}

	// KafkaOffsets: where each partition begins and ends; a missing topic has no partitions.
	first, end, err := KafkaOffsets(ctx, k.brokers, topic, k.opts(t)...)
	if err != nil {
		t.Fatalf("offsets: %v", err)
	}
	total := int64(0)
	for p, e := range end {
		total += e - first[p]
	}
	if len(end) != 3 || total != n {
		t.Errorf("offsets of %d partitions holding %d messages, want 3 holding %d: first %v end %v", len(end), total, n, first, end)
	}
	if first, end, err := KafkaOffsets(ctx, k.brokers, "mmtest.missing."+kafkaRandom(), k.opts(t)...); err != nil || len(first)+len(end) != 0 {
		t.Errorf("offsets of a missing topic: %v %v %v, want none and no error", first, end, err)
	}
}

func testKafkaPublishErrors(t *testing.T, k *kafkaSuite) {
	topic := k.topic(t, "puberr", 1)
	p := k.publisher(t)
	ctx, cancel := context.WithTimeout(context.Background(), kafkaWait)
	defer cancel()
	if err := p.Publish(ctx); err != nil {
		t.Errorf("publishing nothing: %v", err)
	}
	if err := p.Publish(ctx, Message{Key: "k"}); err == nil {
		t.Error("a message without topic was accepted")
	}
	cancelled, cancelNow := context.WithCancel(context.Background())
	cancelNow()
	if err := p.Publish(cancelled, event(topic, "k", 1)); err == nil {
		t.Error("publish with an ended context succeeded")
	}
	// A topic the broker cannot create (its name collides with topic's: Kafka treats . and _ alike):
	// the error reaches the caller.
	if err := p.Publish(ctx, event(strings.ReplaceAll(topic, ".", "_"), "k", 1)); err == nil {
		t.Error("publish to an invalid topic succeeded")
	}
	if err := p.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	if err := p.Publish(ctx, event(topic, "k", 1)); err == nil {
		t.Error("publish after close succeeded")
	}
}

func testKafkaMultipleTopics(t *testing.T, k *kafkaSuite) {
	a, b := k.topic(t, "multi-a", 2), k.topic(t, "multi-b", 1)
	p := k.publisher(t)
	k.publish(t, p, event(a, "x", 1), event(b, "y", 1), event(a, "x", 2))
	var c collector
	sub := NewKafkaSubscriber(k.brokers, k.opts(t)...)
	s := k.subscribe(t, sub, k.group("multi"), []string{a, b, a}, c.handler, SubscribeOptions{})
	waitFor(t, "messages of both topics", func() bool { return len(c.snapshot()) >= 3 })
	if err := s.stop(t); err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	if lag := sub.Lag(); len(lag) != 0 {
		t.Errorf("lag after Subscribe returned: %v", lag)
	}
	perTopic := map[string]int{}
	for _, m := range c.snapshot() {
		perTopic[m.Topic]++
	}
	if perTopic[a] != 2 || perTopic[b] != 1 {
		t.Errorf("per topic: %v", perTopic)
	}
	sub2 := NewKafkaSubscriber(k.brokers)
	for _, bad := range []struct {
		group  string
		topics []string
		h      Handler
	}{{"", []string{a}, c.handler}, {"g", nil, c.handler}, {"g", []string{a}, nil}} {
		if err := sub2.Subscribe(context.Background(), bad.group, bad.topics, bad.h, SubscribeOptions{}); err == nil {
			t.Errorf("Subscribe(%q, %v, handler set: %v) succeeded", bad.group, bad.topics, bad.h != nil)
		}
	}
}

// kafkaTestLogger sends warnings to the test log until the test ends.
func kafkaTestLogger(t *testing.T) *slog.Logger {
	w := &testLogWriter{t: t}
	t.Cleanup(w.close)
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testLogWriter struct {
	mu     sync.Mutex
	t      *testing.T
	closed bool
}

func (w *testLogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (w *testLogWriter) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
}

func testKafkaEnsureTopics(t *testing.T, k *kafkaSuite) {
	ctx, cancel := context.WithTimeout(context.Background(), kafkaWait)
	defer cancel()
	topic := k.topic(t, "ensure", 2)
	// Idempotent, and an existing topic keeps its partition count.
	if err := EnsureTopics(ctx, k.brokers, []string{topic, topic}, 5, k.opts(t)...); err != nil {
		t.Fatalf("ensure existing topic: %v", err)
	}
	client := k.client(t)
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		t.Fatal(err)
	}
	if len(md.Topics) != 1 || len(md.Topics[0].Partitions) != 2 {
		t.Errorf("metadata %+v, want one topic with 2 partitions", md.Topics)
	}
	// Kafka treats . and _ alike in topic names, so this one collides with topic.
	if err := EnsureTopics(ctx, k.brokers, []string{strings.ReplaceAll(topic, ".", "_")}, 1, k.opts(t)...); err == nil {
		t.Error("an invalid topic name was accepted")
	}
	if err := EnsureTopics(ctx, k.brokers, []string{topic}, 0, k.opts(t)...); err == nil {
		t.Error("0 partitions accepted")
	}
}

func testKafkaSubscribeCreatesTopics(t *testing.T, k *kafkaSuite) {
	topic := fmt.Sprintf("mmtest.%s.autocreate.%s", k.run, kafkaRandom()) // does not exist yet
	var c collector
	sub := NewKafkaSubscriber(k.brokers, append(k.opts(t), WithKafkaTopicPartitions(2))...)
	k.subscribe(t, sub, k.group("autocreate"), []string{topic}, c.handler, SubscribeOptions{})

	ctx, cancel := context.WithTimeout(context.Background(), kafkaWait)
	defer cancel()
	client := k.client(t)
	waitFor(t, "Subscribe to create the topic and its dead-letter topic", func() bool {
		md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic, DeadLetterTopic(topic)}})
		return err == nil && len(kafkaNotReady(md, []string{topic, DeadLetterTopic(topic)})) == 0
	})
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil || len(md.Topics) != 1 || len(md.Topics[0].Partitions) != 2 {
		t.Fatalf("metadata %+v, %v: want 2 partitions", md, err)
	}
	k.publish(t, k.publisher(t), event(topic, "a", 1))
	waitFor(t, "the message", func() bool { return len(c.snapshot()) == 1 })
}

func testKafkaLag(t *testing.T, k *kafkaSuite) {
	const n = 10
	topic := k.topic(t, "lag", 1)
	var msgs []Message
	for i := 0; i < n; i++ {
		msgs = append(msgs, event(topic, "a", i))
	}
	k.publish(t, k.publisher(t), msgs...)

	release := make(chan struct{})
	var c collector
	h := func(ctx context.Context, m Message) error {
		select {
		case <-release:
		case <-ctx.Done():
			return ctx.Err()
		}
		c.add(m)
		return nil
	}
	sub := NewKafkaSubscriber(k.brokers, k.opts(t)...)
	k.subscribe(t, sub, k.group("lag"), []string{topic}, h, SubscribeOptions{})
	name := topic + "/0"
	waitFor(t, "lag "+strconv.Itoa(n)+" while the first message is held", func() bool { return sub.Lag()[name] == n })
	close(release)
	waitFor(t, "every message", func() bool { return len(c.snapshot()) == n })
	waitFor(t, "lag 0", func() bool { v, ok := sub.Lag()[name]; return ok && v == 0 })
}

// testKafkaRebalance has a second member join the group while the first is busy: commits around
// the rebalance may fail, which must cost at most a redelivery, never a message or the subscription.
func testKafkaRebalance(t *testing.T, k *kafkaSuite) {
	const n = 100 // at 50ms each, long enough for the second member to join before the end
	topic := k.topic(t, "rebalance", 4)
	var msgs []Message
	for i := 0; i < n; i++ {
		msgs = append(msgs, event(topic, "agg-"+strconv.Itoa(i%9), i))
	}
	k.publish(t, k.publisher(t), msgs...)

	var (
		mu      sync.Mutex
		seen    = map[string]int{}
		members = map[string]bool{}
	)
	handler := func(member string) Handler {
		return func(ctx context.Context, m Message) error {
			if !sleep(ctx, 50*time.Millisecond) {
				return ctx.Err()
			}
			mu.Lock()
			defer mu.Unlock()
			seen[m.Headers[HeaderEventID]]++
			members[member] = true
			return nil
		}
	}
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(seen)
	}
	group := k.group("rebalance")
	a := k.subscribe(t, NewKafkaSubscriber(k.brokers, k.opts(t)...), group, []string{topic}, handler("a"), SubscribeOptions{})
	waitFor(t, "the first member to start", func() bool { return count() >= 5 })
	b := k.subscribe(t, NewKafkaSubscriber(k.brokers, k.opts(t)...), group, []string{topic}, handler("b"), SubscribeOptions{})
	waitFor(t, "every message", func() bool { return count() == n })
	for name, s := range map[string]*subscription{"a": a, "b": b} {
		if err := s.stop(t); err != nil {
			t.Errorf("member %s: %v", name, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	dups := 0
	for _, c := range seen {
		dups += c - 1
	}
	t.Logf("members that handled messages: %v; redeliveries: %d", members, dups)
}

func TestKafkaPermanent(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{errors.New("dial tcp 127.0.0.1:9092: connect: connection refused"), false},
		{context.DeadlineExceeded, false},
		{kafka.RebalanceInProgress, false},
		{kafka.IllegalGeneration, false},
		{kafka.NotLeaderForPartition, false},
		{kafka.Unknown, false},
		{fmt.Errorf("commit: %w", kafka.GroupAuthorizationFailed), true},
		{kafka.TopicAuthorizationFailed, true},
		{fmt.Errorf("publish: %w", kafka.WriteErrors{nil, kafka.MessageSizeTooLarge}), true},
		{fmt.Errorf("publish: %w", kafka.WriteErrors{kafka.RequestTimedOut}), false},
	} {
		if got := kafkaPermanent(tc.err); got != tc.want {
			t.Errorf("kafkaPermanent(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestKafkaNoBrokers(t *testing.T) {
	ctx := context.Background()
	h := func(context.Context, Message) error { return nil }
	if err := NewKafkaSubscriber(nil).Subscribe(ctx, "g", []string{"t"}, h, SubscribeOptions{}); err == nil {
		t.Error("Subscribe without brokers succeeded")
	}
	if err := Replay(ctx, nil, "t", h); err == nil {
		t.Error("Replay without brokers succeeded")
	}
	if err := EnsureTopics(ctx, nil, []string{"t"}, 1); err == nil {
		t.Error("EnsureTopics without brokers succeeded")
	}
}
