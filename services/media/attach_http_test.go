package media

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/gen/openapi/cmsapi"
	"github.com/mediamesh/mediamesh/gen/openapi/mediaapi"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
	"github.com/mediamesh/mediamesh/internal/httpserver"
)

// fakeContent is a program or an episode of the fake CMS: the asset fields an upload may set.
type fakeContent struct {
	deleted                 bool
	cover, thumbnail, media *uuid.UUID
}

// fakeCMS is the CMS as the media service sees it: programs and episodes that exist or not, a
// service that is down or refuses. Like the CMS, it accepts an asset only after asking the media
// service about it, as the caller (the fixture's handler): the asset must exist by then.
type fakeCMS struct {
	f  *fixture
	mu sync.Mutex

	programs, episodes map[uuid.UUID]*fakeContent
	down               bool // every call fails (unreachable, breaker open)
	downOnChange       bool // reads answer, changes fail: the CMS went away after the read
	status             int  // every call is answered with this status, when not zero
	changeStatus       int  // changes are answered with this status, when not zero
	reads, changes     int
	auth, requestID    string // the Authorization and X-Request-ID of the last call
	client             string // the X-Forwarded-For of the last call
	assetStatus        []int  // what the media service answered the change's asset lookups
	deleteOnChange     func() // runs before a change is answered (the content deleted meanwhile)
}

func newFakeCMS(f *fixture) *fakeCMS {
	return &fakeCMS{f: f, programs: map[uuid.UUID]*fakeContent{}, episodes: map[uuid.UUID]*fakeContent{}}
}

// program adds a program and returns its id.
func (c *fakeCMS) program() uuid.UUID {
	id := uuid.Must(uuid.NewV7())
	c.mu.Lock()
	defer c.mu.Unlock()
	c.programs[id] = &fakeContent{}
	return id
}

// episode adds an episode and returns its id.
func (c *fakeCMS) episode() uuid.UUID {
	id := uuid.Must(uuid.NewV7())
	c.mu.Lock()
	defer c.mu.Unlock()
	c.episodes[id] = &fakeContent{}
	return id
}

func (c *fakeCMS) set(fn func(c *fakeCMS)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fn(c)
}

func (c *fakeCMS) content(programs bool, id uuid.UUID) fakeContent {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.episodes
	if programs {
		m = c.programs
	}
	if x, ok := m[id]; ok {
		return *x
	}
	return fakeContent{}
}

