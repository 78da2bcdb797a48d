package feed

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/mediamesh/mediamesh/services/ingest/feed/feedtest"
	"github.com/mediamesh/mediamesh/services/ingest/fetch"
)

// fetchGet adapts a fetch.Client to YouTube.Get, handing over the body of error answers.
func fetchGet(c *fetch.Client, seen *[]string, mu *sync.Mutex) func(ctx context.Context, u string) ([]byte, error) {
	return func(ctx context.Context, u string) ([]byte, error) {
		mu.Lock()
		*seen = append(*seen, u)
		mu.Unlock()
		resp, err := c.Get(ctx, fetch.Request{URL: u})
		if err != nil {
			var fe *fetch.Error
			if errors.As(err, &fe) {
				return fe.Body, err
			}
			return nil, err
		}
		return resp.Body, nil
	}
}

type ytFixture struct {
	yt   YouTube
	base string
	mu   sync.Mutex
	urls []string
}

func newYTFixture(t *testing.T) *ytFixture {
	srv := feedtest.YouTubeServer(t, feedtest.APIKey)
	f := &ytFixture{base: srv.URL}
	f.yt = YouTube{
		BaseURL: srv.URL + feedtest.YouTubeAPIPath + "/",
		Get:     fetchGet(fetch.New(fetch.Config{AllowLoopback: true}), &f.urls, &f.mu),
	}
	return f
}

// calls lists the requested endpoints with their decoded queries.
func (f *ytFixture) calls(t *testing.T) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, s := range f.urls {
		u, err := url.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, strings.TrimPrefix(u.Path, feedtest.YouTubeAPIPath+"/")+"?"+u.RawQuery)
	}
	return out
}

func ytItems(base string) []Item {
	return []Item{
		{
			GUID:            "yt:video:q3NkUdL8bQc",
			Title:           "كيف تعمل محركات البحث؟ | شرح مبسط",
			Description:     "في هذا الفيديو نشرح كيف تزحف محركات البحث إلى الصفحات وتفهرسها وترتبها.\n\nالفهرس:\n00:00 مقدمة\n03:12 الزحف\n08:40 الترتيب\n\n#بحث #برمجة",
			Link:            "https://www.youtube.com/watch?v=q3NkUdL8bQc",
			PublishedAt:     at("2025-06-01T16:00:00Z"),
			DurationSeconds: 847,
			MediaURL:        "https://www.youtube.com/watch?v=q3NkUdL8bQc",
			ImageURL:        base + "/vi/q3NkUdL8bQc/maxresdefault.jpg",
			Language:        "ar",
		},
		{
			GUID:            "yt:video:Xr7pT2mWvYk",
			Title:           "مقدمة في الخوارزميات - الدرس الأول",
			Description:     "الدرس الأول من سلسلة الخوارزميات: التعقيد الزمني، البحث الثنائي، والترتيب بالدمج.\nالتمارين: https://horizon-academy.example/algorithms/1",
			Link:            "https://www.youtube.com/watch?v=Xr7pT2mWvYk",
			PublishedAt:     at("2025-05-25T15:30:00Z"),
			DurationSeconds: 3723,
			MediaURL:        "https://www.youtube.com/watch?v=Xr7pT2mWvYk",
			ImageURL:        base + "/vi/Xr7pT2mWvYk/sddefault.jpg",
			Language:        "ar",
		},
		{
			GUID:            "yt:video:aB9_cD-eF0g",
			Title:           "Live coding: building a feed parser in Go",
			Description:     "We build an RSS and Atom parser in Go, live, with tests and fuzzing.\n\nCode: https://horizon-academy.example/code/feed-parser",
			Link:            "https://www.youtube.com/watch?v=aB9_cD-eF0g",
			PublishedAt:     at("2025-05-18T18:00:00Z"),
			DurationSeconds: 2700,
			MediaURL:        "https://www.youtube.com/watch?v=aB9_cD-eF0g",
			ImageURL:        base + "/vi/aB9_cD-eF0g/hqdefault.jpg",
			Language:        "en",
		},
		{
			GUID:            "yt:video:Lm4nOp5QrSt",
			Title:           "أساسيات الشبكات: ما هو DNS؟",
			Description:     "ما الذي يحدث عندما تكتب اسم موقع في المتصفح؟ نتتبع طلب DNS خطوة بخطوة.",
			Link:            "https://www.youtube.com/watch?v=Lm4nOp5QrSt",
			PublishedAt:     at("2025-05-10T12:00:00Z"),
			DurationSeconds: 598,
			MediaURL:        "https://www.youtube.com/watch?v=Lm4nOp5QrSt",
			ImageURL:        base + "/vi/Lm4nOp5QrSt/maxresdefault.jpg",
			Language:        "ar",
		},
		{
			GUID:            "yt:video:Zy8xWv7UtSr",
			Title:           "Q&A: your questions about careers in tech",
			Description:     "Answers to the questions you sent in the community tab.",
			Link:            "https://www.youtube.com/watch?v=Zy8xWv7UtSr",
			PublishedAt:     at("2025-05-03T09:00:00Z"),
			DurationSeconds: 182,
			MediaURL:        "https://www.youtube.com/watch?v=Zy8xWv7UtSr",
			ImageURL:        base + "/vi/Zy8xWv7UtSr/maxresdefault.jpg",
			Language:        "en", // no defaultAudioLanguage: defaultLanguage
			Explicit:        true, // ytAgeRestricted
		},
	}
}

