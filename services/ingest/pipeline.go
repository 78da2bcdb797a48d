package ingest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"path"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/ent/ingestdb"
	"github.com/mediamesh/mediamesh/ent/ingestdb/item"
	"github.com/mediamesh/mediamesh/ent/ingestdb/run"
	"github.com/mediamesh/mediamesh/ent/ingestdb/source"
	"github.com/mediamesh/mediamesh/gen/openapi/cmsapi"
	"github.com/mediamesh/mediamesh/gen/openapi/commonapi"
	"github.com/mediamesh/mediamesh/gen/openapi/mediaapi"
	"github.com/mediamesh/mediamesh/internal/humantext"
	"github.com/mediamesh/mediamesh/services/ingest/feed"
	"github.com/mediamesh/mediamesh/services/ingest/fetch"
)

// ingest fetches, parses and stores the items of src for run r.
func (s *Service) ingest(ctx context.Context, src *ingestdb.Source, r *ingestdb.Run) *outcome {
	o := &outcome{status: run.StatusSucceeded}
	res, itemErrs := s.fetchAndParse(ctx, src, r.FullRefresh, o)
	if res == nil {
		return o
	}
	for _, e := range itemErrs {
		o.seen++
		o.itemError(e.GUID, e.Code, e.Message)
	}
	programID, err := s.program(ctx, src, res.Channel)
	if err != nil {
		o.fail("cms_error", "could not set up the program of the source: "+err.Error())
		return o
	}
	known, err := s.read.Item.Query().Where(item.SourceID(src.ID)).All(ctx)
	if err != nil {
		o.fail("internal", "could not read what was ingested before")
		return o
	}
	byGUID := make(map[string]*ingestdb.Item, len(known))
	for _, k := range known {
		byGUID[k.GUID] = k
	}
	// Oldest first, so numbers given in order follow publication.
	items := res.Items
	sort.SliceStable(items, func(i, j int) bool {
		a, b := items[i].PublishedAt, items[j].PublishedAt
		return a != nil && (b == nil || a.Before(*b))
	})
	next, err := s.nextNumber(ctx, programID)
	if err != nil {
		o.fail("cms_error", "could not read the program's episode numbers: "+err.Error())
		return o
	}
	for _, it := range items {
		if ctx.Err() != nil {
			o.fail("canceled", "the run was interrupted")
			return o
		}
		o.seen++
		s.item(ctx, src, programID, it, byGUID[it.GUID], &next, o)
	}
	if o.failed > 0 {
		o.status = run.StatusPartial
	}
	return o
}

// fetchAndParse fetches and parses the source. On failure it records why in o and returns nil.
func (s *Service) fetchAndParse(ctx context.Context, src *ingestdb.Source, full bool, o *outcome) (*feed.Result, []feed.ItemError) {
	var (
		res  *feed.Result
		errs []feed.ItemError
		err  error
	)
	switch src.Type {
	case source.TypeYoutube:
		var creds credentials
		if src.Credentials == nil {
			o.fail("missing_credentials", "the YouTube source has no API key")
			return nil, nil
		}
		if creds, err = s.seal.open(src.ID, *src.Credentials); err != nil {
			o.fail("bad_credentials", err.Error())
			return nil, nil
		}
		yt := feed.YouTube{BaseURL: s.cfg.YouTubeBaseURL, Get: func(ctx context.Context, u string) ([]byte, error) {
			resp, err := s.deps.Fetcher.Get(ctx, fetch.Request{URL: u})
			if err != nil {
				var fe *fetch.Error
				if errors.As(err, &fe) {
					return fe.Body, err
				}
				return nil, err
			}
			return resp.Body, nil
		}}
		if src.Youtube.PlaylistID != nil {
			res, errs, err = yt.Playlist(ctx, creds.APIKey, *src.Youtube.PlaylistID)
		} else {
			res, errs, err = yt.Channel(ctx, creds.APIKey, *src.Youtube.ChannelID)
		}
		if err != nil {
			s.fetchFailed(o, err, "youtube_error")
			return nil, nil
		}
		return res, errs
	}
	req := fetch.Request{URL: src.URL}
	if !full {
		req.ETag, req.LastModified = deref(src.Etag), deref(src.LastModified)
	}
	resp, err := s.deps.Fetcher.Get(ctx, req)
	if err != nil {
		s.fetchFailed(o, err, "fetch_error")
		return nil, nil
	}
	status := int32(resp.Status)
	o.httpStatus = &status
	if resp.ETag != "" {
		o.etag = &resp.ETag
	}
	if resp.LastModified != "" {
		o.lastMo = &resp.LastModified
	}
	if resp.NotModified {
		o.notModified = true
		return nil, nil
	}
	if src.Type == source.TypeJSON {
		res, errs, err = feed.ParseJSON(resp.Body, mapping(src.JSONMapping))
	} else {
		res, errs, err = feed.ParseFeed(resp.Body)
	}
	if err != nil {
		o.fail("parse_error", "the upstream document could not be read: "+err.Error())
		return nil, nil
	}
	return res, errs
}

