package feed

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Limits of ParseJSON and Mapping.
const (
	// MaxJSONDepth is the deepest nesting of arrays and objects ParseJSON accepts.
	MaxJSONDepth = 64
	// MaxPathLength is the longest items path or field path, in bytes.
	MaxPathLength = 200
	// MaxPathSegments is the most segments a path may have.
	MaxPathSegments = 32
)

// Mapping describes how to read items out of a JSON document; it mirrors the JsonMapping schema
// of the ingest API. ItemsPath, GUID and Title are required, the other fields optional (empty:
// not mapped).
//
// ItemsPath selects the array of items: "$" (the document is the array), "$.a.b" or "$.a.b[*]"
// (object keys from the top, ending at the array; the "[*]" is optional). The other fields are
// paths inside one item: object keys separated by dots, where a numeric segment indexes an array
// ("media.0.url", "snippet.title"; an object with a key "0" is looked up by that key).
type Mapping struct {
	ItemsPath, GUID, Title, Description, PublishedAt, Duration, MediaURL, ImageURL string
}

// MappingError is one problem of a Mapping. Field is the JsonMapping property name (items_path,
// guid, title, description, published_at, duration, media_url, image_url).
type MappingError struct {
	Field   string
	Message string
}

// Error formats the problem as "field: message".
func (e *MappingError) Error() string { return e.Field + ": " + e.Message }

// Validate checks every path of m. It returns nil, or the errors.Join of one *MappingError per
// faulty field, in the order of the fields above.
func (m Mapping) Validate() error {
	var errs []error
	if _, err := parseItemsPath(m.ItemsPath); err != nil {
		errs = append(errs, &MappingError{Field: "items_path", Message: err.Error()})
	}
	for _, f := range m.fields() {
		if f.path == "" && !f.required {
			continue
		}
		if _, err := parseFieldPath(f.path); err != nil {
			errs = append(errs, &MappingError{Field: f.name, Message: err.Error()})
		}
	}
	return errors.Join(errs...)
}

type mappedField struct {
	name     string
	path     string
	required bool
}

func (m Mapping) fields() []mappedField {
	return []mappedField{
		{"guid", m.GUID, true},
		{"title", m.Title, true},
		{"description", m.Description, false},
		{"published_at", m.PublishedAt, false},
		{"duration", m.Duration, false},
		{"media_url", m.MediaURL, false},
		{"image_url", m.ImageURL, false},
	}
}

func checkPathText(p string) error {
	if p == "" {
		return errors.New("is required")
	}
	if len(p) > MaxPathLength {
		return fmt.Errorf("is longer than %d characters", MaxPathLength)
	}
	for _, r := range p {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return fmt.Errorf("%q contains whitespace or control characters", p)
		}
	}
	return nil
}

// parseItemsPath returns the object keys from the document root to the items array.
func parseItemsPath(p string) ([]string, error) {
	if err := checkPathText(p); err != nil {
		return nil, err
	}
	if p[0] != '$' {
		return nil, fmt.Errorf("%q must start with $ (for example $ or $.data.items[*])", p)
	}
	rest := strings.TrimSuffix(p[1:], "[*]")
	if rest == "" {
		return nil, nil
	}
	if rest[0] != '.' {
		return nil, fmt.Errorf("%q: after $ comes .key (for example $.data.items[*])", p)
	}
	segs := strings.Split(rest[1:], ".")
	if len(segs) > MaxPathSegments {
		return nil, fmt.Errorf("%q has more than %d segments", p, MaxPathSegments)
	}
	for _, s := range segs {
		if s == "" {
			return nil, fmt.Errorf("%q has an empty segment", p)
		}
		if strings.ContainsAny(s, "[]*$") {
			return nil, fmt.Errorf("%q: only object keys separated by dots, with an optional [*] at the end, are supported", p)
		}
	}
	return segs, nil
}

// parseFieldPath returns the segments of a path inside an item.
func parseFieldPath(p string) ([]string, error) {
	if err := checkPathText(p); err != nil {
		return nil, err
	}
	if strings.HasPrefix(p, "$") {
		return nil, fmt.Errorf("%q: field paths are relative to the item (write %q)", p, strings.TrimPrefix(strings.TrimPrefix(p, "$"), "."))
	}
	if strings.ContainsAny(p, "[]*") {
		return nil, fmt.Errorf("%q: write array indexes as segments (media.0.url), without brackets or wildcards", p)
	}
	segs := strings.Split(p, ".")
	if len(segs) > MaxPathSegments {
		return nil, fmt.Errorf("%q has more than %d segments", p, MaxPathSegments)
	}
	for _, s := range segs {
		if s == "" {
			return nil, fmt.Errorf("%q has an empty segment", p)
		}
	}
	return segs, nil
}

