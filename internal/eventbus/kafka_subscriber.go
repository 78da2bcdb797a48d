package eventbus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/retrypolicy"
	"github.com/segmentio/kafka-go"
)

const (
	// kafkaRetryMin is the first pause after a failed dead-letter write; the pauses double up to
	// kafkaRetryMax (jittered).
	kafkaRetryMin = time.Second
	kafkaRetryMax = 10 * time.Second
	// kafkaStatsInterval is how often an idle consumer checks its reader for rebalances.
	kafkaStatsInterval = 5 * time.Second
	// kafkaProbeInterval is how often a consumer whose brokers failed checks whether they are back,
	// while it has nothing to fetch.
	kafkaProbeInterval = time.Second
	// kafkaFetchRetryMin and kafkaFetchRetryMax bound the jittered backoff after failed fetches:
	// the first retry comes soon, a long outage costs a try a second, and a broker's return is
	// noticed within about a second.
	kafkaFetchRetryMin = 100 * time.Millisecond
	kafkaFetchRetryMax = time.Second
	// kafkaJoinGroupBackoff is how long kafka-go waits before joining the group again after a
	// failure (its default, 5 s, is what a consumer took to notice a broker's return; 1 s, up to a
	// second of the catch-up after one).
	kafkaJoinGroupBackoff = 500 * time.Millisecond
)

// errKafkaIdle is what a fetch that found nothing within its wait returns: not a failure.
var errKafkaIdle = errors.New("eventbus: kafka fetch: nothing to fetch")

// KafkaSubscriber consumes Kafka topics as consumer groups. Subscribe may be called several times
// (for different groups or topics), concurrently.
type KafkaSubscriber struct {
	brokers []string
	cfg     kafkaConfig

	mu  sync.Mutex
	lag map[kafkaLagKey]int64
}

type kafkaLagKey struct {
	c         *kafkaConsumer
	topic     string
	partition int
}

var _ Subscriber = (*KafkaSubscriber)(nil)

// NewKafkaSubscriber returns a subscriber for the cluster reachable at brokers (host:port).
func NewKafkaSubscriber(brokers []string, opts ...KafkaOption) *KafkaSubscriber {
	return &KafkaSubscriber{
		brokers: append([]string(nil), brokers...),
		cfg:     newKafkaConfig(opts),
		lag:     map[kafkaLagKey]int64{},
	}
}

// Subscribe implements Subscriber. It joins consumer group group with one kafka-go reader per
// topic, and blocks until ctx ends (then it returns nil) or consumption fails for good (then it
// returns the error, having stopped the other topics' readers). Only errors that retrying cannot
// fix end it (missing authorisation, invalid names, a dead letter too large for the broker): while
// the brokers are unreachable it keeps trying with jittered backoff (kafka-go reconnects by
// itself), logging the outage once, once a minute while it lasts, and once when it ends.
//
// A group that has no committed offset for a partition starts at its oldest message. One group
// member reads every topic of the call (one reader, kafka-go's GroupTopics), and messages are
// handled one at a time, in offset order per partition. (A member per topic made three members of
// one process rejoin one after another after a broker restart, each join a rebalance of its own.)
// A failed handler is retried with jittered exponential backoff (opts.Backoff, doubling, at most 30s
// between attempts) up to opts.MaxAttempts times (a failure opts.Transient recognises, until it
// succeeds, at most TransientRetryMax apart; see handleWithRetries); then the message is written to DeadLetterTopic(topic)
// with its key, value and headers plus HeaderError and the HeaderDeadLetter* headers. The offset
// is committed only after the handler succeeded or the dead-letter write was acknowledged, so a
// message whose handling was interrupted (ctx ended, process died) is delivered again, possibly to
// another member of the group. A handler panic counts as a failure.
//
// Unless WithKafkaAutoCreateTopics(false) was given, Subscribe first creates the topics and their
// dead-letter topics that do not exist (a failure there is logged, not fatal).
func (s *KafkaSubscriber) Subscribe(ctx context.Context, group string, topics []string, h Handler, opts SubscribeOptions) error {
	topics = kafkaUnique(topics)
	switch {
	case len(s.brokers) == 0:
		return errors.New("eventbus: kafka subscribe: no brokers")
	case group == "":
		return errors.New("eventbus: kafka subscribe: empty group")
	case len(topics) == 0:
		return errors.New("eventbus: kafka subscribe: no topics")
	case h == nil:
		return errors.New("eventbus: kafka subscribe: nil handler")
	}
	if s.cfg.autoCreate {
		all := append([]string(nil), topics...)
		for _, t := range topics {
			all = append(all, DeadLetterTopic(t))
		}
		if err := EnsureTopics(ctx, s.brokers, all, s.cfg.partitions, s.opts()...); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			s.cfg.logger.Warn("eventbus: kafka subscribe: could not ensure topics exist", "group", group, "topics", all, "err", err)
		}
	}

	dlq := NewKafkaPublisher(s.brokers, s.opts()...)
	defer dlq.Close()

	c := &kafkaConsumer{
		sub:    s,
		group:  group,
		topics: topics,
		h:      h,
		opts:   opts,
		dlq:    dlq,
	}
	c.outage = &OutageLog{Log: c.log(), What: "eventbus: kafka consumer"}
	c.depOutage = &OutageLog{Log: c.log(), What: "eventbus: kafka consumer's handler (its dependency)"}
	c.dlqOutage = &OutageLog{Log: c.log(), What: "eventbus: kafka dead-letter write"}
	rc := s.readerConfig(group, topics)
	// kafka-go reports every failed dial and join, many a second while a broker is away: they go to
	// debug, and the consumer's outage log says once that it is down and once that it is back.
	rc.ErrorLogger = kafka.LoggerFunc(func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		s.cfg.logger.Debug("kafka-go: "+msg, "group", group, "topics", topics)
		c.outage.Failed(errors.New(msg))
	})
	c.reader = kafka.NewReader(rc)
	return c.run(ctx)
}

