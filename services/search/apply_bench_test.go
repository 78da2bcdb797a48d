package search

import (
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/gen/events/contentevents"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
	"github.com/mediamesh/mediamesh/internal/readmodel/readmodeltest"
)

// BenchmarkApplyContentEvents measures the consumer on SQLite and the in-memory index in events/s,
// the figure the performance issue asks to be at least 5,000 per read model
// (readmodeltest.BenchmarkApply).
func BenchmarkApplyContentEvents(b *testing.B) {
	f := newFixture(b, databasetest.SQLite(b))
	readmodeltest.BenchmarkApply(b, f.svc.HandleBatch,
		func() contentevents.ContentSnapshot { return programSnap(1, "Harbour lights", "en") },
		func(programID string, n int) contentevents.ContentSnapshot {
			return episodeSnap(programID, 1, "Lighthouse keepers of the north", "en", base.Add(time.Duration(n)*time.Minute))
		})
}
