// Package feedtest serves realistic upstream fixtures for ingest tests: a podcast RSS feed, an
// Atom feed and a JSON API document (FeedServer), and the YouTube Data API v3 (YouTubeServer), each
// with real JPEG images at the URLs the fixtures reference. The fixture files live in testdata/ and
// are embedded; "{{BASE}}" in them stands for the serving server's URL (DefaultBase for the
// functions that return bytes).
//
// Fixture summary (feed.ParseFeed / feed.ParseJSON / feed.YouTube results):
//
//   - podcast.xml: channel "صباح | Sabah", 6 items; 5 parse (GUIDs sabah-ep-145, sabah-ep-144,
//     sabah-ep-143, https://sabah-podcast.example/episodes/142 (no guid: the link), sabah-trailer),
//     sabah-ep-141 fails with invalid_media_url (relative enclosure URL).
//   - atom.xml: feed "Horizon Talks", 3 entries, all parse.
//   - talks.json (mapping TalksMapping): 6 items; 4 parse (GUIDs 1001, talk-1002, 1003, 1004),
//     1005 fails with missing_title, 1006 with invalid_date.
//   - YouTube: channel YouTubeChannelID (uploads YouTubeUploadsPlaylistID) and playlist
//     YouTubePlaylistID serve the same 7 entries over 2 pages (page token YouTubePageToken);
//     5 videos parse, hJ2kL9mN0pQ (private) and dE1eTeDv1d0 (deleted) are unavailable_video.
package feedtest

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"image"
	"image/color"
	"image/jpeg"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

//go:embed testdata
var files embed.FS

// DefaultBase replaces "{{BASE}}" in the fixtures returned by PodcastFeed, AtomFeed, TalksJSON and
// YouTubeFile.
const DefaultBase = "https://fixtures.mediamesh.example"

// Fixture identifiers.
const (
	// APIKey is a YouTube API key for YouTubeServer (any non-empty key may be configured).
	APIKey = "AIzaSyD-EXAMPLE-KEY-0123456789abcdef"
	// YouTubeAPIPath is where YouTubeServer serves the API: use server.URL + YouTubeAPIPath as the
	// base URL.
	YouTubeAPIPath = "/youtube/v3"
	// YouTubeChannelID is the fixture channel.
	YouTubeChannelID = "UCq8Zk3nYvLwTx2B5mRfH0aQ"
	// YouTubeUploadsPlaylistID is the uploads playlist of the fixture channel.
	YouTubeUploadsPlaylistID = "UUq8Zk3nYvLwTx2B5mRfH0aQ"
	// YouTubePlaylistID is a playlist of the fixture channel (same entries as the uploads).
	YouTubePlaylistID = "PLh7X2cV9bN4mQ1wE6rT8yU3iO5pA0sDfG"
	// YouTubePageToken is the token of the second playlistItems page.
	YouTubePageToken = "EAAaBlBUOkNBUQ"
	// FeedLastModified is the Last-Modified of every document FeedServer serves.
	FeedLastModified = "Mon, 02 Jun 2025 04:00:00 GMT"
)

// Mapping has the fields of feed.Mapping (this package cannot import feed, whose tests use it):
// convert with feed.Mapping(feedtest.TalksMapping).
type Mapping struct {
	ItemsPath, GUID, Title, Description, PublishedAt, Duration, MediaURL, ImageURL string
}

// TalksMapping is the JSON mapping for talks.json (JsonMapping: items_path $.data.items[*],
// guid id, title attributes.title, description attributes.summary, published_at
// attributes.published, duration attributes.length_seconds, media_url attributes.video.url,
// image_url attributes.poster.url).
var TalksMapping = Mapping{
	ItemsPath:   "$.data.items[*]",
	GUID:        "id",
	Title:       "attributes.title",
	Description: "attributes.summary",
	PublishedAt: "attributes.published",
	Duration:    "attributes.length_seconds",
	MediaURL:    "attributes.video.url",
	ImageURL:    "attributes.poster.url",
}

