package metadata

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/gen/openapi/metadataapi"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
)

func TestMetadataVersionLifecycle(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		id := newID()
		f.do(editor, http.MethodGet, itemPath(id), nil).want(t, http.StatusNotFound, nil)

		// The first PUT creates version 1.
		body := map[string]any{
			"content_type": "program", "title": "برنامج الصباح", "description": "أخبار <الصباح> & الطقس", "language": "ar",
			"duration_seconds": 3600, "publish_date": "2026-12-01T08:00:00.5+02:00",
			"tags": []string{"News", "morning-show", "news", "NEWS"}, "extra": []map[string]string{{"key": "presenter", "value": "سارة علي"}},
		}
		r := f.do(editor, http.MethodPut, itemPath(id), body)
		var v1 metadataapi.Metadata
		r.want(t, http.StatusCreated, &v1)
		if r.header.Get("ETag") != `"1"` || r.header.Get("Location") != itemPath(id) {
			t.Fatalf("headers %v", r.header)
		}
		if v1.Version != 1 || v1.ContentId != id || v1.UpdatedBy != editorID || !v1.CreatedAt.Equal(f.clock.now().Truncate(time.Microsecond)) || !v1.UpdatedAt.Equal(v1.CreatedAt) {
			t.Fatalf("version 1 %+v", v1)
		}
		if !slices.Equal(v1.Tags, []string{"News", "morning-show"}) {
			t.Fatalf("tags are not deduplicated case-insensitively: %v", v1.Tags)
		}
		if v1.PublishDate == nil || v1.PublishDate.Format(time.RFC3339Nano) != "2026-12-01T06:00:00.5Z" {
			t.Fatalf("publish_date %v, want it in UTC", v1.PublishDate)
		}

		// GET returns it with its ETag.
		var got metadataapi.Metadata
		r = f.do(editor, http.MethodGet, itemPath(id), nil)
		r.want(t, http.StatusOK, &got)
		if r.header.Get("ETag") != `"1"` || got.Title != v1.Title || len(got.Extra) != 1 || *got.Description != "أخبار <الصباح> & الطقس" {
			t.Fatalf("get %+v %v", got, r.header)
		}

		// The same body (tags deduplicated the same way) records nothing new.
		f.clock.advance(time.Minute)
		if m := f.put(id, body, http.StatusOK); m.Version != 1 || !m.UpdatedAt.Equal(v1.UpdatedAt) {
			t.Fatalf("identical body made %+v", m)
		}

		// A change is version 2: a full replacement, so what is left out is cleared.
		r = f.do(admin, http.MethodPut, itemPath(id), map[string]any{"content_type": "program", "title": "الصباح", "language": "ar"})
		var v2 metadataapi.Metadata
		r.want(t, http.StatusOK, &v2)
		if r.header.Get("ETag") != `"2"` || v2.Version != 2 || v2.UpdatedBy != adminID || v2.Description != nil || v2.DurationSeconds != nil ||
			v2.PublishDate != nil || len(v2.Tags) != 0 || len(v2.Extra) != 0 || !v2.CreatedAt.Equal(v1.CreatedAt) || !v2.UpdatedAt.After(v1.UpdatedAt) {
			t.Fatalf("version 2 %+v", v2)
		}
		if !strings.Contains(string(f.do(editor, http.MethodGet, itemPath(id), nil).body), `"tags":[],"title"`) {
			t.Fatal("cleared tags are not rendered as an empty array")
		}

		// If-Match: stale -> 412, current -> next version, "*" -> any existing version.
		next := map[string]any{"content_type": "program", "title": "الصباح 3", "language": "ar"}
		r = f.do(editor, http.MethodPut, itemPath(id), next, "If-Match", `"1"`)
		r.want(t, http.StatusPreconditionFailed, nil)
		if !strings.Contains(string(r.body), `current version is \"2\"`) {
			t.Fatalf("412 body %s", r.body)
		}
		if m := f.put(id, next, http.StatusOK, "If-Match", `"2"`); m.Version != 3 {
			t.Fatalf("If-Match current gave %+v", m)
		}
		next["title"] = "الصباح 4"
		if m := f.put(id, next, http.StatusOK, "If-Match", "*"); m.Version != 4 {
			t.Fatalf("If-Match * gave %+v", m)
		}
		// If-Match for an item without metadata is 412, even "*".
		for _, tag := range []string{`"1"`, "*"} {
			f.do(editor, http.MethodPut, itemPath(newID()), next, "If-Match", tag).want(t, http.StatusPreconditionFailed, nil)
		}

		// content_type is fixed by the first version.
		r = f.do(editor, http.MethodPut, itemPath(id), map[string]any{"content_type": "episode", "title": "x", "language": "en"})
		r.want(t, http.StatusConflict, nil)

		// Every version stays readable as recorded.
		var old metadataapi.Metadata
		r = f.do(editor, http.MethodGet, itemPath(id, "/versions/1"), nil)
		r.want(t, http.StatusOK, &old)
		if r.header.Get("ETag") != `"1"` || old.Version != 1 || old.Title != "برنامج الصباح" || old.UpdatedBy != editorID || *old.DurationSeconds != 3600 {
			t.Fatalf("version 1 now %+v", old)
		}
		f.do(editor, http.MethodGet, itemPath(id, "/versions/5"), nil).want(t, http.StatusNotFound, nil)
		f.do(editor, http.MethodGet, itemPath(newID(), "/versions/1"), nil).want(t, http.StatusNotFound, nil)
	})
}