// fetchFailed records a failed fetch in o, with the fetcher's code when it has one.
func (s *Service) fetchFailed(o *outcome, err error, fallback string) {
	var fe *fetch.Error
	if errors.As(err, &fe) {
		if fe.Status != 0 {
			st := int32(fe.Status)
			o.httpStatus = &st
		}
		o.fail(fe.Code, err.Error())
		return
	}
	o.fail(fallback, err.Error())
}

// program returns the CMS program the items of src go to: the target's, the one created for the
// source before, or a new draft made from the channel (with its artwork as cover).
func (s *Service) program(ctx context.Context, src *ingestdb.Source, ch feed.Channel) (uuid.UUID, error) {
	if p := src.Target.ProgramID; p != nil {
		id, err := uuid.Parse(*p)
		if err != nil {
			return uuid.Nil, err
		}
		resp, err := s.deps.CMS.GetProgramWithResponse(ctx, id)
		switch {
		case err != nil:
			return uuid.Nil, err
		case resp.JSON200 == nil:
			return uuid.Nil, fmt.Errorf("the target program %s: the CMS answered %d: %s", id, resp.StatusCode(), problem(resp.Body))
		case resp.JSON200.DeletedAt != nil:
			return uuid.Nil, fmt.Errorf("the target program %s was deleted in the CMS", id)
		}
		return id, nil
	}
	if src.ProgramID != nil {
		resp, err := s.deps.CMS.GetProgramWithResponse(ctx, *src.ProgramID)
		if err != nil {
			return uuid.Nil, err
		}
		if resp.JSON200 != nil {
			if resp.JSON200.DeletedAt != nil {
				return uuid.Nil, fmt.Errorf("its program %s was deleted in the CMS: restore it, or purge it to have a new one made", *src.ProgramID)
			}
			return *src.ProgramID, nil
		}
		if resp.StatusCode() != http.StatusNotFound {
			return uuid.Nil, fmt.Errorf("the CMS answered %d reading program %s", resp.StatusCode(), *src.ProgramID)
		}
		// Deleted in the CMS: make a new one.
	}
	title := firstVisible(ch.Title, src.Name)
	body := cmsapi.ProgramCreate{
		Kind: cmsapi.ProgramKind(src.Target.DefaultKind), Title: title,
		Slug: slug(title, src.ID), Language: commonapi.LanguageCode(src.Target.DefaultLanguage),
	}
	if d := cmsText(ch.Description, maxSummary); d != "" {
		body.Summary = &d
	}
	if c := src.Target.DefaultCategoryID; c != nil {
		if id, err := uuid.Parse(*c); err == nil {
			body.CategoryId = &id
		}
	}
	resp, err := s.deps.CMS.CreateProgramWithResponse(ctx, &cmsapi.CreateProgramParams{}, body)
	if err != nil {
		return uuid.Nil, err
	}
	if resp.JSON201 == nil {
		return uuid.Nil, fmt.Errorf("the CMS answered %d creating the program: %s", resp.StatusCode(), problem(resp.Body))
	}
	id := resp.JSON201.Id
	if err := s.read.Source.UpdateOneID(src.ID).SetProgramID(id).Exec(ctx); err != nil {
		return uuid.Nil, err
	}
	if ch.ImageURL != "" {
		// The cover is a nicety: a program without one is still ingested.
		if asset, err := s.image(ctx, ch.ImageURL, "program", id); err != nil {
			s.log.WarnContext(ctx, "could not store the program's cover", "source_id", src.ID, "error", err)
		} else if err := s.setCover(ctx, id, asset); err != nil {
			s.log.WarnContext(ctx, "could not set the program's cover", "source_id", src.ID, "error", err)
		}
	}
	return id, nil
}

