package media

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/ent/mediadb"
	"github.com/mediamesh/mediamesh/gen/events/contentevents"
	"github.com/mediamesh/mediamesh/gen/events/mediaevents"
	"github.com/mediamesh/mediamesh/gen/openapi/mediaapi"
	"github.com/mediamesh/mediamesh/internal/authn"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/eventbus"
	"github.com/mediamesh/mediamesh/internal/inbox"
	"github.com/mediamesh/mediamesh/internal/objectstore"
	"github.com/mediamesh/mediamesh/internal/outbox"
	"github.com/mediamesh/mediamesh/internal/policy"
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

// testClock is a controllable time source shared by the service and the local store.
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

// testStart is the fixed start of the clock of the tests on the local store.
var testStart = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const publicBase = "https://cdn.mediamesh.test/media"

// fixture is a migrated database, a store and the service's HTTP handler.
type fixture struct {
	t     *testing.T
	db    *database.DB
	svc   *Service
	h     http.Handler
	clock *testClock
	store objectstore.Store
	dir   string           // the local store's directory; "" for S3
	srv   *httptest.Server // serves the local store's Handler at srv.URL + "/media"
	cms   *fakeCMS         // the CMS, unless the test gave one (attach_http_test.go)
}

// migrateAll applies the migrations the media service runs with: its own, the outbox's and the inbox's.
func migrateAll(t *testing.T, db *database.DB) {
	t.Helper()
	for _, m := range []database.Migrations{
		Migrations,
		{Component: outbox.Component, FS: outbox.Migrations()},
		{Component: inbox.Component, FS: inbox.Migrations()},
	} {
		if err := db.Migrate(context.Background(), m.Component, m.FS); err != nil {
			t.Fatal(err)
		}
	}
}

// newFixture builds the service on db with cfg and d (PublicBaseURL, Store and Now are filled in
// when empty). Without d.Store it is a Local store in a temporary directory, served (with
// PublicRead = svc.PublicKey) by an httptest server, on the test clock.
func newFixture(t *testing.T, db *database.DB, cfg Config, d Deps) *fixture {
	t.Helper()
	migrateAll(t, db)
	f := &fixture{t: t, db: db, clock: &testClock{t: testStart}}
	if d.Now != nil {
		f.clock.t = d.Now()
	}
	var svc *Service
	if d.Store == nil {
		var local *objectstore.Local
		f.srv = httptest.NewServer(http.StripPrefix("/media", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			local.Handler().ServeHTTP(w, r)
		})))
		t.Cleanup(f.srv.Close)
		f.dir = t.TempDir()
		var err error
		local, err = objectstore.NewLocal(objectstore.LocalConfig{
			Dir: f.dir, BaseURL: f.srv.URL + "/media", Secret: bytes.Repeat([]byte{7}, 32), Now: f.clock.now,
			PublicRead: func(key string) bool { return svc != nil && svc.PublicKey(context.Background(), key) },
		})
		if err != nil {
			t.Fatal(err)
		}
		d.Store = local
	}
	if cfg.PublicBaseURL == "" {
		cfg.PublicBaseURL = publicBase
	}
	d.DB, d.Now, d.Log = db, f.clock.now, slog.New(slog.DiscardHandler)
	if d.CMS == nil {
		f.cms = newFakeCMS(f)
		d.CMS = f.cms
	}
	svc, err := New(cfg, d)
	if err != nil {
		t.Fatal(err)
	}
	h, err := svc.Handler(slog.New(slog.DiscardHandler), tokens{})
	if err != nil {
		t.Fatal(err)
	}
	f.svc, f.h, f.store = svc, h, d.Store
	return f
}

// response is a recorded HTTP response.
type response struct {
	code   int
	header http.Header
	body   []byte
}

