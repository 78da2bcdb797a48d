// Package cursor encodes the opaque keyset cursors of list operations: base64url (unpadded) JSON
// naming the last item of the previous page. Each service defines the struct of its positions.
package cursor

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
)

// Encode renders position c, a struct of JSON-marshalable fields.
func Encode(c any) string {
	b, err := json.Marshal(c)
	if err != nil { // positions are structs of pointers to numbers, strings and times
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// Decode parses raw into c, a pointer to a position struct; it accepts only what Encode produces
// for that type (no unknown members, no trailing data). The caller checks that the fields it needs
// are present.
func Decode(raw string, c any) error {
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
