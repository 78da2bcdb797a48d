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

// ArabicTerms returns the terms that the Arabic analysis makes of a normalised word (none for a
// stop word), and ArabicSuffixes the suffixes of the light stemmer, for tests that compare
// OpenSearch's analyzer with it.
func ArabicTerms(w string) []string { return languageTerms(groupArabic, w) }

// ArabicSuffixes returns the suffixes of the light stemmer, in their order.
func ArabicSuffixes() []string {
	out := make([]string, len(arabicSuffixes))
	for i, s := range arabicSuffixes {
		out[i] = string(s)
	}
	return out
}
