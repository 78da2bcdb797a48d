package cms

import (
	"net/http"
	"testing"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/gen/openapi/cmsapi"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
)

// TestCategoryReferences checks category_id against the metadata service: unknown is 422,
// unavailable is 503 with Retry-After, and neither writes anything.
func TestCategoryReferences(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, Config{})
		body := func(slug string, cat uuid.UUID) map[string]any {
			return map[string]any{"kind": "show", "title": "t", "slug": slug, "language": "en", "category_id": cat}
		}
		nothingWritten := func(programs int) {
			t.Helper()
			if n := f.count("programs"); n != programs {
				t.Fatalf("%d programs, want %d", n, programs)
			}
			if n := f.count("outbox"); n != programs {
				t.Fatalf("%d outbox rows, want %d", n, programs)
			}
			if n := f.count("audit_entries"); n != programs {
				t.Fatalf("%d audit entries, want %d", n, programs)
			}
		}
		f.do(http.MethodPost, "/api/v1/cms/programs", "editor", body("a", uuid.Must(uuid.NewV7()))).fails(t, http.StatusUnprocessableEntity, "category_id")
		nothingWritten(0)

		f.meta.set(func(m *fakeMetadata) { m.down = true })
		r := f.do(http.MethodPost, "/api/v1/cms/programs", "editor", body("a", f.cat))
		r.fails(t, http.StatusServiceUnavailable, "")
		if r.header.Get("Retry-After") == "" {
			t.Fatal("503 without Retry-After")
		}
		nothingWritten(0)
		f.meta.set(func(m *fakeMetadata) { m.down, m.status = false, http.StatusInternalServerError })
		f.do(http.MethodPost, "/api/v1/cms/programs", "editor", body("a", f.cat)).fails(t, http.StatusServiceUnavailable, "")
		nothingWritten(0)

		f.meta.set(func(m *fakeMetadata) { m.status = 0 })
		var p cmsapi.Program
		f.do(http.MethodPost, "/api/v1/cms/programs", "editor", body("a", f.cat)).must(t, http.StatusCreated, &p)
		if f.meta.auth != "Bearer editor" {
			t.Fatalf("the metadata call carried Authorization %q", f.meta.auth)
		}
		nothingWritten(1)

		// Updates: an unknown category is refused, the same one is not checked again, null
		// clears without asking, and a down metadata service changes nothing.
		f.do(http.MethodPatch, programPath(p.Id), "editor", map[string]any{"category_id": uuid.Must(uuid.NewV7())}).fails(t, http.StatusUnprocessableEntity, "category_id")
		calls := f.meta.calls
		f.meta.set(func(m *fakeMetadata) { m.down = true })
		f.do(http.MethodPatch, programPath(p.Id), "editor", map[string]any{"category_id": f.cat, "title": "same category"}).must(t, http.StatusOK, &p)
		if f.meta.calls != calls || p.Version != 2 {
			t.Fatalf("the unchanged category was checked again (%d calls), version %d", f.meta.calls-calls, p.Version)
		}
		other := uuid.Must(uuid.NewV7())
		f.do(http.MethodPatch, programPath(p.Id), "editor", map[string]any{"category_id": other, "title": "new"}).fails(t, http.StatusServiceUnavailable, "")
		f.do(http.MethodGet, programPath(p.Id), "editor", nil).must(t, http.StatusOK, &p)
		if p.Version != 2 || p.Title != "same category" {
			t.Fatalf("a refused update changed the program: %+v", p)
		}
		f.do(http.MethodPatch, programPath(p.Id), "editor", map[string]any{"category_id": nil}).must(t, http.StatusOK, &p)
		if p.CategoryId != nil || p.Version != 3 {
			t.Fatalf("cleared %+v", p)
		}
	})
}

// codes returns the field errors of a Problem response, field -> code, after checking its status.
func (r *response) codes(t *testing.T, status int) map[string]string {
	t.Helper()
	var p problem
	r.must(t, status, &p)
	out := map[string]string{}
	for _, e := range p.Errors {
		out[e.Field] = e.Code
	}
	return out
}

