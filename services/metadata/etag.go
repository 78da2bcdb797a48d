package metadata

import (
	"strconv"
	"time"
)

// categoryETag is the entity tag of a category. Categories have no version column, so the tag is
// derived from updated_at: its Unix time in microseconds, quoted ("1764237600000000"). Every
// update moves updated_at forward by at least a microsecond (see nextUpdate), and microseconds are
// what both dialects store, so the tag changes on every update and reads back identically.
func categoryETag(updatedAt time.Time) string {
	return `"` + strconv.FormatInt(updatedAt.UnixMicro(), 10) + `"`
}

// nextUpdate returns the updated_at of a change made at now to a row last updated at prev: now, or
// prev plus one microsecond when the clock has not moved past prev (two updates within the same
// microsecond, or a clock that stepped back).
func nextUpdate(now, prev time.Time) time.Time {
	if now.After(prev) {
		return now
	}
	return prev.Add(time.Microsecond)
}
