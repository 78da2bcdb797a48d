package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/ent/ingestdb"
	"github.com/mediamesh/mediamesh/gen/events/ingestevents"
	"github.com/mediamesh/mediamesh/gen/openapi/cmsapi"
	"github.com/mediamesh/mediamesh/gen/openapi/ingestapi"
	"github.com/mediamesh/mediamesh/gen/openapi/mediaapi"
	"github.com/mediamesh/mediamesh/internal/authn"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/etag"
	"github.com/mediamesh/mediamesh/internal/eventbus"
	"github.com/mediamesh/mediamesh/internal/humantext"
	"github.com/mediamesh/mediamesh/internal/outbox"
	"github.com/mediamesh/mediamesh/internal/policy"
	"github.com/mediamesh/mediamesh/services/ingest/fetch"
)

// Test principals, by bearer token.
var (
	adminID  = uuid.MustParse("0193a400-1111-7222-8333-944455556666")
	editorID = uuid.MustParse("0193a400-aaaa-7bbb-8ccc-9dddeeeeffff")
	userID   = uuid.MustParse("0193a400-0000-7000-8000-900000000000")
)

// tokens is a verifier that knows three tokens: admin, editor and user.
type tokens struct{}

func (tokens) Verify(_ context.Context, token string) (*authn.Principal, error) {
	switch token {
	case "admin":
		return &authn.Principal{Subject: adminID.String(), Roles: []string{"ADMIN"}, Scopes: policy.RoleScopes["ADMIN"]}, nil
	case "editor":
		return &authn.Principal{Subject: editorID.String(), Roles: []string{"EDITOR"}, Scopes: policy.RoleScopes["EDITOR"]}, nil
	case "user":
		return &authn.Principal{Subject: userID.String(), Roles: []string{"USER"}, Scopes: policy.RoleScopes["USER"]}, nil
	}
	return nil, errors.New("unknown token")
}

// testKey is the credentials key of the fixtures.
var testKey = []byte("0123456789abcdef0123456789abcdef")

// testClock is a controllable time source.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// ---------------------------------------------------------------------------------------------
// Fake CMS

// cmsUpdate is one update call the fake CMS accepted.
type cmsUpdate struct {
	id      uuid.UUID
	ifMatch string
	patch   map[string]any
}

// fakeCMS is an in-memory CMS: programs and episodes with versions, answering like the real one
// (201, 200, 404, 409 for a taken slug or episode number, 412 for a stale If-Match, 428 without
// one, 422 for values outside the contract, titles and summaries by the rule for human text).
type fakeCMS struct {
	mu             sync.Mutex
	programs       map[uuid.UUID]*cmsapi.Program
	episodes       map[uuid.UUID]*cmsapi.Episode
	episodeOrder   []uuid.UUID // in creation order
	programCreates []cmsapi.ProgramCreate
	episodeCreates int // calls, including refused ones
	conflicts      int // 409 answers to episode creates
	episodeUpdates []cmsUpdate
	programUpdates []cmsUpdate
}

func newFakeCMS() *fakeCMS {
	return &fakeCMS{programs: map[uuid.UUID]*cmsapi.Program{}, episodes: map[uuid.UUID]*cmsapi.Episode{}}
}

var slugPattern = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// badText reports whether the CMS refuses s (when given) as human text of kind: a control
// character, or nothing visible.
func badText(s *string, kind humantext.Kind) bool {
	return s != nil && humantext.Check("", *s, kind) != nil
}

func httpResp(status int) *http.Response {
	return &http.Response{StatusCode: status, Status: fmt.Sprintf("%d %s", status, http.StatusText(status)), Header: http.Header{}}
}

