// Package language knows the ISO 639-1 languages content can be written in: their English and
// native names and their writing direction, from the Unicode CLDR data of golang.org/x/text.
package language

import (
	"fmt"

	xlang "golang.org/x/text/language"
	"golang.org/x/text/language/display"
)

// Info describes one language.
type Info struct {
	Code       string // ISO 639-1, lowercase
	Name       string // in English
	NativeName string // in the language itself
	Direction  string // "ltr" or "rtl"
}

// rtl lists the ISO 639-1 languages written right to left.
var rtl = map[string]bool{"ar": true, "dv": true, "fa": true, "he": true, "ps": true, "sd": true, "ug": true, "ur": true, "yi": true}

// Lookup returns the language with ISO 639-1 code, which must be canonical and lowercase ("he",
// not "iw" or "HE").
func Lookup(code string) (Info, error) {
	if len(code) != 2 || code[0] < 'a' || code[0] > 'z' || code[1] < 'a' || code[1] > 'z' {
		return Info{}, fmt.Errorf("%q is not a two-letter lowercase ISO 639-1 code", code)
	}
	base, err := xlang.ParseBase(code)
	if err != nil || base.String() != code {
		return Info{}, fmt.Errorf("%q is not an ISO 639-1 language code", code)
	}
	tag := xlang.Make(code)
	if canonical, _ := xlang.Deprecated.Canonicalize(tag); canonical.String() != code {
		return Info{}, fmt.Errorf("%q is a deprecated code; use %q", code, canonical.String())
	}
	name := display.English.Languages().Name(base)
	native := display.Self.Name(tag)
	if name == "" || native == "" {
		return Info{}, fmt.Errorf("%q is not a language this platform knows", code)
	}
	dir := "ltr"
	if rtl[code] {
		dir = "rtl"
	}
	return Info{Code: code, Name: name, NativeName: native, Direction: dir}, nil
}