// call applies the request editors, records the call and answers its status (0: the call failed).
func (c *fakeCMS) call(ctx context.Context, method, path string, change bool, editors []cmsapi.RequestEditorFn) (*http.Request, int, error) {
	req, err := http.NewRequestWithContext(ctx, method, "http://cms"+path, nil)
	if err != nil {
		return nil, 0, err
	}
	for _, e := range editors {
		if err := e(ctx, req); err != nil {
			return nil, 0, err
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.auth, c.requestID, c.client = req.Header.Get("Authorization"), req.Header.Get("X-Request-ID"), req.Header.Get("X-Forwarded-For")
	if change {
		c.changes++
	} else {
		c.reads++
	}
	if c.down || (change && c.downOnChange) {
		return nil, 0, errors.New("dial tcp: connection refused")
	}
	if c.status != 0 {
		return req, c.status, nil
	}
	if change && c.changeStatus != 0 {
		return req, c.changeStatus, nil
	}
	return req, http.StatusOK, nil
}

// find answers the content's status: 404 when it does not exist; 409 for a change of a deleted one.
func (c *fakeCMS) find(m map[uuid.UUID]*fakeContent, id uuid.UUID, change bool) (*fakeContent, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	x, ok := m[id]
	switch {
	case !ok:
		return nil, http.StatusNotFound
	case change && x.deleted:
		return nil, http.StatusConflict
	}
	return x, http.StatusOK
}

// checkAsset asks the media service about the asset as the caller, as the CMS does: 422 unless it
// exists.
func (c *fakeCMS) checkAsset(req *http.Request, id uuid.UUID) int {
	r := httptest.NewRequest(http.MethodGet, assetPath(id), nil)
	r.Header.Set("Authorization", req.Header.Get("Authorization"))
	rec := httptest.NewRecorder()
	c.f.h.ServeHTTP(rec, r)
	c.mu.Lock()
	c.assetStatus = append(c.assetStatus, rec.Code)
	c.mu.Unlock()
	if rec.Code != http.StatusOK {
		return http.StatusUnprocessableEntity
	}
	return http.StatusOK
}

func answer(status int) *http.Response {
	return &http.Response{StatusCode: status, Header: http.Header{"Retry-After": []string{"17"}}}
}

func (c *fakeCMS) GetProgramWithResponse(ctx context.Context, id cmsapi.ProgramId, editors ...cmsapi.RequestEditorFn) (*cmsapi.GetProgramResponse, error) {
	_, status, err := c.call(ctx, http.MethodGet, "/api/v1/cms/programs/"+id.String(), false, editors)
	if err != nil {
		return nil, err
	}
	r := &cmsapi.GetProgramResponse{HTTPResponse: answer(status)}
	if status == http.StatusOK {
		x, found := c.find(c.programs, id, false)
		r.HTTPResponse.StatusCode = found
		if x != nil {
			r.JSON200 = &cmsapi.Program{Id: id}
			if x.deleted {
				r.JSON200.DeletedAt = ptr(c.f.clock.now())
			}
		}
	}
	return r, nil
}

func (c *fakeCMS) GetEpisodeWithResponse(ctx context.Context, id cmsapi.EpisodeId, editors ...cmsapi.RequestEditorFn) (*cmsapi.GetEpisodeResponse, error) {
	_, status, err := c.call(ctx, http.MethodGet, "/api/v1/cms/episodes/"+id.String(), false, editors)
	if err != nil {
		return nil, err
	}
	r := &cmsapi.GetEpisodeResponse{HTTPResponse: answer(status)}
	if status == http.StatusOK {
		x, found := c.find(c.episodes, id, false)
		r.HTTPResponse.StatusCode = found
		if x != nil {
			r.JSON200 = &cmsapi.Episode{Id: id}
			if x.deleted {
				r.JSON200.DeletedAt = ptr(c.f.clock.now())
			}
		}
	}
	return r, nil
}

// change applies a change of one asset field of m[id], as the CMS does: the content must exist and
// not be deleted, the asset must exist in the media service.
func (c *fakeCMS) change(ctx context.Context, m map[uuid.UUID]*fakeContent, id uuid.UUID, path string, asset uuid.UUID, field func(*fakeContent) **uuid.UUID, editors []cmsapi.RequestEditorFn) (*http.Response, error) {
	req, status, err := c.call(ctx, http.MethodPatch, path, true, editors)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return answer(status), nil
	}
	if c.deleteOnChange != nil {
		c.deleteOnChange()
	}
	x, status := c.find(m, id, true)
	if status != http.StatusOK {
		return answer(status), nil
	}
	if status := c.checkAsset(req, asset); status != http.StatusOK {
		return answer(status), nil
	}
	c.mu.Lock()
	*field(x) = &asset
	c.mu.Unlock()
	return answer(http.StatusOK), nil
}

func (c *fakeCMS) UpdateProgramWithResponse(ctx context.Context, id cmsapi.ProgramId, _ *cmsapi.UpdateProgramParams, body cmsapi.UpdateProgramJSONRequestBody, editors ...cmsapi.RequestEditorFn) (*cmsapi.UpdateProgramResponse, error) {
	asset, err := body.CoverAssetId.Get()
	if err != nil {
		return nil, err
	}
	resp, err := c.change(ctx, c.programs, id, "/api/v1/cms/programs/"+id.String(), asset, func(x *fakeContent) **uuid.UUID { return &x.cover }, editors)
	if err != nil {
		return nil, err
	}
	return &cmsapi.UpdateProgramResponse{HTTPResponse: resp}, nil
}

func (c *fakeCMS) UpdateEpisodeWithResponse(ctx context.Context, id cmsapi.EpisodeId, _ *cmsapi.UpdateEpisodeParams, body cmsapi.UpdateEpisodeJSONRequestBody, editors ...cmsapi.RequestEditorFn) (*cmsapi.UpdateEpisodeResponse, error) {
	field := func(x *fakeContent) **uuid.UUID { return &x.thumbnail }
	asset, err := body.ThumbnailAssetId.Get()
	if !body.ThumbnailAssetId.IsSpecified() {
		field = func(x *fakeContent) **uuid.UUID { return &x.media }
		asset, err = body.MediaAssetId.Get()
	}
	if err != nil {
		return nil, err
	}
	resp, err := c.change(ctx, c.episodes, id, "/api/v1/cms/episodes/"+id.String(), asset, field, editors)
	if err != nil {
		return nil, err
	}
	return &cmsapi.UpdateEpisodeResponse{HTTPResponse: resp}, nil
}

// TestUploadAttachAs checks that an upload's attach_as sets the CMS field it names, through the
// CMS as the caller, once the asset is stored: a program's cover, an episode's thumbnail and media.
func TestUploadAttachAs(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, Config{}, Deps{})
		program, episode := f.cms.program(), f.cms.episode()

		var cover mediaapi.Asset
		body, ct := multipartBody(t, filePart("cover.png", "image/png", pngBytes(t, 64, 48)), field("visibility", "public"),
			field("attach_content_type", "program"), field("attach_content_id", program.String()), field("attach_as", "cover"))
		// As the server's middleware would have it: the client's address in the context.
		req := httptest.NewRequestWithContext(httpserver.WithClient(context.Background(), "203.0.113.7"), http.MethodPost, "/api/v1/media/assets", bytes.NewReader(body))
		req.Header.Set("Content-Type", ct)
		req.Header.Set("Authorization", "Bearer editor")
		req.Header.Set("X-Request-ID", "attach-request-1")
		rec := httptest.NewRecorder()
		f.h.ServeHTTP(rec, req)
		(&response{code: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}).must(t, http.StatusCreated, &cover)
		if got := f.cms.content(true, program).cover; got == nil || *got != cover.Id {
			t.Fatalf("the program's cover is %v, want %s", got, cover.Id)
		}
		if cover.AttachedTo == nil || cover.AttachedTo.ContentId != program || cover.AttachedTo.ContentType != mediaapi.Program {
			t.Fatalf("attached_to %+v", cover.AttachedTo)
		}
		// The CMS was called as the caller (credentials, client address, request id), and found
		// the asset stored when it asked.
		if f.cms.auth != "Bearer editor" || f.cms.requestID != "attach-request-1" || f.cms.client != "203.0.113.7" {
			t.Fatalf("the CMS saw Authorization %q, X-Request-ID %q, X-Forwarded-For %q", f.cms.auth, f.cms.requestID, f.cms.client)
		}
		if len(f.cms.assetStatus) != 1 || f.cms.assetStatus[0] != http.StatusOK {
			t.Fatalf("the CMS's asset lookups answered %v", f.cms.assetStatus)
		}
		if f.cms.reads != 1 || f.cms.changes != 1 {
			t.Fatalf("%d reads and %d changes of the CMS, want 1 and 1", f.cms.reads, f.cms.changes)
		}
		f.get(cover.Id)

		var thumb mediaapi.Asset
		f.upload("admin", filePart("thumb.jpg", "image/jpeg", jpegBytes(t, 32, 32)),
			field("attach_content_type", "episode"), field("attach_content_id", episode.String()), field("attach_as", "thumbnail"),
		).must(t, http.StatusCreated, &thumb)
		var media mediaapi.Asset
		f.upload("editor", filePart("sound.wav", "audio/wav", wavBytes(4096)),
			field("attach_content_type", "episode"), field("attach_content_id", episode.String()), field("attach_as", "media"),
		).must(t, http.StatusCreated, &media)
		got := f.cms.content(false, episode)
		if got.thumbnail == nil || *got.thumbnail != thumb.Id || got.media == nil || *got.media != media.Id {
			t.Fatalf("the episode's thumbnail %v and media %v, want %s and %s", got.thumbnail, got.media, thumb.Id, media.Id)
		}
		if f.cms.auth != "Bearer editor" {
			t.Fatalf("the CMS saw Authorization %q", f.cms.auth)
		}

		// Without attach_as the CMS is not asked: attaching alone is the media service's own record.
		reads, changes := f.cms.reads, f.cms.changes
		f.uploadImage(jpegBytes(t, 16, 16), field("attach_content_type", "program"), field("attach_content_id", uuid.Must(uuid.NewV7()).String()))
		if f.cms.reads != reads || f.cms.changes != changes {
			t.Fatal("an upload without attach_as called the CMS")
		}
	})
}