func problemJSON(status int, detail string) []byte {
	b, _ := json.Marshal(map[string]any{"title": http.StatusText(status), "status": status, "detail": detail})
	return b
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// addProgram stores a program, as if an editor had created it.
func (c *fakeCMS) addProgram(title string) uuid.UUID {
	c.mu.Lock()
	defer c.mu.Unlock()
	id := uuid.Must(uuid.NewV7())
	now := time.Now().UTC()
	c.programs[id] = &cmsapi.Program{Id: id, Title: title, Slug: "p-" + strings.ReplaceAll(id.String(), "-", ""), Kind: cmsapi.ProgramKind("show"),
		Language: "ar", Status: cmsapi.PublicationStatus("draft"), Version: 1, Tags: nil, CreatedAt: now, UpdatedAt: now}
	return id
}

// addEpisode stores an episode of program, as if an editor had created it.
func (c *fakeCMS) addEpisode(program uuid.UUID, season *int32, number int32) uuid.UUID {
	c.mu.Lock()
	defer c.mu.Unlock()
	id := uuid.Must(uuid.NewV7())
	now := time.Now().UTC()
	c.episodes[id] = &cmsapi.Episode{Id: id, ProgramId: program, SeasonNumber: season, EpisodeNumber: number, Title: "existing",
		Language: "ar", Status: cmsapi.PublicationStatus("draft"), Version: 1, CreatedAt: now, UpdatedAt: now}
	return id
}

func (c *fakeCMS) CreateProgramWithResponse(_ context.Context, _ *cmsapi.CreateProgramParams, b cmsapi.CreateProgramJSONRequestBody, _ ...cmsapi.RequestEditorFn) (*cmsapi.CreateProgramResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fail := func(status int, detail string) (*cmsapi.CreateProgramResponse, error) {
		return &cmsapi.CreateProgramResponse{HTTPResponse: httpResp(status), Body: problemJSON(status, detail)}, nil
	}
	switch {
	case b.Title == "" || utf8.RuneCountInString(b.Title) > 200:
		return fail(422, "title: must be 1 to 200 characters")
	case badText(&b.Title, humantext.Line):
		return fail(422, "title: not human text")
	case !slugPattern.MatchString(b.Slug) || len(b.Slug) > 100:
		return fail(422, "slug: invalid "+b.Slug)
	case b.Summary != nil && utf8.RuneCountInString(*b.Summary) > 1000:
		return fail(422, "summary: too long")
	case badText(b.Summary, humantext.Block):
		return fail(422, "summary: not human text")
	case len(b.Language) != 2:
		return fail(422, "language: invalid")
	}
	switch b.Kind {
	case "series", "podcast", "documentary", "show":
	default:
		return fail(422, "kind: invalid")
	}
	for _, p := range c.programs {
		if p.Slug == b.Slug {
			return fail(409, "slug taken")
		}
	}
	c.programCreates = append(c.programCreates, b)
	id := uuid.Must(uuid.NewV7())
	now := time.Now().UTC()
	p := &cmsapi.Program{Id: id, Title: b.Title, Slug: b.Slug, Kind: b.Kind, Language: b.Language, Summary: b.Summary,
		CategoryId: b.CategoryId, Status: cmsapi.PublicationStatus("draft"), Version: 1, CreatedAt: now, UpdatedAt: now}
	c.programs[id] = p
	cp := *p
	return &cmsapi.CreateProgramResponse{HTTPResponse: httpResp(201), Body: mustJSON(cp), JSON201: &cp}, nil
}

func (c *fakeCMS) GetProgramWithResponse(_ context.Context, id cmsapi.ProgramId, _ ...cmsapi.RequestEditorFn) (*cmsapi.GetProgramResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.programs[id]
	if !ok {
		return &cmsapi.GetProgramResponse{HTTPResponse: httpResp(404), Body: problemJSON(404, "no program")}, nil
	}
	cp := *p
	return &cmsapi.GetProgramResponse{HTTPResponse: httpResp(200), Body: mustJSON(cp), JSON200: &cp}, nil
}

// ListEpisodesWithResponse answers the one listing ingest makes: the program's highest-numbered
// episode (sort -episode_number, deleted ones included, limit 1).
func (c *fakeCMS) ListEpisodesWithResponse(_ context.Context, programID cmsapi.ProgramId, p *cmsapi.ListEpisodesParams, _ ...cmsapi.RequestEditorFn) (*cmsapi.ListEpisodesResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.programs[programID]; !ok {
		return &cmsapi.ListEpisodesResponse{HTTPResponse: httpResp(404), Body: problemJSON(404, "no program")}, nil
	}
	if p == nil || p.Sort == nil || *p.Sort != "-episode_number" || p.Limit == nil || *p.Limit != 1 {
		return nil, fmt.Errorf("fake CMS: unexpected episode listing %+v", p)
	}
	list := &cmsapi.EpisodeList{Items: []cmsapi.Episode{}}
	var top *cmsapi.Episode
	for _, e := range c.episodes {
		if e.ProgramId == programID && (top == nil || e.EpisodeNumber > top.EpisodeNumber) {
			top = e
		}
	}
	if top != nil {
		list.Items = append(list.Items, *top)
	}
	return &cmsapi.ListEpisodesResponse{HTTPResponse: httpResp(200), JSON200: list}, nil
}

func (c *fakeCMS) CreateEpisodeWithResponse(_ context.Context, programID cmsapi.ProgramId, _ *cmsapi.CreateEpisodeParams, b cmsapi.CreateEpisodeJSONRequestBody, _ ...cmsapi.RequestEditorFn) (*cmsapi.CreateEpisodeResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.episodeCreates++
	fail := func(status int, detail string) (*cmsapi.CreateEpisodeResponse, error) {
		return &cmsapi.CreateEpisodeResponse{HTTPResponse: httpResp(status), Body: problemJSON(status, detail)}, nil
	}
	p, ok := c.programs[programID]
	if !ok {
		return fail(404, "no program")
	}
	// The real CMS keeps soft-deleted programs readable and refuses new episodes with 409.
	if p.DeletedAt != nil {
		return fail(409, "the program is deleted")
	}
	switch {
	case b.Title == "" || utf8.RuneCountInString(b.Title) > 200:
		return fail(422, "title: must be 1 to 200 characters")
	case badText(&b.Title, humantext.Line):
		return fail(422, "title: not human text")
	case b.Summary != nil && utf8.RuneCountInString(*b.Summary) > 1000:
		return fail(422, "summary: too long")
	case badText(b.Summary, humantext.Block):
		return fail(422, "summary: not human text")
	case b.EpisodeNumber < 1 || b.EpisodeNumber > 100000:
		return fail(422, "episode_number: out of range")
	case b.SeasonNumber != nil && (*b.SeasonNumber < 1 || *b.SeasonNumber > 1000):
		return fail(422, "season_number: out of range")
	case b.DurationSeconds != nil && (*b.DurationSeconds < 1 || *b.DurationSeconds > 172800):
		return fail(422, "duration_seconds: out of range")
	}
	for _, e := range c.episodes {
		if e.ProgramId == programID && e.EpisodeNumber == b.EpisodeNumber && reflect.DeepEqual(e.SeasonNumber, b.SeasonNumber) {
			c.conflicts++
			b, _ := json.Marshal(map[string]any{"type": problemEpisodeNumberTaken, "title": "Episode number taken", "status": 409,
				"detail": "the program already has an episode with this season and episode number"})
			return &cmsapi.CreateEpisodeResponse{HTTPResponse: httpResp(409), Body: b}, nil
		}
	}
	id := uuid.Must(uuid.NewV7())
	now := time.Now().UTC()
	lang := c.programs[programID].Language
	if b.Language != nil {
		lang = *b.Language
	}
	e := &cmsapi.Episode{Id: id, ProgramId: programID, SeasonNumber: b.SeasonNumber, EpisodeNumber: b.EpisodeNumber, Title: b.Title,
		Summary: b.Summary, DurationSeconds: b.DurationSeconds, Language: lang, ThumbnailAssetId: b.ThumbnailAssetId,
		Status: cmsapi.PublicationStatus("draft"), Version: 1, CreatedAt: now, UpdatedAt: now}
	c.episodes[id] = e
	c.episodeOrder = append(c.episodeOrder, id)
	c.programs[programID].EpisodeCount++
	cp := *e
	return &cmsapi.CreateEpisodeResponse{HTTPResponse: httpResp(201), Body: mustJSON(cp), JSON201: &cp}, nil
}

func (c *fakeCMS) GetEpisodeWithResponse(_ context.Context, id cmsapi.EpisodeId, _ ...cmsapi.RequestEditorFn) (*cmsapi.GetEpisodeResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.episodes[id]
	if !ok {
		return &cmsapi.GetEpisodeResponse{HTTPResponse: httpResp(404), Body: problemJSON(404, "no episode")}, nil
	}
	cp := *e
	return &cmsapi.GetEpisodeResponse{HTTPResponse: httpResp(200), Body: mustJSON(cp), JSON200: &cp}, nil
}

// readPatch checks the content type and If-Match of an update against version and decodes it.
// It returns the status of a refusal, or 0.
func readPatch(contentType string, ifMatch *string, body io.Reader, version int32, allowed ...string) (map[string]any, int, string) {
	if contentType != "application/json" {
		return nil, http.StatusUnsupportedMediaType, "content type " + contentType
	}
	if ifMatch == nil {
		return nil, http.StatusPreconditionRequired, "If-Match is required"
	}
	if !etag.Match(*ifMatch, etag.Version(int64(version))) {
		return nil, http.StatusPreconditionFailed, fmt.Sprintf("If-Match %s does not match %s", *ifMatch, etag.Version(int64(version)))
	}
	var patch map[string]any
	if err := json.NewDecoder(body).Decode(&patch); err != nil {
		return nil, http.StatusBadRequest, err.Error()
	}
	for k := range patch {
		ok := false
		for _, a := range allowed {
			ok = ok || a == k
		}
		if !ok {
			return nil, http.StatusUnprocessableEntity, k + ": unknown field"
		}
	}
	return patch, 0, ""
}

func (c *fakeCMS) UpdateProgramWithBodyWithResponse(_ context.Context, id cmsapi.ProgramId, params *cmsapi.UpdateProgramParams, contentType string, body io.Reader, _ ...cmsapi.RequestEditorFn) (*cmsapi.UpdateProgramResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.programs[id]
	if !ok {
		return &cmsapi.UpdateProgramResponse{HTTPResponse: httpResp(404), Body: problemJSON(404, "no program")}, nil
	}
	patch, status, detail := readPatch(contentType, params.IfMatch, body, p.Version, "cover_asset_id", "title", "summary")
	if status != 0 {
		return &cmsapi.UpdateProgramResponse{HTTPResponse: httpResp(status), Body: problemJSON(status, detail)}, nil
	}
	if v, ok := patch["cover_asset_id"].(string); ok {
		a, err := uuid.Parse(v)
		if err != nil {
			return &cmsapi.UpdateProgramResponse{HTTPResponse: httpResp(422), Body: problemJSON(422, "cover_asset_id")}, nil
		}
		p.CoverAssetId = &a
	}
	p.Version++
	c.programUpdates = append(c.programUpdates, cmsUpdate{id: id, ifMatch: *params.IfMatch, patch: patch})
	cp := *p
	return &cmsapi.UpdateProgramResponse{HTTPResponse: httpResp(200), Body: mustJSON(cp), JSON200: &cp}, nil
}

func (c *fakeCMS) UpdateEpisodeWithBodyWithResponse(_ context.Context, id cmsapi.EpisodeId, params *cmsapi.UpdateEpisodeParams, contentType string, body io.Reader, _ ...cmsapi.RequestEditorFn) (*cmsapi.UpdateEpisodeResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.episodes[id]
	if !ok {
		return &cmsapi.UpdateEpisodeResponse{HTTPResponse: httpResp(404), Body: problemJSON(404, "no episode")}, nil
	}
	patch, status, detail := readPatch(contentType, params.IfMatch, body, e.Version, "title", "summary", "duration_seconds", "thumbnail_asset_id")
	if status != 0 {
		return &cmsapi.UpdateEpisodeResponse{HTTPResponse: httpResp(status), Body: problemJSON(status, detail)}, nil
	}
	refuse := func(detail string) (*cmsapi.UpdateEpisodeResponse, error) {
		return &cmsapi.UpdateEpisodeResponse{HTTPResponse: httpResp(422), Body: problemJSON(422, detail)}, nil
	}
	next := *e
	if v, ok := patch["title"]; ok {
		s, _ := v.(string)
		if s == "" || utf8.RuneCountInString(s) > 200 || badText(&s, humantext.Line) {
			return refuse("title")
		}
		next.Title = s
	}
	if v, ok := patch["summary"]; ok {
		s, _ := v.(string)
		if utf8.RuneCountInString(s) > 1000 || badText(&s, humantext.Block) {
			return refuse("summary")
		}
		next.Summary = &s
	}
	if v, ok := patch["duration_seconds"]; ok {
		n, _ := v.(float64)
		if n < 1 || n > 172800 {
			return refuse("duration_seconds")
		}
		d := int32(n)
		next.DurationSeconds = &d
	}
	if v, ok := patch["thumbnail_asset_id"]; ok {
		s, _ := v.(string)
		a, err := uuid.Parse(s)
		if err != nil {
			return refuse("thumbnail_asset_id")
		}
		next.ThumbnailAssetId = &a
	}
	next.Version++
	next.UpdatedAt = time.Now().UTC()
	*e = next
	c.episodeUpdates = append(c.episodeUpdates, cmsUpdate{id: id, ifMatch: *params.IfMatch, patch: patch})
	cp := next
	return &cmsapi.UpdateEpisodeResponse{HTTPResponse: httpResp(200), Body: mustJSON(cp), JSON200: &cp}, nil
}

// snapshot returns copies of the episodes in creation order and of the programs.
func (c *fakeCMS) snapshot() (episodes []cmsapi.Episode, programs map[uuid.UUID]cmsapi.Program) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range c.episodeOrder {
		episodes = append(episodes, *c.episodes[id])
	}
	programs = map[uuid.UUID]cmsapi.Program{}
	for id, p := range c.programs {
		programs[id] = *p
	}
	return episodes, programs
}

