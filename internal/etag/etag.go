// Package etag renders and compares the strong entity tags of versioned resources: the quoted
// version number ("3"), sent back by clients in If-Match.
package etag

import (
	"strconv"
	"strings"
)

// Version is the entity tag of version v: its number, quoted.
func Version(v int64) string { return `"` + strconv.FormatInt(v, 10) + `"` }

// Match reports whether an If-Match header value matches current, the entity tag of an existing
// representation: "*", or one of a comma-separated list of tags. A weak tag (W/"3") is compared by
// its opaque part.
func Match(header, current string) bool {
	header = strings.TrimSpace(header)
	if header == "*" {
		return true
	}
	for tag := range strings.SplitSeq(header, ",") {
		if strings.TrimPrefix(strings.TrimSpace(tag), "W/") == current {
			return true
		}
	}
	return false
}