// TestUploadAttachAsRefused checks every way attach_as fails: the upload is then answered with a
// problem naming the field at fault, and leaves no asset, no bytes and no event, whether it failed
// before the file was stored (checked with the CMS first) or after (the asset is withdrawn).
func TestUploadAttachAsRefused(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, Config{}, Deps{})
		program, episode := f.cms.program(), f.cms.episode()
		img := pngBytes(t, 40, 30)
		attach := func(typ string, id uuid.UUID, as string) []part {
			return []part{field("attach_content_type", typ), field("attach_content_id", id.String()), field("attach_as", as)}
		}
		upload := func(data []byte, parts ...part) *response {
			t.Helper()
			return f.upload("editor", append([]part{filePart("f", "", data)}, parts...)...)
		}
		// untouched checks that nothing was stored and the CMS kept its fields; withdrawn that the
		// only trace of an upload is its asset.updated and asset.deleted events.
		untouched := func(withdrawn int) {
			t.Helper()
			if n, err := f.svc.read.Asset.Query().Count(context.Background()); err != nil || n != 0 {
				t.Fatalf("%d assets (%v), want none", n, err)
			}
			if files := f.objectFiles(); len(files) != 0 {
				t.Fatalf("the store holds %v", files)
			}
			updated, deleted := 0, 0
			for _, e := range f.allEvents() {
				if e.updated != nil {
					updated++
				} else {
					deleted++
					if e.deleted.Reason != reasonDeleted {
						t.Fatalf("a withdrawn upload's asset.deleted says %q", e.deleted.Reason)
					}
				}
			}
			if updated != withdrawn || deleted != withdrawn {
				t.Fatalf("%d asset.updated and %d asset.deleted events, want %d of each", updated, deleted, withdrawn)
			}
			if p := f.cms.content(true, program); p.cover != nil {
				t.Fatalf("the program's cover was set to %s", p.cover)
			}
			if e := f.cms.content(false, episode); e.thumbnail != nil || e.media != nil {
				t.Fatalf("the episode's fields were set: %+v", e)
			}
		}

		// Refused before the CMS is asked: attach_as without its attachment, a role the content
		// has no field for, an unknown role, a file of the wrong kind.
		upload(img, field("attach_as", "cover")).fails(t, http.StatusUnprocessableEntity, "attach_as")
		upload(img, attach("episode", episode, "cover")...).fails(t, http.StatusUnprocessableEntity, "attach_as")
		upload(img, attach("program", program, "thumbnail")...).fails(t, http.StatusUnprocessableEntity, "attach_as")
		upload(img, attach("program", program, "poster")...).fails(t, http.StatusUnprocessableEntity, "attach_as")
		upload(wavBytes(2048), attach("program", program, "cover")...).fails(t, http.StatusUnprocessableEntity, "attach_as")
		upload(img, attach("episode", episode, "media")...).fails(t, http.StatusUnprocessableEntity, "attach_as")
		if f.cms.reads+f.cms.changes != 0 {
			t.Fatal("the CMS was asked about a refused upload")
		}
		untouched(0)

		// Refused by the CMS's read: unknown content (422 on attach_content_id), a deleted one
		// (409), a caller it refuses (403), a CMS that is down or failing (503 with Retry-After).
		upload(img, attach("program", uuid.Must(uuid.NewV7()), "cover")...).fails(t, http.StatusUnprocessableEntity, "attach_content_id")
		upload(img, attach("episode", uuid.Must(uuid.NewV7()), "thumbnail")...).fails(t, http.StatusUnprocessableEntity, "attach_content_id")
		gone := f.cms.program()
		f.cms.set(func(c *fakeCMS) { c.programs[gone].deleted = true })
		upload(img, attach("program", gone, "cover")...).fails(t, http.StatusConflict, "")
		f.cms.set(func(c *fakeCMS) { c.status = http.StatusForbidden })
		upload(img, attach("program", program, "cover")...).fails(t, http.StatusForbidden, "")
		f.cms.set(func(c *fakeCMS) { c.status = http.StatusInternalServerError })
		r := upload(img, attach("program", program, "cover")...)
		r.fails(t, http.StatusServiceUnavailable, "")
		if r.header.Get("Retry-After") != "17" {
			t.Fatalf("Retry-After %q, want the CMS's 17", r.header.Get("Retry-After"))
		}
		f.cms.set(func(c *fakeCMS) { c.status, c.down = 0, true })
		r = upload(img, attach("program", program, "cover")...)
		r.fails(t, http.StatusServiceUnavailable, "")
		if r.header.Get("Retry-After") == "" {
			t.Fatal("503 without Retry-After")
		}
		if f.cms.changes != 0 {
			t.Fatalf("%d changes asked of the CMS after a refused read", f.cms.changes)
		}
		untouched(0)

		// Refused by the change, after the asset was stored: the CMS went down, the content was
		// deleted or purged meanwhile, the change itself refused. Each upload is withdrawn.
		f.cms.set(func(c *fakeCMS) { c.down, c.downOnChange = false, true })
		upload(img, attach("program", program, "cover")...).fails(t, http.StatusServiceUnavailable, "")
		untouched(1)
		f.cms.set(func(c *fakeCMS) {
			c.downOnChange = false
			c.deleteOnChange = func() { c.mu.Lock(); c.programs[program].deleted = true; c.mu.Unlock() }
		})
		upload(img, attach("program", program, "cover")...).fails(t, http.StatusConflict, "")
		untouched(2)
		f.cms.set(func(c *fakeCMS) {
			c.programs[program].deleted = false
			c.deleteOnChange = func() { c.mu.Lock(); delete(c.episodes, episode); c.mu.Unlock() }
		})
		upload(img, attach("episode", episode, "thumbnail")...).fails(t, http.StatusUnprocessableEntity, "attach_content_id")
		untouched(3)
		f.cms.set(func(c *fakeCMS) {
			c.deleteOnChange, c.episodes[episode], c.changeStatus = nil, &fakeContent{}, http.StatusForbidden
		})
		upload(img, attach("episode", episode, "thumbnail")...).fails(t, http.StatusForbidden, "")
		untouched(4)
		f.cms.set(func(c *fakeCMS) { c.changeStatus = http.StatusUnprocessableEntity })
		upload(img, attach("program", program, "cover")...).fails(t, http.StatusUnprocessableEntity, "attach_as")
		untouched(5)

		// And once the CMS answers again, the same upload goes through.
		f.cms.set(func(c *fakeCMS) { c.changeStatus = 0 })
		var a mediaapi.Asset
		upload(img, attach("program", program, "cover")...).must(t, http.StatusCreated, &a)
		if p := f.cms.content(true, program); p.cover == nil || *p.cover != a.Id {
			t.Fatalf("the program's cover is %v, want %s", p.cover, a.Id)
		}
	})
}

