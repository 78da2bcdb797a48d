package metadata

import (
	"regexp"
	"strconv"

	"github.com/mediamesh/mediamesh/internal/apierror"
	"github.com/mediamesh/mediamesh/internal/humantext"
)

// The contract validates every request before a handler runs (types, lengths, patterns, enums,
// ranges). This file checks what a JSON schema cannot say, and again the rule for human text
// (internal/humantext, which the contract states as its HumanText patterns) so that a handler called
// past the contract is as strict: such input gets a 422 naming the field instead of a surprise in
// the database (PostgreSQL rejects NUL in text and jsonb).

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

// checkText records field as invalid when s breaks the one rule for human text (internal/humantext,
// the contract's HumanText and HumanTextBlock): a control character kind forbids, or nothing visible.
// A required text must not be empty either.
func (e *fieldErrors) checkText(field, s string, kind humantext.Kind, required bool) {
	check := humantext.Check
	if required {
		check = humantext.Required
	}
	if p := check(field, s, kind); p != nil {
		*e = append(*e, *p)
	}
}

// checkTag records field as invalid when s is not a tag (internal/humantext.CheckTag, the
// contract's Tag).
func (e *fieldErrors) checkTag(field, s string) {
	if p := humantext.CheckTag(field, s); p != nil {
		*e = append(*e, *p)
	}
}
