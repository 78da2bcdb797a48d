package eventbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"time"

	"github.com/segmentio/kafka-go"
)

// EnsureTopics creates the topics that do not exist yet, with the given partition count and a
// replication factor of min(3, brokers in the cluster), and waits until every topic has a leader
// for each partition. Existing topics are left as they are (their partition count is not
// changed). Call it at start-up, before publishing or subscribing.
func EnsureTopics(ctx context.Context, brokers []string, topics []string, partitions int, opts ...KafkaOption) error {
	if len(brokers) == 0 {
		return errors.New("eventbus: ensure topics: no brokers")
	}
	if partitions < 1 {
		return fmt.Errorf("eventbus: ensure topics: partitions must be at least 1, got %d", partitions)
	}
	cfg := newKafkaConfig(opts)
	tr := cfg.adminTransport()
	defer tr.CloseIdleConnections()
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Transport: tr, Timeout: kafkaAdminTimeout}
	if err := kafkaEnsureTopics(ctx, client, kafkaUnique(topics), partitions); err != nil {
		return fmt.Errorf("eventbus: ensure topics: %w", err)
	}
	return nil
}

func kafkaEnsureTopics(ctx context.Context, client *kafka.Client, topics []string, partitions int) error {
	if len(topics) == 0 {
		return nil
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, kafkaAdminTimeout)
		defer cancel()
	}
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: topics})
	if err != nil {
		return err
	}
	missing := kafkaNotReady(md, topics)
	var create []kafka.TopicConfig
	for _, t := range missing {
		switch err := kafkaTopicErr(md, t); {
		case err == nil, errors.Is(err, kafka.LeaderNotAvailable):
			continue // exists, not ready yet
		case !errors.Is(err, kafka.UnknownTopicOrPartition):
			return fmt.Errorf("topic %s: %w", t, err)
		}
		create = append(create, kafka.TopicConfig{
			Topic:             t,
			NumPartitions:     partitions,
			ReplicationFactor: min(3, max(1, len(md.Brokers))),
		})
	}
	if len(create) > 0 {
		res, err := client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: create})
		if err != nil {
			return err
		}
		for _, t := range create {
			err := res.Errors[t.Topic]
			// RequestTimedOut: the controller is still creating it; the wait below covers that.
			if err != nil && !errors.Is(err, kafka.TopicAlreadyExists) && !errors.Is(err, kafka.RequestTimedOut) {
				return fmt.Errorf("create %s: %w", t.Topic, err)
			}
		}
	}
	for {
		md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: topics})
		if err == nil {
			if missing = kafkaNotReady(md, topics); len(missing) == 0 {
				// Metadata can name a leader before it serves the partition.
				if err = kafkaLeadersServe(ctx, client, md, topics); err == nil {
					return nil
				}
			} else {
				err = fmt.Errorf("topics %v have no leader yet", missing)
			}
		}
		if !sleep(ctx, 100*time.Millisecond) {
			return fmt.Errorf("%w (%w)", ctx.Err(), err)
		}
	}
}

// kafkaLeadersServe checks that the leader of every partition of topics answers for it.
func kafkaLeadersServe(ctx context.Context, client *kafka.Client, md *kafka.MetadataResponse, topics []string) error {
	req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	for _, t := range md.Topics {
		if slices.Contains(topics, t.Name) {
			for _, p := range t.Partitions {
				req.Topics[t.Name] = append(req.Topics[t.Name], kafka.LastOffsetOf(p.ID))
			}
		}
	}
	res, err := client.ListOffsets(ctx, req)
	if err != nil {
		return err
	}
	for topic, parts := range res.Topics {
		for _, p := range parts {
			if p.Error != nil {
				return fmt.Errorf("%s partition %d: %w", topic, p.Partition, p.Error)
			}
		}
	}
	return nil
}

// kafkaNotReady lists the topics that are missing from md or have a partition without a leader.
func kafkaNotReady(md *kafka.MetadataResponse, topics []string) []string {
	var out []string
	for _, name := range topics {
		ready := false
		for _, t := range md.Topics {
			if t.Name != name {
				continue
			}
			ready = t.Error == nil && len(t.Partitions) > 0
			for _, p := range t.Partitions {
				if p.Error != nil || p.Leader.Host == "" {
					ready = false
				}
			}
		}
		if !ready {
			out = append(out, name)
		}
	}
	return out
}

func kafkaTopicErr(md *kafka.MetadataResponse, name string) error {
	for _, t := range md.Topics {
		if t.Name == name {
			return t.Error
		}
	}
	return kafka.UnknownTopicOrPartition
}

