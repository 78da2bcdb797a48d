package feed

import (
	"errors"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/mediamesh/mediamesh/internal/humantext"
)

// Limits applied to every parsed item.
const (
	// MaxTitleRunes is the longest title kept; longer ones are cut.
	MaxTitleRunes = 300
	// MaxDescriptionRunes is the longest description kept; longer ones are cut.
	MaxDescriptionRunes = 10000
	// MaxGUIDRunes is the longest GUID accepted (longer: ItemError invalid_guid). GUIDs are never cut,
	// as they identify items.
	MaxGUIDRunes = 512
	// MaxItems is how many items one document yields; the rest are ignored and Result.Truncated set.
	MaxItems = 10000
	// MaxDurationSeconds is the longest duration accepted (about 68 years: the int32 range).
	MaxDurationSeconds = math.MaxInt32
)

// cleanText makes s safe to store: valid UTF-8, no control characters other than newline and
// tab, Windows and old Mac line ends turned into newlines.
func cleanText(s string) string {
	if s == "" {
		return s
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\r':
			return '\n'
		case r == '\n' || r == '\t':
			return r
		case unicode.IsControl(r), r == '\uFEFF':
			return -1
		}
		return r
	}, s)
}

// singleLine cleans s and folds all whitespace runs into single spaces: titles, names, GUIDs.
func singleLine(s string) string {
	return strings.Join(strings.Fields(cleanText(s)), " ")
}

// truncateRunes cuts s to at most n runes.
func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for pos := range s {
		if i == n {
			return strings.TrimRightFunc(s[:pos], unicode.IsSpace)
		}
		i++
	}
	return s
}

// visibleOrEmpty is s, or "" when s has nothing visible: only spaces and invisible characters
// such as U+200B or U+202E (internal/humantext), which the CMS refuses as a title or summary. A
// title left empty is a missing title; a description, none.
func visibleOrEmpty(s string) string {
	if !humantext.HasVisible(s) {
		return ""
	}
	return s
}

// cleanTitle is a title on one line, at most MaxTitleRunes runes; "" when it shows nothing.
func cleanTitle(s string) string {
	return visibleOrEmpty(truncateRunes(singleLine(s), MaxTitleRunes))
}

// cleanDescription turns a description (HTML or plain text) into plain text, at most
// MaxDescriptionRunes runes; "" when it shows nothing.
func cleanDescription(s string) string {
	if looksLikeHTML(s) {
		s = htmlToText(s)
	} else {
		s = plainText(s)
	}
	return visibleOrEmpty(truncateRunes(s, MaxDescriptionRunes))
}

// looksLikeHTML reports whether s contains something that looks like a tag, a comment or an
// entity reference.
func looksLikeHTML(s string) bool {
	for i := 0; i < len(s)-1; i++ {
		switch s[i] {
		case '<':
			c := s[i+1]
			if c == '/' || c == '!' || (c|0x20 >= 'a' && c|0x20 <= 'z') {
				return true
			}
		case '&':
			j := strings.IndexByte(s[i:min(i+11, len(s))], ';')
			if j > 1 && j <= 10 {
				ent := s[i+1 : i+j]
				if ent[0] == '#' || isASCIIAlnum(ent) {
					return true
				}
			}
		}
	}
	return false
}

func isASCIIAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c|0x20 >= 'a' && c|0x20 <= 'z') {
			return false
		}
	}
	return true
}

// plainText keeps the line structure of a plain text: each line trimmed and its whitespace runs
// folded, at most one blank line in a row, no leading or trailing blank lines.
func plainText(s string) string {
	lines := strings.Split(cleanText(s), "\n")
	var b strings.Builder
	blank := false
	for _, l := range lines {
		l = strings.Join(strings.Fields(l), " ")
		if l == "" {
			blank = b.Len() > 0
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('\n')
			if blank {
				b.WriteByte('\n')
			}
		}
		blank = false
		b.WriteString(l)
	}
	return b.String()
}

