package metadata

import (
	"github.com/mediamesh/mediamesh/internal/apierror"
	"github.com/mediamesh/mediamesh/internal/cursor"
)

// Cursors are opaque to clients: base64url (unpadded) JSON naming the last item of the previous
// page, {"version":3} for a version history (newest first) and {"slug":"news"} for categories
// (by slug).

// versionCursor is the position after a version in a history listed newest first.
type versionCursor struct {
	Version *int32 `json:"version"`
}

// categoryCursor is the position after a category in the list ordered by slug.
type categoryCursor struct {
	Slug *string `json:"slug"`
}

// badCursor is the answer to a cursor that is not one this list produced.
func badCursor() error {
	const msg = "not a cursor from this list; pass page.next_cursor unchanged"
	return apierror.BadRequest("query.cursor: "+msg, apierror.FieldError{Field: "query.cursor", Message: msg, Code: "invalid"})
}

// decodeVersionCursor returns the version a history page continues after.
func decodeVersionCursor(raw string) (int32, error) {
	var c versionCursor
	if err := cursor.Decode(raw, &c); err != nil || c.Version == nil || *c.Version < 1 {
		return 0, badCursor()
	}
	return *c.Version, nil
}

// decodeCategoryCursor returns the slug a category page continues after.
func decodeCategoryCursor(raw string) (string, error) {
	var c categoryCursor
	if err := cursor.Decode(raw, &c); err != nil || c.Slug == nil || !slugRE.MatchString(*c.Slug) {
		return "", badCursor()
	}
	return *c.Slug, nil
}