// counts returns how many programs the service created and how many episode updates it made.
func (c *fakeCMS) counts() (programCreates, episodes, episodeUpdates, programUpdates int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.programCreates), len(c.episodeOrder), len(c.episodeUpdates), len(c.programUpdates)
}

// ---------------------------------------------------------------------------------------------
// Fake media service

// mediaUpload is one upload the fake media service accepted.
type mediaUpload struct {
	id          uuid.UUID
	filename    string
	contentType string // of the file part
	size        int
	visibility  string
	attachType  string
	attachID    string
}

// fakeMedia is an in-memory media service that stores uploads (multipart: a file part and the
// visibility and attach_* fields) and answers 201 with an asset.
type fakeMedia struct {
	mu      sync.Mutex
	uploads []mediaUpload
	status  int // answer this instead of 201, when not zero
}

func (m *fakeMedia) UploadAssetWithBodyWithResponse(_ context.Context, _ *mediaapi.UploadAssetParams, contentType string, body io.Reader, _ ...mediaapi.RequestEditorFn) (*mediaapi.UploadAssetResponse, error) {
	refuse := func(status int, detail string) (*mediaapi.UploadAssetResponse, error) {
		return &mediaapi.UploadAssetResponse{HTTPResponse: httpResp(status), Body: problemJSON(status, detail)}, nil
	}
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return refuse(415, "not multipart/form-data: "+contentType)
	}
	r := multipart.NewReader(body, params["boundary"])
	var up mediaUpload
	var file []byte
	for {
		part, err := r.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return refuse(400, err.Error())
		}
		b, err := io.ReadAll(part)
		if err != nil {
			return refuse(400, err.Error())
		}
		switch part.FormName() {
		case "file":
			file, up.filename, up.contentType = b, part.FileName(), part.Header.Get("Content-Type")
		case "visibility":
			up.visibility = string(b)
		case "attach_content_type":
			up.attachType = string(b)
		case "attach_content_id":
			up.attachID = string(b)
		default:
			return refuse(422, "unknown field "+part.FormName())
		}
	}
	switch {
	case file == nil:
		return refuse(422, "file: required")
	case up.visibility != "public" && up.visibility != "private":
		return refuse(422, "visibility: invalid")
	case (up.attachType == "") != (up.attachID == ""):
		return refuse(422, "attach_content_type and attach_content_id go together")
	case http.DetectContentType(file) != "image/jpeg":
		return refuse(422, "file: not an image")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.status != 0 {
		return refuse(m.status, "refused")
	}
	up.id, up.size = uuid.Must(uuid.NewV7()), len(file)
	m.uploads = append(m.uploads, up)
	now := time.Now().UTC()
	a := &mediaapi.Asset{Id: up.id, Kind: mediaapi.Image, Status: mediaapi.Ready, Visibility: mediaapi.Public, Filename: up.filename,
		ContentType: "image/jpeg", SizeBytes: int64(len(file)), Thumbnails: []mediaapi.Thumbnail{}, Version: 1, CreatedAt: now, UpdatedAt: now}
	return &mediaapi.UploadAssetResponse{HTTPResponse: httpResp(201), Body: mustJSON(a), JSON201: a}, nil
}