// do sends a request to the service; a body that is not a string or []byte is sent as JSON;
// headers come in name, value pairs.
func (f *fixture) do(method, path, token string, body any, headers ...string) *response {
	f.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			f.t.Fatal(err)
		}
		r = bytes.NewReader(raw)
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
	return &response{code: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
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

// problem is the part of a Problem body the tests look at.
type problem struct {
	Type   string `json:"type"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Errors []struct {
		Field string `json:"field"`
		Code  string `json:"code"`
	} `json:"errors"`
}

// fails checks that the response is a problem+json with the status, naming field when not "",
// and returns it.
func (r *response) fails(t *testing.T, status int, field string) problem {
	t.Helper()
	var p problem
	r.must(t, status, &p)
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		t.Fatalf("status %d with Content-Type %q, want application/problem+json: %s", status, ct, r.body)
	}
	if p.Status != status {
		t.Fatalf("problem status %d, want %d", p.Status, status)
	}
	if field == "" {
		return p
	}
	for _, e := range p.Errors {
		if e.Field == field {
			return p
		}
	}
	t.Fatalf("problem %s does not name the field %s", r.body, field)
	return p
}

// part is one part of a multipart upload.
type part struct {
	name, filename, contentType string
	data                        []byte
}

func filePart(filename, contentType string, data []byte) part {
	return part{name: "file", filename: filename, contentType: contentType, data: data}
}

func field(name, value string) part { return part{name: name, data: []byte(value)} }

// multipartBody encodes parts as multipart/form-data and returns the body and its content type.
func multipartBody(t testing.TB, parts ...part) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		disp := `form-data; name="` + p.name + `"`
		if p.filename != "" {
			disp += `; filename="` + p.filename + `"`
		}
		h.Set("Content-Disposition", disp)
		if p.contentType != "" {
			h.Set("Content-Type", p.contentType)
		}
		pw, err := w.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pw.Write(p.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), w.FormDataContentType()
}

// upload posts parts to uploadAsset.
func (f *fixture) upload(token string, parts ...part) *response {
	f.t.Helper()
	body, ct := multipartBody(f.t, parts...)
	return f.do(http.MethodPost, "/api/v1/media/assets", token, body, "Content-Type", ct)
}

// uploadImage uploads data as EDITOR with extra fields and returns the created asset.
func (f *fixture) uploadImage(data []byte, extra ...part) mediaapi.Asset {
	f.t.Helper()
	var a mediaapi.Asset
	f.upload("editor", append([]part{filePart("picture.jpg", "image/jpeg", data)}, extra...)...).must(f.t, http.StatusCreated, &a)
	return a
}

// get reads an asset as EDITOR.
func (f *fixture) get(id uuid.UUID) (mediaapi.Asset, string) {
	f.t.Helper()
	var a mediaapi.Asset
	r := f.do(http.MethodGet, assetPath(id), "editor", nil)
	r.must(f.t, http.StatusOK, &a)
	return a, r.header.Get("ETag")
}

// row reads an asset's database row.
func (f *fixture) row(id uuid.UUID) *mediadb.Asset {
	f.t.Helper()
	a, err := f.svc.read.Asset.Get(context.Background(), id)
	if err != nil {
		f.t.Fatal(err)
	}
	return a
}

// gone checks that asset id does not exist any more.
func (f *fixture) gone(id uuid.UUID) {
	f.t.Helper()
	f.do(http.MethodGet, assetPath(id), "editor", nil).fails(f.t, http.StatusNotFound, "")
	if _, err := f.svc.read.Asset.Get(context.Background(), id); !mediadb.IsNotFound(err) {
		f.t.Fatalf("asset %s: row still there (%v)", id, err)
	}
}

func assetPath(id uuid.UUID, action ...string) string {
	return "/api/v1/media/assets/" + id.String() + strings.Join(append([]string{""}, action...), "/")
}

func completePath(id uuid.UUID) string { return "/api/v1/media/uploads/" + id.String() + "/complete" }

// list lists assets as EDITOR with the query.
func (f *fixture) list(query string) mediaapi.AssetList {
	f.t.Helper()
	var l mediaapi.AssetList
	f.do(http.MethodGet, "/api/v1/media/assets?"+query, "editor", nil).must(f.t, http.StatusOK, &l)
	return l
}

// stored reports whether the store holds key, and with which size.
func (f *fixture) stored(key string) (objectstore.Info, bool) {
	f.t.Helper()
	info, err := f.store.Stat(context.Background(), key)
	if errors.Is(err, objectstore.ErrNotFound) {
		return objectstore.Info{}, false
	}
	if err != nil {
		f.t.Fatalf("stat %s: %v", key, err)
	}
	return info, true
}

// mustStore checks that key is stored and returns its bytes.
func (f *fixture) mustStore(key string) []byte {
	f.t.Helper()
	rc, err := f.store.Open(context.Background(), key)
	if err != nil {
		f.t.Fatalf("open %s: %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		f.t.Fatal(err)
	}
	return b
}

// mustNotStore checks that key holds no object.
func (f *fixture) mustNotStore(keys ...string) {
	f.t.Helper()
	for _, k := range keys {
		if _, ok := f.stored(k); ok {
			f.t.Errorf("the store still holds %s", k)
		}
	}
}

// objectFiles lists the files under the local store's objects directory.
func (f *fixture) objectFiles() []string {
	f.t.Helper()
	var out []string
	root := filepath.Join(f.dir, "objects")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return out
}

// httpDo sends a request to a URL outside the service (the store), with headers in pairs.
func httpDo(t *testing.T, method, url string, body []byte, headers map[string]string) (int, []byte, http.Header) {
	t.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b, resp.Header
}

// session opens an upload session as EDITOR.
func (f *fixture) session(body map[string]any) (mediaapi.UploadSession, *response) {
	f.t.Helper()
	var s mediaapi.UploadSession
	r := f.do(http.MethodPost, "/api/v1/media/uploads", "editor", body)
	r.must(f.t, http.StatusCreated, &s)
	return s, r
}

// sessionFor opens an upload session declaring data's size and checksum with content type ct.
func (f *fixture) sessionFor(filename, ct string, data []byte, extra map[string]any) mediaapi.UploadSession {
	f.t.Helper()
	body := map[string]any{"filename": filename, "content_type": ct, "size_bytes": len(data), "checksum_sha256": sum(data)}
	for k, v := range extra {
		body[k] = v
	}
	s, _ := f.session(body)
	return s
}

// put uploads data to the session's URL with its headers and checks the store took it.
func (f *fixture) put(s mediaapi.UploadSession, data []byte) {
	f.t.Helper()
	code, body, _ := httpDo(f.t, string(s.Method), s.UploadUrl, data, s.Headers)
	if code != http.StatusOK {
		f.t.Fatalf("PUT to the upload URL: %d %s", code, body)
	}
}

// mediaEvent is one decoded row of the outbox: an asset.deleted or an asset.updated event.
type mediaEvent struct {
	rec     outbox.Record
	deleted *mediaevents.AssetDeleted // set for asset.deleted
	updated *mediaevents.AssetUpdated // set for asset.updated
}

// allEvents decodes the unsent outbox rows as media events, in order, checking each row against
// its payload.
func (f *fixture) allEvents() []mediaEvent {
	f.t.Helper()
	recs, err := outbox.Unsent(context.Background(), f.db, 10000)
	if err != nil {
		f.t.Fatal(err)
	}
	var out []mediaEvent
	for _, r := range recs {
		fp, _, err := eventbus.ParseSingleObject(r.Payload)
		if err != nil {
			f.t.Fatal(err)
		}
		typ, ok := mediaevents.EventTypeForFingerprint(fp)
		if !ok || typ != r.EventType || r.Topic != mediaevents.TopicMediaEvents {
			f.t.Fatalf("outbox row %d: type %q topic %q, payload fingerprint %x", r.ID, r.EventType, r.Topic, fp)
		}
		e := mediaEvent{rec: r}
		var ev outbox.Event
		switch typ {
		case mediaevents.TypeAssetDeleted:
			e.deleted = &mediaevents.AssetDeleted{}
			ev = e.deleted
		case mediaevents.TypeAssetUpdated:
			e.updated = &mediaevents.AssetUpdated{}
			ev = e.updated
		default:
			f.t.Fatalf("outbox row %d: unexpected event type %q", r.ID, typ)
		}
		if err := eventbus.Decode(r.Payload, ev.AvroSchema(), ev); err != nil {
			f.t.Fatalf("outbox row %d: %v", r.ID, err)
		}
		aggregate, eventID := "", ""
		if e.deleted != nil {
			aggregate, eventID = e.deleted.AggregateID, e.deleted.EventID
		} else {
			aggregate, eventID = e.updated.AggregateID, e.updated.EventID
		}
		if aggregate != r.AggregateID || eventID != r.EventID {
			f.t.Fatalf("outbox row %d: aggregate %s event %s, payload says %s %s", r.ID, r.AggregateID, r.EventID, aggregate, eventID)
		}
		out = append(out, e)
	}
	return out
}

// assetEvent is one decoded asset.deleted row of the outbox.
type assetEvent struct {
	rec outbox.Record
	ev  *mediaevents.AssetDeleted
}

// deletions returns the asset.deleted events of the outbox, in order.
func (f *fixture) deletions() []assetEvent {
	f.t.Helper()
	var out []assetEvent
	for _, e := range f.allEvents() {
		if e.deleted != nil {
			out = append(out, assetEvent{rec: e.rec, ev: e.deleted})
		}
	}
	return out
}

// deletionsOf returns the asset.deleted events of one asset.
func (f *fixture) deletionsOf(id uuid.UUID) []*mediaevents.AssetDeleted {
	f.t.Helper()
	var out []*mediaevents.AssetDeleted
	for _, e := range f.deletions() {
		if e.rec.AggregateID == id.String() {
			out = append(out, e.ev)
		}
	}
	return out
}

// updatesOf returns the asset.updated events of one asset, in order.
func (f *fixture) updatesOf(id uuid.UUID) []*mediaevents.AssetUpdated {
	f.t.Helper()
	var out []*mediaevents.AssetUpdated
	for _, e := range f.allEvents() {
		if e.updated != nil && e.rec.AggregateID == id.String() {
			out = append(out, e.updated)
		}
	}
	return out
}

// lastUpdate checks that asset id has n asset.updated events and returns the last one.
func (f *fixture) lastUpdate(id uuid.UUID, n int) *mediaevents.AssetUpdated {
	f.t.Helper()
	evs := f.updatesOf(id)
	if len(evs) != n {
		f.t.Fatalf("asset %s: %d asset.updated events, want %d", id, len(evs), n)
	}
	return evs[n-1]
}

// checkUpdate checks an asset.updated event of asset a at version: public (with the CDN URL of
// a's original) or not (no URLs), and the CDN URLs of the thumbnails (by size; none unless public).
func (f *fixture) checkUpdate(ev *mediaevents.AssetUpdated, a mediaapi.Asset, version int64, public bool, thumbnails map[string]string) {
	f.t.Helper()
	if ev.AggregateID != a.Id.String() || ev.Kind != string(a.Kind) || ev.Public != public || ev.Version != version {
		f.t.Errorf("asset %s: asset.updated %s %s public %v version %d, want %s public %v version %d",
			a.Id, ev.AggregateID, ev.Kind, ev.Public, ev.Version, a.Kind, public, version)
	}
	switch {
	case public && (ev.PublicURL == nil || *ev.PublicURL != publicBase+"/"+a.StorageKey):
		f.t.Errorf("asset %s: public_url %v, want %s", a.Id, ev.PublicURL, publicBase+"/"+a.StorageKey)
	case !public && ev.PublicURL != nil:
		f.t.Errorf("asset %s: public_url %s of an asset that is not public", a.Id, *ev.PublicURL)
	}
	if thumbnails == nil {
		thumbnails = map[string]string{}
	}
	if !maps.Equal(ev.Thumbnails, thumbnails) {
		f.t.Errorf("asset %s: thumbnails %v, want %v", a.Id, ev.Thumbnails, thumbnails)
	}
	if _, err := uuid.Parse(ev.EventID); err != nil {
		f.t.Errorf("event id %q: %v", ev.EventID, err)
	}
	if ev.OccurredAt.IsZero() {
		f.t.Error("no occurred_at")
	}
}

// thumbnailURLs are the CDN URLs of a's thumbnails by size, as asset.updated carries them.
func thumbnailURLs(a mediaapi.Asset) map[string]string {
	out := map[string]string{}
	for _, th := range a.Thumbnails {
		out[string(th.Size)] = publicBase + "/" + th.StorageKey
	}
	return out
}

// deletedOnce checks that asset id has exactly one asset.deleted event with reason, actor (nil: none)
// and attachment (nil: none), and returns it.
func (f *fixture) deletedOnce(id uuid.UUID, reason string, actor *uuid.UUID, attachedType string, attachedID *uuid.UUID) *mediaevents.AssetDeleted {
	f.t.Helper()
	evs := f.deletionsOf(id)
	if len(evs) != 1 {
		f.t.Fatalf("asset %s: %d asset.deleted events, want 1", id, len(evs))
	}
	ev := evs[0]
	if ev.Reason != reason {
		f.t.Errorf("asset %s: reason %q, want %q", id, ev.Reason, reason)
	}
	switch {
	case actor == nil && ev.ActorID != nil:
		f.t.Errorf("asset %s: actor %s, want none", id, *ev.ActorID)
	case actor != nil && (ev.ActorID == nil || *ev.ActorID != actor.String()):
		f.t.Errorf("asset %s: actor %v, want %s", id, ev.ActorID, actor)
	}
	switch {
	case attachedID == nil && (ev.AttachedID != nil || ev.AttachedType != nil):
		f.t.Errorf("asset %s: attached to %v %v, want nothing", id, ev.AttachedType, ev.AttachedID)
	case attachedID != nil && (ev.AttachedID == nil || *ev.AttachedID != attachedID.String() || ev.AttachedType == nil || *ev.AttachedType != attachedType):
		f.t.Errorf("asset %s: attached to %v %v, want %s %s", id, ev.AttachedType, ev.AttachedID, attachedType, attachedID)
	}
	if _, err := uuid.Parse(ev.EventID); err != nil {
		f.t.Errorf("event id %q: %v", ev.EventID, err)
	}
	if ev.OccurredAt.IsZero() {
		f.t.Error("no occurred_at")
	}
	return ev
}

// purged is the content.deleted message of the CMS for content of type typ, as the relay
// publishes it (outbox.Message).
func purged(t *testing.T, typ string, content uuid.UUID, soft bool) eventbus.Message {
	t.Helper()
	ev := &contentevents.ContentDeleted{
		EventID: uuid.Must(uuid.NewV7()).String(), OccurredAt: testStart.Truncate(time.Millisecond),
		AggregateID: content.String(), AggregateType: typ, ActorID: ptr(adminID.String()), Soft: soft, Version: 4,
	}
	payload, err := outbox.Encode(ev)
	if err != nil {
		t.Fatal(err)
	}
	return outbox.Message(outbox.Record{
		EventID: ev.EventID, Topic: ev.Topic(), AggregateID: ev.MessageKey(), EventType: ev.EventType(),
		Payload: payload, Headers: map[string]string{}, OccurredAt: ev.OccurredAt,
	})
}

func ptr[T any](v T) *T { return &v }

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// picture is a w×h gradient, deterministic.
func picture(w, h int) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			i := img.PixOffset(x, y)
			img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = uint8(x*255/w), uint8(y*255/h), uint8((x+y)%256), 255
		}
	}
	return img
}

// encoded caches the test images by format and size: they are deterministic.
var encoded sync.Map

func encodedImage(t testing.TB, format string, w, h int, encode func(io.Writer, image.Image) error) []byte {
	t.Helper()
	key := fmt.Sprintf("%s %dx%d", format, w, h)
	if b, ok := encoded.Load(key); ok {
		return bytes.Clone(b.([]byte))
	}
	var buf bytes.Buffer
	if err := encode(&buf, picture(w, h)); err != nil {
		t.Fatal(err)
	}
	encoded.Store(key, buf.Bytes())
	return bytes.Clone(buf.Bytes())
}

func jpegBytes(t testing.TB, w, h int) []byte {
	t.Helper()
	return encodedImage(t, "jpeg", w, h, func(out io.Writer, img image.Image) error {
		return jpeg.Encode(out, img, &jpeg.Options{Quality: 85})
	})
}

func pngBytes(t testing.TB, w, h int) []byte {
	t.Helper()
	return encodedImage(t, "png", w, h, png.Encode)
}

// mp4Bytes is the start of an MP4 file: an ftyp box (isom) and some payload.
func mp4Bytes(n int) []byte {
	b := []byte{0, 0, 0, 0x18, 'f', 't', 'y', 'p', 'i', 's', 'o', 'm', 0, 0, 2, 0, 'i', 's', 'o', 'm', 'm', 'p', '4', '1'}
	for len(b) < n {
		b = append(b, byte(len(b)))
	}
	return b
}

// wavBytes is a RIFF WAVE header followed by silence.
func wavBytes(n int) []byte {
	b := []byte("RIFF\x00\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x44\xac\x00\x00\x88\x58\x01\x00\x02\x00\x10\x00data\x00\x00\x00\x00")
	for len(b) < n {
		b = append(b, 0)
	}
	return b
}

// decodeJPEG decodes a JPEG's dimensions.
func decodeJPEG(t *testing.T, b []byte) (int, int) {
	t.Helper()
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not a JPEG: %v", err)
	}
	return cfg.Width, cfg.Height
}
