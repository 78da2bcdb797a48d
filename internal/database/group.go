package database

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// maxGroup is the most transactions one group commit joins.
const maxGroup = 64

// errClosed is what InTx returns once the database is closed.
var errClosed = errors.New("database: closed")

// groupCommit makes the transactions of concurrent InTx calls on an SQLite database one
// transaction: SQLite writes one transaction at a time, on one connection, and each commit waits
// for its log write to reach the disk, so writers that queue behind each other pay that wait
// once per group instead of once each. One goroutine takes what is queued (up to maxGroup),
// begins a transaction, runs each caller's fn inside a savepoint of its own (released when fn
// succeeds, rolled back when it fails or panics, so a failure undoes only that caller's writes),
// commits once, and then answers every caller. A caller alone runs in a transaction of its own,
// as without grouping. Grouping changes nothing a caller can see: each fn sees what the callers
// before it wrote, as it would after their commits, and InTx returns only after the commit.
type groupCommit struct {
	db *DB
	// transactions counts the InTx calls committed, commits the commits that wrote them.
	transactions, commits atomic.Int64
	reqs                  chan *txRequest
	stop                  chan struct{}
	once                  sync.Once
	done                  sync.WaitGroup
}

// txRequest is one InTx call waiting for its group.
type txRequest struct {
	ctx      context.Context
	fn       func(*sql.Tx) error
	err      error
	panicked bool
	panicVal any
	done     chan struct{}
}

func newGroupCommit(db *DB) *groupCommit {
	g := &groupCommit{db: db, reqs: make(chan *txRequest), stop: make(chan struct{})}
	g.done.Add(1)
	go g.loop()
	return g
}

// run queues fn and waits for its group's outcome; a panic of fn continues here.
func (g *groupCommit) run(ctx context.Context, fn func(*sql.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r := &txRequest{ctx: ctx, fn: fn, done: make(chan struct{})}
	select {
	case g.reqs <- r:
	case <-ctx.Done():
		return ctx.Err()
	case <-g.stop:
		return errClosed
	}
	<-r.done // once taken, the outcome is the commit's, even if ctx ends meanwhile
	if r.panicked {
		panic(r.panicVal)
	}
	return r.err
}

func (g *groupCommit) close() {
	g.once.Do(func() { close(g.stop) })
	g.done.Wait()
}

func (g *groupCommit) loop() {
	defer g.done.Done()
	for {
		var batch []*txRequest
		select {
		case r := <-g.reqs:
			batch = append(batch, r)
		case <-g.stop:
			return
		}
	more:
		for len(batch) < maxGroup {
			select {
			case r := <-g.reqs:
				batch = append(batch, r)
			default:
				break more
			}
		}
		g.commit(batch)
	}
}

// commit runs batch as one transaction and answers each request.
func (g *groupCommit) commit(batch []*txRequest) {
	defer func() {
		for _, r := range batch {
			close(r.done)
		}
	}()
	if len(batch) == 1 {
		r := batch[0]
		if r.err = call(r, func() error { return g.db.ownTx(r.ctx, r.fn) }); r.err == nil && !r.panicked {
			g.transactions.Add(1)
			g.commits.Add(1)
		}
		return
	}
	bg := context.Background() // the transaction is the group's, not one caller's
	tx, err := g.db.BeginTx(bg, nil)
	if err != nil {
		for _, r := range batch {
			r.err = fmt.Errorf("database: begin transaction: %w", err)
		}
		return
	}
	var ok []*txRequest
	for i, r := range batch {
		if r.err = r.ctx.Err(); r.err != nil {
			continue
		}
		if _, err := tx.ExecContext(bg, "SAVEPOINT grouped"); err != nil {
			g.abort(tx, append(ok, batch[i:]...), err)
			return
		}
		if r.err = call(r, func() error { return r.fn(tx) }); r.err == nil && !r.panicked {
			if _, err := tx.ExecContext(bg, "RELEASE grouped"); err != nil {
				g.abort(tx, append(ok, batch[i:]...), err)
				return
			}
			ok = append(ok, r)
			continue
		}
		if _, err := tx.ExecContext(bg, "ROLLBACK TO grouped"); err != nil {
			g.abort(tx, append(ok, batch[i+1:]...), err)
			return
		}
		if _, err := tx.ExecContext(bg, "RELEASE grouped"); err != nil {
			g.abort(tx, append(ok, batch[i+1:]...), err)
			return
		}
	}
	if len(ok) == 0 {
		_ = tx.Rollback()
		return
	}
	if err := tx.Commit(); err != nil {
		for _, r := range ok {
			r.err = fmt.Errorf("database: commit: %w", err)
		}
		return
	}
	g.transactions.Add(int64(len(ok)))
	g.commits.Add(1)
}

// abort rolls the group's transaction back after a savepoint could not be taken, released or
// rolled back, and fails the requests whose writes it undid or that did not run.
func (g *groupCommit) abort(tx *sql.Tx, undone []*txRequest, cause error) {
	err := fmt.Errorf("database: grouped transaction: %w", cause)
	if rbErr := tx.Rollback(); rbErr != nil && !errors.Is(rbErr, sql.ErrTxDone) {
		err = errors.Join(err, fmt.Errorf("database: rollback: %w", rbErr))
	}
	for _, r := range undone {
		if r.err == nil && !r.panicked {
			r.err = err
		}
	}
}

// GroupCommits reports, for an SQLite database, how many InTx transactions committed and in how
// many commits (fewer when concurrent writers were grouped); zeros for PostgreSQL.
func (db *DB) GroupCommits() (transactions, commits int64) {
	if db.group == nil {
		return 0, 0
	}
	return db.group.transactions.Load(), db.group.commits.Load()
}

// call runs f for r, recording a panic in r (InTx re-raises it in the caller's goroutine).
func call(r *txRequest, f func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			r.panicked, r.panicVal = true, v
		}
	}()
	return f()
}