func (s *KafkaSubscriber) opts() []KafkaOption {
	cfg := s.cfg
	return []KafkaOption{func(c *kafkaConfig) { *c = cfg }}
}

func (s *KafkaSubscriber) readerConfig(group string, topics []string) kafka.ReaderConfig {
	return kafka.ReaderConfig{
		Brokers:               s.brokers,
		GroupID:               group,
		GroupTopics:           topics,
		Dialer:                s.cfg.dialer(),
		MaxWait:               s.cfg.maxWait,
		StartOffset:           kafka.FirstOffset,
		CommitInterval:        0, // synchronous commits: CommitMessages returns once stored
		WatchPartitionChanges: true,
		JoinGroupBackoff:      kafkaJoinGroupBackoff,
		SessionTimeout:        s.cfg.sessionTimeout,
		RebalanceTimeout:      min(kafkaRebalanceTimeout, s.cfg.sessionTimeout),
		HeartbeatInterval:     min(kafkaHeartbeat, s.cfg.sessionTimeout/3),
		Logger:                s.cfg.kafkaLog(slog.LevelDebug),
		ErrorLogger:           s.cfg.kafkaLog(slog.LevelInfo),
	}
}

// Lag returns, for each "topic/partition" this subscriber currently consumes, how many messages
// of it the group has not processed yet: the partition's high watermark as of the last fetch minus
// the offset the group will commit next. A partition appears once a message of it was fetched; it
// disappears when its reader goes through a rebalance (the partition may have moved to another
// member; it reappears with the next message fetched from it) and when its Subscribe returns. When
// several subscriptions of this subscriber read the same partition, the largest lag is reported.
//
// kafka-go's ReaderStats.Lag is not used for the value: a group reader keeps one gauge for all its
// partitions, and it measures what was fetched, not what was processed.
func (s *KafkaSubscriber) Lag() map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int64, len(s.lag))
	for k, v := range s.lag {
		name := k.topic + "/" + strconv.Itoa(k.partition)
		if cur, ok := out[name]; !ok || v > cur {
			out[name] = v
		}
	}
	return out
}

func (s *KafkaSubscriber) setLag(c *kafkaConsumer, km kafka.Message, next int64) {
	lag := max(km.HighWaterMark-next, 0)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lag[kafkaLagKey{c, km.Topic, km.Partition}] = lag
}

func (s *KafkaSubscriber) clearLag(c *kafkaConsumer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.lag {
		if k.c == c {
			delete(s.lag, k)
		}
	}
}

// kafkaConsumer is one Subscribe call: one member of its group, reading all its topics.
type kafkaConsumer struct {
	sub    *KafkaSubscriber
	group  string
	topics []string
	h      Handler
	opts   SubscribeOptions
	dlq    *KafkaPublisher
	reader *kafka.Reader
	outage *OutageLog
	// depOutage logs the outages of the handler's own dependency (SubscribeOptions.Transient).
	depOutage *OutageLog
	// dlqOutage logs the failures to write a dead letter.
	dlqOutage *OutageLog
}

func (c *kafkaConsumer) log() *slog.Logger {
	return c.sub.cfg.logger.With("group", c.group, "topics", c.topics)
}

