package readmodel

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"

	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/eventbus"
	"github.com/mediamesh/mediamesh/internal/inbox"
)

// Run is a read model's work on one run of messages: the events applied in one transaction, then
// the cached answers that showed what changed made stale.
type Run[P any] interface {
	// Apply applies event e, which the read model has not applied before, in the run's transaction.
	Apply(ctx context.Context, e inbox.Event[Change[P]]) error
	// Finish completes the run in its transaction, after its events (applied of them were new).
	Finish(ctx context.Context, applied int) error
	// Invalidate runs after the commit when the run applied any event; takedown says that one of
	// them may have taken something out of public view (Takedown).
	Invalidate(ctx context.Context, takedown bool)
}

// Handle applies msgs, a run of messages of one subscription, to a read model, in order: all of
// them or, on an error, none (the subscriber then hands them over one by one). It decodes them
// with d (leaving out the types the read model does not use; one that cannot be decoded is an
// error, which the subscriber retries, then dead-letters), then in one transaction of db records
// each event in the inbox of d.Consumer and applies those not applied before with the Run that
// begin starts in the transaction (again, should the transaction be retried), and finishes it.
// After the commit, the Run invalidates what the run changed.
func Handle[P any](ctx context.Context, log *slog.Logger, db *database.DB, d inbox.Decoder[Change[P]], msgs []eventbus.Message, begin func(tx *sql.Tx) Run[P]) error {
	events, err := inbox.DecodeRun(ctx, log, d, msgs)
	if err != nil || len(events) == 0 {
		return err
	}
	var (
		run      Run[P]
		applied  int
		takedown bool
	)
	err = db.InTx(ctx, func(tx *sql.Tx) error {
		run, takedown = begin(tx), false
		var err error
		applied, err = inbox.ApplyRun(ctx, db, tx, d.Consumer, events, len(msgs) > 1, func(ctx context.Context, e inbox.Event[Change[P]]) error {
			if err := run.Apply(ctx, e); err != nil {
				return err
			}
			takedown = takedown || Takedown(e.EventType)
			return nil
		})
		if err != nil {
			return err
		}
		return run.Finish(ctx, applied)
	})
	if err != nil {
		return err
	}
	if applied > 0 {
		run.Invalidate(ctx, takedown)
	}
	return nil
}

// Cache is what a read model needs of the gateways' response cache (internal/cache.Store): to make
// the answers cached in a namespace stale.
type Cache interface {
	Invalidate(ctx context.Context, namespace string) error
}

// Invalidate makes the answers cached in namespaces stale, in order, for the service whose answers
// they are (its cache namespace, for the log). A failure is logged and ends it: the rest expire with
// their TTL, which is the backstop, and the events whose effect is stored do not fail. A nil c does
// nothing.
func Invalidate(ctx context.Context, log *slog.Logger, c Cache, service string, namespaces ...string) {
	if c == nil {
		return
	}
	for _, ns := range namespaces {
		if err := c.Invalidate(ctx, ns); err != nil {
			log.WarnContext(ctx, "could not invalidate cached "+service+" responses; they expire with their TTL", "namespace", ns, "error", err)
			return
		}
	}
}

// Table is a table Reset empties: its name, for errors, and the delete of all its rows (an ent
// client's Delete().Exec bound to the transaction).
type Table struct {
	Name  string
	Empty func(context.Context) (int, error)
}

// ContentTables are the tables of published content every read model keeps, for Reset: its
// episodes, programs, categories and tombstones, each emptied by the Delete().Exec of the service's
// ent client in the transaction.
func ContentTables(episodes, programs, categories, tombstones func(context.Context) (int, error)) []Table {
	return []Table{{"episodes", episodes}, {"programs", programs}, {"categories", categories}, {"tombstones", tombstones}}
}

// Reset empties a read model and forgets which events it applied, before `mediamesh replay`
// applies every event again: it forgets the inbox of consumer, then empties the tables that
// tables lists for the transaction. The inbox goes first: should emptying the tables fail, the
// events are applied again over the old state, which the version checks make harmless.
func Reset(ctx context.Context, db *database.DB, consumer string, tables func(tx *sql.Tx) []Table) error {
	if err := inbox.Forget(ctx, db, consumer); err != nil {
		return fmt.Errorf("forget the inbox: %w", err)
	}
	return db.InTx(ctx, func(tx *sql.Tx) error {
		for _, t := range tables(tx) {
			if _, err := t.Empty(ctx); err != nil {
				return fmt.Errorf("empty %s: %w", t.Name, err)
			}
		}
		return nil
	})
}
