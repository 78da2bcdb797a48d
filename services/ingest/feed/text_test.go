package feed

import (
	"strings"
	"testing"
	"time"
)

func TestHTMLToText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"<p>a</p><p>b</p>", "a\n\nb"},
		{"a<br>b", "a\nb"},
		{"a<br/>b<br />c", "a\nb\nc"},
		{"a<br><br>b", "a\n\nb"},
		{"a<br>\n<br>\n<br>b", "a\n\nb"},
		{"Hello <b>world</b>!", "Hello world!"},
		{"<p>  lots\n\tof   space  </p>", "lots of space"},
		{"<ul><li>one</li><li>two</li></ul>", "one\ntwo"},
		{"<p>Intro</p><ul><li>x</li><li>y</li></ul><p>End</p>", "Intro\n\nx\ny\n\nEnd"},
		{"text<p>para</p>", "text\n\npara"},
		{"<h2>Title</h2>body", "Title\n\nbody"},
		{"fish &amp; chips &lt;3 &#1589;&#x628;&#x627;&#x62D;", "fish & chips <3 صباح"},
		{"<script>alert(1)</script>safe", "safe"},
		{"<style>p{color:red}</style><p>x</p>", "x"},
		{"<p>a<script>document.write('<p>no</p>')</script>b</p>", "ab"},
		{`<a href="javascript:alert(1)" onclick="x()">link</a>`, "link"},
		{"<img src=x onerror=alert(1)>caption", "caption"},
		{"<!-- comment -->visible", "visible"},
		{"<div><div><p>deep</p></div></div>", "deep"},
		{"<p>unclosed", "unclosed"},
		{"<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>", "ab\nc"},
		{"<p>مرحبا <strong>بكم</strong></p><p>سطر ثان</p>", "مرحبا بكم\n\nسطر ثان"},
		{"", ""},
		{"<p></p><br>", ""},
	}
	for _, tt := range tests {
		if got := htmlToText(tt.in); got != tt.want {
			t.Errorf("htmlToText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCleanDescription(t *testing.T) {
	tests := []struct{ in, want string }{
		// Plain text keeps its lines.
		{"line one\nline two\n\n\n\nafter gap", "line one\nline two\n\nafter gap"},
		{"  padded  \r\n  lines\r\n", "padded\nlines"},
		{"a < b and c > d", "a < b and c > d"},
		{"nul\x00byte and \x07bell", "nulbyte and bell"},
		{"bad utf8 \xff here", "bad utf8 \uFFFD here"},
		// HTML is turned into text.
		{"<p>a</p>\n<p>b</p>", "a\n\nb"},
		{"Tom &amp; Jerry", "Tom & Jerry"},
		{"\ufeffBOM", "BOM"},
	}
	for _, tt := range tests {
		if got := cleanDescription(tt.in); got != tt.want {
			t.Errorf("cleanDescription(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	long := strings.Repeat("ب", MaxDescriptionRunes+50)
	if got := cleanDescription(long); got != strings.Repeat("ب", MaxDescriptionRunes) {
		t.Errorf("description not cut to %d runes: %d", MaxDescriptionRunes, len([]rune(got)))
	}
}

func TestCleanTitle(t *testing.T) {
	if got := cleanTitle("  two\n lines\t here  "); got != "two lines here" {
		t.Errorf("got %q", got)
	}
	long := strings.Repeat("ع", MaxTitleRunes) + "XYZ"
	if got := cleanTitle(long); got != strings.Repeat("ع", MaxTitleRunes) {
		t.Errorf("title not cut: %d runes", len([]rune(got)))
	}
	if got := truncateRunes("abc def", 4); got != "abc" {
		t.Errorf("truncate trims trailing space: %q", got)
	}
	if got := truncateRunes("héllo", 2); got != "hé" {
		t.Errorf("truncate by runes: %q", got)
	}
}

func TestLooksLikeHTML(t *testing.T) {
	for s, want := range map[string]bool{
		"<p>x</p>":        true,
		"a <b>b</b>":      true,
		"</p>":            true,
		"<!-- c -->":      true,
		"x &amp; y":       true,
		"x &#39; y":       true,
		"a < b":           false,
		"1<2":             false,
		"Q&A session":     false,
		"R&D; budget":     true,
		"plain\ntext":     false,
		"<":               false,
		"email <a@b.com>": true,
	} {
		if got := looksLikeHTML(s); got != want {
			t.Errorf("looksLikeHTML(%q) = %v", s, got)
		}
	}
}

func TestAbsoluteHTTPURL(t *testing.T) {
	for s, want := range map[string]string{
		"https://example.com/a.mp3":                        "https://example.com/a.mp3",
		"  http://example.com/x?y=1  ":                     "http://example.com/x?y=1",
		"HTTP://EXAMPLE.COM/":                              "HTTP://EXAMPLE.COM/",
		"/relative.mp3":                                    "",
		"ftp://example.com/a":                              "",
		"javascript:alert(1)":                              "",
		"https://":                                         "",
		"https:///path":                                    "",
		"https://exa mple.com/":                            "",
		"https://example.com/a b.mp3":                      "",
		"mailto:x@example.com":                             "",
		"data:image/png;base64,AAAA":                       "",
		"https://example.com/" + strings.Repeat("a", 2100): "",
	} {
		if got := optionalURL(s); got != want {
			t.Errorf("optionalURL(%q) = %q, want %q", s, got, want)
		}
	}
}

func TestParseDuration(t *testing.T) {
	ok := map[string]int{
		"0":              0,
		"95":             95,
		"1830":           1830,
		"1830.9":         1830,
		" 42 ":           42,
		"47:15":          2835,
		"75:30":          4530,
		"0:38:20":        2300,
		"01:02:03":       3723,
		"1:02:03.250":    3723,
		"100:00:00":      360000,
		"PT1H2M3S":       3723,
		"PT14M7S":        847,
		"PT45M":          2700,
		"PT2H":           7200,
		"PT3M2S":         182,
		"PT0S":           0,
		"P0D":            0,
		"P1DT2H3M4S":     93784,
		"P1W":            604800,
		"PT1.5S":         1,
		"pt1m":           60,
		"PT1H5S":         3605,
		"2147483647":     2147483647,
		"PT596523H14M7S": 2147483647,
	}
	for s, want := range ok {
		got, err := parseDuration(s)
		if err != nil || got != want {
			t.Errorf("parseDuration(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	for _, s := range []string{
		"", " ", "-5", "abc", "1:2:3:4", "1:60", "1:00:60", "1:60:00", ":30", "30:", "1::2",
		"1.5:30", "1e3", "0x10", "P", "PT", "P1Y", "P1M", "PT1H1H", "PT1.5H30M", "PTS", "PT-1S",
		"P1H", "PT1D", "2147483648", "9999999999999", "NaN", "Inf", "+5", "1,5", "٣٠",
		"PT596523H14M8S", "P99999999999W",
	} {
		if got, err := parseDuration(s); err == nil {
			t.Errorf("parseDuration(%q) = %d, want an error", s, got)
		}
	}
}

func TestParseDateString(t *testing.T) {
	utc := func(y int, mo time.Month, d, h, mi, s int) time.Time {
		return time.Date(y, mo, d, h, mi, s, 0, time.UTC)
	}
	ok := map[string]time.Time{
		"2025-05-20T14:00:00Z":            utc(2025, 5, 20, 14, 0, 0),
		"2025-05-20T17:00:00+03:00":       utc(2025, 5, 20, 14, 0, 0),
		"2025-05-20T14:00:00.5Z":          utc(2025, 5, 20, 14, 0, 0).Add(500 * time.Millisecond),
		"Wed, 14 May 2025 09:30:00 GMT":   utc(2025, 5, 14, 9, 30, 0),
		"Wed, 14 May 2025 12:30:00 +0300": utc(2025, 5, 14, 9, 30, 0),
		"2025-05-01":                      utc(2025, 5, 1, 0, 0, 0),
		" 2025-05-01 ":                    utc(2025, 5, 1, 0, 0, 0),
	}
	for s, want := range ok {
		got, good := parseDateString(s)
		if !good || !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("parseDateString(%q) = %v, %v; want %v", s, got, good, want)
		}
	}
	for _, s := range []string{"", "next Tuesday", "2025-13-01", "2025/05/01", "14 May 2025", "1747915200"} {
		if got, good := parseDateString(s); good {
			t.Errorf("parseDateString(%q) = %v, want failure", s, got)
		}
	}
	if got, good := parseUnixSeconds(1747915200); !good || !got.Equal(utc(2025, 5, 22, 12, 0, 0)) {
		t.Errorf("unix = %v %v", got, good)
	}
	for _, v := range []float64{-1, 253402300800, 1e300} {
		if _, good := parseUnixSeconds(v); good {
			t.Errorf("unix %v accepted", v)
		}
	}
}
