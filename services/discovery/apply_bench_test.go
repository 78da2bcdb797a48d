package discovery

import (
	"context"
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/internal/database/databasetest"
	"github.com/mediamesh/mediamesh/internal/eventbus"
)

// BenchmarkApplyContentEvents measures the read model's consumer on SQLite as `all` mode runs it:
// runs of 256 content.published events (a program, then its episodes), each run applied in one
// transaction with its inbox records (HandleBatch). It reports events/s, the figure the
// performance issue asks to be at least 5,000 per read model.
func BenchmarkApplyContentEvents(b *testing.B) {
	f := newFixture(b, databasetest.SQLite(b))
	ctx := context.Background()
	const run = 256
	runs := make([][]eventbus.Message, b.N)
	for i := range runs {
		msgs := make([]eventbus.Message, 0, run)
		programID := newID()
		msgs = append(msgs, publishedMsg(b, programSnap(programID, 1, "Program", "en")))
		for n := 1; len(msgs) < run; n++ {
			msgs = append(msgs, publishedMsg(b, episodeSnap(newID(), programID, 1, nil, n, base.Add(time.Duration(n)*time.Minute))))
		}
		runs[i] = msgs
	}
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		if err := f.svc.HandleBatch(ctx, runs[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*run)/time.Since(start).Seconds(), "events/s")
}
