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
//
// A body that passes (nearly every one) is checked in one pass over its bytes without allocating
// (json.Valid, then duplicateKeys); only a body that fails, or whose keys use escapes, is read
// again token by token to name the fault. encoding/json's Decoder.Token allocated for every token
// and every value's end: under engagement posts of 50 events it was 42% of the allocations of
// recordEngagement (issue 15).
func strictJSON(body []byte) error {
	if json.Valid(body) && !duplicateKeys(body) {
		return nil
	}
	return strictTokens(body)
}

// duplicateKeys reports whether some object of body, valid JSON, may name a key twice: true when
// one does, and when a key has an escape (then equal keys may be spelled differently).
func duplicateKeys(body []byte) bool {
	type object struct {
		first int                 // where its keys start in keys
		set   map[string]struct{} // its keys, once it has more than linearKeys
	}
	const linearKeys = 16
	var keysBuf [64][]byte
	var stackBuf [16]object
	keys, stack := keysBuf[:0], stackBuf[:0] // the keys of the open objects; the open objects (nil set: an array)
	inObject := func() bool { return len(stack) > 0 && stack[len(stack)-1].first >= 0 }
	for i := 0; i < len(body); i++ {
		switch body[i] {
		case '{':
			stack = append(stack, object{first: len(keys)})
		case '[':
			stack = append(stack, object{first: -1})
		case '}':
			keys = keys[:stack[len(stack)-1].first]
			stack = stack[:len(stack)-1]
		case ']':
			stack = stack[:len(stack)-1]
		case '"':
			start, escaped := i+1, false
			for i++; body[i] != '"'; i++ {
				if body[i] == '\\' {
					escaped = true
					i++ // the escaped character (a \uXXXX's digits hold no quote)
				}
			}
			if !inObject() {
				continue
			}
			j := i + 1
			for j < len(body) && (body[j] == ' ' || body[j] == '\t' || body[j] == '\n' || body[j] == '\r') {
				j++
			}
			if j == len(body) || body[j] != ':' {
				continue // a value, not a key
			}
			if escaped {
				return true
			}
			key, o := body[start:i], &stack[len(stack)-1]
			if o.set != nil {
				if _, ok := o.set[string(key)]; ok {
					return true
				}
				o.set[string(key)] = struct{}{}
				continue
			}
			for _, k := range keys[o.first:] {
				if bytes.Equal(k, key) {
					return true
				}
			}
			keys = append(keys, key)
			if len(keys)-o.first > linearKeys {
				o.set = make(map[string]struct{}, 2*linearKeys)
				for _, k := range keys[o.first:] {
					o.set[string(k)] = struct{}{}
				}
			}
		}
	}
	return false
}

// strictTokens is strictJSON token by token, naming what is at fault.
func strictTokens(body []byte) error {
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