func (c *kafkaConsumer) run(ctx context.Context) error {
	defer c.reader.Close()
	defer c.sub.clearLag(c)
	// A failed fetch is retried with jittered backoff (kafka-go reconnects by itself meanwhile);
	// permanent errors, the end of the stream and ctx end it.
	retry := retrypolicy.NewBuilder[kafka.Message]().
		HandleIf(func(_ kafka.Message, err error) bool {
			return err != nil && ctx.Err() == nil && !errors.Is(err, errKafkaIdle) && !kafkaPermanent(err) && !errors.Is(err, io.EOF)
		}).
		WithMaxRetries(-1).
		WithBackoff(kafkaFetchRetryMin, kafkaFetchRetryMax).
		WithJitterFactor(0.25).
		Build()
	for {
		km, err := failsafe.With(retry).WithContext(ctx).Get(func() (kafka.Message, error) { return c.fetch(ctx) })
		if err != nil {
			switch {
			case ctx.Err() != nil:
				return nil
			case errors.Is(err, errKafkaIdle):
				continue
			}
			return fmt.Errorf("eventbus: kafka consume %s as %s: %w", strings.Join(c.topics, ","), c.group, err)
		}
		run := c.ready(ctx, km)
		c.sub.setLag(c, km, km.Offset)

		done, err := c.handleRun(ctx, run)
		if err != nil {
			return err
		}
		if !done {
			return nil // ctx ended first: not committed, so it is delivered again
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), kafkaCommitTimeout)
		err = c.reader.CommitMessages(cctx, run...)
		cancel()
		last := run[len(run)-1]
		if err != nil {
			if kafkaPermanent(err) {
				return fmt.Errorf("eventbus: kafka commit %s/%d@%d as %s: %w", last.Topic, last.Partition, last.Offset, c.group, err)
			}
			// The same outage the fetches see (a message may come from what the reader fetched
			// before the broker went away): logged once with it, not once per commit.
			c.outage.Failed(fmt.Errorf("commit %d messages up to %s/%d@%d, which will be delivered again: %w", len(run), last.Topic, last.Partition, last.Offset, err))
			continue
		}
		// A commit the broker took ends an outage; a fetch alone may come from the reader's buffer.
		c.outage.Succeeded()
		for _, km := range run {
			c.sub.setLag(c, km, km.Offset+1)
		}
	}
}

// fetch fetches the next message, waking up now and then while idle to notice rebalances, and,
// while the brokers are failing, to see whether they are back (then the outage ends even if there
// is nothing to consume). Idle, it returns errKafkaIdle.
func (c *kafkaConsumer) fetch(ctx context.Context) (kafka.Message, error) {
	wait := kafkaStatsInterval
	if c.outage.Down() {
		wait = kafkaProbeInterval
	}
	fctx, cancel := context.WithTimeout(ctx, wait)
	km, err := c.reader.FetchMessage(fctx)
	cancel()
	if c.reader.Stats().Rebalances > 0 {
		c.sub.clearLag(c)
	}
	switch {
	case err == nil, ctx.Err() != nil:
		return km, err
	case errors.Is(fctx.Err(), context.DeadlineExceeded):
		if c.outage.Down() && KafkaPing(ctx, c.sub.brokers) == nil {
			c.outage.Succeeded()
		}
		return km, errKafkaIdle
	}
	if !kafkaPermanent(err) && !errors.Is(err, io.EOF) {
		c.outage.Failed(err)
	}
	return km, err
}

// kafkaReadyWait is how long ready waits for each further message of a run: messages the reader
// has fetched already come at once, so a run is what was ready, not what might come.
const kafkaReadyWait = time.Millisecond

// ready returns first and, when the consumer has a batch handler, the messages after it that the
// reader has ready, up to its batch size.
func (c *kafkaConsumer) ready(ctx context.Context, first kafka.Message) []kafka.Message {
	run := []kafka.Message{first}
	for len(run) < c.opts.maxBatch() {
		fctx, cancel := context.WithTimeout(ctx, kafkaReadyWait)
		km, err := c.reader.FetchMessage(fctx)
		cancel()
		if err != nil {
			break
		}
		run = append(run, km)
	}
	return run
}

// handleRun processes a run of messages: in one call of the batch handler when there are several,
// else (or when that call fails) one by one with retries and dead-lettering.
func (c *kafkaConsumer) handleRun(ctx context.Context, run []kafka.Message) (done bool, err error) {
	if len(run) > 1 {
		msgs := make([]Message, len(run))
		for i, km := range run {
			msgs[i] = kafkaToMessage(km)
		}
		if kafkaCallBatch(ctx, c.group, c.opts.Batch, msgs) == nil {
			return true, nil
		}
		if ctx.Err() != nil {
			return false, nil
		}
	}
	for _, km := range run {
		if done, err := c.handle(ctx, km); !done || err != nil {
			return done, err
		}
	}
	return true, nil
}