// item creates or updates the draft episode of it; known is what an earlier run made of it. An
// item already ingested, unchanged and with its thumbnail is skipped; one whose title shows nothing
// within the CMS's length is a missing title.
func (s *Service) item(ctx context.Context, src *ingestdb.Source, programID uuid.UUID, it feed.Item, known *ingestdb.Item, next *int32, o *outcome) {
	if cmsText(it.Title, maxTitle) == "" {
		o.itemError(it.GUID, feed.CodeMissingTitle, fmt.Sprintf("the title shows nothing in its first %d characters", maxTitle))
		return
	}
	hash := itemHash(it)
	switch {
	case known != nil && known.ContentHash == hash && (known.ThumbnailAssetID != nil || it.ImageURL == ""):
		o.skipped++
		return
	case known != nil:
		changed, err := s.updateEpisode(ctx, known, it, hash)
		switch {
		case err != nil:
			o.itemError(it.GUID, "cms_error", err.Error())
		case changed:
			o.updated++
		default: // unchanged; only its missing thumbnail was tried again
			o.skipped++
		}
		return
	}
	ep, err := s.createEpisode(ctx, programID, it, next)
	if err != nil {
		o.itemError(it.GUID, "cms_error", err.Error())
		return
	}
	now := s.clock()
	rec, err := s.read.Item.Create().SetSourceID(src.ID).SetGUID(it.GUID).SetContentHash(hash).SetEpisodeID(ep.Id).
		SetNillableImageURL(nonEmpty(truncate(it.ImageURL, 2048))).SetCreatedAt(now).SetUpdatedAt(now).Save(ctx)
	if err != nil {
		o.itemError(it.GUID, "internal", "the episode was created but could not be recorded: "+err.Error())
		return
	}
	o.created++
	if it.ImageURL != "" {
		s.thumbnail(ctx, rec, ep.Id, ep.Version, it.ImageURL)
	}
}

// createEpisode creates the draft episode of it, numbering it with its own number or the next
// free one.
func (s *Service) createEpisode(ctx context.Context, programID uuid.UUID, it feed.Item, next *int32) (*cmsapi.Episode, error) {
	body := cmsapi.EpisodeCreate{Title: cmsText(it.Title, maxTitle)}
	if d := cmsText(it.Description, maxSummary); d != "" {
		body.Summary = &d
	}
	if it.DurationSeconds > 0 && it.DurationSeconds <= 172800 {
		d := int32(it.DurationSeconds)
		body.DurationSeconds = &d
	}
	if it.SeasonNumber > 0 && it.SeasonNumber <= 1000 {
		sn := int32(it.SeasonNumber)
		body.SeasonNumber = &sn
	}
	own := it.EpisodeNumber > 0 && it.EpisodeNumber <= 100000
	for attempt := 0; attempt < 50; attempt++ {
		if own && attempt == 0 {
			body.EpisodeNumber = int32(it.EpisodeNumber)
		} else {
			body.EpisodeNumber = *next
			*next++
		}
		resp, err := s.deps.CMS.CreateEpisodeWithResponse(ctx, programID, &cmsapi.CreateEpisodeParams{}, body)
		if err != nil {
			return nil, err
		}
		switch {
		case resp.JSON201 != nil:
			if own && attempt == 0 && int32(it.EpisodeNumber) >= *next {
				*next = int32(it.EpisodeNumber) + 1
			}
			return resp.JSON201, nil
		case resp.StatusCode() == http.StatusConflict && problemType(resp.Body) == problemEpisodeNumberTaken:
			continue // the number is taken: try the next
		default:
			return nil, fmt.Errorf("the CMS answered %d creating the episode: %s", resp.StatusCode(), problem(resp.Body))
		}
	}
	return nil, errors.New("no free episode number found")
}