// TestUploadAttachAsCMSUnreachable checks the generated CMS client against a CMS that is not
// there: the upload is 503 with Retry-After and stores nothing, and one without attach_as goes
// through.
func TestUploadAttachAsCMSUnreachable(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		gone := httptest.NewServer(http.NotFoundHandler())
		gone.Close()
		client, err := cmsapi.NewClientWithResponses(gone.URL)
		if err != nil {
			t.Fatal(err)
		}
		f := newFixture(t, db, Config{}, Deps{CMS: client})
		r := f.upload("editor", filePart("cover.png", "image/png", pngBytes(t, 20, 20)),
			field("attach_content_type", "program"), field("attach_content_id", uuid.Must(uuid.NewV7()).String()), field("attach_as", "cover"))
		r.fails(t, http.StatusServiceUnavailable, "")
		if r.header.Get("Retry-After") == "" {
			t.Fatal("503 without Retry-After")
		}
		if n, err := f.svc.read.Asset.Query().Count(context.Background()); err != nil || n != 0 {
			t.Fatalf("%d assets (%v), want none", n, err)
		}
		if files := f.objectFiles(); len(files) != 0 {
			t.Fatalf("the store holds %v", files)
		}
		f.uploadImage(pngBytes(t, 20, 20))
	})
}

