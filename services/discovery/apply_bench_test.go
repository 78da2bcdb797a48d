package discovery

import (
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/gen/events/contentevents"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
	"github.com/mediamesh/mediamesh/internal/readmodel/readmodeltest"
)

// BenchmarkApplyContentEvents measures the read model's consumer on SQLite in events/s, the
// figure the performance issue asks to be at least 5,000 per read model (readmodeltest.BenchmarkApply).
func BenchmarkApplyContentEvents(b *testing.B) {
	f := newFixture(b, databasetest.SQLite(b))
	readmodeltest.BenchmarkApply(b, f.svc.HandleBatch,
		func() contentevents.ContentSnapshot { return programSnap(newID(), 1, "Program", "en") },
		func(programID string, n int) contentevents.ContentSnapshot {
			return episodeSnap(newID(), programID, 1, nil, n, base.Add(time.Duration(n)*time.Minute))
		})
}