func read(name string) []byte {
	b, err := files.ReadFile("testdata/" + name)
	if err != nil {
		panic("feedtest: missing fixture " + name)
	}
	return b
}

func withBase(b []byte, base string) []byte {
	return bytes.ReplaceAll(b, []byte("{{BASE}}"), []byte(base))
}

// PodcastFeed returns the podcast RSS fixture with "{{BASE}}" replaced by DefaultBase.
func PodcastFeed() []byte { return withBase(read("podcast.xml"), DefaultBase) }

// AtomFeed returns the Atom fixture with "{{BASE}}" replaced by DefaultBase.
func AtomFeed() []byte { return withBase(read("atom.xml"), DefaultBase) }

// TalksJSON returns the JSON API fixture (see TalksMapping) with "{{BASE}}" replaced by DefaultBase.
func TalksJSON() []byte { return withBase(read("talks.json"), DefaultBase) }

// YouTubeFile returns one YouTube API fixture (channels.json, playlists.json, playlistItems.json,
// playlistItems_<token>.json, videos.json) with "{{BASE}}" replaced by DefaultBase and
// "{{PLAYLIST}}" by YouTubeUploadsPlaylistID.
func YouTubeFile(name string) []byte {
	b := withBase(read("youtube/"+name), DefaultBase)
	return bytes.ReplaceAll(b, []byte("{{PLAYLIST}}"), []byte(YouTubeUploadsPlaylistID))
}

// imageRef finds the image paths the fixtures reference.
var imageRef = regexp.MustCompile(`\{\{BASE\}\}(/[A-Za-z0-9_./-]+\.jpg)`)

// images serves generated JPEGs at the paths the fixtures reference, and 404 elsewhere.
type images struct {
	paths map[string]bool
	mu    sync.Mutex
	cache map[string][]byte
}

func newImages() *images {
	im := &images{paths: map[string]bool{}, cache: map[string][]byte{}}
	for _, name := range []string{"podcast.xml", "atom.xml", "talks.json", "youtube/channels.json",
		"youtube/playlists.json", "youtube/playlistItems.json", "youtube/playlistItems_" + YouTubePageToken + ".json",
		"youtube/videos.json"} {
		for _, m := range imageRef.FindAllSubmatch(read(name), -1) {
			im.paths[string(m[1])] = true
		}
	}
	return im
}

// ytThumbSizes are the sizes of YouTube's video thumbnail names.
var ytThumbSizes = map[string][2]int{
	"default.jpg":       {120, 90},
	"mqdefault.jpg":     {320, 180},
	"hqdefault.jpg":     {480, 360},
	"sddefault.jpg":     {640, 480},
	"maxresdefault.jpg": {1280, 720},
}

// imageSize is the size of the image at p: YouTube video thumbnails by name, channel avatars
// sN.jpg as N×N, cover.jpg 1400×1400, everything else 800×450.
func imageSize(p string) (int, int) {
	base := path.Base(p)
	if s, ok := ytThumbSizes[base]; ok && strings.HasPrefix(p, "/vi/") {
		return s[0], s[1]
	}
	if strings.HasPrefix(base, "s") {
		if n, err := strconv.Atoi(strings.TrimSuffix(base[1:], ".jpg")); err == nil && n > 0 && n <= 2048 {
			return n, n
		}
	}
	if base == "cover.jpg" {
		return 1400, 1400
	}
	return 800, 450
}

