package feed

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/services/ingest/feed/feedtest"
)

func at(s string) *time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	t = t.UTC()
	return &t
}

// show renders v for failure messages.
func show(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

func checkResult(t *testing.T, got *Result, gotErrs []ItemError, want *Result, wantErrs []ItemError) {
	t.Helper()
	if !reflect.DeepEqual(got.Channel, want.Channel) {
		t.Errorf("channel:\n got %s\nwant %s", show(got.Channel), show(want.Channel))
	}
	if len(got.Items) != len(want.Items) {
		t.Errorf("%d items, want %d: %s", len(got.Items), len(want.Items), show(got.Items))
	}
	for i := range min(len(got.Items), len(want.Items)) {
		g, w := got.Items[i], want.Items[i]
		if (g.PublishedAt == nil) != (w.PublishedAt == nil) || (g.PublishedAt != nil && !g.PublishedAt.Equal(*w.PublishedAt)) {
			t.Errorf("item %d published %v, want %v", i, g.PublishedAt, w.PublishedAt)
		}
		g.PublishedAt, w.PublishedAt = nil, nil
		if !reflect.DeepEqual(g, w) {
			t.Errorf("item %d:\n got %s\nwant %s", i, show(g), show(w))
		}
	}
	if got.Truncated != want.Truncated {
		t.Errorf("truncated = %v", got.Truncated)
	}
	if !reflect.DeepEqual(gotErrs, wantErrs) {
		t.Errorf("item errors:\n got %s\nwant %s", show(gotErrs), show(wantErrs))
	}
}

const fx = feedtest.DefaultBase

func TestParseFeedPodcast(t *testing.T) {
	res, errs, err := ParseFeed(feedtest.PodcastFeed())
	if err != nil {
		t.Fatal(err)
	}
	want := &Result{
		Channel: Channel{
			Title:       "صباح | Sabah",
			Description: "بودكاست أسبوعي عن القراءة والمدن والعادات الصغيرة التي تصنع يومنا.\n\nA weekly Arabic podcast about reading, cities and small habits.",
			Language:    "ar",
			ImageURL:    fx + "/images/sabah/cover.jpg",
			Link:        "https://sabah-podcast.example/",
			Author:      "استوديو الأفق",
			Categories:  []string{"Society & Culture", "Documentary", "Education"},
		},
		Items: []Item{
			{
				GUID:            "sabah-ep-145",
				Title:           "الحلقة ١٤٥: القراءة في زمن السرعة",
				Description:     "هل ما زلنا نقرأ كما كنا؟ في هذه الحلقة نتحدث مع د. سلمى الخطيب عن القراءة العميقة & الشاشات.\n\nمحاور الحلقة:\n\nلماذا يتشتت انتباهنا؟\nعادات صغيرة لقراءة أطول\n\nروابط: قائمة الكتب\nتابعونا كل اثنين.",
				Link:            "https://sabah-podcast.example/episodes/145",
				PublishedAt:     at("2025-06-02T03:00:00Z"),
				DurationSeconds: 3723,
				MediaURL:        "https://media.sabah-podcast.example/audio/sabah-145.mp3",
				MediaType:       "audio/mpeg",
				MediaBytes:      59623104,
				ImageURL:        fx + "/images/sabah/ep-145.jpg",
				EpisodeNumber:   145,
				SeasonNumber:    3,
			},
			{
				GUID:            "sabah-ep-144",
				Title:           "الحلقة ١٤٤: مدن تمشي على مهل",
				Description:     "كيف تبدو مدينة مصممة للمشاة؟ نزور أحياء قديمة في عمّان وفاس ونسأل المخططين عن الشارع الذي يتسع للجميع.\n\nنصيحة الحلقة: امشِ إلى عملك يومًا واحدًا في الأسبوع.",
				Link:            "https://sabah-podcast.example/episodes/144",
				PublishedAt:     at("2025-05-26T03:00:00Z"),
				DurationSeconds: 2835,
				MediaURL:        "https://media.sabah-podcast.example/audio/sabah-144.mp3",
				MediaType:       "audio/mpeg",
				MediaBytes:      45360000,
				ImageURL:        fx + "/images/sabah/ep-144.jpg",
				EpisodeNumber:   144,
				SeasonNumber:    3,
			},
			{
				GUID:            "sabah-ep-143",
				Title:           "Episode 143: Translating poetry, with Layla Haddad",
				Description:     "Layla Haddad has translated Mahmoud Darwish into English for twenty years.\n\nWe talk about rhythm, loss & the words that do not cross over.\nContains strong language.",
				Link:            "https://sabah-podcast.example/episodes/143",
				PublishedAt:     at("2025-05-19T03:00:00Z"),
				DurationSeconds: 1830,
				MediaURL:        "https://media.sabah-podcast.example/audio/sabah-143.mp3",
				MediaType:       "audio/mpeg",
				MediaBytes:      29280000,
				EpisodeNumber:   143,
				SeasonNumber:    3,
				Explicit:        true,
			},
			{
				GUID:            "https://sabah-podcast.example/episodes/142",
				Title:           "الحلقة ١٤٢: أسئلة المستمعين",
				Description:     "نجيب عن أسئلتكم: كيف نختار الضيوف؟ ومتى نسجل؟\n\nأرسلوا أسئلتكم إلى podcast@sabah-podcast.example",
				Link:            "https://sabah-podcast.example/episodes/142",
				PublishedAt:     at("2025-05-12T03:00:00Z"),
				DurationSeconds: 2300,
				MediaURL:        "https://media.sabah-podcast.example/audio/sabah-142.mp3",
				MediaType:       "audio/mpeg",
				MediaBytes:      36800000,
				ImageURL:        fx + "/images/sabah/ep-142.jpg",
				EpisodeNumber:   142,
				SeasonNumber:    3,
			},
			{
				GUID:            "sabah-trailer",
				Title:           "Trailer: Welcome to Sabah | مرحبًا بكم في صباح",
				Description:     "Two minutes about what Sabah is, in Arabic and English.",
				PublishedAt:     at("2025-03-01T08:00:00Z"),
				DurationSeconds: 95,
				MediaURL:        "https://media.sabah-podcast.example/audio/sabah-trailer.mp3",
				MediaType:       "audio/mpeg",
				MediaBytes:      1520000,
			},
		},
	}
	wantErrs := []ItemError{{GUID: "sabah-ep-141", Code: "invalid_media_url", Message: `enclosure URL "/audio/sabah-141.mp3" is not an absolute http(s) URL`}}
	checkResult(t, res, errs, want, wantErrs)
}

func TestParseFeedAtom(t *testing.T) {
	res, errs, err := ParseFeed(feedtest.AtomFeed())
	if err != nil {
		t.Fatal(err)
	}
	want := &Result{
		Channel: Channel{
			Title:       "Horizon Talks",
			Description: "Recorded talks from the Horizon meetups.",
			Language:    "en",
			ImageURL:    fx + "/images/horizon/logo.jpg",
			Link:        "https://talks.horizon.example/",
			Author:      "Horizon Meetups",
			Categories:  []string{"Technology", "community"},
		},
		Items: []Item{
			{
				GUID:        "tag:talks.horizon.example,2025:talk-31",
				Title:       "Search for Arabic text: stemming and beyond",
				Description: "Why Arabic search is different.\n\nRoots, patterns & diacritics.",
				Link:        "https://talks.horizon.example/31",
				PublishedAt: at("2025-05-28T14:30:00Z"),
				MediaURL:    "https://media.horizon.example/talks/31.mp4",
				MediaType:   "video/mp4",
				MediaBytes:  734003200,
			},
			{
				GUID:        "tag:talks.horizon.example,2025:talk-30",
				Title:       "البث المباشر على نطاق واسع",
				Description: "كيف نبث لمليون مشاهد في الوقت نفسه.",
				Link:        "https://talks.horizon.example/30",
				PublishedAt: at("2025-05-14T16:00:00Z"), // no <published>: <updated>
				MediaURL:    "https://media.horizon.example/talks/30.mp4",
				MediaType:   "video/mp4",
				MediaBytes:  512000000,
			},
			{
				GUID:        "tag:talks.horizon.example,2025:notes-2025-05",
				Title:       "Meetup notes: May 2025",
				Description: "Slides and links from May.",
				Link:        "https://talks.horizon.example/notes/2025-05",
				PublishedAt: at("2025-05-02T10:00:00Z"),
			},
		},
	}
	checkResult(t, res, errs, want, nil)
}

// rss wraps items in a minimal RSS 2.0 podcast channel.
func rss(channelExtra, items string) []byte {
	return []byte(`<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel><title>T</title><link>https://example.com/</link><description>D</description>` + channelExtra + items + `</channel></rss>`)
}

func TestParseFeedItemErrors(t *testing.T) {
	items := `
<item><title>No id at all</title><description>x</description></item>
<item><guid>g-notitle</guid><description>only a description</description></item>
<item><guid>g-blanktitle</guid><title>   </title></item>
<item><guid>g-date</guid><title>Bad date</title><pubDate>the day after tomorrow</pubDate></item>
<item><guid>g-dur</guid><title>Bad duration</title><itunes:duration>about an hour</itunes:duration></item>
<item><guid>g-media</guid><title>Bad media</title><enclosure url="javascript:alert(1)" type="audio/mpeg" length="1"/></item>
<item><guid>` + strings.Repeat("g", MaxGUIDRunes+1) + `</guid><title>Long guid</title></item>
<item><title>Enclosure guid</title><enclosure url="https://cdn.example.com/e.mp3" type="audio/mpeg" length="x"/></item>
<item><guid>  g-ok  </guid><title>OK</title><pubDate>Tue, 03 Jun 2025 10:00:00 GMT</pubDate></item>`
	res, errs, err := ParseFeed(rss("", items))
	if err != nil {
		t.Fatal(err)
	}
	wantErrs := []ItemError{
		{Code: "missing_guid", Message: `the item "No id at all" has no guid, link or enclosure URL`},
		{GUID: "g-notitle", Code: "missing_title", Message: "the item has no title"},
		{GUID: "g-blanktitle", Code: "missing_title", Message: "the item has no title"},
		{GUID: "g-date", Code: "invalid_date", Message: `publication date "the day after tomorrow" cannot be read`},
		{GUID: "g-dur", Code: "invalid_duration", Message: `itunes:duration "about an hour": not a duration (want seconds, MM:SS, HH:MM:SS or ISO 8601 like PT1H2M3S)`},
		{GUID: "g-media", Code: "invalid_media_url", Message: `enclosure URL "javascript:alert(1)" is not an absolute http(s) URL`},
		{GUID: strings.Repeat("g", MaxGUIDRunes), Code: "invalid_guid", Message: "GUID is 513 characters long (at most 512)"},
	}
	want := &Result{
		Channel: Channel{Title: "T", Description: "D", Link: "https://example.com/"},
		Items: []Item{
			{GUID: "https://cdn.example.com/e.mp3", Title: "Enclosure guid", MediaURL: "https://cdn.example.com/e.mp3", MediaType: "audio/mpeg"},
			{GUID: "g-ok", Title: "OK", PublishedAt: at("2025-06-03T10:00:00Z")},
		},
	}
	checkResult(t, res, errs, want, wantErrs)
}

func TestParseFeedDetails(t *testing.T) {
	channel := `<language> en-us </language><itunes:explicit>yes</itunes:explicit><itunes:author> A  Author </itunes:author>
<image><url>https://example.com/logo.png</url></image><category>News</category><category>news</category><category> Tech </category>`
	items := `
<item><guid>inherit</guid><title>Inherits explicit</title><itunes:episode>x</itunes:episode><itunes:season>-2</itunes:season></item>
<item><guid>clean</guid><title>Clean</title><itunes:explicit>clean</itunes:explicit><dc:language>ar</dc:language>
  <itunes:image href="/relative.jpg"/><link>javascript:alert(1)</link></item>
<item><guid>media</guid><title>Picks audio</title>
  <enclosure url="https://example.com/cover.jpg" type="image/jpeg" length="100"/>
  <enclosure url="https://example.com/ep.m4a" type="audio/x-m4a" length="12345"/></item>
<item><guid>html-title</guid><title>Tom &amp; Jerry&#39;s
   show</title><description>` + strings.Repeat("x", MaxDescriptionRunes+10) + `</description></item>`
	res, errs, err := ParseFeed(rss(channel, items))
	if err != nil {
		t.Fatal(err)
	}
	want := &Result{
		Channel: Channel{
			Title: "T", Description: "D", Language: "en-us", ImageURL: "https://example.com/logo.png",
			Link: "https://example.com/", Author: "A Author", Categories: []string{"News", "Tech"}, Explicit: true,
		},
		Items: []Item{
			{GUID: "inherit", Title: "Inherits explicit", Explicit: true},
			{GUID: "clean", Title: "Clean", Language: "ar"},
			{GUID: "media", Title: "Picks audio", MediaURL: "https://example.com/ep.m4a", MediaType: "audio/x-m4a", MediaBytes: 12345, ImageURL: "https://example.com/cover.jpg", Explicit: true},
			{GUID: "html-title", Title: "Tom & Jerry's show", Description: strings.Repeat("x", MaxDescriptionRunes), Explicit: true},
		},
	}
	checkResult(t, res, errs, want, nil)
}

func TestParseFeedDocumentErrors(t *testing.T) {
	tests := []struct {
		name, doc, want string
	}{
		{"empty", "", "feed: the document is empty"},
		{"blank", "  \n ", "feed: the document is empty"},
		{"html page", "<!doctype html><html><body>hello</body></html>", "feed: not an RSS, Atom or JSON feed"},
		{"plain text", "just some text", "feed: not an RSS, Atom or JSON feed"},
		{"truncated rss", `<?xml version="1.0"?><rss version="2.0"><channel><title>x</title><item><title>`, "feed: malformed document: "},
		{"broken json feed", `{"version": "https://jsonfeed.org/version/1.1", "items": [`, "feed: malformed document: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, errs, err := ParseFeed([]byte(tt.doc))
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) || res != nil || errs != nil {
				t.Fatalf("got %v, %v, %v; want error %q", res, errs, err, tt.want)
			}
		})
	}
}

