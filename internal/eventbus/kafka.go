package eventbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/segmentio/kafka-go"
)

// Headers the Kafka subscriber adds to a dead-lettered message, besides HeaderError, so that an
// operator can find the original and re-drive it.
const (
	HeaderDeadLetterTopic     = "dlq_topic"     // topic the message was consumed from
	HeaderDeadLetterPartition = "dlq_partition" // its partition, decimal
	HeaderDeadLetterOffset    = "dlq_offset"    // its offset, decimal
	HeaderDeadLetterGroup     = "dlq_group"     // consumer group whose handler gave up
	HeaderDeadLetterAttempts  = "dlq_attempts"  // handler attempts made, decimal
)

// Defaults of the Kafka implementation.
const (
	// DefaultKafkaPartitions is the partition count of topics the Kafka implementation creates
	// itself (see WithKafkaTopicPartitions).
	DefaultKafkaPartitions = 3

	kafkaClientID     = "mediamesh"
	kafkaBatchTimeout = 10 * time.Millisecond
	kafkaMaxWait      = time.Second
	// kafkaSessionTimeout: a member that stops heartbeating (every kafkaHeartbeat) is out of the
	// group after this long, and a rebalance waits at most this long for members to rejoin.
	// kafka-go's 30s default left partitions idle for 30s after a crash or a broker restart; 10s
	// still held a restarted discovery's partitions for 7-8s after its return in the fault suite
	// (the group waits for the killed member to time out). 6s is the broker's default
	// group.min.session.timeout.ms, the shortest it accepts.
	kafkaSessionTimeout = 6 * time.Second
	// kafkaRebalanceTimeout: how long a rebalance waits for the members it knows to rejoin. A
	// member that comes back after a broker restart or its own crash joins with a new member id
	// (kafka-go drops the old one on any error), and the rebalance it starts waits for its old self
	// until this expires: with the session timeout (6s) the consumers caught up 6.5-7.8s after a
	// broker restart. Members hear of a rebalance with their next heartbeat (kafkaHeartbeat) and
	// rejoin at once, well within it.
	kafkaRebalanceTimeout = 2 * time.Second
	// kafkaHeartbeat: frequent, so a member hears of a rebalance soon after it starts; twelve per
	// session, so a late heartbeat never costs a member.
	kafkaHeartbeat     = 500 * time.Millisecond
	kafkaReplayMaxWait = 100 * time.Millisecond
	// kafkaAdminMetadataTTL is how stale the metadata an admin client polls may be.
	kafkaAdminMetadataTTL = 200 * time.Millisecond
	kafkaDialTimeout      = 10 * time.Second
	kafkaAdminTimeout     = 30 * time.Second
	kafkaCommitTimeout    = 30 * time.Second
)

// KafkaOption tunes NewKafkaPublisher, NewKafkaSubscriber, EnsureTopics and Replay.
type KafkaOption func(*kafkaConfig)

type kafkaConfig struct {
	logger       *slog.Logger
	clientID     string
	autoCreate   bool
	partitions   int
	batchTimeout time.Duration
	maxWait      time.Duration
	// sessionTimeout is the consumer group session and rebalance timeout.
	sessionTimeout time.Duration
}

