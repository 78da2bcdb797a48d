package language

import "testing"

func TestLookup(t *testing.T) {
	cases := map[string]Info{
		"ar": {Code: "ar", Name: "Arabic", NativeName: "العربية", Direction: "rtl"},
		"en": {Code: "en", Name: "English", NativeName: "English", Direction: "ltr"},
		"fr": {Code: "fr", Name: "French", NativeName: "français", Direction: "ltr"},
		"he": {Code: "he", Name: "Hebrew", NativeName: "עברית", Direction: "rtl"},
		"ur": {Code: "ur", Name: "Urdu", NativeName: "اردو", Direction: "rtl"},
	}
	for code, want := range cases {
		got, err := Lookup(code)
		if err != nil || got != want {
			t.Errorf("Lookup(%q) = %+v, %v; want %+v", code, got, err, want)
		}
	}
	for _, bad := range []string{"", "e", "eng", "EN", "iw", "zz", "qq", "e1", "ar-EG"} {
		if _, err := Lookup(bad); err == nil {
			t.Errorf("Lookup(%q) accepted", bad)
		}
	}
}