// updateEpisode sends the changed fields of it to the episode made of it before (changed reports
// whether there were any), and retries its thumbnail if it has none yet.
func (s *Service) updateEpisode(ctx context.Context, known *ingestdb.Item, it feed.Item, hash string) (changed bool, err error) {
	cur, err := s.deps.CMS.GetEpisodeWithResponse(ctx, known.EpisodeID)
	if err != nil {
		return false, err
	}
	if cur.JSON200 == nil {
		return false, fmt.Errorf("the CMS answered %d reading episode %s: %s", cur.StatusCode(), known.EpisodeID, problem(cur.Body))
	}
	version := cur.JSON200.Version
	if known.ContentHash != hash {
		patch := map[string]any{"title": cmsText(it.Title, maxTitle)}
		if d := cmsText(it.Description, maxSummary); d != "" {
			patch["summary"] = d
		}
		if it.DurationSeconds > 0 && it.DurationSeconds <= 172800 {
			patch["duration_seconds"] = it.DurationSeconds
		}
		b, _ := json.Marshal(patch)
		tag := fmt.Sprintf("%q", fmt.Sprint(version))
		resp, err := s.deps.CMS.UpdateEpisodeWithBodyWithResponse(ctx, known.EpisodeID, &cmsapi.UpdateEpisodeParams{IfMatch: &tag}, "application/json", bytes.NewReader(b))
		if err != nil {
			return false, err
		}
		if resp.JSON200 == nil {
			return false, fmt.Errorf("the CMS answered %d updating episode %s: %s", resp.StatusCode(), known.EpisodeID, problem(resp.Body))
		}
		version, changed = resp.JSON200.Version, true
		if err := s.read.Item.UpdateOne(known).SetContentHash(hash).SetNillableImageURL(nonEmpty(truncate(it.ImageURL, 2048))).SetUpdatedAt(s.clock()).Exec(ctx); err != nil {
			return changed, err
		}
	}
	if known.ThumbnailAssetID == nil && it.ImageURL != "" {
		s.thumbnail(ctx, known, known.EpisodeID, version, it.ImageURL)
	}
	return changed, nil
}

// problemEpisodeNumberTaken is the CMS's problem type for an episode number the program already has.
const problemEpisodeNumberTaken = "https://mediamesh.dev/problems/episode-number-taken"

// problemType is the type of a problem+json body, or "".
func problemType(body []byte) string {
	var p struct {
		Type string `json:"type"`
	}
	_ = json.Unmarshal(body, &p)
	return p.Type
}

// nextNumber is the number after the highest episode number of the program (deleted episodes
// included: their numbers stay taken), where numbering of items without one of their own starts.
func (s *Service) nextNumber(ctx context.Context, programID uuid.UUID) (int32, error) {
	order, deleted, limit := cmsapi.EpisodeSort("-episode_number"), true, int32(1)
	resp, err := s.deps.CMS.ListEpisodesWithResponse(ctx, programID, &cmsapi.ListEpisodesParams{Sort: &order, IncludeDeleted: &deleted, Limit: &limit})
	if err != nil {
		return 0, err
	}
	if resp.JSON200 == nil {
		return 0, fmt.Errorf("the CMS answered %d: %s", resp.StatusCode(), problem(resp.Body))
	}
	if len(resp.JSON200.Items) == 0 {
		return 1, nil
	}
	return resp.JSON200.Items[0].EpisodeNumber + 1, nil
}

// thumbnail stores the image at imageURL as the episode's thumbnail. A failure leaves the episode
// without one; the next run tries again.
func (s *Service) thumbnail(ctx context.Context, rec *ingestdb.Item, episodeID uuid.UUID, version int32, imageURL string) {
	asset, err := s.image(ctx, imageURL, "episode", episodeID)
	if err != nil {
		s.log.WarnContext(ctx, "could not store an episode thumbnail", "episode_id", episodeID, "error", err)
		return
	}
	b, _ := json.Marshal(map[string]any{"thumbnail_asset_id": asset})
	tag := fmt.Sprintf("%q", fmt.Sprint(version))
	resp, err := s.deps.CMS.UpdateEpisodeWithBodyWithResponse(ctx, episodeID, &cmsapi.UpdateEpisodeParams{IfMatch: &tag}, "application/json", bytes.NewReader(b))
	if err == nil && resp.JSON200 == nil {
		err = fmt.Errorf("the CMS answered %d: %s", resp.StatusCode(), problem(resp.Body))
	}
	if err != nil {
		s.log.WarnContext(ctx, "could not set an episode thumbnail", "episode_id", episodeID, "error", err)
		return
	}
	if err := s.read.Item.UpdateOneID(rec.ID).SetThumbnailAssetID(asset).Exec(ctx); err != nil {
		s.log.WarnContext(ctx, "could not record an episode thumbnail", "episode_id", episodeID, "error", err)
	}
}