// ImageJPEG renders the fixture image for path p (deterministic): a horizontal gradient from a
// colour derived from p to a darker shade, with a lighter band across the middle.
func ImageJPEG(p string) []byte {
	w, h := imageSize(p)
	hf := fnv.New32a()
	hf.Write([]byte(p))
	sum := hf.Sum32()
	r0, g0, b0 := 64+int(sum&0x7f), 64+int(sum>>8&0x7f), 64+int(sum>>16&0x7f)
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for x := 0; x < w; x++ {
		f := 1 - 0.6*float64(x)/float64(w)
		c := color.RGBA{uint8(float64(r0) * f), uint8(float64(g0) * f), uint8(float64(b0) * f), 255}
		for y := 0; y < h; y++ {
			cc := c
			if y > h*2/5 && y < h*3/5 {
				cc = color.RGBA{c.R/2 + 120, c.G/2 + 120, c.B/2 + 120, 255}
			}
			img.SetRGBA(x, y, cc)
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 80}); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

func (im *images) serve(w http.ResponseWriter, r *http.Request) bool {
	if !im.paths[r.URL.Path] {
		return false
	}
	im.mu.Lock()
	b, ok := im.cache[r.URL.Path]
	if !ok {
		b = ImageJPEG(r.URL.Path)
		im.cache[r.URL.Path] = b
	}
	im.mu.Unlock()
	w.Header().Set("Content-Type", "image/jpeg")
	w.Header().Set("Cache-Control", "public, max-age=86400")
	http.ServeContent(w, r, path.Base(r.URL.Path), time.Time{}, bytes.NewReader(b))
	return true
}

// FeedServer serves, with "{{BASE}}" rewritten to its own URL:
//
//   - /podcast.xml (application/rss+xml), /atom.xml (application/atom+xml) and /talks.json
//     (application/json), each with a strong ETag (a hash of the served bytes) and Last-Modified
//     FeedLastModified, answering 304 to a matching If-None-Match or If-Modified-Since;
//   - the JPEG images those documents reference (see ImageJPEG);
//   - 404 for anything else.
//
// The server is closed when the test ends.
func FeedServer(t testing.TB) *httptest.Server {
	t.Helper()
	im := newImages()
	lastMod, err := time.Parse(http.TimeFormat, FeedLastModified)
	if err != nil {
		panic(err)
	}
	docs := map[string]string{
		"/podcast.xml": "application/rss+xml; charset=utf-8",
		"/atom.xml":    "application/atom+xml; charset=utf-8",
		"/talks.json":  "application/json",
	}
	var srv *httptest.Server
	var once sync.Once
	bodies := map[string][]byte{}
	srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if ct, ok := docs[r.URL.Path]; ok {
			once.Do(func() {
				for p := range docs {
					bodies[p] = withBase(read(strings.TrimPrefix(p, "/")), srv.URL)
				}
			})
			body := bodies[r.URL.Path]
			sum := sha256.Sum256(body)
			w.Header().Set("ETag", `"`+hex.EncodeToString(sum[:8])+`"`)
			w.Header().Set("Content-Type", ct)
			http.ServeContent(w, r, "", lastMod, bytes.NewReader(body))
			return
		}
		if im.serve(w, r) {
			return
		}
		http.NotFound(w, r)
	}))
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// ytError writes an error document shaped like the API's.
func ytError(w http.ResponseWriter, code int, status, reason, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{
		"code":    code,
		"message": msg,
		"errors":  []map[string]any{{"message": msg, "domain": "youtube.api", "reason": reason}},
		"status":  status,
	}})
}

