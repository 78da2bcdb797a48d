package app

import (
	"sort"
	"time"

	"github.com/mediamesh/mediamesh/gen/events/discoveryevents"
	"github.com/mediamesh/mediamesh/internal/inbox"
	"github.com/mediamesh/mediamesh/internal/outbox"
)

// pruners returns one pruner per service database of this process: sent outbox rows past
// outbox_retention (engagement events past prune.engagement_retention, when shorter) and inbox
// entries past prune.inbox_retention, in batches of prune.batch every prune.interval.
func (p *platform) pruners() []*outbox.Pruner {
	r := outbox.Retention{Default: p.cfg.OutboxRetention}
	if e := p.cfg.Prune.EngagementRetention; e > 0 && (r.Default == 0 || e < r.Default) {
		r.EventTypes = map[string]time.Duration{discoveryevents.TypeEngagementRecorded: e}
	}
	names := make([]string, 0, len(p.dbs))
	for n := range p.dbs {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]*outbox.Pruner, 0, len(names))
	for _, n := range names {
		pr := &outbox.Pruner{Name: n, DB: p.dbs[n], Retention: r, Every: p.cfg.Prune.Interval, Batch: p.cfg.Prune.Batch,
			Pause: 10 * time.Millisecond, Log: p.log.With("pruner", n)}
		if m, ok := moduleNamed(n); ok && m.consumes { // only a consumer's database has an inbox
			pr.Inbox = inbox.Pruning(p.dbs[n], p.cfg.Prune.InboxRetention)
		}
		out = append(out, pr)
	}
	return out
}
