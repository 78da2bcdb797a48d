package ingest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/ent/ingestdb"
	"github.com/mediamesh/mediamesh/ent/ingestdb/item"
	"github.com/mediamesh/mediamesh/ent/ingestdb/run"
	"github.com/mediamesh/mediamesh/ent/ingestdb/schema"
	"github.com/mediamesh/mediamesh/ent/ingestdb/source"
	"github.com/mediamesh/mediamesh/gen/openapi/commonapi"
	"github.com/mediamesh/mediamesh/gen/openapi/ingestapi"
	"github.com/mediamesh/mediamesh/internal/apierror"
	"github.com/mediamesh/mediamesh/internal/cursor"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/etag"
	"github.com/mediamesh/mediamesh/internal/humantext"
	"github.com/mediamesh/mediamesh/services/ingest/feed"
)

const defaultInterval = 3600

func noSource() error { return apierror.NotFound("no ingest source with this id") }

func sourceTag(src *ingestdb.Source) string { return etag.Version(src.Version) }

func duplicateSource() error {
	return apierror.Conflict("a source of this type with this URL already exists")
}

// toSource renders src for the API; credentials never leave the service.
func toSource(src *ingestdb.Source) ingestapi.Source {
	has, failures, version := src.Credentials != nil, src.ConsecutiveFailures, src.Version
	out := ingestapi.Source{
		Id: src.ID, Name: src.Name, Type: ingestapi.SourceType(src.Type), Url: src.URL, Enabled: src.Enabled,
		ScheduleIntervalSeconds: src.ScheduleIntervalSeconds, Target: toTarget(src.Target),
		HasCredentials: &has, ConsecutiveFailures: &failures, Version: &version,
		NextRunAt: utc(src.NextRunAt), LastRunAt: utc(src.LastRunAt),
		CreatedAt: src.CreatedAt.UTC(), UpdatedAt: src.UpdatedAt.UTC(),
	}
	if src.LastRunStatus != nil {
		st := ingestapi.IngestRunStatus(*src.LastRunStatus)
		out.LastRunStatus = &st
	}
	if y := src.Youtube; y.PlaylistID != nil || y.ChannelID != nil {
		out.Youtube = &ingestapi.YouTubeSettings{PlaylistId: y.PlaylistID, ChannelId: y.ChannelID}
	}
	if m := src.JSONMapping; m.ItemsPath != "" {
		out.JsonMapping = &ingestapi.JsonMapping{
			ItemsPath: m.ItemsPath, Guid: m.Guid, Title: m.Title, Description: m.Description,
			PublishedAt: m.PublishedAt, Duration: m.Duration, MediaUrl: m.MediaUrl, ImageUrl: m.ImageUrl,
		}
	}
	return out
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func toTarget(t schema.SourceTarget) ingestapi.SourceTarget {
	out := ingestapi.SourceTarget{DefaultKind: ingestapi.ProgramKind(t.DefaultKind), DefaultLanguage: commonapi.LanguageCode(t.DefaultLanguage)}
	if t.ProgramID != nil {
		if id, err := uuid.Parse(*t.ProgramID); err == nil {
			out.ProgramId = &id
		}
	}
	if t.DefaultCategoryID != nil {
		if id, err := uuid.Parse(*t.DefaultCategoryID); err == nil {
			out.DefaultCategoryId = &id
		}
	}
	return out
}

func fromTarget(t ingestapi.SourceTarget) schema.SourceTarget {
	out := schema.SourceTarget{DefaultKind: string(t.DefaultKind), DefaultLanguage: string(t.DefaultLanguage)}
	if t.ProgramId != nil {
		s := t.ProgramId.String()
		out.ProgramID = &s
	}
	if t.DefaultCategoryId != nil {
		s := t.DefaultCategoryId.String()
		out.DefaultCategoryID = &s
	}
	return out
}

func fromMapping(m *ingestapi.JsonMapping) schema.JsonMapping {
	if m == nil {
		return schema.JsonMapping{}
	}
	return schema.JsonMapping{ItemsPath: m.ItemsPath, Guid: m.Guid, Title: m.Title, Description: m.Description,
		PublishedAt: m.PublishedAt, Duration: m.Duration, MediaUrl: m.MediaUrl, ImageUrl: m.ImageUrl}
}

// mapping is the parser's view of a stored mapping.
func mapping(m schema.JsonMapping) feed.Mapping {
	s := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	return feed.Mapping{ItemsPath: m.ItemsPath, GUID: m.Guid, Title: m.Title, Description: s(m.Description),
		PublishedAt: s(m.PublishedAt), Duration: s(m.Duration), MediaURL: s(m.MediaUrl), ImageURL: s(m.ImageUrl)}
}

// settings is a source's type-specific configuration, checked as a whole.
type settings struct {
	typ      source.Type
	rawURL   string
	youtube  schema.YouTubeSettings
	mapping  schema.JsonMapping
	hasCreds bool
}

// checkURL refuses a source URL that is not an absolute http(s) URL.
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fieldError("url", "must be an absolute http or https URL", "format")
	}
	return nil
}