func TestParseFeedMaxItems(t *testing.T) {
	var b strings.Builder
	for i := range MaxItems + 5 {
		fmt.Fprintf(&b, "<item><guid>g%d</guid><title>t%d</title></item>", i, i)
	}
	res, errs, err := ParseFeed(rss("", b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Items) != MaxItems || !res.Truncated || len(errs) != 0 || res.Items[MaxItems-1].GUID != fmt.Sprintf("g%d", MaxItems-1) {
		t.Fatalf("%d items, truncated %v, %d errors", len(res.Items), res.Truncated, len(errs))
	}
}

func TestItemErrorString(t *testing.T) {
	if got := (ItemError{GUID: "g1", Code: "missing_title", Message: "no title"}).Error(); got != `item "g1": missing_title: no title` {
		t.Errorf("got %q", got)
	}
	if got := (ItemError{Code: "missing_guid", Message: "no guid"}).Error(); got != "missing_guid: no guid" {
		t.Errorf("got %q", got)
	}
}

// TestParseFeedInvisibleText: text that shows nothing (only spaces and invisible characters such
// as U+200B, U+202E, NBSP and U+3000) counts as empty: an item without a visible title fails with
// missing_title, a description or channel title without one is left out. Invisible characters
// inside words stay.
func TestParseFeedInvisibleText(t *testing.T) {
	blank := "&#8203;&#8238;&#160;&#12288;&#8288;"
	res, errs, err := ParseFeed([]byte(`<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>` + blank + `</title><description>` + blank + `</description>
<item><guid>g-blank</guid><title>` + blank + `</title><description>x</description></item>
<item><guid>g-ok</guid><title>می&#8204;خواهم</title><description>` + blank + `</description></item>
</channel></rss>`))
	if err != nil {
		t.Fatal(err)
	}
	want := &Result{Items: []Item{{GUID: "g-ok", Title: "می\u200cخواهم"}}}
	checkResult(t, res, errs, want, []ItemError{{GUID: "g-blank", Code: CodeMissingTitle, Message: "the item has no title"}})
}
