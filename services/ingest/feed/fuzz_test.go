package feed

import (
	"fmt"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/mediamesh/mediamesh/services/ingest/feed/feedtest"
)

// checkText fails when s is not safe normalised text.
func checkText(t *testing.T, what, s string, maxRunes int, multiline bool) {
	t.Helper()
	if !utf8.ValidString(s) {
		t.Fatalf("%s is not valid UTF-8: %q", what, s)
	}
	if n := utf8.RuneCountInString(s); n > maxRunes {
		t.Fatalf("%s has %d runes (max %d)", what, n, maxRunes)
	}
	if s != strings.TrimSpace(s) {
		t.Fatalf("%s is not trimmed: %q", what, s)
	}
	for _, r := range s {
		if r == '\n' && multiline {
			continue
		}
		if unicode.IsControl(r) && r != '\t' || r == '\n' && !multiline {
			t.Fatalf("%s contains control character %U: %q", what, r, s)
		}
	}
}

func checkURL(t *testing.T, what, s string) {
	t.Helper()
	if s != "" && optionalURL(s) != s {
		t.Fatalf("%s %q is not an absolute http(s) URL", what, s)
	}
}

// checkParsed asserts the invariants every parser result keeps.
func checkParsed(t *testing.T, res *Result, errs []ItemError, err error) {
	t.Helper()
	if err != nil {
		if res != nil || errs != nil {
			t.Fatalf("an error with results: %v", err)
		}
		if err.Error() == "" || strings.Contains(err.Error(), "\n") && !strings.HasPrefix(err.Error(), "json mapping:") {
			t.Fatalf("unclear error %q", err.Error())
		}
		return
	}
	if res == nil {
		t.Fatal("no result and no error")
	}
	ch := res.Channel
	checkText(t, "channel title", ch.Title, MaxTitleRunes, false)
	checkText(t, "channel description", ch.Description, MaxDescriptionRunes, true)
	checkURL(t, "channel image", ch.ImageURL)
	checkURL(t, "channel link", ch.Link)
	if len(res.Items)+len(errs) > MaxItems {
		t.Fatalf("%d items and %d errors", len(res.Items), len(errs))
	}
	for _, it := range res.Items {
		if it.GUID == "" || it.Title == "" {
			t.Fatalf("item without GUID or title: %+v", it)
		}
		checkText(t, "guid", it.GUID, MaxGUIDRunes, false)
		checkText(t, "title", it.Title, MaxTitleRunes, false)
		checkText(t, "description", it.Description, MaxDescriptionRunes, true)
		checkURL(t, "media URL", it.MediaURL)
		checkURL(t, "image URL", it.ImageURL)
		checkURL(t, "link", it.Link)
		if it.DurationSeconds < 0 || it.DurationSeconds > MaxDurationSeconds || it.MediaBytes < 0 || it.EpisodeNumber < 0 || it.SeasonNumber < 0 {
			t.Fatalf("negative or huge number: %+v", it)
		}
		if it.PublishedAt != nil && it.PublishedAt.Location().String() != "UTC" {
			t.Fatalf("date not in UTC: %v", it.PublishedAt)
		}
	}
	for _, e := range errs {
		if e.Code == "" || e.Message == "" || utf8.RuneCountInString(e.GUID) > MaxGUIDRunes {
			t.Fatalf("bad item error %+v", e)
		}
		for _, c := range e.Code {
			if !(c >= 'a' && c <= 'z' || c == '_') {
				t.Fatalf("bad code %q", e.Code)
			}
		}
	}
}

func FuzzParseFeed(f *testing.F) {
	f.Add(feedtest.PodcastFeed())
	f.Add(feedtest.AtomFeed())
	f.Add(rss(`<itunes:explicit>yes</itunes:explicit>`, `<item><guid>a</guid><title>t</title><itunes:duration>1:02:03</itunes:duration>
<enclosure url="https://e.example/a.mp3" type="audio/mpeg" length="12"/><description><![CDATA[<p>x</p><br>y]]></description></item>`))
	f.Add([]byte(`{"version": "https://jsonfeed.org/version/1.1", "title": "J", "items": [{"id": "1", "title": "one", "content_html": "<p>hi</p>",
"attachments": [{"url": "https://e.example/1.mp3", "mime_type": "audio/mpeg", "size_in_bytes": 5}]}]}`))
	f.Add([]byte(`<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>x</id><title type="html">&lt;b&gt;t&lt;/b&gt;</title><published>nope</published></entry></feed>`))
	f.Add([]byte(`<rss><channel><item><title>` + "\x00\xff" + `</title></item></channel></rss>`))
	f.Add([]byte("<?xml version=\"1.0\" encoding=\"windows-1256\"?><rss version=\"2.0\"><channel><title>\xc7\xe1</title></channel></rss>"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		res, errs, err := ParseFeed(data)
		checkParsed(t, res, errs, err)
	})
}