// Paragraph-level elements become a blank line, line-level ones a newline.
var (
	paragraphTags = map[atom.Atom]bool{
		atom.P: true, atom.Div: true, atom.H1: true, atom.H2: true, atom.H3: true, atom.H4: true,
		atom.H5: true, atom.H6: true, atom.Blockquote: true, atom.Pre: true, atom.Ul: true, atom.Ol: true,
		atom.Dl: true, atom.Table: true, atom.Section: true, atom.Article: true, atom.Header: true,
		atom.Footer: true, atom.Aside: true, atom.Figure: true, atom.Hr: true, atom.Address: true,
		atom.Main: true, atom.Nav: true, atom.Details: true,
	}
	lineTags = map[atom.Atom]bool{
		atom.Br: true, atom.Li: true, atom.Tr: true, atom.Dt: true, atom.Dd: true,
		atom.Figcaption: true, atom.Summary: true, atom.Caption: true,
	}
	// skippedTags have content that is not text to read.
	skippedTags = map[atom.Atom]bool{
		atom.Script: true, atom.Style: true, atom.Noscript: true, atom.Template: true,
		atom.Iframe: true, atom.Object: true, atom.Svg: true, atom.Math: true, atom.Title: true,
		atom.Textarea: true,
	}
)

// htmlToText extracts the text of an HTML fragment: tags dropped, entities decoded, paragraphs
// separated by a blank line, <br> and list items by a newline, whitespace folded as a browser
// would. It never executes or keeps markup, so its output is safe as plain text.
func htmlToText(s string) string {
	z := html.NewTokenizer(strings.NewReader(cleanText(s)))
	var out, cur strings.Builder
	pending := 0 // the break owed before the next line: 1 newline, 2 blank line
	skip := 0    // depth inside elements whose content is not text
	endLine := func(level int, br bool) {
		line := strings.Join(strings.Fields(cur.String()), " ")
		cur.Reset()
		if line == "" {
			if br && pending == 1 {
				pending = 2 // <br><br> makes a blank line
			}
		} else {
			if out.Len() > 0 {
				out.WriteString("\n")
				if pending >= 2 {
					out.WriteString("\n")
				}
			}
			out.WriteString(line)
			pending = 0
		}
		pending = max(pending, level)
	}
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			endLine(0, false)
			return out.String()
		case html.TextToken:
			if skip == 0 {
				cur.WriteString(cleanText(string(z.Text())))
			}
		case html.StartTagToken, html.EndTagToken, html.SelfClosingTagToken:
			name, _ := z.TagName()
			a := atom.Lookup(name)
			if skippedTags[a] {
				switch {
				case tt == html.StartTagToken:
					skip++
				case tt == html.EndTagToken && skip > 0:
					skip--
				}
				continue
			}
			if skip > 0 {
				continue
			}
			switch {
			case paragraphTags[a]:
				endLine(2, false)
			case lineTags[a]:
				endLine(1, a == atom.Br)
			}
		}
	}
}

// absoluteHTTPURL returns the trimmed s when it is an absolute http or https URL with a host.
func absoluteHTTPURL(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 2048 {
		return "", false
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "" {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] == 0x7f {
			return "", false
		}
	}
	return s, true
}

// optionalURL returns s when it is an absolute http(s) URL and "" otherwise.
func optionalURL(s string) string {
	u, _ := absoluteHTTPURL(s)
	return u
}

var errBadDuration = errors.New("not a duration (want seconds, MM:SS, HH:MM:SS or ISO 8601 like PT1H2M3S)")

// parseDuration reads a duration in seconds from "3723", "3723.5", "62:03", "1:02:03",
// "1:02:03.250" or ISO 8601 ("PT1H2M3S", "P1DT2H", "PT0S", "P0D"). Fractions of a second are
// dropped. Negative values and values above MaxDurationSeconds are errors.
func parseDuration(s string) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errBadDuration
	}
	if s[0] == 'P' || s[0] == 'p' {
		return parseISODuration(s)
	}
	if strings.Contains(s, ":") {
		parts := strings.Split(s, ":")
		if len(parts) > 3 {
			return 0, errBadDuration
		}
		total := 0.0
		for i, p := range parts {
			last := i == len(parts)-1
			v, ok := parseDecimal(p, last)
			if !ok {
				return 0, errBadDuration
			}
			// Every part but the first is a base-60 digit.
			if i > 0 && v >= 60 {
				return 0, errBadDuration
			}
			total = total*60 + v
		}
		return durationSeconds(total)
	}
	v, ok := parseDecimal(s, true)
	if !ok {
		return 0, errBadDuration
	}
	return durationSeconds(v)
}

