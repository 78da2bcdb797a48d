package discovery

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
)

// etag returns the strong ETag of a single resource: a digest of its JSON representation, so it
// changes whenever anything the client sees changes (the content version, but also an episode
// count or a category name, which have versions of their own).
func etag(body any) string {
	b, err := json.Marshal(body)
	if err != nil { // cannot happen: generated response types
		return `"0"`
	}
	sum := sha256.Sum256(b)
	return `"` + hex.EncodeToString(sum[:12]) + `"`
}
