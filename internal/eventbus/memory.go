package eventbus

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Memory is the in-process bus of the embedded mode. Publish delivers each message to every
// subscribed consumer group synchronously, with the same retry and dead-letter rules as Kafka, and
// returns once all of them have processed or dead-lettered it: the outbox relay marks a row sent
// only then, so the outbox is what makes delivery durable, and replaying the outbox (outbox.Replay)
// is how a read model is rebuilt in this mode. The bus itself keeps nothing.
type Memory struct {
	mu     sync.Mutex
	subs   map[string][]*memorySub // by topic
	offset map[string]int64        // next offset by topic
	// deliver serialises deliveries so that consumers see messages in publish order.
	deliver sync.Mutex
}

type memorySub struct {
	group string
	h     Handler
	opts  SubscribeOptions
}

// NewMemory returns an empty in-process bus.
func NewMemory() *Memory {
	return &Memory{subs: map[string][]*memorySub{}, offset: map[string]int64{}}
}

// Publish implements Publisher. Each consumer group gets the messages of its topics in publish
// order: as runs of up to its MaxBatch when it has a BatchHandler, else one by one.
func (m *Memory) Publish(ctx context.Context, msgs ...Message) error {
	for _, msg := range msgs {
		if msg.Topic == "" {
			return fmt.Errorf("eventbus: message without topic")
		}
	}
	m.deliver.Lock()
	defer m.deliver.Unlock()
	var order []*memorySub
	runs := map[*memorySub][]Message{}
	m.mu.Lock()
	for _, msg := range msgs {
		msg = m.stamp(msg)
		for _, s := range m.subs[msg.Topic] {
			if _, ok := runs[s]; !ok {
				order = append(order, s)
			}
			runs[s] = append(runs[s], msg)
		}
	}
	m.mu.Unlock()
	for _, s := range order {
		if err := m.deliverRun(ctx, s, runs[s]); err != nil {
			return err
		}
	}
	return nil
}

// stamp gives msg the next offset of its topic, and a time when it has none. m.mu is held.
func (m *Memory) stamp(msg Message) Message {
	msg.Offset = m.offset[msg.Topic]
	m.offset[msg.Topic]++
	if msg.Time.IsZero() {
		msg.Time = time.Now()
	}
	return msg
}

// deliverRun hands msgs to one group: a batch at a time when it has a BatchHandler (and the batch
// has more than one message), falling back to its handler one by one when a batch fails.
func (m *Memory) deliverRun(ctx context.Context, s *memorySub, msgs []Message) error {
	for run := range slices.Chunk(msgs, s.opts.maxBatch()) {
		if len(run) > 1 {
			if err := tracedBatch(ctx, s.group, s.opts.Batch, run); err == nil {
				continue
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
		for _, msg := range run {
			if err := m.handle(ctx, s, msg); err != nil {
				return err
			}
		}
	}
	return nil
}

// publishOne delivers one message (a dead letter) to the groups of its topic, one by one.
func (m *Memory) publishOne(ctx context.Context, msg Message) error {
	m.mu.Lock()
	msg = m.stamp(msg)
	subs := append([]*memorySub(nil), m.subs[msg.Topic]...)
	m.mu.Unlock()
	for _, s := range subs {
		if err := m.handle(ctx, s, msg); err != nil {
			return err
		}
	}
	return nil
}

// handle runs one group's handler with retries (handleWithRetries); when they run out the message
// is dead-lettered. Only the caller's context ending is an error: then the message counts as not
// delivered.
func (m *Memory) handle(ctx context.Context, s *memorySub, msg Message) error {
	_, err := handleWithRetries(ctx, s.opts, func() error { return traced(ctx, s.group, s.h, msg) }, nil)
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	}
	dead := msg
	dead.Topic = DeadLetterTopic(msg.Topic)
	dead.Headers = copyHeaders(msg.Headers)
	dead.Headers[HeaderError] = fmt.Sprintf("consumer group %s: %v", s.group, err)
	return m.publishOne(ctx, dead)
}

func (o SubscribeOptions) attempts() (int, time.Duration) {
	n, b := o.MaxAttempts, o.Backoff
	if n <= 0 {
		n = 5
	}
	if b <= 0 {
		b = 100 * time.Millisecond
	}
	return n, b
}

func copyHeaders(h map[string]string) map[string]string {
	out := make(map[string]string, len(h)+1)
	for k, v := range h {
		out[k] = v
	}
	return out
}

// Subscribe implements Subscriber. Messages published while the group is subscribed reach h; it
// returns nil when ctx ends.
func (m *Memory) Subscribe(ctx context.Context, group string, topics []string, h Handler, opts SubscribeOptions) error {
	cancel, err := m.Register(group, topics, h, opts)
	if err != nil {
		return err
	}
	<-ctx.Done()
	cancel()
	return nil
}

// Register subscribes like Subscribe but returns at once, subscribed, with the function that ends
// the subscription. The composition root uses it so that every consumer is in place before the
// relays start publishing. A group subscribes to a topic at most once.
func (m *Memory) Register(group string, topics []string, h Handler, opts SubscribeOptions) (func(), error) {
	s := &memorySub{group: group, h: h, opts: opts}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, t := range topics {
		for _, other := range m.subs[t] {
			if other.group == group {
				return nil, fmt.Errorf("eventbus: group %s already subscribed to %s", group, t)
			}
		}
	}
	for _, t := range topics {
		m.subs[t] = append(m.subs[t], s)
	}
	return func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		for _, t := range topics {
			list := m.subs[t]
			for i, other := range list {
				if other == s {
					m.subs[t] = append(list[:i:i], list[i+1:]...)
					break
				}
			}
		}
	}, nil
}

// Close implements Publisher.
func (m *Memory) Close() error { return nil }
