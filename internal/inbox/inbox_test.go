package inbox

import (
	"context"
	"database/sql"
	"errors"
	"testing"

	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
)

func TestApply(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		ctx := context.Background()
		if err := Migrate(ctx, db); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, `CREATE TABLE counter (n INTEGER NOT NULL)`); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, `INSERT INTO counter (n) VALUES (0)`); err != nil {
			t.Fatal(err)
		}
		incr := func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `UPDATE counter SET n = n + 1`)
			return err
		}
		count := func() int {
			var n int
			if err := db.QueryRowContext(ctx, `SELECT n FROM counter`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		for i := 0; i < 3; i++ { // the same event three times
			applied, err := Apply(ctx, db, "search", "e1", incr)
			if err != nil || applied != (i == 0) {
				t.Fatalf("delivery %d: applied=%v err=%v", i, applied, err)
			}
		}
		if applied, _ := Apply(ctx, db, "discovery", "e1", incr); !applied {
			t.Fatal("another consumer applies the same event once too")
		}
		// A failing effect records nothing: the event applies on redelivery.
		if _, err := Apply(ctx, db, "search", "e2", func(*sql.Tx) error { return errors.New("boom") }); err == nil {
			t.Fatal("want the effect's error")
		}
		if applied, err := Apply(ctx, db, "search", "e2", incr); err != nil || !applied {
			t.Fatalf("redelivery after failure: %v %v", applied, err)
		}
		if got := count(); got != 3 {
			t.Fatalf("counter %d, want 3", got)
		}
		if err := Forget(ctx, db, "search"); err != nil {
			t.Fatal(err)
		}
		if applied, _ := Apply(ctx, db, "search", "e1", incr); !applied {
			t.Fatal("after Forget a replay applies events again")
		}
	})
}
