package metadata

import (
	"testing"
	"time"
)

func TestNextUpdate(t *testing.T) {
	prev := time.Date(2026, 1, 1, 0, 0, 0, 5000, time.UTC)
	for _, now := range []time.Time{prev, prev.Add(-time.Hour)} {
		if got := nextUpdate(now, prev); !got.Equal(prev.Add(time.Microsecond)) || categoryETag(got) == categoryETag(prev) {
			t.Errorf("nextUpdate(%v, %v) = %v", now, prev, got)
		}
	}
	if later := prev.Add(time.Second); !nextUpdate(later, prev).Equal(later) {
		t.Error("nextUpdate does not keep a later clock")
	}
}
