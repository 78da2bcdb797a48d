// Package feed parses upstream documents into one normalised shape, Result: RSS 2.0, Atom and
// podcast feeds (ParseFeed), the YouTube Data API v3 (YouTube) and arbitrary JSON APIs described by
// a Mapping (ParseJSON). It does no networking of its own: callers fetch (with package fetch) and
// hand over bytes, or give YouTube a Get function.
//
// Every input item ends up in exactly one place: Result.Items when it can be ingested, or the
// []ItemError when it cannot (with the first problem found); the one exception is a YouTube video
// listed twice in a playlist, which is one item. Item text is normalised: valid UTF-8
// without control characters, trimmed, titles on one line and at most MaxTitleRunes runes,
// descriptions turned from HTML into plain text (paragraphs separated by a blank line) and at most
// MaxDescriptionRunes runes. A title or description that shows nothing (only spaces and invisible
// characters such as U+200B, U+202E or U+3000: the CMS's rule for human text, internal/humantext)
// counts as empty: an item without a visible title fails with missing_title, a description without
// a visible character is left out. URLs (links, images) are kept only when they are absolute
// http(s) URLs; a media URL that is not one fails its item.
package feed

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mmcdole/gofeed"
)

// Channel describes the source as a whole (podcast, channel, playlist).
type Channel struct {
	// Title, Description (plain text), Language (as the source writes it, for example "ar" or
	// "en-us"), ImageURL (artwork), Link (web page) and Author of the source; empty when unknown.
	Title, Description, Language, ImageURL, Link, Author string
	// Categories are the source's categories, trimmed and without duplicates.
	Categories []string
	// Explicit is the source's explicit-content flag (itunes:explicit).
	Explicit bool
}

// Item is one episode or video.
type Item struct {
	// GUID identifies the item within its source (at most MaxGUIDRunes runes); never empty.
	GUID string
	// Title is never empty and always has a visible character. Description is plain text.
	Title, Description string
	// Link is the item's web page.
	Link string
	// PublishedAt is nil when the source gives no date. Always UTC.
	PublishedAt *time.Time
	// DurationSeconds is 0 when unknown.
	DurationSeconds int
	// MediaURL is the enclosure (or video page) URL, MediaType its MIME type and MediaBytes its
	// announced size; empty or 0 when unknown.
	MediaURL, MediaType string
	MediaBytes          int64
	// ImageURL is the item's own artwork, empty when it has none.
	ImageURL string
	// EpisodeNumber and SeasonNumber are 0 when unknown.
	EpisodeNumber, SeasonNumber int
	// Language is the item's own language when the source says so (dc:language, YouTube's
	// defaultAudioLanguage); empty means the channel's.
	Language string
	// Explicit is the item's explicit-content flag, the channel's when the item does not say.
	Explicit bool
}

// Result is a parsed document.
type Result struct {
	Channel Channel
	Items   []Item
	// Truncated is true when the document had more items than were read (MaxItems for feeds and
	// JSON, YouTube.MaxItems for YouTube); the extra ones were ignored.
	Truncated bool
}

// Codes of ItemError.
const (
	// CodeMissingGUID: the item has no GUID (nor link nor enclosure URL, for feeds).
	CodeMissingGUID = "missing_guid"
	// CodeInvalidGUID: the GUID is longer than MaxGUIDRunes runes.
	CodeInvalidGUID = "invalid_guid"
	// CodeMissingTitle: the item has no title.
	CodeMissingTitle = "missing_title"
	// CodeInvalidDate: the publication date cannot be read.
	CodeInvalidDate = "invalid_date"
	// CodeInvalidDuration: the duration cannot be read.
	CodeInvalidDuration = "invalid_duration"
	// CodeInvalidMediaURL: the media URL is not an absolute http(s) URL.
	CodeInvalidMediaURL = "invalid_media_url"
	// CodeUnavailableVideo: a YouTube playlist entry is a private or deleted video.
	CodeUnavailableVideo = "unavailable_video"
)

// ItemError is why one item of a document was not turned into an Item.
type ItemError struct {
	// GUID is the item's GUID when it could be read (at most MaxGUIDRunes runes), else "".
	GUID string
	// Code is one of the Code constants.
	Code string
	// Message explains the problem.
	Message string
}

// Error formats the item error.
func (e ItemError) Error() string {
	if e.GUID == "" {
		return e.Code + ": " + e.Message
	}
	return fmt.Sprintf("item %q: %s: %s", e.GUID, e.Code, e.Message)
}

