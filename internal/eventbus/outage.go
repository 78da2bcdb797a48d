package eventbus

import (
	"log/slog"
	"sync"
	"time"
)

// OutageLog turns the failures and successes of one dependency (publishing to Kafka, fetching from
// it) into one log line per change of state, however often it is tried: a warning when it goes
// down, one more once every StillDownEvery while it stays down (with the outage's length and the
// failures so far), and an info line with the outage's length when it is back. Safe for
// concurrent use.
type OutageLog struct {
	Log  *slog.Logger
	What string // what failed, e.g. "kafka publish"
	// StillDownEvery is how often a continuing outage is logged again; 0 means a minute.
	StillDownEvery time.Duration
	now            func() time.Time // for tests; nil: time.Now

	mu       sync.Mutex
	since    time.Time // start of the current outage; zero while up
	logged   time.Time // when the outage was last logged
	failures int
}

func (o *OutageLog) clock() time.Time {
	if o.now != nil {
		return o.now()
	}
	return time.Now()
}

// Failed records a failure.
func (o *OutageLog) Failed(err error, attrs ...any) {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := o.clock()
	o.failures++
	every := o.StillDownEvery
	if every <= 0 {
		every = time.Minute
	}
	switch {
	case o.since.IsZero():
		o.since, o.logged = now, now
		o.Log.Warn(o.What+" failing; retrying with backoff", append(attrs, "error", err)...)
	case now.Sub(o.logged) >= every:
		o.logged = now
		o.Log.Warn(o.What+" still failing", append(attrs, "down_for", now.Sub(o.since).Round(time.Second), "failures", o.failures, "error", err)...)
	}
}

// Succeeded records a success; it ends an outage.
func (o *OutageLog) Succeeded(attrs ...any) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.since.IsZero() {
		return
	}
	o.Log.Info(o.What+" recovered", append(attrs, "outage", o.clock().Sub(o.since).Round(time.Millisecond), "failures", o.failures)...)
	o.since, o.failures = time.Time{}, 0
}

// Down reports whether the dependency is failing now.
func (o *OutageLog) Down() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return !o.since.IsZero()
}