// kafkaPermanent reports whether err is a broker error that retrying cannot fix: a missing
// authorisation, an invalid name or configuration, a record too large. Everything else (network
// errors, broker restarts, rebalances, leader moves) is retried for as long as it takes.
func kafkaPermanent(err error) bool {
	var werrs kafka.WriteErrors
	if errors.As(err, &werrs) {
		for _, e := range werrs {
			if e != nil {
				err = e
				break
			}
		}
	}
	var ke kafka.Error
	if !errors.As(err, &ke) {
		return false
	}
	switch ke {
	case kafka.TopicAuthorizationFailed, kafka.GroupAuthorizationFailed, kafka.ClusterAuthorizationFailed,
		kafka.TransactionalIDAuthorizationFailed, kafka.BrokerAuthorizationFailed, kafka.DelegationTokenAuthorizationFailed,
		kafka.SASLAuthenticationFailed, kafka.UnsupportedSASLMechanism, kafka.IllegalSASLState,
		kafka.InvalidTopic, kafka.InvalidGroupId, kafka.InvalidSessionTimeout, kafka.InvalidRequiredAcks,
		kafka.InvalidConfiguration, kafka.PolicyViolation, kafka.UnsupportedVersion, kafka.UnsupportedCompressionType,
		kafka.MessageSizeTooLarge, kafka.RecordListTooLarge, kafka.InvalidRecord:
		return true
	}
	return false
}

// handle runs the handler with retries (handleWithRetries), then dead-letters. It reports
// done=false when ctx ended before the message was handled or dead-lettered.
func (c *kafkaConsumer) handle(ctx context.Context, km kafka.Message) (done bool, err error) {
	m := kafkaToMessage(km)
	attempt, herr := handleWithRetries(ctx, c.opts, func() error { return kafkaCall(ctx, c.group, c.h, m) }, func(err error, transient bool, attempt int) {
		if transient { // the handler's dependency is down: not this message's fault
			c.depOutage.Failed(err, "partition", km.Partition, "offset", km.Offset)
			return
		}
		c.log().Debug("eventbus: kafka handler failed", "partition", km.Partition, "offset", km.Offset, "attempt", attempt, "err", err)
	})
	switch {
	case herr == nil:
		c.depOutage.Succeeded()
		return true, nil
	case ctx.Err() != nil:
		return false, nil
	}

	// Until the dead letter is stored the message stays uncommitted, and its partition waits: its
	// write is retried with jittered backoff until the broker takes it, logged once per outage.
	dead := kafkaDeadLetter(m, c.group, attempt, herr)
	retry := retrypolicy.NewBuilder[any]().
		HandleIf(func(_ any, err error) bool { return err != nil && ctx.Err() == nil && !kafkaPermanent(err) }).
		WithMaxRetries(-1).
		WithBackoff(kafkaRetryMin, kafkaRetryMax).
		WithJitterFactor(retryJitter).
		ReturnLastFailure().
		Build()
	err = failsafe.With[any](retry).WithContext(ctx).Run(func() error {
		err := c.dlq.Publish(ctx, dead)
		if err != nil && ctx.Err() == nil && !kafkaPermanent(err) {
			c.dlqOutage.Failed(err, "partition", km.Partition, "offset", km.Offset)
		}
		return err
	})
	switch {
	case ctx.Err() != nil:
		return false, nil
	case err != nil:
		return false, fmt.Errorf("eventbus: kafka dead-letter %s/%d@%d as %s: %w", km.Topic, km.Partition, km.Offset, c.group, err)
	}
	c.dlqOutage.Succeeded()
	c.log().Warn("eventbus: kafka message dead-lettered", "partition", km.Partition, "offset", km.Offset,
		"key", m.Key, "event_id", m.Headers[HeaderEventID], "attempts", attempt, "err", herr)
	return true, nil
}

// kafkaDeadLetter builds the dead-letter copy of m.
func kafkaDeadLetter(m Message, group string, attempts int, cause error) Message {
	headers := make(map[string]string, len(m.Headers)+6)
	for k, v := range m.Headers {
		headers[k] = v
	}
	headers[HeaderError] = fmt.Sprintf("consumer group %s: %v", group, cause)
	headers[HeaderDeadLetterTopic] = m.Topic
	headers[HeaderDeadLetterPartition] = strconv.Itoa(m.Partition)
	headers[HeaderDeadLetterOffset] = strconv.FormatInt(m.Offset, 10)
	headers[HeaderDeadLetterGroup] = group
	headers[HeaderDeadLetterAttempts] = strconv.Itoa(attempts)
	return Message{Topic: DeadLetterTopic(m.Topic), Key: m.Key, Value: m.Value, Headers: headers}
}