// check validates what only the service can: URL scheme, the settings that go with the type, the
// JSON mapping's paths, and credentials for YouTube.
func (c settings) check() error {
	if err := checkURL(c.rawURL); err != nil {
		return err
	}
	y := c.youtube
	hasYT := y.PlaylistID != nil || y.ChannelID != nil
	hasMap := c.mapping.ItemsPath != ""
	switch c.typ {
	case source.TypeYoutube:
		if (y.PlaylistID == nil) == (y.ChannelID == nil) {
			return fieldError("youtube", "set exactly one of playlist_id or channel_id", "oneOf")
		}
		if hasMap {
			return fieldError("json_mapping", "is only accepted with type json", "not_allowed")
		}
		if !c.hasCreds {
			return fieldError("credentials", "a YouTube source needs credentials.api_key", "required")
		}
	case source.TypeJSON:
		if !hasMap {
			return fieldError("json_mapping", "is required with type json", "required")
		}
		if hasYT {
			return fieldError("youtube", "is only accepted with type youtube", "not_allowed")
		}
		if err := mapping(c.mapping).Validate(); err != nil {
			var me *feed.MappingError
			if errors.As(err, &me) {
				return fieldError("json_mapping."+me.Field, me.Message, "invalid")
			}
			return fieldError("json_mapping", err.Error(), "invalid")
		}
	default:
		if hasYT {
			return fieldError("youtube", "is only accepted with type youtube", "not_allowed")
		}
		if hasMap {
			return fieldError("json_mapping", "is only accepted with type json", "not_allowed")
		}
	}
	return nil
}

func fromYouTube(y *ingestapi.YouTubeSettings) schema.YouTubeSettings {
	if y == nil {
		return schema.YouTubeSettings{}
	}
	return schema.YouTubeSettings{PlaylistID: y.PlaylistId, ChannelID: y.ChannelId}
}

// checkCredentials refuses credentials without an API key.
func checkCredentials(c *ingestapi.SourceCredentials) error {
	if c != nil && (c.ApiKey == nil || strings.TrimSpace(*c.ApiKey) == "") {
		return fieldError("credentials.api_key", "is required", "required")
	}
	return nil
}

// checkName applies the one rule for human text (internal/humantext, the contract's SourceName:
// HumanText, not empty): a name of only invisible or space characters, or with a control
// character, is a 422 naming the field.
func checkName(name string) error {
	if p := humantext.Required("name", name, humantext.Line); p != nil {
		return fieldError(p.Field, p.Message, p.Code)
	}
	return nil
}

