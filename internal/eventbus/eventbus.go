// Package eventbus moves events between services: Avro-encoded messages keyed by aggregate id, so
// the events of one aggregate keep their order. Two implementations share these interfaces:
// in-process delivery for the embedded `all` mode (fed by the outbox relay, so it is as durable as
// the outbox) and Apache Kafka via segmentio/kafka-go for split mode.
package eventbus

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/mediamesh/mediamesh/internal/telemetry"
)

// Header names every message carries.
const (
	HeaderEventType   = "event_type"         // e.g. content.published
	HeaderEventID     = "event_id"           // UUID; consumers dedupe on it
	HeaderFingerprint = "schema_fingerprint" // CRC-64-AVRO of the writer schema, 16 hex digits
	HeaderTraceParent = "traceparent"        // W3C trace context, when known
	HeaderError       = "error"              // on dead-lettered messages: why the handler gave up
)

// DeadLetterTopic is where a consumer group parks messages its handler could not process.
func DeadLetterTopic(topic string) string { return topic + ".dlq" }

// Message is one event on the wire.
type Message struct {
	Topic   string
	Key     string            // the aggregate id
	Value   []byte            // Avro single-object encoding
	Headers map[string]string // see the Header* constants

	// Set on consumed messages.
	Partition int
	Offset    int64
	Time      time.Time
}

// Publisher publishes messages. Publish returns nil only after the broker acknowledged every
// message (on Kafka: by all in-sync replicas); on error none of them may be assumed delivered.
type Publisher interface {
	Publish(ctx context.Context, msgs ...Message) error
	Close() error
}

// Handler processes one message. It must be idempotent (dedupe on the event id): delivery is at
// least once. An error makes the subscriber retry with backoff, then dead-letter the message.
type Handler func(ctx context.Context, m Message) error

// BatchHandler processes a run of messages that were ready together, in order, as one unit: all
// of them or none (one transaction for the run, say). Like a Handler it must be idempotent.
type BatchHandler func(ctx context.Context, msgs []Message) error

// SubscribeOptions tune a subscription.
type SubscribeOptions struct {
	MaxAttempts int           // handler attempts before dead-lettering; 0 means 5
	Backoff     time.Duration // first retry delay, doubling; 0 means 100ms
	// Batch, when set, receives the messages that are ready together, up to MaxBatch at a time,
	// instead of the Handler one by one. When it fails, the subscriber hands that run to the
	// Handler message by message, with its retries and dead-lettering, so one bad message holds up
	// only itself.
	Batch    BatchHandler
	MaxBatch int // most messages per Batch call; 0 means 256
	// Transient, when set, tells a handler error that means the handler's own dependency is down
	// (its database unreachable) from one the message causes. A transient failure is retried for
	// as long as it lasts, at most TransientRetryMax apart, and neither counts towards MaxAttempts
	// nor dead-letters the message: a read model whose database was stopped for 3 s dead-lettered
	// the events it was handed meanwhile, and they never reached it.
	Transient func(error) bool
}

// TransientRetryMax is the longest pause between retries of a transient handler failure (see
// SubscribeOptions.Transient): the message is applied within about this long of the dependency's
// return.
const TransientRetryMax = time.Second

// transient reports whether err is a transient handler failure under o.
func (o SubscribeOptions) transient(err error) bool {
	return o.Transient != nil && o.Transient(err)
}

func (o SubscribeOptions) maxBatch() int {
	if o.Batch == nil {
		return 1
	}
	if o.MaxBatch <= 0 {
		return 256
	}
	return o.MaxBatch
}

// Subscriber consumes topics as a consumer group. Subscribe blocks until ctx ends; an offset is
// committed only after the handler succeeded or the message was dead-lettered.
type Subscriber interface {
	Subscribe(ctx context.Context, group string, topics []string, h Handler, opts SubscribeOptions) error
}

// tracedBatch runs b for msgs inside one span of the run; the handler starts each message's own
// consumer span (StartConsume).
func tracedBatch(ctx context.Context, group string, b BatchHandler, msgs []Message) error {
	ctx, span := telemetry.Tracer().Start(ctx, "consume "+msgs[0].Topic+" batch", trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(attribute.String("messaging.destination.name", msgs[0].Topic), attribute.String("messaging.consumer.group.name", group),
			attribute.Int("messaging.batch.message_count", len(msgs))))
	defer span.End()
	err := b(ctx, msgs)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	return err
}

// traced runs h for m inside its consumer span (see StartConsume).
func traced(ctx context.Context, group string, h Handler, m Message) error {
	ctx, span := StartConsume(ctx, group, m)
	defer span.End()
	err := h(ctx, m)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	return err
}

// StartConsume starts the consumer span of m in group, which continues the trace of the request
// that caused the event (the traceparent header the outbox recorded). Subscribers start it around
// each message they hand to a Handler; a BatchHandler starts it around its work on each message of
// a run, so a trace reads the same either way.
func StartConsume(ctx context.Context, group string, m Message) (context.Context, trace.Span) {
	ctx = telemetry.Extract(ctx, m.Headers)
	return telemetry.Tracer().Start(ctx, "consume "+m.Topic, trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(attribute.String("messaging.destination.name", m.Topic), attribute.String("messaging.consumer.group.name", group),
			attribute.String("messaging.message.id", m.Headers[HeaderEventID]), attribute.String("mediamesh.event_type", m.Headers[HeaderEventType])))
}
