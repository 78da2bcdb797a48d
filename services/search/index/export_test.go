package index

import (
	"math"
	"time"
)

// NewMemorySearching returns an empty in-memory index that searches dense (walking whole
// posting lists) always, or never (the two ways must give the same results), and whose clock
// stands still at now.
func NewMemorySearching(dense bool, now time.Time) *Memory {
	m := NewMemory()
	m.now = func() time.Time { return now }
	m.denseShare = 0
	if dense {
		m.denseShare = math.MaxInt
	}
	return m
}