func FuzzParseJSON(f *testing.F) {
	tm := feedtest.TalksMapping
	f.Add(feedtest.TalksJSON(), tm.ItemsPath, tm.GUID, tm.Title, tm.Description, tm.PublishedAt, tm.Duration, tm.MediaURL, tm.ImageURL)
	f.Add(feedtest.YouTubeFile("playlistItems.json"), "$.items[*]", "contentDetails.videoId", "snippet.title", "snippet.description",
		"contentDetails.videoPublishedAt", "", "", "snippet.thumbnails.maxres.url")
	f.Add(feedtest.YouTubeFile("videos.json"), "$.items", "id", "snippet.title", "snippet.description",
		"snippet.publishedAt", "contentDetails.duration", "", "snippet.thumbnails.high.url")
	f.Add(feedtest.YouTubeFile("channels.json"), "$.items", "id", "snippet.title", "", "snippet.publishedAt", "", "", "")
	f.Add([]byte(`[{"id": 1e2, "t": 1.5, "p": 1747915200, "d": "PT1M", "m": ["https://e.example/a"]}]`), "$", "id", "t", "", "p", "d", "m.0", "")
	f.Add([]byte(`[[[[[[[[[[]]]]]]]]]]`), "$[*]", "0.0", "0", "", "", "", "", "")
	f.Add([]byte(`{"a": {"b": [null, true, "x", {"id": "q", "title": "w"}]}}`), "$.a.b", "id", "title", "", "", "", "", "")
	f.Fuzz(func(t *testing.T, data []byte, itemsPath, guid, title, desc, pub, dur, media, image string) {
		m := Mapping{ItemsPath: itemsPath, GUID: guid, Title: title, Description: desc, PublishedAt: pub, Duration: dur, MediaURL: media, ImageURL: image}
		verr := m.Validate()
		res, errs, err := ParseJSON(data, m)
		if verr != nil && err == nil {
			t.Fatalf("invalid mapping %v accepted", verr)
		}
		checkParsed(t, res, errs, err)
	})
}

func FuzzDuration(f *testing.F) {
	for _, s := range []string{"", "95", "47:15", "01:02:03", "1:02:03.250", "PT1H2M3S", "P1DT2H", "P0D", "PT1.5S",
		"2147483647", "PT596523H14M7S", "-1", "1e3", "P1Y", "::", "٣٠", "PT", "1:60"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := parseDuration(s)
		if err != nil {
			if v != 0 {
				t.Fatalf("error with value %d", v)
			}
			return
		}
		if v < 0 || v > MaxDurationSeconds {
			t.Fatalf("parseDuration(%q) = %d out of range", s, v)
		}
		// Whatever was accepted round-trips through the canonical forms.
		for _, form := range []string{
			fmt.Sprint(v),
			fmt.Sprintf("%d:%02d:%02d", v/3600, v/60%60, v%60),
			fmt.Sprintf("PT%dS", v),
		} {
			if w, err := parseDuration(form); err != nil || w != v {
				t.Fatalf("%q = %d but %q = %d, %v", s, v, form, w, err)
			}
		}
	})
}

func FuzzCleanDescription(f *testing.F) {
	for _, s := range []string{"<p>a</p><p>b</p>", "a<br><br>b", "<ul><li>x</li></ul>", "plain\n\n\ntext", "&amp;&#0;&#xD800;",
		"<script>x</script>", "<svg><text>t</text></svg>y", "\xff\x00<p\x00>", strings.Repeat("<b>", 100)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkText(t, "description", cleanDescription(s), MaxDescriptionRunes, true)
		checkText(t, "title", cleanTitle(s), MaxTitleRunes, false)
	})
}
