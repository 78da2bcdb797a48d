package contract

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"

	"github.com/mediamesh/mediamesh/internal/apierror"
)

// isJSON reports whether a Content-Type names JSON (application/json or a +json type).
func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

// StrictJSON is strictJSON for bodies checked piece by piece, such as the lines of an NDJSON
// import: body must be one JSON value without duplicate keys; the error is a 400 Problem.
func StrictJSON(body []byte) error { return strictJSON(body) }

// strictJSON checks what a JSON parser that keeps the last of two equal keys, or stops after the
// first value, would let through: body must be exactly one JSON value, and no object in it may
// name a key twice. The error is the 400 Problem.
func strictJSON(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := strictValue(dec, ""); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badBody("the request body has data after its JSON value")
	}
	return nil
}

// strictValue reads one value from dec, refusing duplicate keys in its objects; path names where
// it is, for the error.
func strictValue(dec *json.Decoder, path string) error {
	tok, err := dec.Token()
	if err != nil {
		return badBody("the request body is not valid JSON")
	}
	switch tok {
	case json.Delim('{'):
		seen := map[string]bool{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return badBody("the request body is not valid JSON")
			}
			key, _ := kt.(string)
			field := key
			if path != "" {
				field = path + "." + key
			}
			if seen[key] {
				return apierror.BadRequest(fmt.Sprintf("the request body names %s twice", field),
					apierror.FieldError{Field: field, Message: "appears twice in the same object", Code: "duplicate"})
			}
			seen[key] = true
			if err := strictValue(dec, field); err != nil {
				return err
			}
		}
		_, err = dec.Token() // '}'
	case json.Delim('['):
		for i := 0; dec.More(); i++ {
			if err := strictValue(dec, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		_, err = dec.Token() // ']'
	}
	if err != nil {
		return badBody("the request body is not valid JSON")
	}
	return nil
}

// badBody is the 400 Problem of a body that is not one JSON value, naming the body as the field.
func badBody(detail string) error {
	return apierror.BadRequest(detail, apierror.FieldError{Field: "body", Message: detail, Code: "invalid"})
}
