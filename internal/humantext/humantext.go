// Package humantext is the one rule for text that people write and read: titles, names, display
// names, summaries, descriptions, alt text, tags. The contracts state it as the `HumanText`,
// `HumanTextBlock` and `Tag` schemas of specs/openapi/common.yaml; this package states the same rule
// in Go, so that a service refuses what the contract refuses when it is called directly, and gives
// the field errors of both (internal/contract names a broken pattern with Check's code and message).
//
// The rule:
//   - no control characters (C0 U+0000–U+001F, DEL U+007F, C1 U+0080–U+009F), except tab, line feed
//     and carriage return in a Block (multi-line text: summaries, descriptions, alt text, extra
//     values);
//   - not blank: a non-empty text holds at least one visible character, one that is neither white
//     space nor an invisible format or filler character (see Invisible). Invisible characters are
//     fine inside visible text (a zero-width non-joiner inside a Persian word, a right-to-left mark
//     before Arabic); a text made only of them is refused. "" passes: an optional text may be empty,
//     and a required one has minLength 1 in the contract (Required refuses it here);
//   - a tag is words of visible text separated by single spaces: no comma, no other space, no
//     leading or trailing space (CheckTag).
//
// Characters outside the Basic Multilingual Plane (emoji, historic scripts, the tag characters
// U+E0000–U+E007F) count as visible: a pattern can name only BMP code points the same way in every
// engine that reads the contracts (Go RE2 through kin-openapi, Python re in Schemathesis, JavaScript
// in Postman), and the rule must be the same in all of them and here.
package humantext

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/mediamesh/mediamesh/internal/apierror"
)

// Kind says which control characters a text may hold.
type Kind int

const (
	// Line is one line of text (titles, names, tags): no control characters at all.
	Line Kind = iota
	// Block is multi-line text (summaries, descriptions, alt text): tab, line feed and carriage
	// return allowed, no other control character.
	Block
)

// Codes of the field errors.
const (
	// CodeInvalidCharacter: the text holds a control character its kind forbids (or a comma or a
	// space other than U+0020 in a tag).
	CodeInvalidCharacter = "invalid_character"
	// CodeBlank: the text is not empty but shows nothing (only white space or invisible characters),
	// or a required text is empty, or a tag has an empty or invisible word.
	CodeBlank = "blank"
)

// r16 is a range of BMP code points.
type r16 struct{ lo, hi rune }

// spaces are the white space characters (Unicode White_Space) that are not control characters.
var spaces = []r16{
	{0x0020, 0x0020}, {0x00A0, 0x00A0}, {0x1680, 0x1680}, {0x2000, 0x200A}, {0x2028, 0x2029},
	{0x202F, 0x202F}, {0x205F, 0x205F}, {0x3000, 0x3000},
}

// formats are the characters that show nothing on their own and are not white space: the BMP
// Default_Ignorable_Code_Points (soft hyphen, combining grapheme joiner, Arabic letter mark, Hangul
// fillers, Khmer inherent vowels, Mongolian variation selectors and vowel separator, zero-width
// space, non-joiner and joiner, direction marks, embeddings, overrides and isolates, word joiner and
// invisible operators, variation selectors, zero-width no-break space), the interlinear annotation
// characters and the Braille pattern blank.
var formats = []r16{
	{0x00AD, 0x00AD}, {0x034F, 0x034F}, {0x061C, 0x061C}, {0x115F, 0x1160}, {0x17B4, 0x17B5},
	{0x180B, 0x180F}, {0x200B, 0x200F}, {0x202A, 0x202E}, {0x2060, 0x206F}, {0x2800, 0x2800},
	{0x3164, 0x3164}, {0xFE00, 0xFE0F}, {0xFEFF, 0xFEFF}, {0xFFA0, 0xFFA0}, {0xFFF0, 0xFFFB},
}

var (
	spaceTable     = table(spaces)
	invisibleTable = table(append(append([]r16(nil), spaces...), formats...))
)

