package media

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/gen/openapi/mediaapi"
	"github.com/mediamesh/mediamesh/internal/cursor"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
)

// pages follows next_cursor through the list with query and limit, checking has_more.
func (f *fixture) pages(query string, limit int) [][]uuid.UUID {
	f.t.Helper()
	var out [][]uuid.UUID
	cur := ""
	for range 100 {
		q := url.Values{}
		if query != "" {
			var err error
			if q, err = url.ParseQuery(query); err != nil {
				f.t.Fatal(err)
			}
		}
		q.Set("limit", strconv.Itoa(limit))
		if cur != "" {
			q.Set("cursor", cur)
		}
		l := f.list(q.Encode())
		var ids []uuid.UUID
		for _, a := range l.Items {
			ids = append(ids, a.Id)
		}
		out = append(out, ids)
		if !l.Page.HasMore {
			if l.Page.NextCursor != nil {
				f.t.Errorf("last page has a next_cursor")
			}
			return out
		}
		if l.Page.NextCursor == nil || len(l.Items) != limit {
			f.t.Fatalf("page %d: has_more with %d items and cursor %v", len(out), len(l.Items), l.Page.NextCursor)
		}
		cur = *l.Page.NextCursor
	}
	f.t.Fatal("the pagination does not end")
	return nil
}

// TestListAssets filters and pages through assets, newest first.
func TestListAssets(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, Config{}, Deps{})
		program := uuid.Must(uuid.NewV7())
		// Five assets, oldest first, at instants of different precision.
		var ids []uuid.UUID
		add := func(a mediaapi.Asset, step time.Duration) {
			ids = append(ids, a.Id)
			f.clock.advance(step)
		}
		add(f.uploadImage(jpegBytes(t, 20, 20)), time.Second)                                                // image, ready, private
		add(f.uploadImage(jpegBytes(t, 20, 20), field("visibility", "public")), 500*time.Millisecond)        // image, ready, public
		add(f.sessionAsset(f.sessionFor("v.mp4", "video/mp4", mp4Bytes(100), nil)), 123456*time.Microsecond) // video, pending
		var audio mediaapi.Asset
		f.upload("editor", filePart("a.wav", "audio/wav", wavBytes(100)), field("attach_content_type", "program"), field("attach_content_id", program.String())).must(t, http.StatusCreated, &audio)
		add(audio, time.Microsecond) // audio, ready, attached
		add(f.uploadImage(jpegBytes(t, 20, 20), field("attach_content_type", "episode"), field("attach_content_id", program.String())), 0)
		newest := slices.Clone(ids)
		slices.Reverse(newest)

		got := f.pages("", 2)
		if len(got) != 3 || len(got[0]) != 2 || len(got[1]) != 2 || len(got[2]) != 1 {
			t.Fatalf("pages %v, want 2+2+1", got)
		}
		if all := slices.Concat(got...); !slices.Equal(all, newest) {
			t.Errorf("order %v, want newest first %v", all, newest)
		}
		if all := f.list("").Items; len(all) != 5 || all[0].Id != newest[0] {
			t.Errorf("default page: %d items", len(all))
		}

		for _, c := range []struct {
			query string
			want  []uuid.UUID
		}{
			{"kind=image", []uuid.UUID{ids[4], ids[1], ids[0]}},
			{"kind=video", []uuid.UUID{ids[2]}},
			{"kind=audio", []uuid.UUID{ids[3]}},
			{"status=pending", []uuid.UUID{ids[2]}},
			{"status=ready", []uuid.UUID{ids[4], ids[3], ids[1], ids[0]}},
			{"status=failed", nil},
			{"visibility=public", []uuid.UUID{ids[1]}},
			{"visibility=private", []uuid.UUID{ids[4], ids[3], ids[2], ids[0]}},
			{"content_id=" + program.String(), []uuid.UUID{ids[4], ids[3]}},
			{"content_id=" + uuid.NewString(), nil},
			{"kind=image&visibility=private", []uuid.UUID{ids[4], ids[0]}},
			{"kind=image&status=ready&content_id=" + program.String(), []uuid.UUID{ids[4]}},
		} {
			for _, limit := range []int{1, 2, 100} {
				if all := slices.Concat(f.pages(c.query, limit)...); !slices.Equal(all, c.want) {
					t.Errorf("%s limit %d: %v, want %v", c.query, limit, all, c.want)
				}
			}
		}

		// Bad parameters.
		for _, q := range []string{
			"cursor=garbage!!",
			"cursor=" + base64.RawURLEncoding.EncodeToString([]byte("not json")),
			"cursor=" + base64.RawURLEncoding.EncodeToString([]byte(`{"id":"0193a4b9-2a3b-7c4d-8e5f-6a7b8c9d0e1f"}`)),
			"cursor=" + cursor.Encode(map[string]any{"created_at": "yesterday", "id": "x"}),
		} {
			f.do(http.MethodGet, "/api/v1/media/assets?"+q, "editor", nil).fails(t, http.StatusBadRequest, "query.cursor")
		}
		f.do(http.MethodGet, "/api/v1/media/assets?kind=document", "editor", nil).fails(t, http.StatusBadRequest, "query.kind")
		f.do(http.MethodGet, "/api/v1/media/assets?limit=0", "editor", nil).fails(t, http.StatusBadRequest, "query.limit")
		f.do(http.MethodGet, "/api/v1/media/assets?limit=101", "editor", nil).fails(t, http.StatusBadRequest, "query.limit")
		f.do(http.MethodGet, "/api/v1/media/assets?content_id=42", "editor", nil).fails(t, http.StatusBadRequest, "query.content_id")
		f.do(http.MethodGet, "/api/v1/media/assets", "user", nil).fails(t, http.StatusForbidden, "")
		f.do(http.MethodGet, "/api/v1/media/assets", "", nil).fails(t, http.StatusUnauthorized, "")
	})
}

// TestListAssetsSameInstant pages through assets created at one instant: the id breaks the tie.
func TestListAssetsSameInstant(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, Config{}, Deps{})
		var want []uuid.UUID
		for range 5 {
			want = append(want, f.uploadImage(jpegBytes(t, 8, 8)).Id)
		}
		slices.SortFunc(want, func(a, b uuid.UUID) int { return -slices.Compare(a[:], b[:]) })
		for _, limit := range []int{1, 2, 3, 4, 5} {
			got := slices.Concat(f.pages("", limit)...)
			if !slices.Equal(got, want) {
				t.Errorf("limit %d: %v, want %v", limit, got, want)
			}
		}
	})
}

// sessionAsset reads the pending asset of a session.
func (f *fixture) sessionAsset(s mediaapi.UploadSession) mediaapi.Asset {
	f.t.Helper()
	a, _ := f.get(s.AssetId)
	return a
}