var ytUnavailable = []ItemError{
	{GUID: "yt:video:hJ2kL9mN0pQ", Code: "unavailable_video", Message: "Private video (This video is private.)"},
	{GUID: "yt:video:dE1eTeDv1d0", Code: "unavailable_video", Message: "Deleted video (This video is unavailable.)"},
}

func TestYouTubeChannel(t *testing.T) {
	f := newYTFixture(t)
	res, errs, err := f.yt.Channel(context.Background(), feedtest.APIKey, feedtest.YouTubeChannelID)
	if err != nil {
		t.Fatal(err)
	}
	want := &Result{
		Channel: Channel{
			Title:       "أكاديمية الأفق | Horizon Academy",
			Description: "أكاديمية الأفق قناة تعليمية عربية تشرح البرمجة والشبكات والعلوم بلغة بسيطة.\n\nHorizon Academy explains programming, networks and science in Arabic.\n\nفيديو جديد كل أسبوع.",
			Language:    "ar",
			ImageURL:    f.base + "/ytc/horizon-academy/s800.jpg",
			Link:        "https://www.youtube.com/channel/UCq8Zk3nYvLwTx2B5mRfH0aQ",
			Author:      "أكاديمية الأفق | Horizon Academy",
		},
		Items: ytItems(f.base),
	}
	checkResult(t, res, errs, want, ytUnavailable)

	key := url.QueryEscape(feedtest.APIKey)
	wantCalls := []string{
		"channels?id=UCq8Zk3nYvLwTx2B5mRfH0aQ&key=" + key + "&part=snippet%2CcontentDetails",
		"playlistItems?key=" + key + "&maxResults=50&part=snippet%2CcontentDetails&playlistId=UUq8Zk3nYvLwTx2B5mRfH0aQ",
		"playlistItems?key=" + key + "&maxResults=50&pageToken=EAAaBlBUOkNBUQ&part=snippet%2CcontentDetails&playlistId=UUq8Zk3nYvLwTx2B5mRfH0aQ",
		"videos?id=q3NkUdL8bQc%2CXr7pT2mWvYk%2CaB9_cD-eF0g%2CLm4nOp5QrSt%2CZy8xWv7UtSr&key=" + key + "&part=contentDetails%2Csnippet",
	}
	if got := f.calls(t); strings.Join(got, "\n") != strings.Join(wantCalls, "\n") {
		t.Fatalf("calls:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantCalls, "\n"))
	}
}

func TestYouTubePlaylist(t *testing.T) {
	f := newYTFixture(t)
	res, errs, err := f.yt.Playlist(context.Background(), feedtest.APIKey, feedtest.YouTubePlaylistID)
	if err != nil {
		t.Fatal(err)
	}
	want := &Result{
		Channel: Channel{
			Title:       "مسار المبتدئين | Beginner track",
			Description: "سلسلة دروس مختارة للمبتدئين في البرمجة والشبكات.\nSelected lessons for beginners.",
			Language:    "ar",
			ImageURL:    f.base + "/vi/q3NkUdL8bQc/maxresdefault.jpg",
			Link:        "https://www.youtube.com/playlist?list=PLh7X2cV9bN4mQ1wE6rT8yU3iO5pA0sDfG",
			Author:      "أكاديمية الأفق | Horizon Academy",
		},
		Items: ytItems(f.base),
	}
	checkResult(t, res, errs, want, ytUnavailable)
	calls := f.calls(t)
	if len(calls) != 4 || !strings.HasPrefix(calls[0], "playlists?id=PLh7X2cV9bN4mQ1wE6rT8yU3iO5pA0sDfG&key=") ||
		!strings.HasSuffix(calls[1], "&playlistId=PLh7X2cV9bN4mQ1wE6rT8yU3iO5pA0sDfG") {
		t.Fatalf("calls %v", calls)
	}
}

func TestYouTubeMaxItems(t *testing.T) {
	f := newYTFixture(t)
	f.yt.MaxItems = 3
	res, errs, err := f.yt.Playlist(context.Background(), feedtest.APIKey, feedtest.YouTubeUploadsPlaylistID)
	if err != nil {
		t.Fatal(err)
	}
	all := ytItems(f.base)
	checkResult(t, res, errs, &Result{
		Channel: Channel{
			Title:    "Uploads from أكاديمية الأفق | Horizon Academy",
			ImageURL: f.base + "/vi/q3NkUdL8bQc/hqdefault.jpg",
			Link:     "https://www.youtube.com/playlist?list=UUq8Zk3nYvLwTx2B5mRfH0aQ",
			Author:   "أكاديمية الأفق | Horizon Academy",
		},
		Items:     all[:2],
		Truncated: true,
	}, ytUnavailable[:1])
	if n := len(f.calls(t)); n != 3 { // playlists, one page, videos
		t.Fatalf("%d calls", n)
	}

	// Exactly the number of entries: nothing is cut.
	f.yt.MaxItems = 7
	res, _, err = f.yt.Playlist(context.Background(), feedtest.APIKey, feedtest.YouTubeUploadsPlaylistID)
	if err != nil || res.Truncated || len(res.Items) != 5 {
		t.Fatalf("%v %v", res, err)
	}
}

func TestYouTubeErrors(t *testing.T) {
	f := newYTFixture(t)
	ctx := context.Background()
	_, _, err := f.yt.Channel(ctx, "wrong-key", feedtest.YouTubeChannelID)
	if err == nil || err.Error() != "youtube: channels: API error 403: API key not valid. Please pass a valid API key. (reason forbidden)" {
		t.Fatalf("wrong key: %v", err)
	}
	var fe *fetch.Error
	if !errors.As(err, &fe) || fe.Status != 403 {
		t.Fatalf("the fetch error is not reachable: %v", err)
	}

	_, _, err = f.yt.Channel(ctx, feedtest.APIKey, "UCdoesnotexist000000000")
	if err == nil || err.Error() != `youtube: channel "UCdoesnotexist000000000" not found` {
		t.Fatalf("unknown channel: %v", err)
	}
	_, _, err = f.yt.Playlist(ctx, feedtest.APIKey, "PLnope")
	if err == nil || err.Error() != `youtube: playlist "PLnope" not found` {
		t.Fatalf("unknown playlist: %v", err)
	}

	// A transport failure without a body; the key never appears in the message.
	const key = "SECRET/KEY+1"
	y := YouTube{Get: func(ctx context.Context, u string) ([]byte, error) {
		if !strings.HasPrefix(u, DefaultYouTubeBaseURL+"/channels?") {
			t.Errorf("url %s", u)
		}
		return nil, fmt.Errorf("Get %q: connection refused", u)
	}}
	_, _, err = y.Channel(ctx, key, "UC1")
	if err == nil || strings.Contains(err.Error(), "SECRET") || !strings.HasPrefix(err.Error(), "youtube: channels request failed: Get ") ||
		!strings.Contains(err.Error(), "key=REDACTED") {
		t.Fatalf("transport error: %v", err)
	}

	canned := func(bodies map[string]string) YouTube {
		return YouTube{BaseURL: "https://yt.test/v3", Get: func(ctx context.Context, u string) ([]byte, error) {
			p, _ := url.Parse(u)
			return []byte(bodies[strings.TrimPrefix(p.Path, "/v3/")]), nil
		}}
	}
	tests := []struct {
		name   string
		bodies map[string]string
		want   string
	}{
		{"API error with status 200", map[string]string{"channels": `{"error": {"code": 403, "message": "The request cannot be completed because you have exceeded your quota.", "errors": [{"reason": "quotaExceeded"}]}}`},
			"youtube: channels: API error 403: The request cannot be completed because you have exceeded your quota. (reason quotaExceeded)"},
		{"malformed", map[string]string{"channels": `{"items": [`}, "youtube: channels: malformed answer: unexpected end of JSON input"},
		{"no uploads", map[string]string{"channels": `{"items": [{"id": "UC1", "snippet": {"title": "x"}}]}`}, `youtube: channel "UC1" has no uploads playlist`},
		{"page token loop", map[string]string{
			"channels":      `{"items": [{"id": "UC1", "contentDetails": {"relatedPlaylists": {"uploads": "UU1"}}}]}`,
			"playlistItems": `{"nextPageToken": "T", "items": [{"snippet": {"title": "x"}, "contentDetails": {"videoId": "v1"}}]}`,
		}, "youtube: playlistItems returned a page token twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := canned(tt.bodies).Channel(ctx, "k", "UC1")
			if err == nil || err.Error() != tt.want {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
	if _, _, err := (YouTube{}).Playlist(ctx, "k", "PL1"); err == nil || err.Error() != "youtube: no Get function configured" {
		t.Fatalf("no Get: %v", err)
	}
}

func TestYouTubeEdgeCases(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	bodies := map[string]string{
		"playlists": `{"items": [{"id": "PL&x=1", "snippet": {"title": "P"}}]}`,
		"playlistItems": `{"items": [
			{"snippet": {"title": "No id"}},
			{"snippet": {"title": "Twice", "thumbnails": {"default": {"url": "https://i.example/1.jpg"}}}, "contentDetails": {"videoId": "v1", "videoPublishedAt": "2025-01-02T03:04:05Z"}},
			{"snippet": {"title": "Twice", "thumbnails": {"default": {"url": "https://i.example/1.jpg"}}}, "contentDetails": {"videoId": "v1"}},
			{"snippet": {"title": "Gone between calls", "thumbnails": {"default": {"url": "https://i.example/2.jpg"}}}, "contentDetails": {"videoId": "v2"}},
			{"snippet": {"title": "Bad duration", "thumbnails": {}, "videoOwnerChannelId": "UC1"}, "contentDetails": {"videoId": "v3"}},
			{"snippet": {"title": "Private video", "thumbnails": {"default": {"url": "https://i.example/4.jpg"}}, "videoOwnerChannelId": "UC1"}, "contentDetails": {"videoId": "v4"}},
			{"snippet": {"title": "", "description": "  "}, "contentDetails": {"videoId": "v5"}}
		]}`,
		"videos": `{"items": [
			{"id": "v1", "snippet": {"publishedAt": "2020-01-01T00:00:00Z", "defaultAudioLanguage": "ar-JO"}, "contentDetails": {"duration": "P0D"}},
			{"id": "v3", "snippet": {"thumbnails": {"medium": {"url": "https://i.example/3m.jpg"}}}, "contentDetails": {"duration": "PT1Y"}},
			{"id": "v4", "snippet": {}, "contentDetails": {"duration": "PT1M"}},
			{"id": "v5", "snippet": {"title": "Title from videos", "description": "From videos", "publishedAt": "2025-02-03T04:05:06Z"}, "contentDetails": {"duration": "PT2M"}}
		]}`,
	}
	y := YouTube{BaseURL: "https://yt.test/v3", Get: func(ctx context.Context, u string) ([]byte, error) {
		mu.Lock()
		seen = append(seen, u)
		mu.Unlock()
		p, _ := url.Parse(u)
		return []byte(bodies[strings.TrimPrefix(p.Path, "/v3/")]), nil
	}}
	res, errs, err := y.Playlist(context.Background(), "k&y", "PL&x=1")
	if err != nil {
		t.Fatal(err)
	}
	checkResult(t, res, errs, &Result{
		Channel: Channel{Title: "P", Link: "https://www.youtube.com/playlist?list=PL%26x%3D1"},
		Items: []Item{
			{GUID: "yt:video:v1", Title: "Twice", Link: "https://www.youtube.com/watch?v=v1", MediaURL: "https://www.youtube.com/watch?v=v1",
				PublishedAt: at("2025-01-02T03:04:05Z"), ImageURL: "https://i.example/1.jpg", Language: "ar-JO"},
			// "Private video" with thumbnails and an owner is a real title.
			{GUID: "yt:video:v4", Title: "Private video", Link: "https://www.youtube.com/watch?v=v4", MediaURL: "https://www.youtube.com/watch?v=v4",
				DurationSeconds: 60, ImageURL: "https://i.example/4.jpg"},
			{GUID: "yt:video:v5", Title: "Title from videos", Description: "From videos", Link: "https://www.youtube.com/watch?v=v5",
				MediaURL: "https://www.youtube.com/watch?v=v5", PublishedAt: at("2025-02-03T04:05:06Z"), DurationSeconds: 120},
		},
	}, []ItemError{
		{Code: "missing_guid", Message: `playlist entry "" has no video id`},
		{GUID: "yt:video:v2", Code: "unavailable_video", Message: "the video is not available (private, deleted or blocked)"},
		{GUID: "yt:video:v3", Code: "invalid_duration", Message: `duration "PT1Y": not a duration (want seconds, MM:SS, HH:MM:SS or ISO 8601 like PT1H2M3S)`},
	})
	// Query values are escaped: the ids and key come back intact.
	for _, s := range seen {
		u, _ := url.Parse(s)
		q := u.Query()
		if q.Get("key") != "k&y" {
			t.Errorf("%s: key %q", s, q.Get("key"))
		}
		if strings.HasSuffix(u.Path, "/playlistItems") && q.Get("playlistId") != "PL&x=1" {
			t.Errorf("%s: playlistId %q", s, q.Get("playlistId"))
		}
		if strings.HasSuffix(u.Path, "/videos") && q.Get("id") != "v1,v2,v3,v4,v5" {
			t.Errorf("%s: id %q", s, q.Get("id"))
		}
	}
}

func TestYouTubeVideoBatches(t *testing.T) {
	var mu sync.Mutex
	var videoCalls []int
	var items []string
	for i := range 120 {
		items = append(items, fmt.Sprintf(`{"snippet": {"title": "t%d", "thumbnails": {"default": {"url": "https://i.example/%d.jpg"}}}, "contentDetails": {"videoId": "v%d"}}`, i, i, i))
	}
	y := YouTube{BaseURL: "https://yt.test/v3", MaxItems: 120, Get: func(ctx context.Context, u string) ([]byte, error) {
		p, _ := url.Parse(u)
		q := p.Query()
		switch strings.TrimPrefix(p.Path, "/v3/") {
		case "playlists":
			return []byte(`{"items": [{"id": "PL1", "snippet": {"title": "P"}}]}`), nil
		case "playlistItems":
			start := 0
			if tok := q.Get("pageToken"); tok != "" {
				fmt.Sscanf(tok, "p%d", &start)
			}
			end := min(start+50, len(items))
			next := ""
			if end < len(items) {
				next = fmt.Sprintf("p%d", end)
			}
			return []byte(fmt.Sprintf(`{"nextPageToken": %q, "items": [%s]}`, next, strings.Join(items[start:end], ","))), nil
		case "videos":
			ids := strings.Split(q.Get("id"), ",")
			mu.Lock()
			videoCalls = append(videoCalls, len(ids))
			mu.Unlock()
			var vs []string
			for _, id := range ids {
				vs = append(vs, fmt.Sprintf(`{"id": %q, "contentDetails": {"duration": "PT1S"}}`, id))
			}
			return []byte(`{"items": [` + strings.Join(vs, ",") + `]}`), nil
		}
		return nil, errors.New("unexpected")
	}}
	res, errs, err := y.Playlist(context.Background(), "k", "PL1")
	if err != nil || len(errs) != 0 || len(res.Items) != 120 || res.Truncated {
		t.Fatalf("%v %v %d", err, errs, len(res.Items))
	}
	if fmt.Sprint(videoCalls) != "[50 50 20]" {
		t.Fatalf("videos batches %v", videoCalls)
	}
	if res.Items[119].GUID != "yt:video:v119" || res.Items[119].DurationSeconds != 1 {
		t.Fatalf("last item %+v", res.Items[119])
	}
}
