package cms

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mediamesh/mediamesh/ent/cmsdb/schema"
	"github.com/mediamesh/mediamesh/gen/openapi/cmsapi"
	"github.com/mediamesh/mediamesh/internal/apierror"
	"github.com/mediamesh/mediamesh/internal/humantext"
	"github.com/mediamesh/mediamesh/internal/language"
)

// The contract validates types, lengths, patterns and enums before a handler runs; these checks
// cover what it cannot express, so that no client input reaches the database unchecked.

// maxScheduleAhead is how far ahead publish_at may be.
const maxScheduleAhead = 366 * 24 * time.Hour

// fieldErrors collects the invalid fields of one request body.
type fieldErrors []apierror.FieldError

func (fe *fieldErrors) add(field, code, message string) {
	*fe = append(*fe, apierror.FieldError{Field: field, Message: message, Code: code})
}

// err returns the collected errors as one 422, or nil.
func (fe fieldErrors) err() error {
	if len(fe) == 0 {
		return nil
	}
	return apierror.Validation(fe[0].Field+": "+fe[0].Message, fe...)
}

// title checks a title (when given): one line of human text, not empty (internal/humantext, the
// contract's HumanText with minLength 1).
func (fe *fieldErrors) title(field string, v *string) {
	if v == nil {
		return
	}
	if p := humantext.Required(field, *v, humantext.Line); p != nil {
		*fe = append(*fe, *p)
	}
}

// summary checks a summary (when given): multi-line human text, which may be empty
// (internal/humantext, the contract's HumanTextBlock).
func (fe *fieldErrors) summary(field string, v *string) {
	if v == nil {
		return
	}
	if p := humantext.Check(field, *v, humantext.Block); p != nil {
		*fe = append(*fe, *p)
	}
}

// language checks a language code against ISO 639-1 (unknown and deprecated codes are refused).
func (fe *fieldErrors) language(field string, v *string) {
	if v == nil {
		return
	}
	if _, err := language.Lookup(*v); err != nil {
		fe.add(field, "unknown_language", err.Error())
	}
}

// tags checks a tag list (the contract's Tag: words of visible text separated by single spaces,
// internal/humantext.CheckTag) and normalises it: each tag lowercased (tags compare
// case-insensitively, and content events carry them lowercase), duplicates dropped, the first kept.
// nil stays nil.
func (fe *fieldErrors) tags(field string, in *[]string) []string {
	if in == nil {
		return nil
	}
	out := make([]string, 0, len(*in))
	seen := make(map[string]bool, len(*in))
	for i, t := range *in {
		if p := humantext.CheckTag(fmt.Sprintf("%s.%d", field, i), t); p != nil {
			*fe = append(*fe, *p)
			continue
		}
		t = strings.ToLower(t)
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out
}

// extra checks a list of additional attributes (when given): each key at most once, values
// multi-line human text that shows something. It returns the list as stored; nil stays nil.
func (fe *fieldErrors) extra(field string, in *[]cmsapi.ExtraField) []schema.ExtraField {
	if in == nil {
		return nil
	}
	out := make([]schema.ExtraField, 0, len(*in))
	first := make(map[string]int, len(*in))
	for i, e := range *in {
		if j, dup := first[e.Key]; dup {
			*fe = append(*fe, apierror.FieldError{Field: fmt.Sprintf("%s.%d.key", field, i), Code: "duplicate", Message: fmt.Sprintf("duplicate key %q (first at %s.%d.key)", e.Key, field, j)})
		} else {
			first[e.Key] = i
		}
		if p := humantext.Required(fmt.Sprintf("%s.%d.value", field, i), e.Value, humantext.Block); p != nil {
			*fe = append(*fe, *p)
		}
		out = append(out, schema.ExtraField{Key: e.Key, Value: e.Value})
	}
	return out
}

// extraToAPI renders stored attributes for the API: never nil.
func extraToAPI(in []schema.ExtraField) *cmsapi.ExtraFields {
	out := make(cmsapi.ExtraFields, len(in))
	for i, e := range in {
		out[i] = cmsapi.ExtraField{Key: e.Key, Value: e.Value}
	}
	return &out
}

// normalizeTag is a tag filter as stored: trimmed and lowercased.
func normalizeTag(t string) string { return strings.ToLower(strings.TrimSpace(t)) }

// queryText checks a free-text query parameter: valid UTF-8 without NUL characters, which the
// databases cannot compare against. 400 on the parameter otherwise.
func queryText(name string, v *string) error {
	if v == nil || (utf8.ValidString(*v) && !strings.ContainsRune(*v, 0)) {
		return nil
	}
	msg := "must be valid UTF-8 without NUL characters"
	return apierror.BadRequest("query."+name+": "+msg, apierror.FieldError{Field: "query." + name, Message: msg, Code: "invalid"})
}

// publishAt returns the instant a publish request schedules, nil to publish now. It must be in
// the future and at most maxScheduleAhead away (422 on publish_at otherwise).
func publishAt(body *cmsapi.PublishRequest, now time.Time) (*time.Time, error) {
	if body == nil || body.PublishAt == nil {
		return nil, nil
	}
	at := dbTime(*body.PublishAt)
	var fe fieldErrors
	switch {
	case !at.After(now):
		fe.add("publish_at", "past", "must be in the future; omit it to publish now")
	case at.Sub(now) > maxScheduleAhead:
		fe.add("publish_at", "too_far", "must be at most 366 days ahead")
	}
	if err := fe.err(); err != nil {
		return nil, err
	}
	return &at, nil
}