func (m *fakeMedia) all() []mediaUpload {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]mediaUpload(nil), m.uploads...)
}

// ---------------------------------------------------------------------------------------------
// Fixture

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type fixture struct {
	t     *testing.T
	db    *database.DB
	cfg   setup
	svc   *Service
	h     http.Handler
	cms   *fakeCMS
	media *fakeMedia
	clock *testClock
	logs  *syncBuffer

	mu        sync.Mutex
	responses []*response // every response the handler gave, to check for leaked secrets
	secrets   []string    // values no response, event or log may contain
}

// epoch is the fixtures' start time.
var epoch = time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)

// setup is the service's Config and Deps, which a fixture's edits change together.
type setup struct {
	Config
	Deps
}

// newFixture migrates db and builds the service with fakes, a loopback fetcher and a fixed clock.
func newFixture(t *testing.T, db *database.DB, edit ...func(*setup)) *fixture {
	t.Helper()
	ctx := context.Background()
	if err := db.Migrate(ctx, Migrations.Component, Migrations.FS); err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx, outbox.Component, outbox.Migrations()); err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, db: db, cms: newFakeCMS(), media: &fakeMedia{}, clock: &testClock{t: epoch}, logs: &syncBuffer{}}
	f.cfg = setup{
		Config{CredentialsKey: testKey, PollInterval: time.Hour},
		Deps{DB: db, Fetcher: fetch.New(fetch.Config{AllowLoopback: true, Timeout: 20 * time.Second}), CMS: f.cms, Media: f.media, Now: f.clock.now,
			Log: slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))},
	}
	for _, e := range edit {
		e(&f.cfg)
	}
	f.svc = f.service()
	h, err := f.svc.Handler(slog.New(slog.DiscardHandler), tokens{})
	if err != nil {
		t.Fatal(err)
	}
	f.h = h
	t.Cleanup(f.checkSecrets)
	return f
}

