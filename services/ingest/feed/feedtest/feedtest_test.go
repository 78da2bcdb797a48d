package feedtest

import (
	"bytes"
	"encoding/json"
	"image/jpeg"
	"io"
	"net/http"
	"strings"
	"testing"
)

func get(t *testing.T, url string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func TestFeedServer(t *testing.T) {
	srv := FeedServer(t)
	for path, ct := range map[string]string{
		"/podcast.xml": "application/rss+xml; charset=utf-8",
		"/atom.xml":    "application/atom+xml; charset=utf-8",
		"/talks.json":  "application/json",
	} {
		resp, body := get(t, srv.URL+path, nil)
		etag := resp.Header.Get("ETag")
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != ct || resp.Header.Get("Last-Modified") != FeedLastModified ||
			!strings.HasPrefix(etag, `"`) || len(etag) != 18 {
			t.Fatalf("%s: %d %v", path, resp.StatusCode, resp.Header)
		}
		if bytes.Contains(body, []byte("{{BASE}}")) || !bytes.Contains(body, []byte(srv.URL+"/images/")) {
			t.Fatalf("%s: {{BASE}} not rewritten", path)
		}
		for _, h := range []http.Header{
			{"If-None-Match": {etag}},
			{"If-None-Match": {`"other", ` + etag}},
			{"If-Modified-Since": {FeedLastModified}},
			{"If-Modified-Since": {"Tue, 03 Jun 2025 00:00:00 GMT"}},
		} {
			resp, body := get(t, srv.URL+path, h)
			if resp.StatusCode != http.StatusNotModified || len(body) != 0 || resp.Header.Get("ETag") != etag {
				t.Fatalf("%s %v: %d", path, h, resp.StatusCode)
			}
		}
		for _, h := range []http.Header{
			{"If-None-Match": {`"stale"`}},
			{"If-Modified-Since": {"Sun, 01 Jun 2025 00:00:00 GMT"}},
			// If-None-Match wins over If-Modified-Since.
			{"If-None-Match": {`"stale"`}, "If-Modified-Since": {FeedLastModified}},
		} {
			resp, again := get(t, srv.URL+path, h)
			if resp.StatusCode != 200 || !bytes.Equal(again, body) {
				t.Fatalf("%s %v: %d", path, h, resp.StatusCode)
			}
		}
	}
	if resp, _ := get(t, srv.URL+"/nope.xml", nil); resp.StatusCode != 404 {
		t.Fatalf("unknown path: %d", resp.StatusCode)
	}
	if resp, _ := get(t, srv.URL+"/images/sabah/missing.jpg", nil); resp.StatusCode != 404 {
		t.Fatalf("unreferenced image: %d", resp.StatusCode)
	}
}

func TestImages(t *testing.T) {
	feeds := FeedServer(t)
	yt := YouTubeServer(t, APIKey)
	tests := []struct {
		url  string
		w, h int
	}{
		{feeds.URL + "/images/sabah/cover.jpg", 1400, 1400},
		{feeds.URL + "/images/sabah/logo.jpg", 800, 450},
		{feeds.URL + "/images/sabah/ep-145.jpg", 800, 450},
		{feeds.URL + "/images/sabah/ep-144.jpg", 800, 450},
		{feeds.URL + "/images/sabah/ep-142.jpg", 800, 450},
		{feeds.URL + "/images/horizon/logo.jpg", 800, 450},
		{feeds.URL + "/images/talks/1001.jpg", 800, 450},
		{feeds.URL + "/images/talks/1002.jpg", 800, 450},
		{yt.URL + "/vi/q3NkUdL8bQc/maxresdefault.jpg", 1280, 720},
		{yt.URL + "/vi/Xr7pT2mWvYk/sddefault.jpg", 640, 480},
		{yt.URL + "/vi/aB9_cD-eF0g/hqdefault.jpg", 480, 360},
		{yt.URL + "/vi/aB9_cD-eF0g/mqdefault.jpg", 320, 180},
		{yt.URL + "/vi/aB9_cD-eF0g/default.jpg", 120, 90},
		{yt.URL + "/ytc/horizon-academy/s800.jpg", 800, 800},
		{yt.URL + "/ytc/horizon-academy/s88.jpg", 88, 88},
	}
	for _, tt := range tests {
		resp, body := get(t, tt.url, nil)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/jpeg" {
			t.Fatalf("%s: %d", tt.url, resp.StatusCode)
		}
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(body))
		if err != nil || cfg.Width != tt.w || cfg.Height != tt.h {
			t.Fatalf("%s: %v %dx%d", tt.url, err, cfg.Width, cfg.Height)
		}
		if _, err := jpeg.Decode(bytes.NewReader(body)); err != nil {
			t.Fatalf("%s: %v", tt.url, err)
		}
	}
	if resp, _ := get(t, yt.URL+"/vi/Xr7pT2mWvYk/maxresdefault.jpg", nil); resp.StatusCode != 404 {
		t.Fatalf("a thumbnail the fixtures do not list: %d", resp.StatusCode)
	}
	if !bytes.Equal(ImageJPEG("/images/a.jpg"), ImageJPEG("/images/a.jpg")) || bytes.Equal(ImageJPEG("/images/a.jpg"), ImageJPEG("/images/b.jpg")) {
		t.Fatal("images are not deterministic per path")
	}
}