// image downloads the image at imageURL (SSRF-safe) and uploads it to the media service as a public
// asset attached to the content; it returns the asset id.
func (s *Service) image(ctx context.Context, imageURL, contentType string, contentID uuid.UUID) (uuid.UUID, error) {
	resp, err := s.deps.Fetcher.Get(ctx, fetch.Request{URL: imageURL})
	if err != nil {
		return uuid.Nil, err
	}
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	name := path.Base(strings.SplitN(resp.FinalURL, "?", 2)[0])
	if name == "" || name == "." || name == "/" {
		name = "image"
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename=%q`, name))
	// The media service types the file by its bytes; the part still names a type its contract allows.
	h.Set("Content-Type", http.DetectContentType(resp.Body))
	part, err := w.CreatePart(h)
	if err != nil {
		return uuid.Nil, err
	}
	if _, err := part.Write(resp.Body); err != nil {
		return uuid.Nil, err
	}
	for k, v := range map[string]string{"visibility": "public", "attach_content_type": contentType, "attach_content_id": contentID.String()} {
		if err := w.WriteField(k, v); err != nil {
			return uuid.Nil, err
		}
	}
	if err := w.Close(); err != nil {
		return uuid.Nil, err
	}
	up, err := s.deps.Media.UploadAssetWithBodyWithResponse(ctx, &mediaapi.UploadAssetParams{}, w.FormDataContentType(), &body)
	if err != nil {
		return uuid.Nil, err
	}
	if up.JSON201 == nil {
		return uuid.Nil, fmt.Errorf("the media service answered %d: %s", up.StatusCode(), problem(up.Body))
	}
	return up.JSON201.Id, nil
}

// setCover makes asset the cover of program id.
func (s *Service) setCover(ctx context.Context, id, asset uuid.UUID) error {
	cur, err := s.deps.CMS.GetProgramWithResponse(ctx, id)
	if err != nil {
		return err
	}
	if cur.JSON200 == nil {
		return fmt.Errorf("the CMS answered %d reading program %s", cur.StatusCode(), id)
	}
	tag := fmt.Sprintf("%q", fmt.Sprint(cur.JSON200.Version))
	b, _ := json.Marshal(map[string]any{"cover_asset_id": asset})
	resp, err := s.deps.CMS.UpdateProgramWithBodyWithResponse(ctx, id, &cmsapi.UpdateProgramParams{IfMatch: &tag}, "application/json", bytes.NewReader(b))
	if err != nil {
		return err
	}
	if resp.JSON200 == nil {
		return fmt.Errorf("the CMS answered %d setting the cover: %s", resp.StatusCode(), problem(resp.Body))
	}
	return nil
}

// itemHash is the hash of what an item contributes to its episode: a change updates the episode.
func itemHash(it feed.Item) string {
	b, _ := json.Marshal([]any{it.Title, it.Description, it.DurationSeconds, it.ImageURL, it.MediaURL})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

var nonSlug = regexp.MustCompile(`[^a-z0-9]+`)

// slug is a CMS slug for a program titled title, made unique by the source id.
func slug(title string, id uuid.UUID) string {
	s := strings.Trim(nonSlug.ReplaceAllString(strings.ToLower(title), "-"), "-")
	if len(s) > 80 {
		s = strings.Trim(s[:80], "-")
	}
	suffix := strings.ReplaceAll(id.String(), "-", "")[24:]
	if s == "" {
		return "ingest-" + suffix
	}
	return s + "-" + suffix
}

// problem is the detail of a problem+json answer, for run errors.
func problem(body []byte) string {
	var p struct {
		Title, Detail string
	}
	if json.Unmarshal(body, &p) == nil && (p.Detail != "" || p.Title != "") {
		return strings.TrimSpace(p.Title + ": " + p.Detail)
	}
	if !utf8.Valid(body) {
		return "(no detail)"
	}
	return truncate(string(body), 200)
}

// The CMS's limits on the text ingest sends it.
const (
	maxTitle   = 200
	maxSummary = 1000
)

// cmsText is s trimmed of white space and cut to at most n runes, or "" when what is left shows
// nothing: the CMS refuses a title or summary of only spaces and invisible characters
// (internal/humantext), and a feed's text may start with more of those than the cut keeps.
func cmsText(s string, n int) string {
	s = truncate(strings.TrimSpace(s), n)
	if !humantext.HasVisible(s) {
		return ""
	}
	return s
}

// firstVisible is the first of vs that shows something as a CMS title, else a placeholder.
func firstVisible(vs ...string) string {
	for _, v := range vs {
		if t := cmsText(v, maxTitle); t != "" {
			return t
		}
	}
	return "Untitled source"
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