// service returns another service on the fixture's database and configuration (another worker).
func (f *fixture) service() *Service {
	f.t.Helper()
	s, err := New(f.cfg.Config, f.cfg.Deps)
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

// secret registers a value that must never leave the service.
func (f *fixture) secret(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.secrets = append(f.secrets, s)
}

// checkSecrets fails the test when a response, an outbox event or a log line holds a secret.
func (f *fixture) checkSecrets() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.secrets) == 0 {
		return
	}
	var events [][]byte
	if recs, err := outbox.Unsent(context.Background(), f.db, 100000); err == nil {
		for _, r := range recs {
			events = append(events, r.Payload)
		}
	}
	logs := f.logs.String()
	for _, s := range f.secrets {
		for _, r := range f.responses {
			if bytes.Contains(r.body, []byte(s)) {
				f.t.Errorf("a response body holds the secret %q: %s", s, r.body)
			}
			for k, vs := range r.header {
				for _, v := range vs {
					if strings.Contains(v, s) {
						f.t.Errorf("response header %s holds the secret %q", k, s)
					}
				}
			}
		}
		for _, e := range events {
			if bytes.Contains(e, []byte(s)) {
				f.t.Errorf("an outbox event holds the secret %q", s)
			}
		}
		if strings.Contains(logs, s) {
			f.t.Errorf("the logs hold the secret %q", s)
		}
	}
}