func newKafkaConfig(opts []KafkaOption) kafkaConfig {
	c := kafkaConfig{
		logger:         slog.Default(),
		clientID:       kafkaClientID,
		autoCreate:     true,
		partitions:     DefaultKafkaPartitions,
		batchTimeout:   kafkaBatchTimeout,
		maxWait:        kafkaMaxWait,
		sessionTimeout: kafkaSessionTimeout,
	}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// WithKafkaLogger sets where the Kafka implementation logs: dead-lettered messages at warn level, a
// consumer's outage once when it starts (warn), once a minute while it lasts and once when it ends
// with its length (info); kafka-go's own error reports (many per second while a broker is away)
// and chatter at debug level. The default is slog.Default().
func WithKafkaLogger(l *slog.Logger) KafkaOption {
	return func(c *kafkaConfig) {
		if l != nil {
			c.logger = l
		}
	}
}

// WithKafkaClientID sets the client id the brokers see (default "mediamesh").
func WithKafkaClientID(id string) KafkaOption {
	return func(c *kafkaConfig) {
		if id != "" {
			c.clientID = id
		}
	}
}

// WithKafkaAutoCreateTopics says whether this client may create topics (default true): the
// publisher then asks the broker to auto-create an unknown topic (which needs
// auto.create.topics.enable on the broker and gets the broker's num.partitions), and Subscribe
// creates its topics and their dead-letter topics when missing, with WithKafkaTopicPartitions
// partitions. Production deployments should create topics with EnsureTopics at start-up anyway.
func WithKafkaAutoCreateTopics(ok bool) KafkaOption {
	return func(c *kafkaConfig) { c.autoCreate = ok }
}

// WithKafkaTopicPartitions sets the partition count of topics Subscribe creates (default
// DefaultKafkaPartitions). It never changes an existing topic.
func WithKafkaTopicPartitions(n int) KafkaOption {
	return func(c *kafkaConfig) {
		if n > 0 {
			c.partitions = n
		}
	}
}

// WithKafkaBatchTimeout sets how long the publisher waits to fill a batch (default 10ms). Publish
// is synchronous, so this is added to the latency of a Publish call that does not fill a batch.
func WithKafkaBatchTimeout(d time.Duration) KafkaOption {
	return func(c *kafkaConfig) {
		if d > 0 {
			c.batchTimeout = d
		}
	}
}

// WithKafkaMaxWait sets how long a fetch waits on the broker for new data (default 1s).
func WithKafkaMaxWait(d time.Duration) KafkaOption {
	return func(c *kafkaConfig) {
		if d > 0 {
			c.maxWait = d
		}
	}
}

// WithKafkaSessionTimeout sets the consumer group session timeout (default 6s; the broker
// bounds it with group.min.session.timeout.ms, 6s by default): how long the partitions of a member
// that died without leaving wait before they move to another member. The rebalance timeout is the
// same.
func WithKafkaSessionTimeout(d time.Duration) KafkaOption {
	return func(c *kafkaConfig) {
		if d > 0 {
			c.sessionTimeout = d
		}
	}
}

func (c kafkaConfig) transport() *kafka.Transport {
	return &kafka.Transport{ClientID: c.clientID, DialTimeout: kafkaDialTimeout}
}

// adminTransport is for short-lived admin clients that poll metadata: a kafka-go Transport answers
// metadata requests from a cache it refreshes every MetadataTTL (6s by default).
func (c kafkaConfig) adminTransport() *kafka.Transport {
	tr := c.transport()
	tr.MetadataTTL = kafkaAdminMetadataTTL
	return tr
}

func (c kafkaConfig) dialer() *kafka.Dialer {
	return &kafka.Dialer{ClientID: c.clientID, Timeout: kafkaDialTimeout, DualStack: true}
}

// kafkaLog adapts slog to kafka-go's Logger.
func (c kafkaConfig) kafkaLog(level slog.Level) kafka.Logger {
	l := c.logger
	return kafka.LoggerFunc(func(format string, args ...any) {
		if l.Enabled(context.Background(), level) {
			l.Log(context.Background(), level, "kafka-go: "+fmt.Sprintf(format, args...))
		}
	})
}

// KafkaPublisher publishes messages to Apache Kafka. Each message goes to its Topic, on the
// partition chosen by hashing its Key (murmur2, the same partitioner as the Java client), so the
// events of one aggregate keep their order. Publish waits for all in-sync replicas.
type KafkaPublisher struct {
	w         *kafka.Writer
	transport *kafka.Transport
}

var _ Publisher = (*KafkaPublisher)(nil)

// NewKafkaPublisher returns a publisher for the cluster reachable at brokers (host:port). It
// connects lazily, on the first Publish.
func NewKafkaPublisher(brokers []string, opts ...KafkaOption) *KafkaPublisher {
	cfg := newKafkaConfig(opts)
	tr := cfg.transport()
	return &KafkaPublisher{
		transport: tr,
		w: &kafka.Writer{
			Addr:                   kafka.TCP(brokers...),
			Balancer:               kafka.Murmur2Balancer{},
			RequiredAcks:           kafka.RequireAll,
			BatchTimeout:           cfg.batchTimeout,
			AllowAutoTopicCreation: cfg.autoCreate,
			Transport:              tr,
			Logger:                 cfg.kafkaLog(slog.LevelDebug),
			// Every failed write is returned to the caller (the outbox relay), which logs the
			// outage once; kafka-go's own reports of it would repeat it many times a second.
			ErrorLogger: cfg.kafkaLog(slog.LevelDebug),
		},
	}
}

// Publish implements Publisher. It returns nil only when every message was acknowledged by all
// in-sync replicas. Messages of one call that share a partition are written in the order given;
// messages on different partitions have no order between them. Partition and Offset of msgs are
// ignored (the key decides the partition); a zero Time becomes the time of the write.
func (p *KafkaPublisher) Publish(ctx context.Context, msgs ...Message) error {
	if len(msgs) == 0 {
		return nil
	}
	kms := make([]kafka.Message, len(msgs))
	for i, m := range msgs {
		if m.Topic == "" {
			return fmt.Errorf("eventbus: kafka publish: message %d has no topic", i)
		}
		kms[i] = kafkaFromMessage(m)
	}
	err := p.w.WriteMessages(ctx, kms...)
	if err == nil {
		return nil
	}
	var werrs kafka.WriteErrors
	if errors.As(err, &werrs) {
		var first error
		for _, e := range werrs {
			if e != nil {
				first = e
				break
			}
		}
		return fmt.Errorf("eventbus: kafka publish: %d of %d messages failed (first: %v): %w", werrs.Count(), len(msgs), first, err)
	}
	return fmt.Errorf("eventbus: kafka publish: %w", err)
}

// Close flushes nothing (Publish is synchronous) and releases the connections. Publish fails
// after Close.
func (p *KafkaPublisher) Close() error {
	err := p.w.Close()
	p.transport.CloseIdleConnections()
	return err
}

// kafkaFromMessage converts a Message to the wire, headers sorted by name.
func kafkaFromMessage(m Message) kafka.Message {
	km := kafka.Message{Topic: m.Topic, Value: m.Value, Time: m.Time}
	if m.Key != "" {
		km.Key = []byte(m.Key)
	}
	if len(m.Headers) > 0 {
		names := make([]string, 0, len(m.Headers))
		for k := range m.Headers {
			names = append(names, k)
		}
		sort.Strings(names)
		km.Headers = make([]kafka.Header, len(names))
		for i, k := range names {
			km.Headers[i] = kafka.Header{Key: k, Value: []byte(m.Headers[k])}
		}
	}
	return km
}

// kafkaToMessage converts a consumed message. A header that occurs twice keeps its last value.
func kafkaToMessage(km kafka.Message) Message {
	m := Message{
		Topic:     km.Topic,
		Key:       string(km.Key),
		Value:     km.Value,
		Partition: km.Partition,
		Offset:    km.Offset,
		Time:      km.Time,
	}
	if len(km.Headers) > 0 {
		m.Headers = make(map[string]string, len(km.Headers))
		for _, h := range km.Headers {
			m.Headers[h.Key] = string(h.Value)
		}
	}
	return m
}

// kafkaCall runs h, turning a panic into an error so that a poison message is dead-lettered
// instead of crashing the process.
func kafkaCall(ctx context.Context, group string, h Handler, m Message) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("handler panic: %v", r)
		}
	}()
	return traced(ctx, group, h, m)
}

// kafkaCallBatch runs b for msgs in a consumer span, turning a panic into an error.
func kafkaCallBatch(ctx context.Context, group string, b BatchHandler, msgs []Message) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("batch handler panic: %v", r)
		}
	}()
	return tracedBatch(ctx, group, b, msgs)
}

// sleep waits d or until ctx ends; it reports whether the full wait elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
