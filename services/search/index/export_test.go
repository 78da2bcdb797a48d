package index

import "math"

// NewMemorySearching returns an empty in-memory index that searches dense (walking whole
// posting lists) always, or never: the two ways must give the same results.
func NewMemorySearching(dense bool) *Memory {
	m := NewMemory()
	m.denseShare = 0
	if dense {
		m.denseShare = math.MaxInt
	}
	return m
}