// table is a range table of rs (sorted and merged as unicode.RangeTable requires).
func table(rs []r16) *unicode.RangeTable {
	rs = merged(rs)
	t := &unicode.RangeTable{}
	for _, r := range rs {
		t.R16 = append(t.R16, unicode.Range16{Lo: uint16(r.lo), Hi: uint16(r.hi), Stride: 1})
		if r.hi <= unicode.MaxLatin1 {
			t.LatinOffset++
		}
	}
	return t
}

// merged sorts rs and joins adjacent ranges.
func merged(rs []r16) []r16 {
	out := append([]r16(nil), rs...)
	for i := 1; i < len(out); i++ { // insertion sort: a few dozen ranges
		for j := i; j > 0 && out[j].lo < out[j-1].lo; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	n := 0
	for _, r := range out {
		if n > 0 && r.lo <= out[n-1].hi+1 {
			out[n-1].hi = max(out[n-1].hi, r.hi)
			continue
		}
		out[n] = r
		n++
	}
	return out[:n]
}

// Control reports whether r is a control character (C0, DEL or C1).
func Control(r rune) bool { return unicode.IsControl(r) }

// Space reports whether r is white space other than a control character: U+0020, NBSP, U+3000
// and the other Unicode spaces.
func Space(r rune) bool { return unicode.Is(spaceTable, r) }

// Invisible reports whether r shows nothing on its own: white space other than control characters
// (see Space), or a format or filler character such as U+200B ZERO WIDTH SPACE, U+200C ZERO WIDTH
// NON-JOINER, U+202E RIGHT-TO-LEFT OVERRIDE, U+2060 WORD JOINER, U+FEFF or U+3164 HANGUL FILLER.
func Invisible(r rune) bool { return unicode.Is(invisibleTable, r) }

// Visible reports whether r is neither a control character nor invisible.
func Visible(r rune) bool { return !Control(r) && !Invisible(r) }

// HasVisible reports whether s holds at least one visible character.
func HasVisible(s string) bool { return strings.ContainsFunc(s, Visible) }

// Trim returns s without its leading and trailing invisible and control characters: what a text
// taken from elsewhere (an ingested feed) keeps. It is "" when s has nothing visible.
func Trim(s string) string {
	return strings.TrimFunc(s, func(r rune) bool { return !Visible(r) })
}

// allowed reports whether a text of kind may hold r.
func allowed(r rune, kind Kind) bool {
	return !Control(r) || kind == Block && (r == '\t' || r == '\n' || r == '\r')
}

// Check returns what is wrong with s as the text of field, or nil when it is valid: a control
// character kind forbids, or no visible character in a non-empty s. "" is valid (see Required).
func Check(field, s string, kind Kind) *apierror.FieldError {
	for _, r := range s {
		if !allowed(r, kind) {
			return &apierror.FieldError{Field: field, Code: CodeInvalidCharacter, Message: "must not contain the control character " + codePoint(r)}
		}
	}
	if s != "" && !HasVisible(s) {
		return &apierror.FieldError{Field: field, Code: CodeBlank, Message: "must not be blank: it holds only spaces or invisible characters"}
	}
	return nil
}

// Required is Check for a text that must not be empty.
func Required(field, s string, kind Kind) *apierror.FieldError {
	if s == "" {
		return &apierror.FieldError{Field: field, Code: CodeBlank, Message: "must not be blank"}
	}
	return Check(field, s, kind)
}

// CheckTag returns what is wrong with s as the tag field, or nil: a tag is one or more words of
// visible text separated by single U+0020 spaces, without commas, control characters or other white
// space.
func CheckTag(field, s string) *apierror.FieldError {
	for _, r := range s {
		switch {
		case Control(r):
			return &apierror.FieldError{Field: field, Code: CodeInvalidCharacter, Message: "must not contain the control character " + codePoint(r)}
		case r == ',':
			return &apierror.FieldError{Field: field, Code: CodeInvalidCharacter, Message: "must not contain a comma"}
		case r != ' ' && Space(r):
			return &apierror.FieldError{Field: field, Code: CodeInvalidCharacter, Message: "must separate words with single spaces (U+0020), not " + codePoint(r)}
		}
	}
	for _, w := range strings.Split(s, " ") {
		if !HasVisible(w) {
			return &apierror.FieldError{Field: field, Code: CodeBlank, Message: "must be words separated by single spaces, each with a visible character, without leading or trailing space"}
		}
	}
	return nil
}

// ProblemOf gives the field error of value under the contract pattern, when pattern is one of
// this package's (LinePattern, BlockPattern, TagPattern) and value breaks it; ok is false otherwise.
// internal/contract uses it so that the contract validation and the services word the rule alike.
func ProblemOf(field, pattern string, value any) (fe apierror.FieldError, ok bool) {
	s, isString := value.(string)
	if !isString {
		return fe, false
	}
	var p *apierror.FieldError
	switch pattern {
	case LinePattern:
		p = Check(field, s, Line)
	case BlockPattern:
		p = Check(field, s, Block)
	case TagPattern:
		p = CheckTag(field, s)
	}
	if p == nil {
		return fe, false
	}
	return *p, true
}

// codePoint names r for a message: U+0017.
func codePoint(r rune) string { return fmt.Sprintf("%U", r) }

// The contract's patterns, built from the tables above: common.yaml writes exactly these (a test
// holds them equal), so the contract and this package cannot drift apart. They use only what Go's
// RE2 (through kin-openapi, which turns \uXXXX into \x{XXXX}), Python's re and JavaScript read the
// same way: \xHH and \uXXXX (uppercase hex) in character classes, ^ and $ and a non-capturing group.
var (
	// LinePattern is HumanText's pattern: empty, or optional invisible characters, a visible
	// character, then anything but control characters.
	LinePattern = "^(?:[" + class(invisibleTable) + "]*[^" + class(controlOr(invisibleTable)) + "][^" + class(controls(Line)) + "]*)?$"
	// BlockPattern is HumanTextBlock's pattern: as LinePattern, with tab, line feed and carriage
	// return allowed.
	BlockPattern = "^(?:[" + `\t\n\r` + class(invisibleTable) + "]*[^" + class(controlOr(invisibleTable)) + "][^" + class(controls(Block)) + "]*)?$"
	// TagPattern is Tag's pattern: words separated by single spaces, each optional format
	// characters, a visible character, then characters that are neither control, white space nor a
	// comma.
	TagPattern = "^" + tagWord + "(?: " + tagWord + ")*$"
	tagWord    = "[" + class(table(formats)) + "]*[^," + class(controlOr(invisibleTable)) + "][^," + class(controlOr(spaceTable)) + "]*"
)

// controls is the table of the control characters kind forbids.
func controls(kind Kind) *unicode.RangeTable {
	if kind == Block {
		return table([]r16{{0x00, 0x08}, {0x0B, 0x0C}, {0x0E, 0x1F}, {0x7F, 0x9F}})
	}
	return table([]r16{{0x00, 0x1F}, {0x7F, 0x9F}})
}

// controlOr is the table of every control character and t.
func controlOr(t *unicode.RangeTable) *unicode.RangeTable {
	rs := []r16{{0x00, 0x1F}, {0x7F, 0x9F}}
	for _, r := range t.R16 {
		rs = append(rs, r16{rune(r.Lo), rune(r.Hi)})
	}
	return table(rs)
}

// class writes the ranges of t as the inside of a regular expression character class.
func class(t *unicode.RangeTable) string {
	var b strings.Builder
	for _, r := range t.R16 {
		b.WriteString(escape(rune(r.Lo)))
		if r.Hi != r.Lo {
			if r.Hi > r.Lo+1 {
				b.WriteByte('-')
			}
			b.WriteString(escape(rune(r.Hi)))
		}
	}
	return b.String()
}

// escape writes r as \xHH or \uHHHH, uppercase.
func escape(r rune) string {
	if r <= 0xFF {
		return `\x` + pad(strconv.FormatInt(int64(r), 16), 2)
	}
	return `\u` + pad(strconv.FormatInt(int64(r), 16), 4)
}

func pad(hex string, n int) string {
	return strings.Repeat("0", n-len(hex)) + strings.ToUpper(hex)
}