func apiError(t *testing.T, body []byte) (int, string) {
	t.Helper()
	var doc struct {
		Error struct {
			Code   int `json:"code"`
			Errors []struct {
				Reason string `json:"reason"`
			} `json:"errors"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &doc); err != nil || len(doc.Error.Errors) == 0 {
		t.Fatalf("not an API error: %s", body)
	}
	return doc.Error.Code, doc.Error.Errors[0].Reason
}

func ids(t *testing.T, body []byte) string {
	t.Helper()
	var doc struct {
		NextPageToken string `json:"nextPageToken"`
		Items         []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, it := range doc.Items {
		out = append(out, it.ID)
	}
	return strings.Join(out, ",") + "|" + doc.NextPageToken
}

func TestYouTubeServer(t *testing.T) {
	srv := YouTubeServer(t, APIKey)
	api := srv.URL + YouTubeAPIPath
	key := "&key=" + APIKey

	for _, u := range []string{
		api + "/channels?part=snippet&id=" + YouTubeChannelID,
		api + "/channels?part=snippet&id=" + YouTubeChannelID + "&key=wrong",
	} {
		resp, body := get(t, u, nil)
		if code, reason := apiError(t, body); resp.StatusCode != 403 || code != 403 || reason != "forbidden" {
			t.Fatalf("%s: %d %s", u, resp.StatusCode, body)
		}
	}

	tests := []struct {
		query, want string
	}{
		{"/channels?part=snippet,contentDetails&id=" + YouTubeChannelID, YouTubeChannelID + "|"},
		{"/channels?part=snippet&id=UCnope", "|"},
		{"/playlists?part=snippet&id=" + YouTubePlaylistID + "," + YouTubeUploadsPlaylistID, YouTubePlaylistID + "," + YouTubeUploadsPlaylistID + "|"},
		{"/videos?part=contentDetails,snippet&id=Zy8xWv7UtSr,nope,q3NkUdL8bQc", "Zy8xWv7UtSr,q3NkUdL8bQc|"},
	}
	for _, tt := range tests {
		resp, body := get(t, api+tt.query+key, nil)
		if resp.StatusCode != 200 || ids(t, body) != tt.want {
			t.Fatalf("%s: %d %s", tt.query, resp.StatusCode, ids(t, body))
		}
	}

	for _, pl := range []string{YouTubeUploadsPlaylistID, YouTubePlaylistID} {
		_, page1 := get(t, api+"/playlistItems?part=snippet,contentDetails&maxResults=50&playlistId="+pl+key, nil)
		if !strings.HasSuffix(ids(t, page1), "|"+YouTubePageToken) || bytes.Contains(page1, []byte("{{")) ||
			!bytes.Contains(page1, []byte(`"playlistId": "`+pl+`"`)) || !bytes.Contains(page1, []byte(srv.URL+"/vi/")) {
			t.Fatalf("page 1 of %s: %s", pl, ids(t, page1))
		}
		_, page2 := get(t, api+"/playlistItems?part=snippet,contentDetails&maxResults=50&playlistId="+pl+"&pageToken="+YouTubePageToken+key, nil)
		if strings.Count(ids(t, page2), ",") != 2 || !strings.HasSuffix(ids(t, page2), "|") {
			t.Fatalf("page 2 of %s: %s", pl, ids(t, page2))
		}
	}

	errs := []struct {
		query  string
		status int
		reason string
	}{
		{"/playlistItems?part=snippet&playlistId=PLnope", 404, "playlistNotFound"},
		{"/playlistItems?part=snippet&playlistId=" + YouTubePlaylistID + "&pageToken=bogus", 400, "invalidPageToken"},
		{"/playlistItems?part=snippet&playlistId=" + YouTubePlaylistID + "&pageToken=../videos", 400, "invalidPageToken"},
		{"/playlistItems?part=snippet&maxResults=51&playlistId=" + YouTubePlaylistID, 400, "invalidParameter"},
		{"/channels?id=" + YouTubeChannelID, 400, "required"},
		{"/search?part=snippet&q=x", 404, "notFound"},
	}
	for _, e := range errs {
		resp, body := get(t, api+e.query+key, nil)
		if code, reason := apiError(t, body); resp.StatusCode != e.status || code != e.status || reason != e.reason {
			t.Fatalf("%s: %d %s", e.query, resp.StatusCode, body)
		}
	}
}

func TestFixtureBytes(t *testing.T) {
	for name, b := range map[string][]byte{
		"podcast": PodcastFeed(), "atom": AtomFeed(), "talks": TalksJSON(),
		"videos": YouTubeFile("videos.json"), "items": YouTubeFile("playlistItems.json"),
	} {
		if bytes.Contains(b, []byte("{{")) || !bytes.Contains(b, []byte(DefaultBase+"/")) {
			t.Errorf("%s: placeholders left or base missing", name)
		}
	}
	if !bytes.Contains(YouTubeFile("playlistItems.json"), []byte(YouTubeUploadsPlaylistID)) {
		t.Error("playlist placeholder not replaced")
	}
}
