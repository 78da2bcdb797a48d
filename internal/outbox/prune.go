package outbox

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/mediamesh/mediamesh/internal/database"
)

// Retention is how long sent outbox rows are kept: Default for every event type (0: forever),
// EventTypes for the types named there (0: forever), so that a high-volume type (engagement
// events) can be pruned while the outbox stays the replay log of the others in embedded mode.
// Unsent rows are never pruned.
type Retention struct {
	Default    time.Duration
	EventTypes map[string]time.Duration
}

// DefaultPruneBatch is how many rows one pruning statement deletes at most: a batch is a short
// write, so pruning a large backlog never holds the database's writer (SQLite has one) for long.
const DefaultPruneBatch = 1000

// PruneSent deletes the sent rows past r (as of now), at most batch rows a statement (0:
// DefaultPruneBatch), statement after statement until none are left or ctx ends, pausing pause
// between statements so other writers get their turn. It returns how many rows it deleted.
func PruneSent(ctx context.Context, db *database.DB, r Retention, now time.Time, batch int, pause time.Duration) (int64, error) {
	if batch <= 0 {
		batch = DefaultPruneBatch
	}
	var total int64
	prune := func(where string, args ...any) error {
		q := db.Rebind(`DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE sent_at IS NOT NULL AND sent_at < ? AND ` + where + ` ORDER BY sent_at LIMIT ?)`)
		for {
			res, err := db.ExecContext(ctx, q, args...)
			if err != nil {
				return fmt.Errorf("outbox: prune sent rows: %w", err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return fmt.Errorf("outbox: prune sent rows: %w", err)
			}
			total += n
			if n < int64(batch) {
				return nil
			}
			if err := sleep(ctx, pause); err != nil {
				return err
			}
		}
	}
	named := make([]any, 0, len(r.EventTypes))
	for eventType, keep := range r.EventTypes {
		named = append(named, eventType)
		if keep > 0 {
			if err := prune(`event_type = ?`, now.Add(-keep).UTC(), eventType, batch); err != nil {
				return total, err
			}
		}
	}
	if r.Default > 0 {
		where, args := `1 = 1`, []any{now.Add(-r.Default).UTC()}
		if len(named) > 0 {
			where = `event_type NOT IN (?` + strings.Repeat(`, ?`, len(named)-1) + `)`
			args = append(args, named...)
		}
		if err := prune(where, append(args, batch)...); err != nil {
			return total, err
		}
	}
	return total, nil
}

// sleep waits d, or until ctx ends (its error).
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Pruner prunes one service database's outbox on a schedule (see PruneSent), and then its inbox
// (Inbox, inbox.Prune: the consumers' records live in the same database) in the same pass.
type Pruner struct {
	Name      string        // the service, for logs
	DB        *database.DB  //
	Retention Retention     //
	Every     time.Duration // between passes; 0 means a minute
	Batch     int           // rows a statement; 0 means DefaultPruneBatch
	Pause     time.Duration // between statements of a pass
	Log       *slog.Logger
	// Inbox runs after the outbox's pruning in each pass, with the same batch and pause; nil: none.
	Inbox func(ctx context.Context, now time.Time, batch int, pause time.Duration) (int64, error)
}

// Run prunes once at start and then every p.Every until ctx ends. A failed pass is logged and
// tried again at the next one.
func (p *Pruner) Run(ctx context.Context) error {
	every := p.Every
	if every <= 0 {
		every = time.Minute
	}
	log := p.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	for {
		p.pass(ctx, log)
		if err := sleep(ctx, every); err != nil {
			return nil
		}
	}
}

// pass runs one pruning pass and logs what it deleted.
func (p *Pruner) pass(ctx context.Context, log *slog.Logger) {
	now := time.Now()
	n, err := PruneSent(ctx, p.DB, p.Retention, now, p.Batch, p.Pause)
	if err != nil && ctx.Err() == nil {
		log.Warn("pruning sent outbox rows failed", "service", p.Name, "error", err)
	} else if n > 0 {
		log.Info("pruned sent outbox rows past retention", "service", p.Name, "rows", n)
	}
	if p.Inbox == nil {
		return
	}
	n, err = p.Inbox(ctx, now, p.Batch, p.Pause)
	if err != nil && ctx.Err() == nil {
		log.Warn("pruning inbox entries failed", "service", p.Name, "error", err)
	} else if n > 0 {
		log.Info("pruned inbox entries past retention", "service", p.Name, "rows", n)
	}
}
