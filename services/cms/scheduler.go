package cms

import (
	"context"
	"database/sql"
	"time"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/ent/cmsdb"
	"github.com/mediamesh/mediamesh/ent/cmsdb/episode"
	"github.com/mediamesh/mediamesh/ent/cmsdb/program"
	"github.com/mediamesh/mediamesh/internal/telemetry"
)

// The scheduler reads due items schedulerBatch at a time, at most schedulerBatches times per
// kind and tick; the next tick picks up the rest.
const (
	schedulerBatch   = 100
	schedulerBatches = 10
)

// Run publishes scheduled programs and episodes when their time comes and purges soft-deleted
// content older than Config.PurgeAfter, at once and then every Config.SchedulerInterval, until
// ctx ends; then it returns nil. Each item is published or purged in its own transaction with its
// event and audit entry, as the system (uuid.Nil in the audit trail, a null actor in events). A
// compare-and-swap on the version makes it safe to run in several processes at once: each item
// is published or purged once. A failing item is logged and tried again at the next tick.
func (s *Service) Run(ctx context.Context) error {
	t := time.NewTicker(s.cfg.SchedulerInterval)
	defer t.Stop()
	for {
		s.tick(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// tick does one round of the scheduler's work.
func (s *Service) tick(ctx context.Context) {
	ctx, span := telemetry.Tracer().Start(ctx, "cms scheduler")
	defer span.End()
	now := s.clock()
	s.each(ctx, "publish scheduled program", func() ([]uuid.UUID, error) {
		return s.read.Program.Query().
			Where(program.StatusEQ(program.StatusScheduled), program.ScheduledPublishAtLTE(now), program.DeletedAtIsNil()).
			Order(program.ByScheduledPublishAt(), program.ByID()).Limit(schedulerBatch).IDs(ctx)
	}, func(id uuid.UUID) error { return s.publishDueProgram(ctx, id, now) })
	s.each(ctx, "publish scheduled episode", func() ([]uuid.UUID, error) {
		return s.read.Episode.Query().
			Where(episode.StatusEQ(episode.StatusScheduled), episode.ScheduledPublishAtLTE(now), episode.DeletedAtIsNil()).
			Order(episode.ByScheduledPublishAt(), episode.ByID()).Limit(schedulerBatch).IDs(ctx)
	}, func(id uuid.UUID) error { return s.publishDueEpisode(ctx, id, now) })
	if s.cfg.PurgeAfter <= 0 {
		return
	}
	cutoff := now.Add(-s.cfg.PurgeAfter)
	// Programs first: purging one takes its episodes with it.
	s.each(ctx, "purge deleted program", func() ([]uuid.UUID, error) {
		return s.read.Program.Query().Where(program.DeletedAtLTE(cutoff)).Order(program.ByDeletedAt(), program.ByID()).Limit(schedulerBatch).IDs(ctx)
	}, func(id uuid.UUID) error { return s.purgeExpiredProgram(ctx, id, cutoff, now) })
	s.each(ctx, "purge deleted episode", func() ([]uuid.UUID, error) {
		return s.read.Episode.Query().Where(episode.DeletedAtLTE(cutoff)).Order(episode.ByDeletedAt(), episode.ByID()).Limit(schedulerBatch).IDs(ctx)
	}, func(id uuid.UUID) error { return s.purgeExpiredEpisode(ctx, id, cutoff, now) })
}

// each runs do on every id that due returns, batch after batch, logging failures.
func (s *Service) each(ctx context.Context, what string, due func() ([]uuid.UUID, error), do func(uuid.UUID) error) {
	for range schedulerBatches {
		ids, err := due()
		if err != nil {
			if ctx.Err() == nil {
				s.log.ErrorContext(ctx, "scheduler: cannot read what is due", "work", what, "error", err)
			}
			return
		}
		failed := 0
		for _, id := range ids {
			if err := do(id); err != nil {
				if ctx.Err() != nil {
					return
				}
				failed++
				s.log.ErrorContext(ctx, "scheduler: failed", "work", what, "id", id, "error", err)
			}
		}
		if len(ids) < schedulerBatch || failed == len(ids) {
			return
		}
	}
}

// publishDueProgram publishes the program if it is still scheduled and due.
func (s *Service) publishDueProgram(ctx context.Context, id uuid.UUID, now time.Time) error {
	return s.write(ctx, nil, func(c *cmsdb.Client, tx *sql.Tx) error {
		cur, err := c.Program.Get(ctx, id)
		if cmsdb.IsNotFound(err) {
			return nil // purged meanwhile
		}
		if err != nil {
			return err
		}
		l, action, err := planDue(now)(programLifecycle(cur))
		if err != nil || action == "" {
			return err
		}
		if _, err := s.changeProgram(ctx, c, tx, systemActor, cur, l, action, now); err != nil {
			return err
		}
		s.log.InfoContext(ctx, "scheduler: published program", "id", id)
		return nil
	})
}

// publishDueEpisode publishes the episode if it is still scheduled and due.
func (s *Service) publishDueEpisode(ctx context.Context, id uuid.UUID, now time.Time) error {
	return s.write(ctx, nil, func(c *cmsdb.Client, tx *sql.Tx) error {
		cur, err := c.Episode.Get(ctx, id)
		if cmsdb.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		l, action, err := planDue(now)(episodeLifecycle(cur))
		if err != nil || action == "" {
			return err
		}
		if _, err := s.changeEpisode(ctx, c, tx, systemActor, cur, l, action, now); err != nil {
			return err
		}
		s.log.InfoContext(ctx, "scheduler: published episode", "id", id)
		return nil
	})
}

// purgeExpiredProgram purges the program if it is still soft-deleted since cutoff or before.
func (s *Service) purgeExpiredProgram(ctx context.Context, id uuid.UUID, cutoff, now time.Time) error {
	return s.write(ctx, nil, func(c *cmsdb.Client, tx *sql.Tx) error {
		cur, err := c.Program.Get(ctx, id)
		if cmsdb.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if cur.DeletedAt == nil || cur.DeletedAt.After(cutoff) {
			return nil
		}
		if err := s.purgeProgram(ctx, c, tx, systemActor, cur, now); err != nil {
			return err
		}
		s.log.InfoContext(ctx, "scheduler: purged program", "id", id)
		return nil
	})
}

// purgeExpiredEpisode purges the episode if it is still soft-deleted since cutoff or before.
func (s *Service) purgeExpiredEpisode(ctx context.Context, id uuid.UUID, cutoff, now time.Time) error {
	return s.write(ctx, nil, func(c *cmsdb.Client, tx *sql.Tx) error {
		cur, err := c.Episode.Get(ctx, id)
		if cmsdb.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if cur.DeletedAt == nil || cur.DeletedAt.After(cutoff) {
			return nil
		}
		if err := s.purgeEpisode(ctx, c, tx, systemActor, cur, now); err != nil {
			return err
		}
		s.log.InfoContext(ctx, "scheduler: purged episode", "id", id)
		return nil
	})
}