// TestAssetReferences checks the asset ids against the media service, on create and update of
// programs and episodes: unknown is 422 (not_found), the wrong kind is 422 (kind), unavailable
// is 503 with Retry-After, and none of them writes anything.
func TestAssetReferences(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, Config{})
		unknown := uuid.Must(uuid.NewV7())
		type counts struct{ programs, episodes, outbox, audit int }
		state := func() counts {
			return counts{f.count("programs"), f.count("episodes"), f.count("outbox"), f.count("audit_entries")}
		}
		program := func(slug string, cover any) map[string]any {
			return map[string]any{"kind": "show", "title": "t", "slug": slug, "language": "en", "cover_asset_id": cover}
		}

		// Programs: cover_asset_id must be a known image.
		before := state()
		if c := f.do(http.MethodPost, "/api/v1/cms/programs", "editor", program("a", unknown)).codes(t, http.StatusUnprocessableEntity); c["cover_asset_id"] != "not_found" {
			t.Fatalf("unknown cover: %v", c)
		}
		if c := f.do(http.MethodPost, "/api/v1/cms/programs", "editor", program("a", videoAsset)).codes(t, http.StatusUnprocessableEntity); c["cover_asset_id"] != "kind" {
			t.Fatalf("video cover: %v", c)
		}
		f.media.set(func(m *fakeMedia) { m.down = true })
		r := f.do(http.MethodPost, "/api/v1/cms/programs", "editor", program("a", coverAsset))
		r.fails(t, http.StatusServiceUnavailable, "")
		if r.header.Get("Retry-After") == "" {
			t.Fatal("503 without Retry-After")
		}
		f.media.set(func(m *fakeMedia) { m.down, m.status = false, http.StatusBadGateway })
		f.do(http.MethodPost, "/api/v1/cms/programs", "editor", program("a", coverAsset)).fails(t, http.StatusServiceUnavailable, "")
		f.media.set(func(m *fakeMedia) { m.status = http.StatusTooManyRequests })
		if r := f.do(http.MethodPost, "/api/v1/cms/programs", "editor", program("a", coverAsset)); r.code != http.StatusServiceUnavailable || r.header.Get("Retry-After") != "17" {
			t.Fatalf("media 429: %d, Retry-After %q", r.code, r.header.Get("Retry-After"))
		}
		if got := state(); got != before {
			t.Fatalf("refused creates wrote %+v", got)
		}
		var l cmsapi.ProgramList
		f.do(http.MethodGet, "/api/v1/cms/programs?include_deleted=true", "editor", nil).must(t, http.StatusOK, &l)
		if len(l.Items) != 0 {
			t.Fatalf("%d programs listed after refused creates", len(l.Items))
		}
		f.media.set(func(m *fakeMedia) { m.status = 0 })
		var p cmsapi.Program
		f.do(http.MethodPost, "/api/v1/cms/programs", "editor", program("a", coverAsset)).must(t, http.StatusCreated, &p)
		if p.CoverAssetId == nil || *p.CoverAssetId != coverAsset || f.media.auth != "Bearer editor" {
			t.Fatalf("created %+v, the media call carried Authorization %q", p, f.media.auth)
		}

		// Program updates: the same cover is not asked about again, null clears without asking,
		// an unknown or wrong one is refused, and a down media service changes nothing.
		f.media.set(func(m *fakeMedia) { m.down = true })
		calls := f.media.calls
		f.do(http.MethodPatch, programPath(p.Id), "editor", map[string]any{"cover_asset_id": coverAsset, "title": "same cover"}).must(t, http.StatusOK, &p)
		if f.media.calls != calls || p.Version != 2 {
			t.Fatalf("the unchanged cover was checked again (%d calls), version %d", f.media.calls-calls, p.Version)
		}
		f.do(http.MethodPatch, programPath(p.Id), "editor", map[string]any{"cover_asset_id": thumbAsset, "title": "new"}).fails(t, http.StatusServiceUnavailable, "")
		f.media.set(func(m *fakeMedia) { m.down = false })
		f.do(http.MethodPatch, programPath(p.Id), "editor", map[string]any{"cover_asset_id": unknown}).fails(t, http.StatusUnprocessableEntity, "cover_asset_id")
		if c := f.do(http.MethodPatch, programPath(p.Id), "editor", map[string]any{"cover_asset_id": audioAsset}).codes(t, http.StatusUnprocessableEntity); c["cover_asset_id"] != "kind" {
			t.Fatalf("audio cover: %v", c)
		}
		f.do(http.MethodGet, programPath(p.Id), "editor", nil).must(t, http.StatusOK, &p)
		if p.Version != 2 || p.Title != "same cover" || *p.CoverAssetId != coverAsset {
			t.Fatalf("a refused update changed the program: %+v", p)
		}
		f.do(http.MethodPatch, programPath(p.Id), "editor", map[string]any{"cover_asset_id": thumbAsset}).must(t, http.StatusOK, &p)
		if p.Version != 3 || *p.CoverAssetId != thumbAsset {
			t.Fatalf("new cover %+v", p)
		}
		f.media.set(func(m *fakeMedia) { m.down = true })
		calls = f.media.calls
		f.do(http.MethodPatch, programPath(p.Id), "editor", map[string]any{"cover_asset_id": nil}).must(t, http.StatusOK, &p)
		if p.CoverAssetId != nil || p.Version != 4 || f.media.calls != calls {
			t.Fatalf("cleared %+v with %d calls", p, f.media.calls-calls)
		}
		f.media.set(func(m *fakeMedia) { m.down = false })

		// Episodes: media_asset_id must be video or audio, thumbnail_asset_id an image; both
		// wrong are both named.
		episode := func(number int, media, thumb any) map[string]any {
			return map[string]any{"episode_number": number, "title": "t", "media_asset_id": media, "thumbnail_asset_id": thumb}
		}
		before = state()
		for _, c := range []struct {
			name         string
			media, thumb any
			want         map[string]string
		}{
			{"unknown media", unknown, thumbAsset, map[string]string{"media_asset_id": "not_found"}},
			{"unknown thumbnail", videoAsset, unknown, map[string]string{"thumbnail_asset_id": "not_found"}},
			{"image as media", coverAsset, thumbAsset, map[string]string{"media_asset_id": "kind"}},
			{"video as thumbnail", videoAsset, videoAsset, map[string]string{"thumbnail_asset_id": "kind"}},
			{"both wrong", thumbAsset, unknown, map[string]string{"media_asset_id": "kind", "thumbnail_asset_id": "not_found"}},
		} {
			got := f.do(http.MethodPost, programPath(p.Id, "episodes"), "editor", episode(1, c.media, c.thumb)).codes(t, http.StatusUnprocessableEntity)
			if len(got) != len(c.want) {
				t.Errorf("%s: %v, want %v", c.name, got, c.want)
			}
			for field, code := range c.want {
				if got[field] != code {
					t.Errorf("%s: %v, want %v", c.name, got, c.want)
				}
			}
		}
		f.media.set(func(m *fakeMedia) { m.down = true })
		r = f.do(http.MethodPost, programPath(p.Id, "episodes"), "editor", episode(1, videoAsset, thumbAsset))
		if r.fails(t, http.StatusServiceUnavailable, ""); r.header.Get("Retry-After") == "" {
			t.Fatal("503 without Retry-After")
		}
		if got := state(); got != before {
			t.Fatalf("refused creates wrote %+v", got)
		}
		var el cmsapi.EpisodeList
		f.do(http.MethodGet, programPath(p.Id, "episodes")+"?include_deleted=true", "editor", nil).must(t, http.StatusOK, &el)
		if len(el.Items) != 0 {
			t.Fatalf("%d episodes listed after refused creates", len(el.Items))
		}
		// Without asset ids the media service is not asked.
		var bare cmsapi.Episode
		f.do(http.MethodPost, programPath(p.Id, "episodes"), "editor", map[string]any{"episode_number": 9, "title": "t"}).must(t, http.StatusCreated, &bare)
		f.media.set(func(m *fakeMedia) { m.down = false })
		var e cmsapi.Episode
		f.do(http.MethodPost, programPath(p.Id, "episodes"), "editor", episode(1, audioAsset, thumbAsset)).must(t, http.StatusCreated, &e)
		if *e.MediaAssetId != audioAsset || *e.ThumbnailAssetId != thumbAsset {
			t.Fatalf("created %+v", e)
		}

		// Episode updates: only the changed id is asked about; refusals and a down media service
		// change nothing; null clears without asking.
		f.media.set(func(m *fakeMedia) { m.asked = nil })
		f.do(http.MethodPatch, episodePath(e.Id), "editor", map[string]any{"media_asset_id": videoAsset, "thumbnail_asset_id": thumbAsset}).must(t, http.StatusOK, &e)
		if len(f.media.asked) != 1 || f.media.asked[0] != videoAsset || e.Version != 2 || *e.MediaAssetId != videoAsset {
			t.Fatalf("asked about %v; updated %+v", f.media.asked, e)
		}
		f.do(http.MethodPatch, episodePath(e.Id), "editor", map[string]any{"thumbnail_asset_id": audioAsset, "title": "x"}).fails(t, http.StatusUnprocessableEntity, "thumbnail_asset_id")
		f.do(http.MethodPatch, episodePath(e.Id), "editor", map[string]any{"media_asset_id": unknown, "title": "x"}).fails(t, http.StatusUnprocessableEntity, "media_asset_id")
		f.media.set(func(m *fakeMedia) { m.down = true })
		f.do(http.MethodPatch, episodePath(e.Id), "editor", map[string]any{"media_asset_id": audioAsset, "title": "x"}).fails(t, http.StatusServiceUnavailable, "")
		f.do(http.MethodPatch, episodePath(e.Id), "editor", map[string]any{"title": "x"}, ifMatch(1)...).fails(t, http.StatusPreconditionFailed, "")
		f.do(http.MethodGet, episodePath(e.Id), "editor", nil).must(t, http.StatusOK, &e)
		if e.Version != 2 || e.Title != "t" || *e.MediaAssetId != videoAsset {
			t.Fatalf("a refused update changed the episode: %+v", e)
		}
		calls = f.media.calls
		f.do(http.MethodPatch, episodePath(e.Id), "editor", map[string]any{"media_asset_id": nil, "thumbnail_asset_id": nil}).must(t, http.StatusOK, &e)
		if e.MediaAssetId != nil || e.ThumbnailAssetId != nil || e.Version != 3 || f.media.calls != calls {
			t.Fatalf("cleared %+v with %d calls", e, f.media.calls-calls)
		}
		if f.media.auth != "Bearer editor" {
			t.Fatalf("the media call carried Authorization %q", f.media.auth)
		}
	})
}
