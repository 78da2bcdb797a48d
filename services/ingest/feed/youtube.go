package feed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// DefaultYouTubeBaseURL is the YouTube Data API v3 endpoint.
const DefaultYouTubeBaseURL = "https://www.googleapis.com/youtube/v3"

// DefaultYouTubeMaxItems is how many playlist entries YouTube reads by default.
const DefaultYouTubeMaxItems = 200

// youTubePageSize is the largest page (and videos.list batch) the API allows.
const youTubePageSize = 50

// YouTube reads a channel's uploads or a playlist through the YouTube Data API v3. The zero value
// is not usable: Get is required.
type YouTube struct {
	// BaseURL is the API root without a trailing slash; default DefaultYouTubeBaseURL.
	BaseURL string
	// Get performs one GET and returns the response body. On a non-2xx answer it should return an
	// error; it may also return the answer's body with that error, so the API's own error message
	// (quota exceeded, bad key...) ends up in the returned error.
	Get func(ctx context.Context, url string) ([]byte, error)
	// MaxItems is how many playlist entries are read at most (newest first, as the API lists
	// them); default DefaultYouTubeMaxItems.
	MaxItems int
}

// Channel reads the uploads of a channel: GET channels (title, description, thumbnail and the
// uploads playlist), then the playlist items and their videos as in Playlist. Errors: the channel
// does not exist, has no uploads playlist, an API error, or a request or decoding failure; the API
// key never appears in them.
func (y YouTube) Channel(ctx context.Context, apiKey, channelID string) (*Result, []ItemError, error) {
	var resp ytChannelList
	q := url.Values{"part": {"snippet,contentDetails"}, "id": {channelID}}
	if err := y.call(ctx, "channels", q, apiKey, &resp); err != nil {
		return nil, nil, err
	}
	if len(resp.Items) == 0 {
		return nil, nil, fmt.Errorf("youtube: channel %q not found", channelID)
	}
	c := resp.Items[0]
	uploads := c.ContentDetails.RelatedPlaylists.Uploads
	if uploads == "" {
		return nil, nil, fmt.Errorf("youtube: channel %q has no uploads playlist", channelID)
	}
	ch := Channel{
		Title:       cleanTitle(c.Snippet.Title),
		Description: plainDescription(c.Snippet.Description),
		Language:    singleLine(c.Snippet.DefaultLanguage),
		ImageURL:    c.Snippet.Thumbnails.best(),
		Link:        "https://www.youtube.com/channel/" + url.PathEscape(c.ID),
		Author:      singleLine(c.Snippet.Title),
	}
	return y.items(ctx, apiKey, uploads, ch)
}

// Playlist reads a playlist: GET playlists (its title, description, thumbnail and channel), then
// pages of playlistItems (50 at a time, up to MaxItems), then videos in batches of 50 for the
// durations, languages and age restriction. Private and deleted entries, and entries the videos
// call does not return, are ItemErrors with code unavailable_video; a video listed twice is one
// item. Result.Truncated is set when the playlist has more than MaxItems entries. Errors as for
// Channel.
func (y YouTube) Playlist(ctx context.Context, apiKey, playlistID string) (*Result, []ItemError, error) {
	var resp ytPlaylistList
	q := url.Values{"part": {"snippet"}, "id": {playlistID}}
	if err := y.call(ctx, "playlists", q, apiKey, &resp); err != nil {
		return nil, nil, err
	}
	if len(resp.Items) == 0 {
		return nil, nil, fmt.Errorf("youtube: playlist %q not found", playlistID)
	}
	p := resp.Items[0]
	ch := Channel{
		Title:       cleanTitle(p.Snippet.Title),
		Description: plainDescription(p.Snippet.Description),
		Language:    singleLine(p.Snippet.DefaultLanguage),
		ImageURL:    p.Snippet.Thumbnails.best(),
		Link:        "https://www.youtube.com/playlist?list=" + url.QueryEscape(p.ID),
		Author:      singleLine(p.Snippet.ChannelTitle),
	}
	return y.items(ctx, apiKey, playlistID, ch)
}

