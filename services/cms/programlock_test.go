package cms

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/internal/database/databasetest"
)

// TestEpisodeWritesShareTheProgramLock checks the program lock of episode writes on PostgreSQL:
// another transaction holding the same shared lock (an episode write of the same program in
// flight) does not hold an episode write up, while a transaction changing the program makes it
// wait, and the write then sees the change (an archived program takes no episodes).
func TestEpisodeWritesShareTheProgramLock(t *testing.T) {
	db := databasetest.Postgres(t)
	f := newFixture(t, db, Config{})
	p := f.createProgram("shared-lock", nil)
	ctx := context.Background()
	create := func(number int) <-chan int {
		done := make(chan int, 1)
		go func() {
			done <- f.do(http.MethodPost, programPath(p.Id, "episodes"), "editor", map[string]any{"episode_number": number, "title": "Lock"}).code
		}()
		return done
	}

	inFlight, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := inFlight.ExecContext(ctx, `SELECT 1 FROM programs WHERE id = $1 FOR SHARE`, p.Id); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-create(1):
		if code != http.StatusCreated {
			t.Fatalf("episode beside another episode write: status %d, want 201", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("an episode write waited for another episode write of the same program")
	}
	_ = inFlight.Rollback()

	change, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := change.ExecContext(ctx, `UPDATE programs SET status = 'archived' WHERE id = $1`, p.Id); err != nil {
		t.Fatal(err)
	}
	done := create(2)
	select {
	case code := <-done:
		t.Fatalf("an episode write did not wait for a change of its program (status %d)", code)
	case <-time.After(300 * time.Millisecond):
	}
	if err := change.Commit(); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-done:
		if code != http.StatusConflict {
			t.Fatalf("episode of a program archived meanwhile: status %d, want 409", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the episode write did not go on after the program's change committed")
	}
}
