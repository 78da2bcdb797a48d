package database_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/internal/database"
)

// TestGroupCommit queues transactions behind one that holds the writer: they commit as one group
// (one commit), each caller gets its own outcome, a failing or panicking caller's writes are undone
// alone, and a caller whose context ended is not run.
func TestGroupCommit(t *testing.T) {
	ctx := t.Context()
	db, err := database.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "svc.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `CREATE TABLE t (v INTEGER PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	var hooks atomic.Int32
	db.AfterCommit(func() { hooks.Add(1) })

	release := make(chan struct{})
	holding := make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- db.InTx(ctx, func(tx *sql.Tx) error {
			close(holding)
			<-release
			_, err := tx.ExecContext(ctx, `INSERT INTO t VALUES (100)`)
			return err
		})
	}()
	<-holding
	errFail := errors.New("refused")
	results := make([]any, 10)
	cancelled, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if v := recover(); v != nil {
					results[i] = fmt.Sprint("panic: ", v)
				}
			}()
			c := ctx
			if i == 9 {
				c = cancelled
			}
			results[i] = db.InTx(c, func(tx *sql.Tx) error {
				if _, err := tx.ExecContext(ctx, `INSERT INTO t VALUES (?)`, i); err != nil {
					return err
				}
				switch i {
				case 3:
					return errFail
				case 5:
					panic("boom")
				case 7: // a duplicate key: the statement fails, the savepoint undoes the insert of 7
					_, err := tx.ExecContext(ctx, `INSERT INTO t VALUES (?)`, i)
					return err
				}
				return nil
			})
		}()
	}
	time.Sleep(200 * time.Millisecond) // let every caller queue behind the one holding the writer
	cancel()
	close(release)
	wg.Wait()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	for i, r := range results {
		var want string
		switch i {
		case 3:
			want = errFail.Error()
		case 5:
			want = "panic: boom"
		case 7:
			if err, ok := r.(error); !ok || err == nil {
				t.Errorf("caller 7: %v, want the constraint error", r)
			}
			continue
		case 9:
			if !errors.Is(r.(error), context.Canceled) {
				t.Errorf("caller 9: %v, want context.Canceled", r)
			}
			continue
		default:
			if r != nil && r.(error) != nil {
				t.Errorf("caller %d: %v", i, r)
			}
			continue
		}
		if fmt.Sprint(r) != want {
			t.Errorf("caller %d: %v, want %s", i, r, want)
		}
	}
	rows, err := db.Reads().QueryContext(ctx, `SELECT v FROM t ORDER BY v`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		got = append(got, v)
	}
	if fmt.Sprint(got) != "[0 1 2 4 6 8 100]" {
		t.Errorf("stored %v, want [0 1 2 4 6 8 100]", got)
	}
	if txs, commits := db.GroupCommits(); txs != 7 || commits != 2 {
		t.Errorf("%d transactions in %d commits, want 7 in 2: the holder's and one for the group", txs, commits)
	}
	if n := hooks.Load(); n != 7 {
		t.Errorf("the commit hooks ran %d times, want once per committed InTx (7)", n)
	}
}