// parseDecimal reads unsigned digits with an optional fraction (when allowed); at most 12 integer
// digits, so no overflow is possible.
func parseDecimal(s string, fraction bool) (float64, bool) {
	intPart, frac, hasFrac := strings.Cut(s, ".")
	if intPart == "" || len(intPart) > 12 || (hasFrac && (!fraction || frac == "" || len(frac) > 9)) {
		return 0, false
	}
	if !allDigits(intPart) || (hasFrac && !allDigits(frac)) {
		return 0, false
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, false
	}
	return v, true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func durationSeconds(v float64) (int, error) {
	if math.IsNaN(v) || v < 0 || v >= MaxDurationSeconds+1 {
		return 0, errors.New("duration out of range")
	}
	return int(v), nil
}

// parseISODuration reads an ISO 8601 duration with weeks, days, hours, minutes and seconds
// (years and months have no fixed length and are refused).
func parseISODuration(s string) (int, error) {
	rest := strings.ToUpper(s[1:])
	if rest == "" {
		return 0, errBadDuration
	}
	total := 0.0
	inTime := false
	seen := ""
	units := 0
	for rest != "" {
		if rest[0] == 'T' {
			if inTime {
				return 0, errBadDuration
			}
			inTime = true
			rest = rest[1:]
			if rest == "" {
				return 0, errBadDuration
			}
			continue
		}
		i := 0
		for i < len(rest) && (rest[i] >= '0' && rest[i] <= '9' || rest[i] == '.' || rest[i] == ',') {
			i++
		}
		if i == 0 || i == len(rest) {
			return 0, errBadDuration
		}
		num := strings.Replace(rest[:i], ",", ".", 1)
		unit := rest[i]
		rest = rest[i+1:]
		key := string(unit)
		if inTime {
			key = "T" + key
		}
		if strings.Contains(seen, key+"|") {
			return 0, errBadDuration
		}
		seen += key + "|"
		var mult float64
		switch {
		case !inTime && unit == 'W':
			mult = 7 * 86400
		case !inTime && unit == 'D':
			mult = 86400
		case inTime && unit == 'H':
			mult = 3600
		case inTime && unit == 'M':
			mult = 60
		case inTime && unit == 'S':
			mult = 1
		default:
			return 0, errBadDuration
		}
		// Only the last (smallest) component may have a fraction.
		v, ok := parseDecimal(num, rest == "")
		if !ok {
			return 0, errBadDuration
		}
		total += v * mult
		units++
		if total >= MaxDurationSeconds+1 {
			return 0, errors.New("duration out of range")
		}
	}
	if units == 0 {
		return 0, errBadDuration
	}
	return durationSeconds(total)
}

// dateLayouts are the string forms ParseJSON accepts for published_at.
var dateLayouts = []string{
	time.RFC3339Nano,
	time.RFC1123Z,
	time.RFC1123,
	"2006-01-02",
}

// parseDateString reads RFC 3339, RFC 1123 (with a zone name or a numeric offset) or a bare date
// (midnight UTC). The result is in UTC.
func parseDateString(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	for _, layout := range dateLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// Unix seconds accepted as a date: 1970-01-01 to 9999-12-31.
const maxUnixSeconds = 253402300799

// parseUnixSeconds reads a number of seconds since the epoch.
func parseUnixSeconds(v float64) (time.Time, bool) {
	if math.IsNaN(v) || v < 0 || v > maxUnixSeconds {
		return time.Time{}, false
	}
	sec, frac := math.Modf(v)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), true
}