func kafkaUnique(ss []string) []string {
	seen := make(map[string]bool, len(ss))
	out := make([]string, 0, len(ss))
	for _, s := range ss {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// Replay calls h for every message of topic from the start of each partition (the oldest offset
// the broker still keeps, 0 unless retention deleted records) up to its high watermark at the time
// of the call, then returns. Partitions are read one after the other in ascending order, so h is
// never called concurrently and sees each partition (hence each key) in order. It uses no consumer
// group and commits nothing. A handler error stops the replay and is returned: there is no retry
// and no dead-lettering, so a rebuild either completes or says why not.
//
// Replay cannot tell the end of a partition whose last records before the watermark are gone
// (compaction, or transaction markers written by transactional producers, which MediaMesh does not
// use); it then waits for a newer record or for ctx to end.
func Replay(ctx context.Context, brokers []string, topic string, h Handler, opts ...KafkaOption) error {
	if len(brokers) == 0 {
		return errors.New("eventbus: replay: no brokers")
	}
	cfg := newKafkaConfig(opts)
	first, last, err := kafkaOffsets(ctx, cfg, brokers, topic)
	if err != nil {
		return fmt.Errorf("eventbus: replay %s: %w", topic, err)
	}
	parts := make([]int, 0, len(first))
	for p := range first {
		parts = append(parts, p)
	}
	sort.Ints(parts)
	for _, p := range parts {
		if first[p] >= last[p] {
			continue
		}
		if err := kafkaReplayPartition(ctx, cfg, brokers, topic, p, first[p], last[p], h); err != nil {
			return fmt.Errorf("eventbus: replay %s partition %d: %w", topic, p, err)
		}
	}
	return nil
}

// KafkaOffsets returns, by partition of topic, its first offset (the oldest the broker still keeps)
// and its end (the high watermark: the offset the next message will get). A partition holds
// messages when its end is past its first offset; a topic that does not exist has no partitions.
func KafkaOffsets(ctx context.Context, brokers []string, topic string, opts ...KafkaOption) (first, end map[int]int64, err error) {
	if len(brokers) == 0 {
		return nil, nil, errors.New("eventbus: offsets: no brokers")
	}
	first, end, err = kafkaOffsets(ctx, newKafkaConfig(opts), brokers, topic)
	if errors.Is(err, kafka.UnknownTopicOrPartition) {
		return map[int]int64{}, map[int]int64{}, nil // nothing written to it yet
	}
	return first, end, err
}

func kafkaOffsets(ctx context.Context, cfg kafkaConfig, brokers []string, topic string) (first, end map[int]int64, err error) {
	tr := cfg.adminTransport()
	defer tr.CloseIdleConnections()
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Transport: tr, Timeout: kafkaAdminTimeout}
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return nil, nil, err
	}
	if err := kafkaTopicErr(md, topic); err != nil {
		return nil, nil, err
	}
	var parts []int
	for _, t := range md.Topics {
		if t.Name == topic {
			for _, p := range t.Partitions {
				parts = append(parts, p.ID)
			}
		}
	}
	if first, err = kafkaListOffsets(ctx, client, topic, parts, kafka.FirstOffset); err != nil {
		return nil, nil, err
	}
	if end, err = kafkaListOffsets(ctx, client, topic, parts, kafka.LastOffset); err != nil {
		return nil, nil, err
	}
	return first, end, nil
}

// kafkaListOffsets returns, by partition, the first offset (which = kafka.FirstOffset) or the high
// watermark (which = kafka.LastOffset).
func kafkaListOffsets(ctx context.Context, client *kafka.Client, topic string, parts []int, which int64) (map[int]int64, error) {
	reqs := make([]kafka.OffsetRequest, len(parts))
	for i, p := range parts {
		reqs[i] = kafka.OffsetRequest{Partition: p, Timestamp: which}
	}
	res, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
	if err != nil {
		return nil, err
	}
	out := make(map[int]int64, len(parts))
	for _, po := range res.Topics[topic] {
		if po.Error != nil {
			return nil, fmt.Errorf("list offsets of partition %d: %w", po.Partition, po.Error)
		}
		if which == kafka.FirstOffset {
			out[po.Partition] = po.FirstOffset
		} else {
			out[po.Partition] = po.LastOffset
		}
	}
	for _, p := range parts {
		if _, ok := out[p]; !ok {
			return nil, fmt.Errorf("no offsets for partition %d", p)
		}
	}
	return out, nil
}

func kafkaReplayPartition(ctx context.Context, cfg kafkaConfig, brokers []string, topic string, partition int, from, to int64, h Handler) error {
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:   brokers,
		Topic:     topic,
		Partition: partition,
		Dialer:    cfg.dialer(),
		// Short: Close waits for the fetch in flight, which at the end of the partition is one
		// that waits this long for data that will not come.
		MaxWait:         kafkaReplayMaxWait,
		ReadLagInterval: -1,
		Logger:          cfg.kafkaLog(slog.LevelDebug),
		ErrorLogger:     cfg.kafkaLog(slog.LevelInfo),
	})
	defer r.Close()
	if err := r.SetOffset(from); err != nil {
		return err
	}
	for {
		km, err := r.FetchMessage(ctx)
		if err != nil {
			return err
		}
		if km.Offset >= to {
			return nil // written after the call began
		}
		if err := kafkaCall(ctx, "replay", h, kafkaToMessage(km)); err != nil {
			return fmt.Errorf("offset %d: %w", km.Offset, err)
		}
		if km.Offset+1 >= to {
			return nil
		}
	}
}

// KafkaPing reports whether a broker of brokers answers a metadata request within ctx (at most
// kafkaPingTimeout): nil as soon as one does. It is the readiness check of a process's Kafka
// dependency.
func KafkaPing(ctx context.Context, brokers []string) error {
	ctx, cancel := context.WithTimeout(ctx, kafkaPingTimeout)
	defer cancel()
	d := &kafka.Dialer{ClientID: kafkaClientID, Timeout: kafkaPingTimeout}
	var errs []error
	for _, b := range brokers {
		conn, err := d.DialContext(ctx, "tcp", b)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if dl, ok := ctx.Deadline(); ok {
			_ = conn.SetDeadline(dl)
		}
		_, err = conn.Brokers()
		conn.Close()
		if err == nil {
			return nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", b, err))
	}
	if len(errs) == 0 {
		return errors.New("eventbus: kafka ping: no brokers")
	}
	return fmt.Errorf("eventbus: kafka ping: %w", errors.Join(errs...))
}

// kafkaPingTimeout bounds KafkaPing.
const kafkaPingTimeout = time.Second