// ListSources implements ingestapi.StrictServerInterface: newest first.
func (s *Service) ListSources(ctx context.Context, req ingestapi.ListSourcesRequestObject) (ingestapi.ListSourcesResponseObject, error) {
	p := req.Params
	limit := pageLimit(p.Limit)
	q := s.read.Source.Query()
	if p.Type != nil {
		q = q.Where(source.TypeEQ(source.Type(*p.Type)))
	}
	if p.Enabled != nil {
		q = q.Where(source.EnabledEQ(*p.Enabled))
	}
	if p.Cursor != nil {
		at, id, err := decodePosition(*p.Cursor)
		if err != nil {
			return nil, err
		}
		q = q.Where(source.Or(source.CreatedAtLT(at), source.And(source.CreatedAtEQ(at), source.IDLT(id))))
	}
	rows, err := q.Order(ingestdb.Desc(source.FieldCreatedAt), ingestdb.Desc(source.FieldID)).Limit(limit + 1).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("ingest: list sources: %w", err)
	}
	page := ingestapi.ListSources200JSONResponse{Items: []ingestapi.Source{}}
	for _, r := range rows[:min(limit, len(rows))] {
		page.Items = append(page.Items, toSource(r))
	}
	if len(rows) > limit {
		next := encodePosition(rows[limit-1].CreatedAt, rows[limit-1].ID)
		page.Page.NextCursor, page.Page.HasMore = &next, true
	}
	return page, nil
}

// CreateSource implements ingestapi.StrictServerInterface.
func (s *Service) CreateSource(ctx context.Context, req ingestapi.CreateSourceRequestObject) (ingestapi.CreateSourceResponseObject, error) {
	b := req.Body
	if err := checkName(b.Name); err != nil {
		return nil, err
	}
	if err := checkCredentials(b.Credentials); err != nil {
		return nil, err
	}
	st := settings{typ: source.Type(b.Type), rawURL: b.Url, youtube: fromYouTube(b.Youtube), mapping: fromMapping(b.JsonMapping), hasCreds: b.Credentials != nil}
	if err := st.check(); err != nil {
		return nil, err
	}
	if err := s.checkReachable(ctx, b.Url); err != nil {
		return nil, err
	}
	id := uuid.Must(uuid.NewV7())
	now := s.clock()
	enabled := b.Enabled == nil || *b.Enabled
	interval := int32(defaultInterval)
	if b.ScheduleIntervalSeconds != nil {
		interval = *b.ScheduleIntervalSeconds
	}
	c := s.read.Source.Create().SetID(id).SetName(strings.TrimSpace(b.Name)).SetType(source.Type(b.Type)).SetURL(b.Url).
		SetEnabled(enabled).SetScheduleIntervalSeconds(interval).SetTarget(fromTarget(b.Target)).
		SetYoutube(st.youtube).SetJSONMapping(st.mapping).SetConsecutiveFailures(0).SetVersion(1).
		SetCreatedAt(now).SetUpdatedAt(now)
	if enabled {
		c.SetNextRunAt(now) // a new source is ingested at once, then on its schedule
	}
	if b.Credentials != nil {
		sealed, err := s.seal.seal(id, credentials{APIKey: deref(b.Credentials.ApiKey)})
		if err != nil {
			return nil, fmt.Errorf("ingest: seal credentials: %w", err)
		}
		c.SetCredentials(sealed)
	}
	out, err := c.Save(ctx)
	if database.IsUniqueViolation(err) {
		return nil, duplicateSource()
	}
	if err != nil {
		return nil, storeError("create a source", err)
	}
	s.poke()
	tag, loc := sourceTag(out), "/api/v1/ingest/sources/"+out.ID.String()
	return ingestapi.CreateSource201JSONResponse{Body: toSource(out), Headers: ingestapi.CreateSource201ResponseHeaders{ETag: &tag, Location: &loc}}, nil
}

// GetSource implements ingestapi.StrictServerInterface.
func (s *Service) GetSource(ctx context.Context, req ingestapi.GetSourceRequestObject) (ingestapi.GetSourceResponseObject, error) {
	src, err := s.read.Source.Get(ctx, req.SourceId)
	if ingestdb.IsNotFound(err) {
		return nil, noSource()
	}
	if err != nil {
		return nil, fmt.Errorf("ingest: read a source: %w", err)
	}
	tag := sourceTag(src)
	return ingestapi.GetSource200JSONResponse{Body: toSource(src), Headers: ingestapi.GetSource200ResponseHeaders{ETag: &tag}}, nil
}

