package cms

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/ent/cmsdb"
	"github.com/mediamesh/mediamesh/ent/cmsdb/program"
	"github.com/mediamesh/mediamesh/internal/apierror"
	"github.com/mediamesh/mediamesh/internal/database"
)

// writeAttempts bounds how often an unconditional write (no If-Match) is retried when another
// writer changed the row between its read and its compare-and-swap.
const writeAttempts = 3

// errStale means a compare-and-swap found another version than the one read: someone else
// changed the row meanwhile.
var errStale = errors.New("cms: the row changed meanwhile")

// inTx runs fn in one database transaction, with an ent client on it. Everything fn writes, the
// entity, its outbox event and its audit entry, commits or rolls back together.
func (s *Service) inTx(ctx context.Context, fn func(c *cmsdb.Client, tx *sql.Tx) error) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		c := cmsdb.NewClient(cmsdb.Driver(s.db.EntTx(tx)))
		return fn(c, tx)
	})
}

// write runs fn in a transaction (see inTx). When fn's compare-and-swap finds the row changed
// (errStale), the write fails with 412 if the caller sent If-Match, and is retried from a fresh
// read otherwise.
func (s *Service) write(ctx context.Context, ifMatch *string, fn func(c *cmsdb.Client, tx *sql.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := s.inTx(ctx, fn)
		if !errors.Is(err, errStale) {
			return err
		}
		if ifMatch != nil {
			return apierror.PreconditionFailed("the resource was changed by another request; read it again")
		}
		if attempt == writeAttempts {
			return apierror.Conflict("the resource kept changing under concurrent requests; retry")
		}
	}
}

// casErr turns the not-found error of a compare-and-swap update (no row with the id and the
// expected version) into errStale.
func casErr(err error) error {
	if cmsdb.IsNotFound(err) {
		return errStale
	}
	return err
}

// lockProgram takes the exclusive row lock of a program for the rest of the transaction (a no-op
// update) and returns the program, so that checks of its state (archived, soft-deleted) hold until
// commit: any concurrent write of the program or its episodes waits for the transaction. For
// transactions that may change the program row too (the import); the single episode writes take
// shareProgram. SQLite has one writer, whose transactions run one at a time: reading is enough.
func (s *Service) lockProgram(ctx context.Context, c *cmsdb.Client, id uuid.UUID) (*cmsdb.Program, error) {
	if s.db.Dialect == database.SQLite {
		return getProgram(ctx, c, id)
	}
	n, err := c.Program.Update().Where(program.ID(id)).AddVersion(0).Save(ctx)
	if err != nil {
		return nil, fmt.Errorf("lock program %s: %w", id, err)
	}
	if n == 0 {
		return nil, programNotFound(id)
	}
	p, err := c.Program.Get(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("read program %s: %w", id, err)
	}
	return p, nil
}

// shareProgram takes a shared lock on a program's row for the rest of the transaction (SELECT
// ... FOR SHARE) and returns the program, so that checks of its state (archived, soft-deleted)
// hold until commit: a concurrent delete, archive or other change of the program waits for the
// transaction, while the other episode writes of the program, which take the same shared lock, go
// on beside it instead of queueing behind each other's commits. Only for transactions that do not
// change the program row itself afterwards (two holders upgrading would deadlock); those take
// lockProgram. SQLite has one writer, whose transactions run one at a time: reading is enough.
func (s *Service) shareProgram(ctx context.Context, c *cmsdb.Client, tx *sql.Tx, id uuid.UUID) (*cmsdb.Program, error) {
	if s.db.Dialect == database.SQLite {
		return getProgram(ctx, c, id)
	}
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM `+program.Table+` WHERE `+program.FieldID+` = $1 FOR SHARE`, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, programNotFound(id)
	}
	if err != nil {
		return nil, fmt.Errorf("lock program %s: %w", id, err)
	}
	return getProgram(ctx, c, id)
}

func programNotFound(id uuid.UUID) error {
	return apierror.NotFound(fmt.Sprintf("program %s does not exist", id))
}

func episodeNotFound(id uuid.UUID) error {
	return apierror.NotFound(fmt.Sprintf("episode %s does not exist", id))
}

// getProgram reads a program with c, 404 when it does not exist.
func getProgram(ctx context.Context, c *cmsdb.Client, id uuid.UUID) (*cmsdb.Program, error) {
	p, err := c.Program.Get(ctx, id)
	if cmsdb.IsNotFound(err) {
		return nil, programNotFound(id)
	}
	if err != nil {
		return nil, fmt.Errorf("read program %s: %w", id, err)
	}
	return p, nil
}

// getEpisode reads an episode with c, 404 when it does not exist.
func getEpisode(ctx context.Context, c *cmsdb.Client, id uuid.UUID) (*cmsdb.Episode, error) {
	e, err := c.Episode.Get(ctx, id)
	if cmsdb.IsNotFound(err) {
		return nil, episodeNotFound(id)
	}
	if err != nil {
		return nil, fmt.Errorf("read episode %s: %w", id, err)
	}
	return e, nil
}

// storeErr maps what ent reports on a write to a client error where the client is at fault: a
// value its validators refuse is 422 on that field. Anything else is wrapped and stays a 500.
func storeErr(op string, err error) error {
	var ae *apierror.Error
	if errors.As(err, &ae) || errors.Is(err, errStale) {
		return err
	}
	var ve *cmsdb.ValidationError
	if errors.As(err, &ve) {
		return apierror.Validation(ve.Name+": "+ve.Error(), apierror.FieldError{Field: ve.Name, Message: ve.Error(), Code: "invalid"})
	}
	return fmt.Errorf("cms: %s: %w", op, err)
}