// itemErr builds an ItemError, cutting an over-long GUID so the error can still be stored.
func itemErr(guid, code, format string, args ...any) ItemError {
	return ItemError{GUID: truncateRunes(guid, MaxGUIDRunes), Code: code, Message: fmt.Sprintf(format, args...)}
}

// checkGUID validates a cleaned GUID.
func checkGUID(guid string) *ItemError {
	if guid == "" {
		e := itemErr("", CodeMissingGUID, "the item has no GUID")
		return &e
	}
	if n := len([]rune(guid)); n > MaxGUIDRunes {
		e := itemErr(guid, CodeInvalidGUID, "GUID is %d characters long (at most %d)", n, MaxGUIDRunes)
		return &e
	}
	return nil
}

// ParseFeed parses an RSS 2.0, Atom (or JSON Feed) document, with the iTunes podcast extension.
// A document that is not a feed at all is an error; problems of single items are ItemErrors:
//
//   - GUID: the item's guid (Atom: id), else its link, else its enclosure URL; none:
//     missing_guid; longer than MaxGUIDRunes: invalid_guid;
//   - no title: missing_title;
//   - a publication date that is present but cannot be read: invalid_date;
//   - an itunes:duration that is present but is not seconds, MM:SS, HH:MM:SS or ISO 8601:
//     invalid_duration;
//   - an enclosure URL that is not an absolute http(s) URL: invalid_media_url.
//
// Only the first MaxItems items are read.
func ParseFeed(data []byte) (*Result, []ItemError, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil, errors.New("feed: the document is empty")
	}
	f, err := parseGofeed(data)
	if err != nil {
		if errors.Is(err, gofeed.ErrFeedTypeNotDetected) {
			return nil, nil, errors.New("feed: not an RSS, Atom or JSON feed")
		}
		return nil, nil, fmt.Errorf("feed: malformed document: %s", cleanErr(err))
	}

	res := &Result{Channel: channelOf(f)}
	var itemErrs []ItemError
	items := f.Items
	if len(items) > MaxItems {
		items = items[:MaxItems]
		res.Truncated = true
	}
	for _, it := range items {
		if it == nil {
			continue
		}
		item, ie := itemOf(it, res.Channel.Explicit)
		if ie != nil {
			itemErrs = append(itemErrs, *ie)
			continue
		}
		res.Items = append(res.Items, item)
	}
	return res, itemErrs, nil
}

// parseGofeed runs gofeed on data. gofeed is a third-party parser of untrusted input: a panic in
// it is reported as a malformed document.
func parseGofeed(data []byte) (f *gofeed.Feed, err error) {
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, fmt.Errorf("parser failure: %v", r)
		}
	}()
	p := gofeed.NewParser()
	// Images are taken from explicit elements only, never guessed from <img> tags in descriptions.
	p.RSSTranslator = &gofeed.DefaultRSSTranslator{DisableContentImageScan: true}
	return p.Parse(bytes.NewReader(data))
}

// cleanErr makes a parser error message fit for a run record: one line, bounded.
func cleanErr(err error) string {
	return truncateRunes(singleLine(err.Error()), 300)
}

func channelOf(f *gofeed.Feed) Channel {
	ch := Channel{
		Title:       cleanTitle(f.Title),
		Description: cleanDescription(f.Description),
		Language:    singleLine(f.Language),
		Link:        optionalURL(f.Link),
	}
	it := f.ITunesExt
	if it != nil {
		ch.ImageURL = optionalURL(it.Image)
		ch.Author = singleLine(it.Author)
		ch.Explicit = parseExplicit(it.Explicit)
		if ch.Description == "" {
			ch.Description = cleanDescription(it.Summary)
		}
	}
	if ch.ImageURL == "" && f.Image != nil {
		ch.ImageURL = optionalURL(f.Image.URL)
	}
	if ch.Author == "" {
		for _, a := range f.Authors {
			if a != nil && singleLine(a.Name) != "" {
				ch.Author = singleLine(a.Name)
				break
			}
		}
	}
	var cats []string
	if it != nil && len(it.Categories) > 0 {
		for _, c := range it.Categories {
			for c != nil {
				cats = append(cats, c.Text)
				c = c.Subcategory
			}
		}
	} else {
		cats = f.Categories
	}
	ch.Categories = uniqueStrings(cats)
	return ch
}