// items reads the entries of a playlist and their videos.
func (y YouTube) items(ctx context.Context, apiKey, playlistID string, ch Channel) (*Result, []ItemError, error) {
	maxItems := y.MaxItems
	if maxItems <= 0 {
		maxItems = DefaultYouTubeMaxItems
	}
	res := &Result{Channel: ch}
	var entries []ytPlaylistItem
	token := ""
	seenTokens := map[string]bool{}
	for {
		q := url.Values{
			"part":       {"snippet,contentDetails"},
			"maxResults": {fmt.Sprint(youTubePageSize)},
			"playlistId": {playlistID},
		}
		if token != "" {
			q.Set("pageToken", token)
		}
		var page ytPlaylistItemList
		if err := y.call(ctx, "playlistItems", q, apiKey, &page); err != nil {
			return nil, nil, err
		}
		entries = append(entries, page.Items...)
		if len(entries) >= maxItems {
			if len(entries) > maxItems || page.NextPageToken != "" {
				res.Truncated = true
			}
			entries = entries[:maxItems]
			break
		}
		if page.NextPageToken == "" {
			break
		}
		if seenTokens[page.NextPageToken] {
			return nil, nil, errors.New("youtube: playlistItems returned a page token twice")
		}
		seenTokens[page.NextPageToken] = true
		token = page.NextPageToken
	}

	var itemErrs []ItemError
	var ids []string
	accepted := make([]ytPlaylistItem, 0, len(entries))
	seen := map[string]bool{}
	for _, e := range entries {
		id := e.videoID()
		guid := "yt:video:" + id
		switch {
		case id == "":
			itemErrs = append(itemErrs, itemErr("", CodeMissingGUID, "playlist entry %q has no video id", truncateRunes(singleLine(e.ID), 100)))
		case e.unavailable():
			itemErrs = append(itemErrs, itemErr(guid, CodeUnavailableVideo, "%s (%s)", singleLine(e.Snippet.Title), singleLine(e.Snippet.Description)))
		case seen[id]:
			// A video listed twice in a playlist is one item.
		default:
			seen[id] = true
			ids = append(ids, id)
			accepted = append(accepted, e)
		}
	}

	videos := map[string]ytVideo{}
	for start := 0; start < len(ids); start += youTubePageSize {
		batch := ids[start:min(start+youTubePageSize, len(ids))]
		var vl ytVideoList
		q := url.Values{"part": {"contentDetails,snippet"}, "id": {strings.Join(batch, ",")}}
		if err := y.call(ctx, "videos", q, apiKey, &vl); err != nil {
			return nil, nil, err
		}
		for _, v := range vl.Items {
			videos[v.ID] = v
		}
	}

	for _, e := range accepted {
		id := e.videoID()
		guid := "yt:video:" + id
		v, ok := videos[id]
		if !ok {
			itemErrs = append(itemErrs, itemErr(guid, CodeUnavailableVideo, "the video is not available (private, deleted or blocked)"))
			continue
		}
		item, ie := youTubeItem(e, v, guid, id)
		if ie != nil {
			itemErrs = append(itemErrs, *ie)
			continue
		}
		res.Items = append(res.Items, item)
	}
	return res, itemErrs, nil
}

