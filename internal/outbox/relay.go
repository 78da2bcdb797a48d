package outbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/retrypolicy"

	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/eventbus"
)

// Relay publishes the rows of one database's outbox, in id order, at least once: a row is marked
// sent only after the publisher acknowledged it. While the publisher fails (Kafka down) the rows
// stay, writes go on, and the relay retries with jittered backoff (see RetryDelay) until they flow
// again, logging the outage once, not every retry. On PostgreSQL only
// one relay per database publishes at a time (an advisory lock), so order per aggregate holds even
// with several processes; the others wait as standbys.
type Relay struct {
	Name      string // the producing service, for logs
	DB        *database.DB
	Publisher eventbus.Publisher
	Log       *slog.Logger
	Batch     int           // rows per publish; 0 means 100
	Interval  time.Duration // poll interval when idle; 0 means 200ms
	// RetryDelay is the first pause after a failed publish, MaxDelay the longest: the relay probes
	// soon after a failure, then backs off (doubling, jittered by a quarter) so that a long outage
	// costs a probe every MaxDelay and a recovery is noticed within about MaxDelay. Commits do not
	// wake a relay that is backing off. 0 means 100ms and 1s (with 3s, a relay noticed a broker's
	// return up to 3s late, most of the 6s the fault suite's platform took to catch up).
	RetryDelay time.Duration
	MaxDelay   time.Duration
	// Linger is how long the relay waits after a commit woke it before it reads the outbox while
	// writes are coming in (its last publish had more than one row), so that the commits of
	// concurrent writers go out as one publish (and consumers apply them as one batch, one index
	// segment) instead of a few each. A lone change on a quiet outbox goes out at once. 0 means
	// DefaultLinger; negative, no wait.
	Linger time.Duration
	// Retention is how long sent rows are kept: the leading relay deletes older ones (PurgeSent)
	// once a minute. 0 keeps them all, as embedded mode needs: there the outbox is the log that
	// `mediamesh replay` rebuilds read models from.
	Retention time.Duration

	wake    chan struct{}
	backlog atomic.Int64
	sent    atomic.Int64
}

// DefaultLinger is the Linger of a relay that sets none: short beside the 1 s within which a
// change must reach the read models, long enough to gather the commits of busy writers (measured:
// 5,000 create-and-publish pairs by 8 writers, 5 ms 305 episodes/s, 25 ms 400, 50 ms 448, 100 ms 439).
const DefaultLinger = 50 * time.Millisecond

// Wake asks the relay to look at the outbox now (after a commit), instead of at its next poll.
func (r *Relay) Wake() {
	if r.wake == nil {
		return
	}
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Backlog is the number of unsent rows the relay saw last.
func (r *Relay) Backlog() int64 { return r.backlog.Load() }

// Sent is the number of rows the relay has published.
func (r *Relay) Sent() int64 { return r.sent.Load() }

// Run publishes until ctx ends.
func (r *Relay) Run(ctx context.Context) error {
	batch, interval, retryDelay, maxDelay := r.Batch, r.Interval, r.RetryDelay, r.MaxDelay
	if batch <= 0 {
		batch = 100
	}
	if interval <= 0 {
		interval = 200 * time.Millisecond
	}
	if retryDelay <= 0 {
		retryDelay = 100 * time.Millisecond
	}
	if maxDelay <= 0 {
		maxDelay = time.Second
	}
	maxDelay = max(maxDelay, retryDelay)
	linger := r.Linger
	if linger == 0 {
		linger = DefaultLinger
	}
	if r.wake == nil {
		r.wake = make(chan struct{}, 1)
		r.DB.AfterCommit(r.Wake) // a commit may have written to the outbox: look now
	}
	release, err := r.lead(ctx, interval)
	if err != nil {
		return nil // ctx ended while waiting to lead
	}
	defer release()

	// A failed publish is retried until it succeeds or ctx ends; the outage is logged once when it
	// starts, once a minute while it lasts and once when it ends, with its length.
	outage := &eventbus.OutageLog{Log: r.Log.With("service", r.Name), What: "outbox relay: publishing to the bus"}
	retry := retrypolicy.NewBuilder[int]().
		HandleIf(func(_ int, err error) bool { return err != nil && ctx.Err() == nil }).
		WithMaxRetries(-1).
		WithBackoff(retryDelay, maxDelay).
		WithJitterFactor(0.25).
		Build()
	publish := func() (int, error) {
		n, err := r.relayOnce(ctx, batch)
		if err != nil {
			if ctx.Err() == nil {
				outage.Failed(err, "backlog", r.backlog.Load())
			}
			return 0, err
		}
		outage.Succeeded("backlog", r.backlog.Load())
		return n, nil
	}
	busy := false // the last publish had more than one row: writes are coming in
	var purged time.Time
	for {
		if r.Retention > 0 && time.Since(purged) >= time.Minute {
			purged = time.Now()
			if n, err := PurgeSent(ctx, r.DB, purged.Add(-r.Retention)); err != nil {
				r.Log.Warn("outbox relay: purging sent rows failed", "service", r.Name, "error", err)
			} else if n > 0 {
				r.Log.Info("outbox relay: purged sent rows past retention", "service", r.Name, "rows", n, "retention", r.Retention)
			}
		}
		n, err := failsafe.With(retry).WithContext(ctx).Get(publish)
		busy = n > 1
		switch {
		case ctx.Err() != nil || err != nil: // only ctx ends the retries
			return nil
		case n == batch:
			continue // more waiting
		}
		select {
		case <-ctx.Done():
			return nil
		case <-r.wake:
			if linger > 0 && busy {
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(linger):
				}
			}
		case <-time.After(interval):
		}
	}
}

