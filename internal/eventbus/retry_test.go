package eventbus

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// TestHandleWithRetries: the failures that are the message's fault count towards MaxAttempts, the
// transient ones (interleaved with them) never do, and the result is the last error.
func TestHandleWithRetries(t *testing.T) {
	errDown := errors.New("database down")
	opts := SubscribeOptions{MaxAttempts: 3, Backoff: time.Microsecond, Transient: func(err error) bool { return errors.Is(err, errDown) }}
	run := func(script string) (calls, attempts int, failures string, err error) {
		attempts, err = handleWithRetries(context.Background(), opts, func() error {
			calls++
			switch script[calls-1] {
			case 'T':
				return fmt.Errorf("apply: %w", errDown)
			case 'M':
				return errors.New("cannot decode")
			}
			return nil
		}, func(err error, transient bool, attempt int) {
			failures += fmt.Sprintf("%v%d ", transient, attempt)
		})
		return calls, attempts, failures, err
	}
	// Two failures of the message's own and five transient ones, then success: 3 attempts counted.
	if calls, attempts, failures, err := run("TMTTMTTS"); err != nil || calls != 8 || attempts != 3 ||
		failures != "true0 false1 true1 true1 false2 true2 true2 " {
		t.Errorf("recovers: calls %d, attempts %d, err %v, failures %q", calls, attempts, err, failures)
	}
	// Three failures of the message's own give up, whatever transient ones came between.
	if calls, attempts, _, err := run("MTTMTMSS"); err == nil || err.Error() != "cannot decode" || calls != 6 || attempts != 3 {
		t.Errorf("gives up: calls %d, attempts %d, err %v", calls, attempts, err)
	}
	// Transient failures alone are retried for as long as they last (12 here: from 1 µs, the pauses
	// stay short of TransientRetryMax).
	if calls, attempts, _, err := run("TTTTTTTTTTTTS"); err != nil || calls != 13 || attempts != 1 {
		t.Errorf("transient: calls %d, attempts %d, err %v", calls, attempts, err)
	}
}

// TestHandleWithRetriesCeiling: the pause between retries of a transient failure doubles from the
// first backoff but never passes TransientRetryMax (plus its jitter); ctx ending stops the retries.
func TestHandleWithRetriesCeiling(t *testing.T) {
	if testing.Short() {
		t.Skip("waits about 3 s")
	}
	errDown := errors.New("down")
	opts := SubscribeOptions{Backoff: 400 * time.Millisecond, Transient: func(err error) bool { return errors.Is(err, errDown) }}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var at []time.Time
	_, err := handleWithRetries(ctx, opts, func() error {
		at = append(at, time.Now())
		if len(at) == 4 {
			cancel()
		}
		return errDown
	}, nil)
	if err == nil || len(at) != 4 {
		t.Fatalf("after ctx ended: err %v after %d calls, want an error after 4", err, len(at))
	}
	// Pauses of 400 ms and 800 ms (within a quarter), then one capped so that, jittered, it stays
	// within TransientRetryMax (not 1.6 s).
	for i, want := range []time.Duration{400 * time.Millisecond, 800 * time.Millisecond} {
		if gap := at[i+1].Sub(at[i]); gap < want*3/4 || gap > want*5/4+100*time.Millisecond {
			t.Errorf("pause %d: %v, want %v ± 25%%", i+1, gap, want)
		}
	}
	if gap := at[3].Sub(at[2]); gap < transientBackoffMax*3/4 || gap > TransientRetryMax+100*time.Millisecond {
		t.Errorf("pause 3: %v, want %v ± 25%%, at most %v", gap, transientBackoffMax, TransientRetryMax)
	}
}
