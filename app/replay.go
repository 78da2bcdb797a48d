package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/eventbus"
	"github.com/mediamesh/mediamesh/internal/outbox"
)

// Replay rebuilds the read models among cfg's target (discovery, ...) from the first event on: it
// empties each one (read model and inbox), then applies every event of its topics in order, from
// Kafka when kafka.brokers is set (each partition from its oldest offset to its end at the time of
// the call) and otherwise from the producers' outboxes, which embedded mode keeps as its log. It is
// `mediamesh replay`; run it while the consumer is stopped, or accept that live events applied
// meanwhile are applied again (the handlers are idempotent and ignore stale versions). The search
// index on OpenSearch is rebuilt into a new versioned index while the alias serves the old one, and
// the alias moves to it in one step at the end: searches never see an empty index. Meanwhile the
// running consumer writes what it applies to both indices (the new one is marked as the alias's
// rebuild, see index.OpenSearch.BeginRebuild), so nothing it applies during the rebuild is missing
// from the new index.
func Replay(ctx context.Context, cfg Config, log *slog.Logger, out io.Writer) error {
	plan, err := cfg.Plan()
	if err != nil {
		return err
	}
	p := &platform{cfg: cfg, plan: plan, log: log, reg: prometheus.NewRegistry(), dbs: map[string]*database.DB{}, handlers: map[string]http.Handler{}, rebuild: true}
	defer p.close()
	replayed := 0
	for _, name := range plan.InProcess {
		if !contains(readModels, name) {
			continue
		}
		svc, err := p.newService(ctx, name)
		if err != nil {
			return err
		}
		c, ok := svc.(readModel)
		if !ok {
			return fmt.Errorf("%s does not consume events", name)
		}
		// A read model that can be rebuilt beside itself (search on OpenSearch) fills a new index
		// while the old one serves, and swaps them once every event is applied.
		commit, abort := func(context.Context) error { return nil }, func(context.Context) error { return nil }
		if r, ok := svc.(rebuilder); ok {
			if commit, abort, err = r.BeginRebuild(ctx); err != nil {
				return fmt.Errorf("%s: rebuild: %w", name, err)
			}
		} else if err := c.Reset(ctx); err != nil {
			return fmt.Errorf("%s: reset: %w", name, err)
		}
		if err := replayTopics(ctx, p, cfg, log, out, name, c); err != nil {
			if aerr := abort(context.WithoutCancel(ctx)); aerr != nil {
				log.Warn("replay: could not drop the index being rebuilt", "service", name, "error", aerr)
			}
			return err
		}
		if err := commit(ctx); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if r, ok := svc.(reporter); ok {
			fmt.Fprintln(out, r.ReplayReport())
		}
		replayed++
	}
	if replayed == 0 {
		return fmt.Errorf("target %v runs no read model; replay one of %v", cfg.Target, readModels)
	}
	return nil
}

// reporter is a read model that says what its last replay did beyond the events it applied.
type reporter interface{ ReplayReport() string }

// rebuilder is a read model that a replay rebuilds beside the state that serves (see
// search.Service.BeginRebuild).
type rebuilder interface {
	BeginRebuild(ctx context.Context) (commit, abort func(context.Context) error, err error)
}

// replayTopics applies every event of c's topics to c, in order.
func replayTopics(ctx context.Context, p *platform, cfg Config, log *slog.Logger, out io.Writer, name string, c readModel) error {
	for _, topic := range c.Topics() {
		var err error
		n := 0
		apply := replayer(c)
		h := func(ctx context.Context, m eventbus.Message) error {
			n++
			return apply.add(ctx, m)
		}
		source := "Kafka"
		if len(cfg.Kafka.Brokers) > 0 {
			err = eventbus.Replay(ctx, cfg.Kafka.Brokers, topic, h, eventbus.WithKafkaLogger(log))
		} else {
			source = producers[topic] + " outbox"
			var db *database.DB
			if db, err = p.database(ctx, producers[topic]); err == nil {
				err = outbox.Replay(ctx, db, topic, h)
			}
		}
		if err == nil {
			err = apply.flush(ctx)
		}
		if err != nil {
			return fmt.Errorf("%s: replay %s from %s: %w", name, topic, source, err)
		}
		fmt.Fprintf(out, "%s: applied %d events of %s from %s\n", name, n, topic, source)
	}
	return nil
}

// replayBatch is how many events a replay hands a batch consumer at once.
const replayBatch = 256

// replayApplier applies replayed events in runs of replayBatch when the consumer takes batches (one
// transaction and one index batch per run, as live delivery does), else one by one.
type replayApplier struct {
	c   consumer
	run []eventbus.Message
}

func replayer(c consumer) *replayApplier { return &replayApplier{c: c} }

// add applies m, or keeps it for the next run.
func (a *replayApplier) add(ctx context.Context, m eventbus.Message) error {
	if _, ok := a.c.(batchConsumer); !ok {
		return a.c.HandleEvent(ctx, m)
	}
	a.run = append(a.run, m)
	if len(a.run) < replayBatch {
		return nil
	}
	return a.flush(ctx)
}

// flush applies the events kept so far.
func (a *replayApplier) flush(ctx context.Context) error {
	if len(a.run) == 0 {
		return nil
	}
	err := a.c.(batchConsumer).HandleBatch(ctx, a.run)
	a.run = a.run[:0]
	return err
}