// response is a recorded HTTP response.
type response struct {
	code   int
	header http.Header
	body   []byte
}

// do sends a request to the service; headers come in name, value pairs.
func (f *fixture) do(method, path, token string, body any, headers ...string) *response {
	f.t.Helper()
	var r io.Reader
	if body != nil {
		if s, ok := body.(string); ok {
			r = strings.NewReader(s)
		} else {
			r = bytes.NewReader(mustJSON(body))
		}
	}
	req := httptest.NewRequest(method, path, r)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	out := &response{code: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
	f.mu.Lock()
	f.responses = append(f.responses, out)
	f.mu.Unlock()
	return out
}

// must checks the status and decodes the body into v (when not nil).
func (r *response) must(t *testing.T, status int, v any) {
	t.Helper()
	if r.code != status {
		t.Fatalf("status %d, want %d: %s", r.code, status, r.body)
	}
	if v != nil {
		reflect.ValueOf(v).Elem().SetZero()
		if err := json.Unmarshal(r.body, v); err != nil {
			t.Fatalf("decode %s: %v", r.body, err)
		}
	}
}

// problemBody is the part of a Problem body the tests look at.
type problemBody struct {
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Errors []struct {
		Field string `json:"field"`
		Code  string `json:"code"`
	} `json:"errors"`
}

// fails checks that the response is a Problem with the status, naming field when not "".
func (r *response) fails(t *testing.T, status int, field string) {
	t.Helper()
	var p problemBody
	r.must(t, status, &p)
	if p.Status != status {
		t.Fatalf("problem status %d, want %d: %s", p.Status, status, r.body)
	}
	if field == "" {
		return
	}
	for _, e := range p.Errors {
		if e.Field == field {
			return
		}
	}
	t.Fatalf("problem %s does not name the field %s", r.body, field)
}

func sourcePath(id uuid.UUID, action ...string) string {
	return "/api/v1/ingest/sources/" + id.String() + strings.Join(append([]string{""}, action...), "/")
}

func runPath(id uuid.UUID) string { return "/api/v1/ingest/runs/" + id.String() }

func ptr[T any](v T) *T { return &v }

// target is a target without a program, with podcast/ar defaults.
func target() map[string]any {
	return map[string]any{"default_kind": "podcast", "default_language": "ar"}
}

// rssSource is the body of an enabled RSS source of url.
func rssSource(name, url string) map[string]any {
	return map[string]any{"name": name, "type": "rss", "url": url, "target": target()}
}

// talksMapping is feedtest.TalksMapping as the API spells it.
func talksMapping() map[string]any {
	return map[string]any{
		"items_path": "$.data.items[*]", "guid": "id", "title": "attributes.title", "description": "attributes.summary",
		"published_at": "attributes.published", "duration": "attributes.length_seconds",
		"media_url": "attributes.video.url", "image_url": "attributes.poster.url",
	}
}

// createSource creates a source as ADMIN.
func (f *fixture) createSource(body map[string]any) ingestapi.Source {
	f.t.Helper()
	var s ingestapi.Source
	f.do(http.MethodPost, "/api/v1/ingest/sources", "admin", body).must(f.t, http.StatusCreated, &s)
	return s
}

// trigger queues a manual run as ADMIN.
func (f *fixture) trigger(id uuid.UUID, full bool) ingestapi.IngestRun {
	f.t.Helper()
	var r ingestapi.IngestRun
	f.do(http.MethodPost, sourcePath(id, "runs"), "admin", map[string]any{"full_refresh": full}).must(f.t, http.StatusAccepted, &r)
	return r
}

// getRun reads a run through the API.
func (f *fixture) getRun(id uuid.UUID) ingestapi.IngestRun {
	f.t.Helper()
	var r ingestapi.IngestRun
	f.do(http.MethodGet, runPath(id), "editor", nil).must(f.t, http.StatusOK, &r)
	return r
}

// getSource reads a source through the API.
func (f *fixture) getSource(id uuid.UUID) ingestapi.Source {
	f.t.Helper()
	var s ingestapi.Source
	f.do(http.MethodGet, sourcePath(id), "editor", nil).must(f.t, http.StatusOK, &s)
	return s
}

// source reads the stored source.
func (f *fixture) source(id uuid.UUID) *ingestdb.Source {
	f.t.Helper()
	s, err := f.svc.read.Source.Get(context.Background(), id)
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

// runOnce claims the next run, which must be want, executes it and returns it as the API shows it.
func (f *fixture) runOnce(want uuid.UUID) ingestapi.IngestRun {
	f.t.Helper()
	ctx := context.Background()
	r, err := f.svc.claim(ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	if r == nil || r.ID != want {
		f.t.Fatalf("claimed %v, want run %s", r, want)
	}
	f.svc.execute(ctx, r)
	out := f.getRun(want)
	if out.Status == ingestapi.Queued || out.Status == ingestapi.Running {
		f.t.Fatalf("run %s is still %s after execute; logs:\n%s", want, out.Status, f.logs.String())
	}
	return out
}

// count counts the rows of a table.
func (f *fixture) count(table string) int {
	f.t.Helper()
	var n int
	if err := f.db.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil {
		f.t.Fatal(err)
	}
	return n
}

// event is one decoded outbox row.
type event struct {
	typ       string
	aggregate string
	value     any // *ingestevents.IngestCompleted or *ingestevents.IngestFailed
}

// events decodes every outbox row with the ingest event schemas.
func (f *fixture) events() []event {
	f.t.Helper()
	recs, err := outbox.Unsent(context.Background(), f.db, 100000)
	if err != nil {
		f.t.Fatal(err)
	}
	out := make([]event, 0, len(recs))
	for _, r := range recs {
		fp, _, err := eventbus.ParseSingleObject(r.Payload)
		if err != nil {
			f.t.Fatal(err)
		}
		typ, ok := ingestevents.EventTypeForFingerprint(fp)
		if !ok || typ != r.EventType || r.Topic != ingestevents.TopicIngestEvents {
			f.t.Fatalf("outbox row %d: type %q topic %q, payload fingerprint %x", r.ID, r.EventType, r.Topic, fp)
		}
		schema, _ := ingestevents.SchemaFor(typ)
		v, _ := ingestevents.New(typ)
		if err := eventbus.Decode(r.Payload, schema, v); err != nil {
			f.t.Fatalf("outbox row %d (%s): %v", r.ID, typ, err)
		}
		var agg, id string
		switch e := v.(type) {
		case *ingestevents.IngestCompleted:
			agg, id = e.AggregateID, e.EventID
		case *ingestevents.IngestFailed:
			agg, id = e.AggregateID, e.EventID
		}
		if agg != r.AggregateID || id != r.EventID {
			f.t.Fatalf("outbox row %d: aggregate %s event %s, payload says %s %s", r.ID, r.AggregateID, r.EventID, agg, id)
		}
		out = append(out, event{typ: typ, aggregate: r.AggregateID, value: v})
	}
	return out
}

// completed returns the ingest.completed event of run id; there must be exactly one event for it.
func (f *fixture) completed(run uuid.UUID) *ingestevents.IngestCompleted {
	f.t.Helper()
	var found []*ingestevents.IngestCompleted
	for _, e := range f.events() {
		switch v := e.value.(type) {
		case *ingestevents.IngestCompleted:
			if v.RunID == run.String() {
				found = append(found, v)
			}
		case *ingestevents.IngestFailed:
			if v.RunID == run.String() {
				f.t.Fatalf("run %s has an ingest.failed event: %+v", run, v)
			}
		}
	}
	if len(found) != 1 {
		f.t.Fatalf("run %s has %d ingest.completed events, want 1", run, len(found))
	}
	return found[0]
}

// failed returns the ingest.failed event of run id; there must be exactly one event for it.
func (f *fixture) failed(run uuid.UUID) *ingestevents.IngestFailed {
	f.t.Helper()
	var found []*ingestevents.IngestFailed
	for _, e := range f.events() {
		switch v := e.value.(type) {
		case *ingestevents.IngestFailed:
			if v.RunID == run.String() {
				found = append(found, v)
			}
		case *ingestevents.IngestCompleted:
			if v.RunID == run.String() {
				f.t.Fatalf("run %s has an ingest.completed event: %+v", run, v)
			}
		}
	}
	if len(found) != 1 {
		f.t.Fatalf("run %s has %d ingest.failed events, want 1", run, len(found))
	}
	return found[0]
}