// currentSource reads source id for a change: 404 when absent, 412 on a stale If-Match.
func currentSource(ctx context.Context, c *ingestdb.Client, id uuid.UUID, ifMatch *string) (*ingestdb.Source, error) {
	src, err := c.Source.Get(ctx, id)
	if ingestdb.IsNotFound(err) {
		return nil, noSource()
	}
	if err != nil {
		return nil, fmt.Errorf("ingest: read a source: %w", err)
	}
	if ifMatch != nil && !etag.Match(*ifMatch, sourceTag(src)) {
		return nil, apierror.PreconditionFailed("current ETag is " + sourceTag(src))
	}
	return src, nil
}

var errStale = errors.New("ingest: the source changed concurrently")

// refuser is what a Fetcher may tell of a URL before fetching it (*fetch.Client does).
type refuser interface {
	Refusal(ctx context.Context, rawURL string) string
}

// checkReachable refuses, when the source is created or its URL changed rather than at its first
// run, a URL that points to an address the fetcher never connects to (a loopback, private or
// link-local one, written as an IP or as a name that resolves to one).
func (s *Service) checkReachable(ctx context.Context, rawURL string) error {
	r, ok := s.deps.Fetcher.(refuser)
	if !ok {
		return nil
	}
	reason := r.Refusal(ctx, rawURL)
	if reason == "" {
		return nil
	}
	msg := "points to a " + reason + ", which ingest does not fetch"
	if reason == "loopback address" {
		msg += " (ingest.allow_loopback lets it, for tests)"
	}
	return fieldError("url", msg, "unreachable")
}

// UpdateSource implements ingestapi.StrictServerInterface: a partial update; nested objects are
// replaced whole; the type stays.
func (s *Service) UpdateSource(ctx context.Context, req ingestapi.UpdateSourceRequestObject) (ingestapi.UpdateSourceResponseObject, error) {
	b := req.Body
	if b.Credentials != nil && b.RemoveCredentials != nil && *b.RemoveCredentials {
		return nil, fieldError("remove_credentials", "cannot be combined with credentials", "exclusive")
	}
	if b.Name != nil {
		if err := checkName(*b.Name); err != nil {
			return nil, err
		}
	}
	if err := checkCredentials(b.Credentials); err != nil {
		return nil, err
	}
	if b.Url != nil { // bad input is refused before the If-Match is looked at
		if err := checkURL(*b.Url); err != nil {
			return nil, err
		}
		if err := s.checkReachable(ctx, *b.Url); err != nil {
			return nil, err
		}
	}
	var out *ingestdb.Source
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		c := s.txClient(tx)
		cur, err := currentSource(ctx, c, req.SourceId, req.Params.IfMatch)
		if err != nil {
			return err
		}
		st := settings{typ: cur.Type, rawURL: cur.URL, youtube: cur.Youtube, mapping: cur.JSONMapping, hasCreds: cur.Credentials != nil}
		u := c.Source.UpdateOneID(cur.ID).Where(source.Version(cur.Version)).AddVersion(1).SetUpdatedAt(s.clock())
		if b.Name != nil {
			u.SetName(strings.TrimSpace(*b.Name))
		}
		if b.Url != nil {
			st.rawURL = *b.Url
			u.SetURL(*b.Url).ClearEtag().ClearLastModified()
		}
		if b.Youtube != nil {
			st.youtube = fromYouTube(b.Youtube)
			u.SetYoutube(st.youtube)
		}
		if b.JsonMapping != nil {
			st.mapping = fromMapping(b.JsonMapping)
			u.SetJSONMapping(st.mapping)
		}
		if b.Target != nil {
			u.SetTarget(fromTarget(*b.Target))
		}
		switch {
		case b.Credentials != nil:
			sealed, err := s.seal.seal(cur.ID, credentials{APIKey: deref(b.Credentials.ApiKey)})
			if err != nil {
				return fmt.Errorf("ingest: seal credentials: %w", err)
			}
			u.SetCredentials(sealed)
			st.hasCreds = true
		case b.RemoveCredentials != nil && *b.RemoveCredentials:
			u.ClearCredentials()
			st.hasCreds = false
		}
		if err := st.check(); err != nil {
			return err
		}
		enabled, interval := cur.Enabled, cur.ScheduleIntervalSeconds
		if b.Enabled != nil {
			enabled = *b.Enabled
			u.SetEnabled(enabled)
		}
		if b.ScheduleIntervalSeconds != nil {
			interval = *b.ScheduleIntervalSeconds
			u.SetScheduleIntervalSeconds(interval)
		}
		if b.Enabled != nil || b.ScheduleIntervalSeconds != nil {
			if enabled {
				u.SetNextRunAt(s.clock().Add(time.Duration(interval) * time.Second))
			} else {
				u.ClearNextRunAt()
			}
		}
		out, err = u.Save(ctx)
		if ingestdb.IsNotFound(err) {
			return errStale
		}
		return err
	})
	switch {
	case errors.Is(err, errStale):
		return nil, apierror.PreconditionFailed("the source changed while it was being updated; read it again")
	case database.IsUniqueViolation(err):
		return nil, duplicateSource()
	case err != nil:
		return nil, storeError("update a source", err)
	}
	tag := sourceTag(out)
	return ingestapi.UpdateSource200JSONResponse{Body: toSource(out), Headers: ingestapi.UpdateSource200ResponseHeaders{ETag: &tag}}, nil
}