// uniqueStrings cleans, drops empty and repeated strings (case-insensitively), keeping order.
func uniqueStrings(in []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range in {
		s = truncateRunes(singleLine(s), 100)
		k := strings.ToLower(s)
		if s == "" || seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, s)
	}
	return out
}

// parseExplicit reads itunes:explicit ("yes", "true", "explicit" are explicit).
func parseExplicit(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "yes", "true", "explicit", "1":
		return true
	}
	return false
}

// explicitSet reports whether an itunes:explicit value says anything.
func explicitSet(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "yes", "true", "explicit", "1", "no", "false", "clean", "0":
		return true
	}
	return false
}

// mediaEnclosure picks the first audio or video enclosure, else the first enclosure.
func mediaEnclosure(encs []*gofeed.Enclosure) *gofeed.Enclosure {
	var first *gofeed.Enclosure
	for _, e := range encs {
		if e == nil {
			continue
		}
		if first == nil {
			first = e
		}
		t := strings.ToLower(strings.TrimSpace(e.Type))
		if strings.HasPrefix(t, "audio/") || strings.HasPrefix(t, "video/") {
			return e
		}
	}
	return first
}

func itemOf(it *gofeed.Item, channelExplicit bool) (Item, *ItemError) {
	enc := mediaEnclosure(it.Enclosures)
	var encURL string
	if enc != nil {
		encURL = strings.TrimSpace(enc.URL)
	}
	guid := singleLine(it.GUID)
	if guid == "" {
		guid = singleLine(it.Link)
	}
	if guid == "" {
		guid = singleLine(encURL)
	}
	if ie := checkGUID(guid); ie != nil {
		if t := cleanTitle(it.Title); t != "" && ie.Code == CodeMissingGUID {
			ie.Message = fmt.Sprintf("the item %q has no guid, link or enclosure URL", t)
		}
		return Item{}, ie
	}
	out := Item{
		GUID:        guid,
		Title:       cleanTitle(it.Title),
		Description: cleanDescription(it.Description),
		Link:        optionalURL(it.Link),
		Explicit:    channelExplicit,
	}
	if out.Title == "" {
		return Item{}, new(itemErr(guid, CodeMissingTitle, "the item has no title"))
	}
	if out.Description == "" {
		out.Description = cleanDescription(it.Content)
	}

	if it.PublishedParsed != nil {
		t := it.PublishedParsed.UTC()
		out.PublishedAt = &t
	} else if p := strings.TrimSpace(it.Published); p != "" {
		return Item{}, new(itemErr(guid, CodeInvalidDate, "publication date %q cannot be read", truncateRunes(singleLine(p), 100)))
	}

	if enc != nil {
		u, ok := absoluteHTTPURL(encURL)
		if !ok {
			return Item{}, new(itemErr(guid, CodeInvalidMediaURL, "enclosure URL %q is not an absolute http(s) URL", truncateRunes(singleLine(encURL), 200)))
		}
		out.MediaURL = u
		out.MediaType = singleLine(enc.Type)
		if n, err := strconv.ParseInt(strings.TrimSpace(enc.Length), 10, 64); err == nil && n > 0 {
			out.MediaBytes = n
		}
	}

	if x := it.ITunesExt; x != nil {
		if d := strings.TrimSpace(x.Duration); d != "" {
			secs, err := parseDuration(d)
			if err != nil {
				return Item{}, new(itemErr(guid, CodeInvalidDuration, "itunes:duration %q: %v", truncateRunes(singleLine(d), 50), err))
			}
			out.DurationSeconds = secs
		}
		out.ImageURL = optionalURL(x.Image)
		out.EpisodeNumber = positiveInt(x.Episode)
		out.SeasonNumber = positiveInt(x.Season)
		if explicitSet(x.Explicit) {
			out.Explicit = parseExplicit(x.Explicit)
		}
	}
	if out.ImageURL == "" && it.Image != nil {
		out.ImageURL = optionalURL(it.Image.URL)
	}
	if dc := it.DublinCoreExt; dc != nil && len(dc.Language) > 0 {
		out.Language = singleLine(dc.Language[0])
	}
	return out, nil
}

// positiveInt reads a positive integer, 0 for anything else.
func positiveInt(s string) int {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n <= 0 || n > 1<<30 {
		return 0
	}
	return n
}
