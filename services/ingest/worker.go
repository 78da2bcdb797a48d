package ingest

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/ent/ingestdb"
	"github.com/mediamesh/mediamesh/ent/ingestdb/run"
	"github.com/mediamesh/mediamesh/ent/ingestdb/schema"
	"github.com/mediamesh/mediamesh/ent/ingestdb/source"
	"github.com/mediamesh/mediamesh/gen/events/ingestevents"
	"github.com/mediamesh/mediamesh/internal/outbox"
	"github.com/mediamesh/mediamesh/internal/telemetry"
)

// maxBackoff caps how far failures push a source's next scheduled run.
const maxBackoff = 24 * time.Hour

// Run schedules due sources and executes queued runs until ctx ends. Several processes may run it:
// scheduling is a compare-and-swap on the source's next run time and a run is claimed by a
// compare-and-swap on its status, with a lease another worker takes over when it runs out.
func (s *Service) Run(ctx context.Context) error {
	t := time.NewTicker(s.cfg.PollInterval)
	defer t.Stop()
	for {
		s.schedule(ctx)
		for ctx.Err() == nil {
			r, err := s.claim(ctx)
			if err != nil {
				s.log.WarnContext(ctx, "could not claim an ingest run", "error", err)
				break
			}
			if r == nil {
				break
			}
			s.execute(ctx, r)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-s.wake:
		}
	}
}

// nextRun is when a source with interval seconds between runs and failures failed runs in a row
// runs next: the interval (doubled per failure, at most maxBackoff) spread by ±jitter.
func (s *Service) nextRun(from time.Time, interval int32, failures int32) time.Time {
	d := time.Duration(interval) * time.Second
	if failures > 0 {
		d = time.Duration(math.Min(float64(d)*math.Pow(2, float64(min(failures, 16))), float64(maxBackoff)))
	}
	spread := 1 + s.cfg.Jitter*(2*rand.Float64()-1)
	return from.Add(time.Duration(float64(d) * spread))
}

// schedule queues a run of every enabled source that is due and idle, and moves its next run on.
func (s *Service) schedule(ctx context.Context) {
	due, err := s.read.Source.Query().Where(source.Enabled(true), source.NextRunAtLTE(s.clock())).Limit(100).All(ctx)
	if err != nil {
		s.log.WarnContext(ctx, "could not look for due sources", "error", err)
		return
	}
	for _, src := range due {
		err := s.db.InTx(ctx, func(tx *sql.Tx) error {
			c := s.txClient(tx)
			// Compare-and-swap on the due time: of two workers, the second finds it moved on.
			n, err := c.Source.Update().Where(source.ID(src.ID), source.NextRunAtEQ(*src.NextRunAt)).
				SetNextRunAt(s.nextRun(s.clock(), src.ScheduleIntervalSeconds, src.ConsecutiveFailures)).Save(ctx)
			if err != nil || n == 0 { // another worker scheduled it, or the source changed
				return err
			}
			busy, err := c.Run.Query().Where(run.SourceID(src.ID), run.StatusIn(run.StatusQueued, run.StatusRunning)).Exist(ctx)
			if err != nil || busy {
				return err
			}
			_, err = s.queue(ctx, c, src.ID, run.TriggerSchedule, false, nil)
			return err
		})
		if err != nil {
			s.log.WarnContext(ctx, "could not schedule a source", "source_id", src.ID, "error", err)
		}
	}
}

// claim takes the oldest queued run, or a running one whose lease ran out, for this worker.
func (s *Service) claim(ctx context.Context) (*ingestdb.Run, error) {
	now := s.clock()
	candidates, err := s.read.Run.Query().
		Where(run.Or(run.StatusEQ(run.StatusQueued), run.And(run.StatusEQ(run.StatusRunning), run.LeaseUntilLT(now)))).
		Order(ingestdb.Asc(run.FieldCreatedAt)).Limit(5).All(ctx)
	if err != nil {
		return nil, err
	}
	for _, r := range candidates {
		u := s.read.Run.Update().Where(run.ID(r.ID), run.StatusEQ(r.Status)).SetStatus(run.StatusRunning).SetLeaseUntil(now.Add(s.cfg.Lease))
		if r.LeaseUntil != nil {
			u.Where(run.LeaseUntil(*r.LeaseUntil))
		} else {
			u.Where(run.LeaseUntilIsNil())
		}
		if r.StartedAt == nil {
			u.SetStartedAt(now)
		}
		n, err := u.Save(ctx)
		if err != nil {
			return nil, err
		}
		if n == 1 {
			return s.read.Run.Get(ctx, r.ID)
		}
	}
	return nil, nil
}

// outcome is what a run found.
type outcome struct {
	status       run.Status
	seen         int32
	created      int32
	updated      int32
	skipped      int32
	failed       int32
	errors       []schema.IngestItemError
	message      *string
	code         string // of a failed run
	httpStatus   *int32
	notModified  bool
	etag, lastMo *string // validators to keep for the next conditional fetch
}

