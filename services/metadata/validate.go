package metadata

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"

	"github.com/mediamesh/mediamesh/internal/apierror"
)

// The contract validates every request before a handler runs (types, lengths, patterns, enums,
// ranges). This file checks what a JSON schema cannot say, so that such input gets a 422 naming the
// field instead of a surprise in the database (PostgreSQL rejects NUL in text and jsonb).

// slugRE is the contract's CategorySlug pattern; cursors carrying a slug are checked against it.
var slugRE = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// fieldErrors collects the per-field errors of one request.
type fieldErrors []apierror.FieldError

// add records that field is invalid.
func (e *fieldErrors) add(field, code, message string) {
	*e = append(*e, apierror.FieldError{Field: field, Message: message, Code: code})
}

// err returns the 422 that lists every error, or nil when there is none.
func (e fieldErrors) err() error {
	if len(e) == 0 {
		return nil
	}
	return apierror.Validation(e[0].Field+": "+e[0].Message, e...)
}

// elem names element i of the array field name (then sub, when not empty) the way the contract
// validation names it: a dotted path into the body, e.g. extra.2.key.
func elem(name string, i int, sub string) string {
	p := name + "." + strconv.Itoa(i)
	if sub != "" {
		p += "." + sub
	}
	return p
}

// textKind says which characters a text field may hold.
type textKind int

const (
	// line is a one-line text: no control characters at all.
	line textKind = iota
	// paragraph is a free text: tab, line feed and carriage return allowed, no other control
	// character.
	paragraph
)

// checkText records field as invalid when s holds a control character its kind forbids, or, for a
// required text, when it is blank (only white space).
func (e *fieldErrors) checkText(field, s string, kind textKind, required bool) {
	for _, r := range s {
		if !unicode.IsControl(r) || kind == paragraph && (r == '\t' || r == '\n' || r == '\r') {
			continue
		}
		e.add(field, "invalid_character", fmt.Sprintf("must not contain the control character %U", r))
		return
	}
	if required && strings.TrimSpace(s) == "" {
		e.add(field, "blank", "must not be blank")
	}
}