func youTubeItem(e ytPlaylistItem, v ytVideo, guid, id string) (Item, *ItemError) {
	watch := "https://www.youtube.com/watch?v=" + url.QueryEscape(id)
	title := e.Snippet.Title
	if cleanTitle(title) == "" {
		title = v.Snippet.Title
	}
	desc := e.Snippet.Description
	if plainDescription(desc) == "" {
		desc = v.Snippet.Description
	}
	out := Item{
		GUID:        guid,
		Title:       cleanTitle(title),
		Description: plainDescription(desc),
		Link:        watch,
		MediaURL:    watch,
		ImageURL:    e.Snippet.Thumbnails.best(),
		Language:    singleLine(v.Snippet.DefaultAudioLanguage),
		Explicit:    v.ContentDetails.ContentRating.YtRating == "ytAgeRestricted",
	}
	if out.Title == "" {
		return Item{}, new(itemErr(guid, CodeMissingTitle, "the video has no title"))
	}
	if out.ImageURL == "" {
		out.ImageURL = v.Snippet.Thumbnails.best()
	}
	if out.Language == "" {
		out.Language = singleLine(v.Snippet.DefaultLanguage)
	}
	published := e.ContentDetails.VideoPublishedAt
	if published == "" {
		published = v.Snippet.PublishedAt
	}
	if published != "" {
		t, err := time.Parse(time.RFC3339Nano, published)
		if err != nil {
			return Item{}, new(itemErr(guid, CodeInvalidDate, "publication date %q cannot be read", truncateRunes(singleLine(published), 100)))
		}
		t = t.UTC()
		out.PublishedAt = &t
	}
	if d := v.ContentDetails.Duration; d != "" {
		secs, err := parseDuration(d)
		if err != nil {
			return Item{}, new(itemErr(guid, CodeInvalidDuration, "duration %q: %v", truncateRunes(singleLine(d), 50), err))
		}
		out.DurationSeconds = secs
	}
	return out, nil
}

// plainDescription is a plain-text description (YouTube's are never HTML).
func plainDescription(s string) string {
	return visibleOrEmpty(truncateRunes(plainText(s), MaxDescriptionRunes))
}

// call GETs base/endpoint?query&key=apiKey and decodes the JSON answer into out.
func (y YouTube) call(ctx context.Context, endpoint string, q url.Values, apiKey string, out any) error {
	if y.Get == nil {
		return errors.New("youtube: no Get function configured")
	}
	base := strings.TrimRight(y.BaseURL, "/")
	if base == "" {
		base = DefaultYouTubeBaseURL
	}
	q.Set("key", apiKey)
	body, err := y.Get(ctx, base+"/"+endpoint+"?"+q.Encode())
	if apiErr := parseAPIError(body); apiErr != "" {
		return redact(fmt.Errorf("youtube: %s: %s", endpoint, apiErr), err, apiKey)
	}
	if err != nil {
		return redact(fmt.Errorf("youtube: %s request failed: %w", endpoint, err), err, apiKey)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("youtube: %s: malformed answer: %s", endpoint, cleanErr(err))
	}
	return nil
}