// DeleteSource implements ingestapi.StrictServerInterface: the source, its runs and its record of
// ingested items; the content it created stays in the CMS.
func (s *Service) DeleteSource(ctx context.Context, req ingestapi.DeleteSourceRequestObject) (ingestapi.DeleteSourceResponseObject, error) {
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		c := s.txClient(tx)
		cur, err := currentSource(ctx, c, req.SourceId, req.Params.IfMatch)
		if err != nil {
			return err
		}
		busy, err := c.Run.Query().Where(run.SourceID(cur.ID), run.StatusIn(run.StatusQueued, run.StatusRunning)).Exist(ctx)
		if err != nil {
			return err
		}
		if busy {
			return apierror.Conflict("the source has a run queued or in progress; delete it when the run is over")
		}
		n, err := c.Source.Delete().Where(source.ID(cur.ID), source.Version(cur.Version)).Exec(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			return errStale
		}
		if _, err := c.Run.Delete().Where(run.SourceID(cur.ID)).Exec(ctx); err != nil {
			return err
		}
		_, err = c.Item.Delete().Where(item.SourceID(cur.ID)).Exec(ctx)
		return err
	})
	if errors.Is(err, errStale) {
		return nil, apierror.PreconditionFailed("the source changed while it was being deleted; read it again")
	}
	if err != nil {
		return nil, storeError("delete a source", err)
	}
	return ingestapi.DeleteSource204Response{}, nil
}

// position is a keyset cursor: the created_at and id of the last item of a page.
type position struct {
	At *time.Time `json:"at"`
	ID *uuid.UUID `json:"id"`
}

func encodePosition(at time.Time, id uuid.UUID) string {
	return cursor.Encode(position{At: &at, ID: &id})
}

func decodePosition(raw string) (time.Time, uuid.UUID, error) {
	var p position
	if err := cursor.Decode(raw, &p); err != nil || p.At == nil || p.ID == nil {
		const msg = "not a cursor from this list; pass page.next_cursor unchanged"
		return time.Time{}, uuid.Nil, apierror.BadRequest("query.cursor: "+msg, apierror.FieldError{Field: "query.cursor", Message: msg, Code: "invalid"})
	}
	return *p.At, *p.ID, nil
}

func pageLimit(l *int32) int {
	if l == nil {
		return 20
	}
	return int(*l)
}
