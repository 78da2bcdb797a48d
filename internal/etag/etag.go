// Package etag renders and compares strong entity tags: the quoted version number ("3") of a
// versioned resource, sent back by clients in If-Match, or a digest of a representation.
package etag

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
)

// Version is the entity tag of version v: its number, quoted.
func Version(v int64) string { return `"` + strconv.FormatInt(v, 10) + `"` }

// Of is the entity tag of a representation without a version of its own: a digest of its JSON, so
// it changes whenever anything the client sees changes.
func Of(body any) string {
	b, err := json.Marshal(body)
	if err != nil { // cannot happen: generated response types
		return `"0"`
	}
	sum := sha256.Sum256(b)
	return `"` + hex.EncodeToString(sum[:12]) + `"`
}

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