func TestPutMetadataFieldErrors(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		base := func(extra map[string]any) map[string]any {
			b := map[string]any{"content_type": "episode", "title": "Episode 1", "language": "en"}
			for k, v := range extra {
				b[k] = v
			}
			return b
		}
		cases := []struct {
			name   string
			body   map[string]any
			fields []string
		}{
			{"unsupported language", base(map[string]any{"language": "fr"}), []string{"language"}},
			{"unknown category", base(map[string]any{"category_id": newID().String()}), []string{"category_id"}},
			{"publish_date before 1900", base(map[string]any{"publish_date": "1899-12-31T23:59:59Z"}), []string{"publish_date"}},
			{"publish_date after 2100", base(map[string]any{"publish_date": "2101-01-01T00:00:00Z"}), []string{"publish_date"}},
			{"publish_date in UTC after 2100", base(map[string]any{"publish_date": "2100-12-31T23:30:00-01:00"}), []string{"publish_date"}},
			{"duplicate extra keys", base(map[string]any{"extra": []map[string]string{{"key": "a", "value": "1"}, {"key": "b", "value": "2"}, {"key": "a", "value": "3"}}}), []string{"extra.2.key"}},
			{"blank title", base(map[string]any{"title": " \u00a0\t"}), []string{"title"}},
			{"NUL in title", base(map[string]any{"title": "a\u0000b"}), []string{"title"}},
			{"control character in description", base(map[string]any{"description": "line\u0007"}), []string{"description"}},
			{"control character in a tag", base(map[string]any{"tags": []string{"ok", "a\u000bb"}}), []string{"tags.1"}},
			{"NUL in an extra value", base(map[string]any{"extra": []map[string]string{{"key": "a", "value": "x\u0000"}}}), []string{"extra.0.value"}},
			{"every error at once", base(map[string]any{"language": "de", "category_id": newID().String(), "extra": []map[string]string{{"key": "a", "value": "1"}, {"key": "a", "value": "2"}}}), []string{"category_id", "extra.1.key", "language"}},
			// Caught by the contract validation before the handler.
			{"title too long", base(map[string]any{"title": strings.Repeat("é", 201)}), []string{"title"}},
			{"duration out of range", base(map[string]any{"duration_seconds": 172801}), []string{"duration_seconds"}},
			{"bad extra key", base(map[string]any{"extra": []map[string]string{{"key": "Bad Key", "value": "1"}}}), []string{"extra.0.key"}},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				f.do(editor, http.MethodPut, itemPath(newID()), c.body).wantFields(t, c.fields...)
			})
		}

		// Multi-line text, odd but valid Unicode and the bounds of the date range are accepted.
		id := newID()
		m := f.put(id, base(map[string]any{
			"title": "\u200fعنوان 🎬 e\u0301", "description": "line 1\r\n\tline 2", "publish_date": "1900-01-01T00:00:00Z",
			"extra": []map[string]string{{"key": "notes", "value": "a\nb"}},
		}), http.StatusCreated)
		if m.Title != "\u200fعنوان 🎬 e\u0301" {
			t.Fatalf("title %q", m.Title)
		}
		f.put(id, base(map[string]any{"publish_date": "2100-12-31T23:59:59.999999Z"}), http.StatusOK)

		// Malformed requests are 400, never 500.
		for _, raw := range []string{`{`, `[]`, `{"content_type":"episode","title":"x","language":"en","publish_date":"yesterday"}`} {
			if r := f.do(editor, http.MethodPut, itemPath(newID()), raw); r.status != http.StatusBadRequest && r.status != http.StatusUnprocessableEntity {
				t.Errorf("%s: status %d: %s", raw, r.status, r.body)
			}
		}
		f.do(editor, http.MethodPut, "/api/v1/metadata/items/not-a-uuid", base(nil)).want(t, http.StatusBadRequest, nil)
	})
}

func TestConcurrentPuts(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		id := newID()
		const writers = 8
		statuses := make([]int, writers)
		var wg sync.WaitGroup
		for i := range writers {
			wg.Go(func() {
				statuses[i] = f.do(editor, http.MethodPut, itemPath(id), map[string]any{"content_type": "program", "title": fmt.Sprintf("title %d", i), "language": "en"}).status
			})
		}
		wg.Wait()
		created := 0
		for _, s := range statuses {
			switch s {
			case http.StatusCreated:
				created++
			case http.StatusOK:
			default:
				t.Fatalf("statuses %v", statuses)
			}
		}
		if created != 1 {
			t.Fatalf("%d writers created version 1: %v", created, statuses)
		}
		var page metadataapi.MetadataVersionPage
		f.do(editor, http.MethodGet, itemPath(id, "/versions?limit=100"), nil).want(t, http.StatusOK, &page)
		if len(page.Items) != writers {
			t.Fatalf("%d versions, want %d", len(page.Items), writers)
		}
		for i, v := range page.Items {
			if v.Version != int32(writers-i) {
				t.Fatalf("versions are not contiguous: %+v", page.Items)
			}
		}

		// Writers that all send If-Match with the current version: one wins, the others get 412.
		statuses = make([]int, writers)
		for i := range writers {
			wg.Go(func() {
				statuses[i] = f.do(editor, http.MethodPut, itemPath(id), map[string]any{"content_type": "program", "title": fmt.Sprintf("again %d", i), "language": "en"},
					"If-Match", fmt.Sprintf(`"%d"`, writers)).status
			})
		}
		wg.Wait()
		slices.Sort(statuses)
		if statuses[0] != http.StatusOK || statuses[1] != http.StatusPreconditionFailed || statuses[writers-1] != http.StatusPreconditionFailed {
			t.Fatalf("statuses %v, want one 200 and the rest 412", statuses)
		}
	})
}