// itemError records a failed item (the first 100 are kept).
func (o *outcome) itemError(guid, code, msg string) {
	o.failed++
	if len(o.errors) < 100 {
		e := schema.IngestItemError{Code: code, Message: truncate(msg, 1000)}
		if guid != "" {
			g := truncate(guid, 512)
			e.ItemGuid = &g
		}
		o.errors = append(o.errors, e)
	}
}

// fail makes o a failed run.
func (o *outcome) fail(code, msg string) {
	o.status, o.code = run.StatusFailed, code
	m := truncate(msg, 1000)
	o.message = &m
}

// execute runs r and records its outcome, the source's state and the run's event in one transaction.
func (s *Service) execute(ctx context.Context, r *ingestdb.Run) {
	ctx, span := telemetry.Tracer().Start(ctx, "ingest run")
	defer span.End()
	log := s.log.With("run_id", r.ID, "source_id", r.SourceID)
	src, err := s.read.Source.Get(ctx, r.SourceID)
	if ingestdb.IsNotFound(err) { // deleted meanwhile: its runs go with it
		if err := s.read.Run.DeleteOneID(r.ID).Exec(ctx); err != nil && !ingestdb.IsNotFound(err) {
			log.WarnContext(ctx, "could not drop the run of a deleted source", "error", err)
		}
		return
	}
	if err != nil {
		log.WarnContext(ctx, "could not read the source of a run", "error", err)
		return
	}
	o := s.ingest(ctx, src, r)
	finished := s.clock()
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		c := s.txClient(tx)
		n, err := c.Run.Update().Where(run.ID(r.ID), run.StatusEQ(run.StatusRunning), run.LeaseUntil(*r.LeaseUntil)).
			SetStatus(o.status).SetFinishedAt(finished).ClearLeaseUntil().SetItemsSeen(o.seen).SetItemsCreated(o.created).
			SetItemsUpdated(o.updated).SetItemsSkipped(o.skipped).SetItemsFailed(o.failed).SetErrors(o.errors).
			SetNillableMessage(o.message).SetNillableHTTPStatus(o.httpStatus).SetNotModified(o.notModified).Save(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("the run's lease was taken over by another worker")
		}
		st := source.LastRunStatus(o.status)
		u := c.Source.UpdateOneID(src.ID).SetLastRunAt(finished).SetLastRunStatus(st)
		if o.status == run.StatusFailed {
			u.AddConsecutiveFailures(1)
			if src.Enabled {
				u.SetNextRunAt(s.nextRun(finished, src.ScheduleIntervalSeconds, src.ConsecutiveFailures+1))
			}
		} else {
			u.SetConsecutiveFailures(0)
		}
		if o.etag != nil || o.lastMo != nil {
			u.SetNillableEtag(o.etag).SetNillableLastModified(o.lastMo)
		}
		if err := u.Exec(ctx); err != nil && !ingestdb.IsNotFound(err) {
			return err
		}
		return s.runEvent(ctx, tx, src, r, o, finished)
	})
	if err != nil {
		log.WarnContext(ctx, "could not record an ingest run", "error", err)
		return
	}
	attrs := []any{"status", o.status, "seen", o.seen, "created", o.created, "updated", o.updated, "skipped", o.skipped, "failed", o.failed}
	if o.status == run.StatusFailed {
		// The operator reading the log sees why, as the run's API record says.
		attrs = append(attrs, "code", o.code)
		if o.message != nil {
			attrs = append(attrs, "message", *o.message)
		}
		log.WarnContext(ctx, "ingest run failed", attrs...)
		return
	}
	log.InfoContext(ctx, "ingest run finished", attrs...)
}

// runEvent appends ingest.completed, or ingest.failed for a failed run, to the outbox within tx.
func (s *Service) runEvent(ctx context.Context, tx *sql.Tx, src *ingestdb.Source, r *ingestdb.Run, o *outcome, finished time.Time) error {
	started := finished
	if r.StartedAt != nil {
		started = *r.StartedAt
	}
	id := uuid.Must(uuid.NewV7()).String()
	var ev outbox.Event
	if o.status == run.StatusFailed {
		var status *int
		if o.httpStatus != nil {
			v := int(*o.httpStatus)
			status = &v
		}
		ev = &ingestevents.IngestFailed{EventID: id, OccurredAt: finished, AggregateID: src.ID.String(), TraceID: telemetry.TraceID(ctx),
			RunID: r.ID.String(), SourceID: src.ID.String(), SourceType: string(src.Type), Trigger: string(r.Trigger),
			ErrorCode: o.code, ErrorMessage: *o.message, HTTPStatus: status, StartedAt: started}
	} else {
		ev = &ingestevents.IngestCompleted{EventID: id, OccurredAt: finished, AggregateID: src.ID.String(), TraceID: telemetry.TraceID(ctx),
			RunID: r.ID.String(), SourceID: src.ID.String(), SourceType: string(src.Type), Trigger: string(r.Trigger),
			ItemsSeen: int(o.seen), ItemsCreated: int(o.created), ItemsUpdated: int(o.updated), ItemsSkipped: int(o.skipped),
			ItemsFailed: int(o.failed), StartedAt: started, FinishedAt: finished}
	}
	return outbox.Append(ctx, tx, s.db, ev, nil)
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n])
}
