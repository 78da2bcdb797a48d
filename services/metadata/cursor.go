package metadata

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"

	"github.com/mediamesh/mediamesh/internal/apierror"
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

// encodeCursor renders a cursor.
func encodeCursor(c any) string {
	b, err := json.Marshal(c)
	if err != nil { // a struct of a pointer to a number or a string always marshals
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor parses raw into c, a pointer to one of the cursor types; it accepts only what
// encodeCursor produces for that type (no unknown members, no trailing data).
func decodeCursor(raw string, c any) error {
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(c); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("trailing data")
	}
	return nil
}

// badCursor is the answer to a cursor that is not one this list produced.
func badCursor() error {
	const msg = "not a cursor from this list; pass page.next_cursor unchanged"
	return apierror.BadRequest("query.cursor: "+msg, apierror.FieldError{Field: "query.cursor", Message: msg, Code: "invalid"})
}

// decodeVersionCursor returns the version a history page continues after.
func decodeVersionCursor(raw string) (int32, error) {
	var c versionCursor
	if err := decodeCursor(raw, &c); err != nil || c.Version == nil || *c.Version < 1 {
		return 0, badCursor()
	}
	return *c.Version, nil
}

// decodeCategoryCursor returns the slug a category page continues after.
func decodeCategoryCursor(raw string) (string, error) {
	var c categoryCursor
	if err := decodeCursor(raw, &c); err != nil || c.Slug == nil || !slugRE.MatchString(*c.Slug) {
		return "", badCursor()
	}
	return *c.Slug, nil
}