// compiledMapping holds the parsed paths; nil segments: not mapped.
type compiledMapping struct {
	items                                                         []string
	guid, title, description, publishedAt, duration, media, image []string
}

func (m Mapping) compile() (*compiledMapping, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	c := &compiledMapping{}
	c.items, _ = parseItemsPath(m.ItemsPath)
	opt := func(p string) []string {
		if p == "" {
			return nil
		}
		s, _ := parseFieldPath(p)
		return s
	}
	c.guid, c.title, c.description = opt(m.GUID), opt(m.Title), opt(m.Description)
	c.publishedAt, c.duration, c.media, c.image = opt(m.PublishedAt), opt(m.Duration), opt(m.MediaURL), opt(m.ImageURL)
	return c, nil
}

// ParseJSON reads the items of a JSON document with m. The document must be one JSON value,
// nested at most MaxJSONDepth deep; ItemsPath must lead to an array (otherwise an error). Only the
// first MaxItems items are read (Result.Truncated tells). Result.Channel is empty: a JSON API has
// no channel description.
//
// Values: the GUID and title may be strings or numbers (numbers are written without exponent,
// 1.0 as "1"); published_at is an RFC 3339, RFC 1123 or 2006-01-02 string, or unix seconds;
// duration is seconds (a number or a digit string), MM:SS, HH:MM:SS or ISO 8601 (PT1H2M3S);
// media_url and image_url are absolute http(s) URLs (an image URL that is not one is dropped).
// ItemErrors: missing_guid and missing_title for absent, empty or ill-typed required fields,
// invalid_guid, invalid_date, invalid_duration and invalid_media_url.
func ParseJSON(data []byte, m Mapping) (*Result, []ItemError, error) {
	cm, err := m.compile()
	if err != nil {
		return nil, nil, fmt.Errorf("json mapping: %w", err)
	}
	doc, err := decodeJSON(data)
	if err != nil {
		return nil, nil, err
	}
	node := doc
	for i, key := range cm.items {
		obj, ok := node.(map[string]any)
		if !ok {
			return nil, nil, fmt.Errorf("json: items_path %s: %s is %s, not an object", m.ItemsPath, pathPrefix(cm.items[:i]), kindOf(node))
		}
		node, ok = obj[key]
		if !ok {
			return nil, nil, fmt.Errorf("json: items_path %s: %s has no key %q", m.ItemsPath, pathPrefix(cm.items[:i]), key)
		}
	}
	arr, ok := node.([]any)
	if !ok {
		return nil, nil, fmt.Errorf("json: items_path %s leads to %s, not an array", m.ItemsPath, kindOf(node))
	}
	res := &Result{}
	if len(arr) > MaxItems {
		arr = arr[:MaxItems]
		res.Truncated = true
	}
	var itemErrs []ItemError
	for i, raw := range arr {
		item, ie := cm.item(raw, i, m)
		if ie != nil {
			itemErrs = append(itemErrs, *ie)
			continue
		}
		res.Items = append(res.Items, item)
	}
	return res, itemErrs, nil
}

func pathPrefix(keys []string) string {
	if len(keys) == 0 {
		return "$"
	}
	return "$." + strings.Join(keys, ".")
}

func (cm *compiledMapping) item(raw any, index int, m Mapping) (Item, *ItemError) {
	v, found := lookupPath(raw, cm.guid)
	guid, ok := scalarString(v)
	guid = singleLine(guid)
	switch {
	case !found:
		return Item{}, new(itemErr("", CodeMissingGUID, "item %d: no value at guid path %q", index, m.GUID))
	case !ok:
		return Item{}, new(itemErr("", CodeMissingGUID, "item %d: guid at %q is %s, not a string or number", index, m.GUID, kindOf(v)))
	case guid == "":
		return Item{}, new(itemErr("", CodeMissingGUID, "item %d: guid at %q is empty", index, m.GUID))
	}
	if ie := checkGUID(guid); ie != nil {
		return Item{}, ie
	}

	out := Item{GUID: guid}
	v, found = lookupPath(raw, cm.title)
	title, ok := scalarString(v)
	out.Title = cleanTitle(title)
	switch {
	case !found:
		return Item{}, new(itemErr(guid, CodeMissingTitle, "no value at title path %q", m.Title))
	case !ok:
		return Item{}, new(itemErr(guid, CodeMissingTitle, "title at %q is %s, not a string", m.Title, kindOf(v)))
	case out.Title == "":
		return Item{}, new(itemErr(guid, CodeMissingTitle, "title at %q is empty", m.Title))
	}

	if v, found := lookupPath(raw, cm.description); found {
		if s, ok := scalarString(v); ok {
			out.Description = cleanDescription(s)
		}
	}

	if v, found := lookupPath(raw, cm.publishedAt); found {
		t, ok := jsonDate(v)
		if !ok {
			return Item{}, new(itemErr(guid, CodeInvalidDate, "published_at at %q: %s is not an RFC 3339, RFC 1123 or YYYY-MM-DD date or unix seconds", m.PublishedAt, describe(v)))
		}
		out.PublishedAt = &t
	}

	if v, found := lookupPath(raw, cm.duration); found {
		secs, err := jsonDuration(v)
		if err != nil {
			return Item{}, new(itemErr(guid, CodeInvalidDuration, "duration at %q: %s: %v", m.Duration, describe(v), err))
		}
		out.DurationSeconds = secs
	}

	if v, found := lookupPath(raw, cm.media); found {
		s, _ := v.(string)
		u, ok := absoluteHTTPURL(s)
		if !ok {
			return Item{}, new(itemErr(guid, CodeInvalidMediaURL, "media_url at %q: %s is not an absolute http(s) URL", m.MediaURL, describe(v)))
		}
		out.MediaURL = u
	}

	if v, found := lookupPath(raw, cm.image); found {
		s, _ := v.(string)
		out.ImageURL = optionalURL(s)
	}
	return out, nil
}