// relayOnce publishes one batch and returns how many rows it published.
func (r *Relay) relayOnce(ctx context.Context, batch int) (int, error) {
	if n, err := Backlog(ctx, r.DB); err == nil {
		r.backlog.Store(n)
	}
	recs, err := Unsent(ctx, r.DB, batch)
	if err != nil || len(recs) == 0 {
		return 0, err
	}
	msgs := make([]eventbus.Message, len(recs))
	ids := make([]int64, len(recs))
	for i, rec := range recs {
		msgs[i] = Message(rec)
		ids[i] = rec.ID
	}
	if err := r.Publisher.Publish(ctx, msgs...); err != nil {
		for _, id := range ids {
			_ = MarkFailed(context.WithoutCancel(ctx), r.DB, id, err)
		}
		return 0, err
	}
	// The broker has the messages: record that even if ctx ends now.
	if err := MarkSent(context.WithoutCancel(ctx), r.DB, ids...); err != nil {
		return 0, err
	}
	r.sent.Add(int64(len(ids)))
	r.backlog.Add(-int64(len(ids)))
	return len(ids), nil
}

// Message turns an outbox row into the message the bus carries.
func Message(rec Record) eventbus.Message {
	h := make(map[string]string, len(rec.Headers)+3)
	for k, v := range rec.Headers {
		h[k] = v
	}
	h[eventbus.HeaderEventType] = rec.EventType
	h[eventbus.HeaderEventID] = rec.EventID
	if fp, _, err := eventbus.ParseSingleObject(rec.Payload); err == nil {
		h[eventbus.HeaderFingerprint] = fmt.Sprintf("%016x", fp)
	}
	return eventbus.Message{Topic: rec.Topic, Key: rec.AggregateID, Value: rec.Payload, Headers: h, Time: rec.OccurredAt}
}

// lead waits until this relay may publish: always on SQLite (one process owns the file), and on
// PostgreSQL once it holds the advisory lock, on a connection of its own kept for the whole run. A
// standby (another relay holds the lock) or a failure to ask (the database is down) tries again
// every 10 intervals (jittered); failures are logged once when they start and once when they end.
func (r *Relay) lead(ctx context.Context, interval time.Duration) (func(), error) {
	if r.DB.Dialect != database.Postgres {
		return func() {}, nil
	}
	outage := &eventbus.OutageLog{Log: r.Log.With("service", r.Name), What: "outbox relay: taking the relay lock"}
	retry := retrypolicy.NewBuilder[func()]().
		HandleIf(func(release func(), err error) bool { return ctx.Err() == nil && (err != nil || release == nil) }).
		WithMaxRetries(-1).
		WithDelay(interval * 10).
		WithJitterFactor(0.25).
		ReturnLastFailure().
		Build()
	release, err := failsafe.With(retry).WithContext(ctx).Get(func() (func(), error) {
		release, err := r.tryLead(ctx)
		switch {
		case err != nil && ctx.Err() == nil && !errors.Is(err, sql.ErrConnDone):
			outage.Failed(err)
		case err == nil:
			outage.Succeeded()
		}
		return release, err
	})
	if ctx.Err() != nil {
		if release != nil {
			release()
		}
		return nil, ctx.Err()
	}
	return release, err
}

// tryLead takes the advisory lock on a connection of its own, and returns what releases both; nil
// and no error when another relay holds the lock.
func (r *Relay) tryLead(ctx context.Context) (func(), error) {
	conn, err := r.DB.Conn(ctx)
	if err != nil {
		return nil, err
	}
	var got bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock(hashtext(current_schema() || '.outbox_relay'))`).Scan(&got); err != nil || !got {
		conn.Close()
		return nil, err
	}
	return func() {
		_, _ = conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock(hashtext(current_schema() || '.outbox_relay'))`)
		conn.Close()
	}, nil
}

// Replay calls h for every event of topic in this outbox, sent or not, in id order: in embedded mode
// the outbox is the log a read model is rebuilt from. Sent rows are kept until PurgeSent removes them.
func Replay(ctx context.Context, db *database.DB, topic string, h eventbus.Handler) error {
	var after int64
	for {
		rows, err := db.QueryContext(ctx, db.Rebind(`SELECT id, event_id, topic, aggregate_id, event_type, payload, headers, occurred_at, created_at, attempts, last_error
			FROM outbox WHERE topic = ? AND id > ? ORDER BY id LIMIT 500`), topic, after)
		if err != nil {
			return fmt.Errorf("outbox: replay: %w", err)
		}
		recs, err := scanRecords(rows)
		if err != nil {
			return err
		}
		if len(recs) == 0 {
			return nil
		}
		for _, rec := range recs {
			m := Message(rec)
			m.Offset = rec.ID
			if err := h(ctx, m); err != nil {
				return err
			}
			after = rec.ID
		}
	}
}
