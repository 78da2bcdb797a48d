package index

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestNormalizeWords(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{"الصباح", []string{"صباح"}},
		{"صَبَاحٌ", []string{"صباح"}},
		{"والصباح", []string{"صباح"}},
		{"بالصباح كالصباح فالصباح للصباح", []string{"صباح", "صباح", "صباح", "صباح"}},
		{"صبـــاح", []string{"صباح"}},
		{"أحمد إبراهيم آمال ٱلله", []string{"احمد", "ابراهيم", "امال", "له"}},
		{"مصطفى مدرسة", []string{"مصطفي", "مدرسه"}},
		{"الحلقة ١٤ و۲٣", []string{"حلقه", "14", "و23"}},
		{"القُرْآنِ", []string{"قران"}},
		{"ال", []string{"ال"}},     // an article alone stays
		{"الص", []string{"الص"}},   // too short to strip in a full word
		{"والد", []string{"والد"}}, // وال + one rune: not an article, nor و before ال
		{"وقرطبة ونجوى وطن ورد", []string{"قرطبه", "نجوي", "وطن", "ورد"}}, // و from four letters on
		{"وللأطفال", []string{"اطفال"}},
		{"مسؤولية مسئولية شؤون شئون", []string{"مسءوليه", "مسءوليه", "شءون", "شءون"}},
		{"Deep-Sea PODCAST", []string{"deep", "sea", "podcast"}},
		{"don't children’s 'quoted'", []string{"don't", "children’s", "quoted"}},
		{"ﻻ", []string{"لا"}},     // NFKC: presentation form
		{"ﬁne", []string{"fine"}}, // NFKC: ligature
		{"...  ?!", nil},
		{"a\xffb", []string{"a", "b"}}, // invalid UTF-8 separates words
		{"\u064e\u0640", nil},          // marks and tatweel only
	}
	for _, c := range cases {
		if got := normalizeWords(nil, c.in); !slices.Equal(got, c.want) {
			t.Errorf("normalizeWords(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	long := strings.Repeat("ب", 200)
	if got := normalizeWords(nil, long); len(got) != 1 || utf8.RuneCountInString(got[0]) != maxWordRunes {
		t.Errorf("a long word normalises to %d runes, want %d", utf8.RuneCountInString(got[0]), maxWordRunes)
	}
}

func TestLanguageTerms(t *testing.T) {
	cases := []struct {
		group, word string
		want        []string
	}{
		{groupArabic, "حلقه", []string{"حلق"}},
		{groupArabic, "حلقات", []string{"حلق"}},
		{groupArabic, "ثقافيه", []string{"ثقاف"}},
		{groupArabic, "صباح", []string{"صباح"}},
		{groupArabic, "في", nil}, // stop word
		{groupArabic, "تي", nil}, // التي, normalised
		{groupEnglish, "running", []string{"run"}},
		{groupEnglish, "podcasts", []string{"podcast"}},
		{groupEnglish, "children's", []string{"child"}}, // possessive, then the irregular plural
		{groupEnglish, "wolves", []string{"wolf"}},
		{groupEnglish, "women", []string{"woman"}},
		{groupArabic, "قصاءد", []string{"قصيد"}}, // broken plurals (normalised): the stem of the singular
		{groupArabic, "قصاءده", []string{"قصيد"}},
		{groupArabic, "قصيده", []string{"قصيد"}},
		{groupArabic, "ماذن", []string{"مءذن"}},
		{groupArabic, "اسود", []string{"اسود"}}, // left out: lions, and black
		{groupEnglish, "the", nil},
		{groupStandard, "the", []string{"the"}},
		{groupStandard, "podcasts", []string{"podcasts"}},
	}
	for _, c := range cases {
		if got := languageTerms(c.group, c.word); !slices.Equal(got, c.want) {
			t.Errorf("languageTerms(%s, %q) = %q, want %q", c.group, c.word, got, c.want)
		}
	}
}

func TestParseText(t *testing.T) {
	cases := []struct {
		in     string
		words  []string
		prefix string
	}{
		{"deep se", []string{"deep", "se"}, "se"},
		{"deep s", []string{"deep", "s"}, ""}, // one rune: no prefix expansion
		{"الصب", []string{"صب"}, "صب"},
		{"الص", []string{"الص"}, "ص"},
		{"برنامج ال", []string{"برنامج"}, ""}, // a bare article is what comes before a word
		{"ال", nil, ""},
		{"  ", nil, ""},
		{"?!", nil, ""},
	}
	for _, c := range cases {
		got := parseText(c.in)
		if !slices.Equal(got.words, c.words) || got.prefix != c.prefix {
			t.Errorf("parseText(%q) = %q prefix %q, want %q prefix %q", c.in, got.words, got.prefix, c.words, c.prefix)
		}
	}
	many := strings.Repeat("word ", 40) + "last"
	got := parseText(many)
	if len(got.words) != maxQueryWords || got.last() != "last" || got.prefix != "last" {
		t.Errorf("parseText of 41 words keeps %d words, last %q, prefix %q", len(got.words), got.last(), got.prefix)
	}
}

func TestCursorRoundTrip(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	q := Query{Text: "news", Language: "ar"}
	p, err := newPlan(q, now)
	if err != nil {
		t.Fatal(err)
	}
	h := Hit{Doc: Doc{ID: "id-1", PublishedAt: now}, Score: 0.1 + 0.2}
	q.Cursor = p.cursorAfter(h)
	if len(q.Cursor) > MaxCursorLength {
		t.Errorf("cursor of %d characters", len(q.Cursor))
	}
	next, err := newPlan(q, now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if next.after.Score != h.Score || next.after.ID != "id-1" || next.now != now.Unix() {
		t.Errorf("decoded %+v (now %d), want score %v, id id-1, now %d", next.after, next.now, h.Score, now.Unix())
	}
	q.Text = "other"
	if _, err := newPlan(q, now); !errors.Is(err, ErrBadCursor) {
		t.Errorf("cursor of another query: %v, want ErrBadCursor", err)
	}
}

func TestSnippetBounds(t *testing.T) {
	m := newMatcher(parseText("ocean"))
	long := strings.Repeat("wave & ", 300) + "ocean " + strings.Repeat("<tide> ", 300)
	for _, text := range []string{long, strings.Repeat("&", 3000) + " ocean", strings.Repeat("o", 5000), "ocean" + strings.Repeat("n", 3000)} {
		s := snippet(&Doc{Title: "x", Summary: text, Language: "en"}, m)
		if n := utf8.RuneCountInString(s); n > snippetMaxRunes {
			t.Errorf("snippet of %d runes, want at most %d", n, snippetMaxRunes)
		}
		if strings.Contains(s, "<tide>") || strings.Count(s, markOpen) != strings.Count(s, markClose) {
			t.Errorf("bad markup in %q", s)
		}
	}
	s := snippet(&Doc{Title: "x", Summary: long, Language: "en"}, m)
	if !strings.Contains(s, "<mark>ocean</mark>") || !strings.HasPrefix(s, ellipsis) || !strings.HasSuffix(s, ellipsis) {
		t.Errorf("snippet %q: want the match with ellipses on both sides", s)
	}
}

// FuzzQueryParse checks that the analysis of arbitrary query text never panics and yields
// well-formed words, tsquery operands and snippets.
func FuzzQueryParse(f *testing.F) {
	for _, s := range []string{"الصباح", "صَبَاح والصباح", "deep se", "don't", "ﻻ ﷺ", "\xff\x00'", "برنامج ال", "'''", `\'`, "a:* & b | !c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q := parseText(s)
		if len(q.words) > maxQueryWords {
			t.Fatalf("%d words", len(q.words))
		}
		for _, w := range append(q.words, q.prefix) {
			if !utf8.ValidString(w) || strings.ContainsFunc(w, func(r rune) bool { return r == ' ' || r == 0 }) {
				t.Fatalf("bad word %q", w)
			}
			lit := tsLexeme(w, ":*")
			if !strings.HasPrefix(lit, "'") || strings.Count(lit, "'")%2 != 0 {
				t.Fatalf("bad tsquery operand %s", lit)
			}
		}
		if q.prefix != "" && q.empty() {
			t.Fatal("prefix without words")
		}
		for _, g := range groups {
			for _, w := range q.words {
				languageTerms(g, w)
			}
		}
		if utf8.ValidString(s) {
			sn := snippet(&Doc{Title: s, Summary: s, Language: "ar"}, newMatcher(q))
			if utf8.RuneCountInString(sn) > snippetMaxRunes || strings.Count(sn, markOpen) != strings.Count(sn, markClose) {
				t.Fatalf("bad snippet %q", sn)
			}
		}
		if _, err := newSuggestRequest(s, "", 5); err != nil && !errors.Is(err, ErrInvalidQuery) {
			t.Fatalf("newSuggestRequest: %v", err)
		}
	})
}