// lookupPath follows segs from v; found is false when segs is nil (not mapped), a step is
// missing, or the value there is null.
func lookupPath(v any, segs []string) (any, bool) {
	if segs == nil {
		return nil, false
	}
	for _, s := range segs {
		switch x := v.(type) {
		case map[string]any:
			next, ok := x[s]
			if !ok {
				return nil, false
			}
			v = next
		case []any:
			if !allDigits(s) || len(s) > 9 {
				return nil, false
			}
			i, _ := strconv.Atoi(s)
			if i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, v != nil
}

// scalarString returns strings as they are and numbers formatted.
func scalarString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return formatNumber(x), true
	}
	return "", false
}

// formatNumber writes a JSON number without exponent: integers as digits, 1.0 as "1", 2.5e3 as
// "2500".
func formatNumber(n json.Number) string {
	lit := n.String()
	if strings.TrimLeft(lit, "-0123456789") == "" {
		return lit
	}
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil || math.IsInf(f, 0) {
		return lit
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

func jsonDate(v any) (time.Time, bool) {
	switch x := v.(type) {
	case string:
		return parseDateString(x)
	case json.Number:
		f, err := strconv.ParseFloat(x.String(), 64)
		if err != nil {
			return time.Time{}, false
		}
		return parseUnixSeconds(f)
	}
	return time.Time{}, false
}

func jsonDuration(v any) (int, error) {
	switch x := v.(type) {
	case string:
		return parseDuration(x)
	case json.Number:
		f, err := strconv.ParseFloat(x.String(), 64)
		if err != nil {
			return 0, errors.New("duration out of range")
		}
		return durationSeconds(f)
	}
	return 0, errors.New("want a number of seconds or a duration string")
}

// kindOf names the JSON type of v.
func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	}
	return fmt.Sprintf("%T", v)
}

// describe shows a scalar value (shortened) or the kind of a composite one, for messages.
func describe(v any) string {
	switch x := v.(type) {
	case string:
		return strconv.Quote(truncateRunes(singleLine(x), 100))
	case json.Number:
		return truncateRunes(x.String(), 40)
	case bool:
		return strconv.FormatBool(x)
	}
	return kindOf(v)
}

// decodeJSON decodes one JSON value (numbers as json.Number) after checking its nesting depth.
func decodeJSON(data []byte) (any, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("json: the document is empty")
	}
	if err := checkDepth(data, MaxJSONDepth); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("json: malformed document at byte %d: %s", se.Offset, se.Error())
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, errors.New("json: malformed document: unexpected end of input")
		}
		return nil, fmt.Errorf("json: malformed document: %s", cleanErr(err))
	}
	end := dec.InputOffset()
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		for end < int64(len(data)) && strings.IndexByte(" \t\r\n", data[end]) >= 0 {
			end++
		}
		return nil, fmt.Errorf("json: malformed document: data after the top-level value at byte %d", end)
	}
	return v, nil
}

// checkDepth refuses documents whose arrays and objects nest deeper than max. It only counts
// brackets outside strings; syntax is left to the decoder.
func checkDepth(data []byte, limit int) error {
	depth := 0
	inString, escaped := false, false
	for i, c := range data {
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '[', '{':
			depth++
			if depth > limit {
				return fmt.Errorf("json: document nested deeper than %d levels (at byte %d)", limit, i)
			}
		case ']', '}':
			depth--
		}
	}
	return nil
}