// TestUploadSessionAttachAs checks attach_as on an upload session: the content is checked with the
// CMS when the session is opened (no session when that fails), and the field is set when the upload
// is completed; a completion whose change fails keeps the ready asset and its pending field, and
// completing again sets it. Moving the attachment drops what the session asked.
func TestUploadSessionAttachAs(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, Config{}, Deps{})
		program, episode := f.cms.program(), f.cms.episode()
		img, sound := pngBytes(t, 48, 32), wavBytes(8192)
		to := func(typ string, id uuid.UUID, as string) map[string]any {
			return map[string]any{"attached_to": map[string]any{"content_type": typ, "content_id": id}, "attach_as": as}
		}
		open := func(name, ct string, data []byte, extra map[string]any) *response {
			t.Helper()
			body := map[string]any{"filename": name, "content_type": ct, "size_bytes": len(data), "checksum_sha256": sum(data)}
			for k, v := range extra {
				body[k] = v
			}
			return f.do(http.MethodPost, "/api/v1/media/uploads", "editor", body)
		}
		assets := func() int {
			t.Helper()
			n, err := f.svc.read.Asset.Query().Count(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			return n
		}

		// Refused when opened, and no session: attach_as alone, a field the content lacks, a file
		// of the wrong kind, content the CMS does not know, a CMS that is down.
		open("c.png", "image/png", img, map[string]any{"attach_as": "cover"}).fails(t, http.StatusUnprocessableEntity, "attach_as")
		open("c.png", "image/png", img, to("episode", episode, "cover")).fails(t, http.StatusUnprocessableEntity, "attach_as")
		open("v.mp4", "video/mp4", mp4Bytes(4096), to("program", program, "cover")).fails(t, http.StatusUnprocessableEntity, "attach_as")
		open("c.png", "image/png", img, to("program", uuid.Must(uuid.NewV7()), "cover")).fails(t, http.StatusUnprocessableEntity, "attached_to.content_id")
		f.cms.set(func(c *fakeCMS) { c.down = true })
		open("c.png", "image/png", img, to("program", program, "cover")).fails(t, http.StatusServiceUnavailable, "")
		f.cms.set(func(c *fakeCMS) { c.down = false })
		if n := assets(); n != 0 {
			t.Fatalf("%d assets after refused sessions", n)
		}

		// A cover: checked when opened, set when completed, by the completing caller.
		s := f.sessionFor("cover.png", "image/png", img, to("program", program, "cover"))
		if f.cms.changes != 0 || f.cms.content(true, program).cover != nil {
			t.Fatal("the cover was set before the upload was complete")
		}
		f.put(s, img)
		var a mediaapi.Asset
		f.do(http.MethodPost, completePath(s.AssetId), "admin", nil).must(t, http.StatusOK, &a)
		if got := f.cms.content(true, program).cover; got == nil || *got != s.AssetId || a.Status != mediaapi.Ready {
			t.Fatalf("the program's cover is %v after completing %s (%s)", got, s.AssetId, a.Status)
		}
		if f.cms.auth != "Bearer admin" || f.row(s.AssetId).AttachPending != nil {
			t.Fatalf("the CMS saw %q; attach_pending %v", f.cms.auth, f.row(s.AssetId).AttachPending)
		}
		changes := f.cms.changes
		f.do(http.MethodPost, completePath(s.AssetId), "editor", nil).must(t, http.StatusOK, nil)
		if f.cms.changes != changes {
			t.Fatal("completing a settled upload again changed the CMS again")
		}

		// An episode's media: the CMS is down when the upload is completed. The asset is ready and
		// keeps its bytes; the completion says 503, and completing again sets the field.
		s = f.sessionFor("sound.wav", "audio/wav", sound, to("episode", episode, "media"))
		f.put(s, sound)
		f.cms.set(func(c *fakeCMS) { c.downOnChange = true })
		f.do(http.MethodPost, completePath(s.AssetId), "editor", nil).fails(t, http.StatusServiceUnavailable, "")
		if a, _ := f.get(s.AssetId); a.Status != mediaapi.Ready || f.cms.content(false, episode).media != nil || f.row(s.AssetId).AttachPending == nil {
			t.Fatalf("after a failed change: %s, episode media %v, pending %v", a.Status, f.cms.content(false, episode).media, f.row(s.AssetId).AttachPending)
		}
		if _, ok := f.stored(f.row(s.AssetId).StorageKey); !ok {
			t.Fatal("the bytes of a ready upload were dropped")
		}
		f.cms.set(func(c *fakeCMS) { c.downOnChange = false })
		f.do(http.MethodPost, completePath(s.AssetId), "editor", nil).must(t, http.StatusOK, nil)
		if got := f.cms.content(false, episode).media; got == nil || *got != s.AssetId || f.row(s.AssetId).AttachPending != nil {
			t.Fatalf("the episode's media is %v after completing again", got)
		}

		// Attached elsewhere before completion: what the session asked is dropped.
		s = f.sessionFor("thumb.png", "image/png", img, to("episode", episode, "thumbnail"))
		_, etag := f.get(s.AssetId)
		f.do(http.MethodPatch, assetPath(s.AssetId), "editor", map[string]any{"attached_to": nil}, "If-Match", etag).must(t, http.StatusOK, nil)
		f.put(s, img)
		changes = f.cms.changes
		f.do(http.MethodPost, completePath(s.AssetId), "editor", nil).must(t, http.StatusOK, nil)
		if f.cms.changes != changes || f.cms.content(false, episode).thumbnail != nil {
			t.Fatal("a detached session's attach_as was applied")
		}
	})
}
