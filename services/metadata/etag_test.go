package metadata

import (
	"testing"
	"time"
)

func TestIfMatch(t *testing.T) {
	cases := []struct {
		header string
		want   bool
	}{
		{`"3"`, true},
		{`*`, true},
		{` "3" `, true},
		{`W/"3"`, true},
		{`"1", "3"`, true},
		{`"1","2"`, false},
		{`3`, false},
		{`"30"`, false},
		{``, false},
	}
	for _, c := range cases {
		if got := ifMatch(c.header, versionETag(3)); got != c.want {
			t.Errorf("ifMatch(%q, %q) = %v, want %v", c.header, versionETag(3), got, c.want)
		}
	}
}

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