// YouTubeServer serves the YouTube Data API v3 fixtures under YouTubeAPIPath, with "{{BASE}}"
// rewritten to its own URL, and the thumbnails they reference (see ImageJPEG):
//
//   - every API call must carry key=apiKey, else 403 with an API error document
//     (reason "forbidden");
//   - GET channels?id=..., playlists?id=..., videos?id=a,b,... answer the fixture items with
//     those ids (none: an empty items list, as the API does); part is required;
//   - GET playlistItems?playlistId=P[&pageToken=T] serves playlistItems.json, or
//     playlistItems_T.json for a page token, for P = YouTubeUploadsPlaylistID or
//     YouTubePlaylistID (404 playlistNotFound otherwise; 400 invalidPageToken for an unknown
//     token); maxResults above 50 is a 400;
//   - anything else is 404.
//
// The server is closed when the test ends.
func YouTubeServer(t testing.TB, apiKey string) *httptest.Server {
	t.Helper()
	im := newImages()
	var srv *httptest.Server
	srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if im.serve(w, r) {
			return
		}
		endpoint, ok := strings.CutPrefix(r.URL.Path, YouTubeAPIPath+"/")
		if !ok || r.Method != http.MethodGet {
			ytError(w, http.StatusNotFound, "NOT_FOUND", "notFound", "The requested URL was not found on this server.")
			return
		}
		q := r.URL.Query()
		if q.Get("key") == "" || q.Get("key") != apiKey {
			ytError(w, http.StatusForbidden, "PERMISSION_DENIED", "forbidden", "API key not valid. Please pass a valid API key.")
			return
		}
		if q.Get("part") == "" {
			ytError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "required", "No filter selected. Expected one of: part")
			return
		}
		if mr := q.Get("maxResults"); mr != "" {
			if n, err := strconv.Atoi(mr); err != nil || n < 0 || n > 50 {
				ytError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "invalidParameter", "Invalid value for maxResults.")
				return
			}
		}
		base := srv.URL
		switch endpoint {
		case "channels", "playlists", "videos":
			ids := strings.Split(q.Get("id"), ",")
			body, err := filterItems(withBase(read("youtube/"+endpoint+".json"), base), ids)
			if err != nil {
				ytError(w, http.StatusInternalServerError, "INTERNAL", "backendError", err.Error())
				return
			}
			writeJSON(w, body)
		case "playlistItems":
			pl := q.Get("playlistId")
			if pl != YouTubeUploadsPlaylistID && pl != YouTubePlaylistID {
				ytError(w, http.StatusNotFound, "NOT_FOUND", "playlistNotFound",
					"The playlist identified with the request's <code>playlistId</code> parameter cannot be found.")
				return
			}
			name := "playlistItems.json"
			if tok := q.Get("pageToken"); tok != "" {
				name = "playlistItems_" + tok + ".json"
				if strings.ContainsAny(tok, "/\\.") {
					name = ""
				}
			}
			data, err := files.ReadFile("testdata/youtube/" + name)
			if name == "" || err != nil {
				ytError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "invalidPageToken", "The request specifies an invalid page token.")
				return
			}
			data = bytes.ReplaceAll(withBase(data, base), []byte("{{PLAYLIST}}"), []byte(pl))
			writeJSON(w, data)
		default:
			ytError(w, http.StatusNotFound, "NOT_FOUND", "notFound", "The requested URL was not found on this server.")
		}
	}))
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

func writeJSON(w http.ResponseWriter, body []byte) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.Write(body)
}

// filterItems keeps the items of a list answer whose id is in ids, in the order of ids.
func filterItems(doc []byte, ids []string) ([]byte, error) {
	var list map[string]json.RawMessage
	if err := json.Unmarshal(doc, &list); err != nil {
		return nil, fmt.Errorf("fixture: %w", err)
	}
	var items []json.RawMessage
	if err := json.Unmarshal(list["items"], &items); err != nil {
		return nil, fmt.Errorf("fixture items: %w", err)
	}
	byID := map[string]json.RawMessage{}
	for _, it := range items {
		var head struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(it, &head); err != nil {
			return nil, fmt.Errorf("fixture item: %w", err)
		}
		byID[head.ID] = it
	}
	kept := []json.RawMessage{}
	var seen []string
	for _, id := range ids {
		if it, ok := byID[id]; ok && !slices.Contains(seen, id) {
			seen = append(seen, id)
			kept = append(kept, it)
		}
	}
	list["items"], _ = json.Marshal(kept)
	list["pageInfo"], _ = json.Marshal(map[string]int{"totalResults": len(kept), "resultsPerPage": len(kept)})
	return json.MarshalIndent(list, "", "  ")
}