// parseAPIError reads the API's error document ({"error": {"code": 403, "message": ...}}) and
// returns a one-line description, or "" when body is not one.
func parseAPIError(body []byte) string {
	if len(body) == 0 {
		return ""
	}
	var doc struct {
		Error *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
			Status  string `json:"status"`
			Errors  []struct {
				Reason string `json:"reason"`
			} `json:"errors"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &doc) != nil || doc.Error == nil {
		return ""
	}
	e := doc.Error
	msg := truncateRunes(singleLine(e.Message), 300)
	if msg == "" {
		msg = singleLine(e.Status)
	}
	if msg == "" {
		msg = "unknown error"
	}
	s := fmt.Sprintf("API error %d: %s", e.Code, msg)
	if len(e.Errors) > 0 && singleLine(e.Errors[0].Reason) != "" {
		s += " (reason " + truncateRunes(singleLine(e.Errors[0].Reason), 64) + ")"
	}
	return s
}

// redactedError carries a message without the API key and the cause for errors.Is/As.
type redactedError struct {
	msg   string
	cause error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.cause }

// redact removes the API key (plain and query-escaped) from err's message; cause stays reachable.
func redact(err, cause error, apiKey string) error {
	msg := err.Error()
	if apiKey != "" {
		msg = strings.ReplaceAll(msg, apiKey, "REDACTED")
		msg = strings.ReplaceAll(msg, url.QueryEscape(apiKey), "REDACTED")
	}
	return &redactedError{msg: msg, cause: cause}
}

// YouTube Data API v3 answers, only the fields used.

type ytThumbnail struct {
	URL string `json:"url"`
}

type ytThumbnails struct {
	Default  *ytThumbnail `json:"default"`
	Medium   *ytThumbnail `json:"medium"`
	High     *ytThumbnail `json:"high"`
	Standard *ytThumbnail `json:"standard"`
	Maxres   *ytThumbnail `json:"maxres"`
}

// best is the largest thumbnail: maxres, standard, high, medium, default.
func (t ytThumbnails) best() string {
	for _, th := range []*ytThumbnail{t.Maxres, t.Standard, t.High, t.Medium, t.Default} {
		if th != nil {
			if u := optionalURL(th.URL); u != "" {
				return u
			}
		}
	}
	return ""
}

func (t ytThumbnails) empty() bool {
	return t.Default == nil && t.Medium == nil && t.High == nil && t.Standard == nil && t.Maxres == nil
}

type ytChannelList struct {
	Items []struct {
		ID      string `json:"id"`
		Snippet struct {
			Title           string       `json:"title"`
			Description     string       `json:"description"`
			DefaultLanguage string       `json:"defaultLanguage"`
			Thumbnails      ytThumbnails `json:"thumbnails"`
		} `json:"snippet"`
		ContentDetails struct {
			RelatedPlaylists struct {
				Uploads string `json:"uploads"`
			} `json:"relatedPlaylists"`
		} `json:"contentDetails"`
	} `json:"items"`
}

type ytPlaylistList struct {
	Items []struct {
		ID      string `json:"id"`
		Snippet struct {
			Title           string       `json:"title"`
			Description     string       `json:"description"`
			ChannelTitle    string       `json:"channelTitle"`
			DefaultLanguage string       `json:"defaultLanguage"`
			Thumbnails      ytThumbnails `json:"thumbnails"`
		} `json:"snippet"`
	} `json:"items"`
}

type ytPlaylistItemList struct {
	NextPageToken string           `json:"nextPageToken"`
	Items         []ytPlaylistItem `json:"items"`
}

type ytPlaylistItem struct {
	ID      string `json:"id"`
	Snippet struct {
		Title               string       `json:"title"`
		Description         string       `json:"description"`
		Thumbnails          ytThumbnails `json:"thumbnails"`
		VideoOwnerChannelID string       `json:"videoOwnerChannelId"`
		ResourceID          struct {
			VideoID string `json:"videoId"`
		} `json:"resourceId"`
	} `json:"snippet"`
	ContentDetails struct {
		VideoID          string `json:"videoId"`
		VideoPublishedAt string `json:"videoPublishedAt"`
	} `json:"contentDetails"`
}

func (e ytPlaylistItem) videoID() string {
	id := strings.TrimSpace(e.ContentDetails.VideoID)
	if id == "" {
		id = strings.TrimSpace(e.Snippet.ResourceID.VideoID)
	}
	return id
}

// unavailable reports a private or deleted entry: the API lists them with a placeholder title,
// no thumbnails and no owner channel.
func (e ytPlaylistItem) unavailable() bool {
	switch e.Snippet.Title {
	case "Private video", "Deleted video":
		return e.Snippet.Thumbnails.empty() || e.Snippet.VideoOwnerChannelID == ""
	}
	return false
}

type ytVideoList struct {
	Items []ytVideo `json:"items"`
}

type ytVideo struct {
	ID      string `json:"id"`
	Snippet struct {
		PublishedAt          string       `json:"publishedAt"`
		Title                string       `json:"title"`
		Description          string       `json:"description"`
		Thumbnails           ytThumbnails `json:"thumbnails"`
		DefaultLanguage      string       `json:"defaultLanguage"`
		DefaultAudioLanguage string       `json:"defaultAudioLanguage"`
	} `json:"snippet"`
	ContentDetails struct {
		Duration      string `json:"duration"`
		ContentRating struct {
			YtRating string `json:"ytRating"`
		} `json:"contentRating"`
	} `json:"contentDetails"`
}
