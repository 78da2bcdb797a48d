package metadata

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/gen/events/metadataevents"
	"github.com/mediamesh/mediamesh/gen/openapi/metadataapi"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
)

// TestMetadataVersionLifecycle: the metadata of a program follows the CMS, which owns its
// descriptive fields: version 1 from its creation, a PUT written through the CMS as the caller, a
// change made in the CMS recorded as the next version, If-Match, the fields a type does not have,
// and the end of the item (soft delete, purge).
func TestMetadataVersionLifecycle(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		body := map[string]any{
			"content_type": "program", "title": "برنامج الصباح", "description": "أخبار <الصباح> & الطقس", "language": "ar",
			"tags": []string{"News", "morning-show", "news", "NEWS"}, "extra": []map[string]string{{"key": "presenter", "value": "سارة علي"}},
		}
		// An id the CMS does not have is 422 on contentId, and has no metadata.
		unknown := newID()
		if r := f.do(editor, http.MethodPut, itemPath(unknown), body); !slices.Equal(r.fields(t), []string{"contentId"}) || r.status != http.StatusUnprocessableEntity {
			t.Fatalf("unknown id: %d %s", r.status, r.body)
		}
		f.do(editor, http.MethodGet, itemPath(unknown), nil).want(t, http.StatusNotFound, nil)

		// Creating the program in the CMS makes version 1.
		id := f.program("الصباح", "ar")
		var v1 metadataapi.Metadata
		r := f.do(editor, http.MethodGet, itemPath(id), nil)
		r.want(t, http.StatusOK, &v1)
		if r.header.Get("ETag") != `"1"` || v1.Version != 1 || v1.Title != "الصباح" || v1.UpdatedBy != editorID || v1.ContentType != metadataapi.Program {
			t.Fatalf("version 1 %+v %v", v1, r.header)
		}

		// A PUT is written through the CMS as the caller and answers the version it made.
		f.clock.advance(time.Minute)
		r = f.do(admin, http.MethodPut, itemPath(id), body)
		var v2 metadataapi.Metadata
		r.want(t, http.StatusOK, &v2)
		if r.header.Get("ETag") != `"2"` || v2.Version != 2 || v2.UpdatedBy != adminID || !v2.CreatedAt.Equal(v1.CreatedAt) || !v2.UpdatedAt.After(v1.UpdatedAt) {
			t.Fatalf("version 2 %+v", v2)
		}
		if f.cms.auth != "Bearer "+admin {
			t.Fatalf("the CMS saw Authorization %q, not the caller's", f.cms.auth)
		}
		cms := f.cms.get(id)
		if cms.title != "برنامج الصباح" || *cms.summary != "أخبار <الصباح> & الطقس" || !slices.Equal(cms.tags, []string{"news", "morning-show"}) || len(cms.extra) != 1 {
			t.Fatalf("the CMS holds %+v", cms)
		}
		if !slices.Equal(v2.Tags, cms.tags) || *v2.Description != *cms.summary || v2.Extra[0].Value != "سارة علي" {
			t.Fatalf("the metadata %+v differs from the CMS %+v", v2, cms)
		}

		// The same body changes nothing anywhere.
		f.clock.advance(time.Minute)
		before := f.cms.get(id).version
		if m := f.put(id, body, http.StatusOK); m.Version != 2 || !m.UpdatedAt.Equal(v2.UpdatedAt) || f.cms.get(id).version != before {
			t.Fatalf("identical body made %+v", m)
		}

		// A full replacement: what is left out is cleared, in the CMS too.
		m := f.put(id, map[string]any{"content_type": "program", "title": "الصباح", "language": "ar"}, http.StatusOK)
		cms = f.cms.get(id)
		if m.Version != 3 || m.Description != nil || len(m.Tags) != 0 || len(m.Extra) != 0 || cms.summary != nil || len(cms.tags) != 0 || len(cms.extra) != 0 {
			t.Fatalf("version 3 %+v, CMS %+v", m, cms)
		}
		if !strings.Contains(string(f.do(editor, http.MethodGet, itemPath(id), nil).body), `"tags":[],"title"`) {
			t.Fatal("cleared tags are not rendered as an empty array")
		}

		// A change made in the CMS is the next version, by its author.
		f.cms.change(id, adminID, func(it *fakeItem) { it.title = "من الـ CMS" })
		var v4 metadataapi.Metadata
		f.do(editor, http.MethodGet, itemPath(id), nil).want(t, http.StatusOK, &v4)
		if v4.Version != 4 || v4.Title != "من الـ CMS" || v4.UpdatedBy != adminID {
			t.Fatalf("version 4 %+v", v4)
		}

		// If-Match: stale -> 412, current -> next version, "*" -> any existing version.
		next := map[string]any{"content_type": "program", "title": "الصباح 5", "language": "ar"}
		r = f.do(editor, http.MethodPut, itemPath(id), next, "If-Match", `"3"`)
		r.want(t, http.StatusPreconditionFailed, nil)
		if !strings.Contains(string(r.body), `current version is \"4\"`) {
			t.Fatalf("412 body %s", r.body)
		}
		if m := f.put(id, next, http.StatusOK, "If-Match", `"4"`); m.Version != 5 {
			t.Fatalf("If-Match current gave %+v", m)
		}
		next["title"] = "الصباح 6"
		if m := f.put(id, next, http.StatusOK, "If-Match", "*"); m.Version != 6 {
			t.Fatalf("If-Match * gave %+v", m)
		}
		// A change in the CMS that this service has not heard of yet makes the If-Match stale.
		f.cms.withheld = true
		f.cms.change(id, adminID, func(it *fakeItem) { it.lang = "en" })
		next["title"] = "الصباح 7"
		f.do(editor, http.MethodPut, itemPath(id), next, "If-Match", `"6"`).want(t, http.StatusPreconditionFailed, nil)
		f.cms.release()
		if m := f.put(id, next, http.StatusOK, "If-Match", `"7"`); m.Version != 8 || m.Language != "ar" {
			t.Fatalf("after the CMS change %+v", m)
		}

		// The type is the CMS's: another one is 409; fields the type does not have are 422.
		f.do(editor, http.MethodPut, itemPath(id), map[string]any{"content_type": "episode", "title": "x", "language": "en"}).want(t, http.StatusConflict, nil)
		next["duration_seconds"] = 60
		f.do(editor, http.MethodPut, itemPath(id), next).wantFields(t, "duration_seconds")
		delete(next, "duration_seconds")
		ep := f.episode(id, "الحلقة", "ar")
		f.do(editor, http.MethodPut, itemPath(ep), map[string]any{"content_type": "episode", "title": "x", "language": "en", "tags": []string{"a"}, "category_id": newID().String()}).
			wantFields(t, "category_id", "tags")
		if m := f.put(ep, map[string]any{"content_type": "episode", "title": "الحلقة 1", "language": "ar", "duration_seconds": 1800}, http.StatusOK); m.Version != 2 || *m.DurationSeconds != 1800 || *f.cms.get(ep).duration != 1800 {
			t.Fatalf("episode %+v", m)
		}

		// publish_date is set by publishing: another value is 422, the current one (or none) is kept.
		at := time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC)
		next["publish_date"] = at.Format(time.RFC3339)
		f.do(editor, http.MethodPut, itemPath(id), next).wantFields(t, "publish_date")
		f.cms.publish(id, at, editorID)
		var pub metadataapi.Metadata
		f.do(editor, http.MethodGet, itemPath(id), nil).want(t, http.StatusOK, &pub)
		if pub.Version != 9 || pub.PublishDate == nil || !pub.PublishDate.Equal(at) {
			t.Fatalf("published %+v", pub)
		}
		next["title"] = "الصباح 10"
		if m := f.put(id, next, http.StatusOK); m.Version != 10 || !m.PublishDate.Equal(at) {
			t.Fatalf("with the current publish_date %+v", m)
		}
		delete(next, "publish_date")
		next["title"] = "الصباح 11"
		if m := f.put(id, next, http.StatusOK); m.Version != 11 || m.PublishDate == nil {
			t.Fatalf("without publish_date %+v", m)
		}

		// An unknown category is the CMS's 422, on category_id.
		next["category_id"] = newID().String()
		f.do(editor, http.MethodPut, itemPath(id), next).wantFields(t, "category_id")
		delete(next, "category_id")

		// A CMS that cannot be reached: 503, nothing written.
		f.cms.down = true
		next["title"] = "لن يُكتب"
		r = f.do(editor, http.MethodPut, itemPath(id), next)
		if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
			t.Fatalf("CMS down: %d %v %s", r.status, r.header, r.body)
		}
		f.cms.down = false
		var still metadataapi.Metadata
		f.do(editor, http.MethodGet, itemPath(id), nil).want(t, http.StatusOK, &still)
		if still.Version != 11 {
			t.Fatalf("a refused write made %+v", still)
		}

		// Every version stays readable as recorded.
		var old metadataapi.Metadata
		r = f.do(editor, http.MethodGet, itemPath(id, "/versions/2"), nil)
		r.want(t, http.StatusOK, &old)
		if r.header.Get("ETag") != `"2"` || old.Version != 2 || old.Title != "برنامج الصباح" || old.UpdatedBy != adminID {
			t.Fatalf("version 2 now %+v", old)
		}
		f.do(editor, http.MethodGet, itemPath(id, "/versions/12"), nil).want(t, http.StatusNotFound, nil)

		// Soft-deleted: 409, the metadata stays. Purged: forgotten, and an unknown id again.
		f.cms.remove(ep, true)
		f.do(editor, http.MethodPut, itemPath(ep), map[string]any{"content_type": "episode", "title": "x", "language": "en"}).want(t, http.StatusConflict, nil)
		f.do(editor, http.MethodGet, itemPath(ep), nil).want(t, http.StatusOK, nil)
		f.cms.remove(ep, false)
		f.do(editor, http.MethodGet, itemPath(ep), nil).want(t, http.StatusNotFound, nil)
		f.do(editor, http.MethodGet, itemPath(ep, "/versions"), nil).want(t, http.StatusNotFound, nil)
		f.do(editor, http.MethodPut, itemPath(ep), map[string]any{"content_type": "episode", "title": "x", "language": "en"}).wantFields(t, "contentId")
	})
}

// TestPutAnswerBeforeEvent: whether the CMS's content event reaches the service before or after
// the CMS's answer (in split mode it travels through Kafka), a PUT makes exactly one version, and
// the event, delivered late and twice, makes none.
func TestPutAnswerBeforeEvent(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		id := f.program("one", "en")
		f.cms.eventsAfter = true
		f.cms.withheld = true
		m := f.put(id, map[string]any{"content_type": "program", "title": "two", "language": "en", "extra": []map[string]string{{"key": "k", "value": "v"}}}, http.StatusOK)
		if m.Version != 2 || m.Title != "two" || len(m.Extra) != 1 {
			t.Fatalf("PUT made %+v", m)
		}
		f.cms.release()
		var page metadataapi.MetadataVersionPage
		f.do(editor, http.MethodGet, itemPath(id, "/versions"), nil).want(t, http.StatusOK, &page)
		if len(page.Items) != 2 {
			t.Fatalf("%d versions, want 2: %+v", len(page.Items), page.Items)
		}
		// The events of the metadata versions: one each.
		n := 0
		for _, ev := range outboxEvents(t, db) {
			if e, ok := ev.(*metadataevents.MetadataUpdated); ok && e.AggregateID == id.String() {
				n++
			}
		}
		if n != 2 {
			t.Fatalf("%d metadata.updated events, want 2", n)
		}
	})
}

func TestPutMetadataFieldErrors(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		program := f.program("Program", "en")
		ep := f.episode(program, "Episode 1", "en")
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
			{"a category on an episode", base(map[string]any{"category_id": newID().String()}), []string{"category_id"}},
			{"publish_date before 1900", base(map[string]any{"publish_date": "1899-12-31T23:59:59Z"}), []string{"publish_date"}},
			{"publish_date after 2100", base(map[string]any{"publish_date": "2101-01-01T00:00:00Z"}), []string{"publish_date"}},
			{"publish_date in UTC after 2100", base(map[string]any{"publish_date": "2100-12-31T23:30:00-01:00"}), []string{"publish_date"}},
			{"publish_date not the published one", base(map[string]any{"publish_date": "2026-01-01T00:00:00Z"}), []string{"publish_date"}},
			{"duplicate extra keys", base(map[string]any{"extra": []map[string]string{{"key": "a", "value": "1"}, {"key": "b", "value": "2"}, {"key": "a", "value": "3"}}}), []string{"extra.2.key"}},
			{"blank title", base(map[string]any{"title": " \u00a0\t"}), []string{"title"}},
			{"NUL in title", base(map[string]any{"title": "a\u0000b"}), []string{"title"}},
			{"control character in description", base(map[string]any{"description": "line\u0007"}), []string{"description"}},
			{"NUL in an extra value", base(map[string]any{"extra": []map[string]string{{"key": "a", "value": "x\u0000"}}}), []string{"extra.0.value"}},
			{"every error at once", base(map[string]any{"language": "de", "category_id": newID().String(), "extra": []map[string]string{{"key": "a", "value": "1"}, {"key": "a", "value": "2"}}}), []string{"category_id", "extra.1.key", "language"}},
			// Caught by the contract validation before the handler.
			{"title too long", base(map[string]any{"title": strings.Repeat("é", 201)}), []string{"title"}},
			{"description longer than the CMS summary", base(map[string]any{"description": strings.Repeat("d", 1001)}), []string{"description"}},
			{"duration out of range", base(map[string]any{"duration_seconds": 172801}), []string{"duration_seconds"}},
			{"bad extra key", base(map[string]any{"extra": []map[string]string{{"key": "Bad Key", "value": "1"}}}), []string{"extra.0.key"}},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				f.do(editor, http.MethodPut, itemPath(ep), c.body).wantFields(t, c.fields...)
			})
		}
		if f.cms.writes != 0 {
			t.Fatalf("%d refused PUTs reached the CMS", f.cms.writes)
		}

		// Multi-line text and odd but valid Unicode are accepted.
		m := f.put(ep, base(map[string]any{
			"title": "\u200fعنوان 🎬 e\u0301", "description": "line 1\r\n\tline 2",
			"extra": []map[string]string{{"key": "notes", "value": "a\nb"}},
		}), http.StatusOK)
		if m.Title != "\u200fعنوان 🎬 e\u0301" || *m.Description != "line 1\r\n\tline 2" {
			t.Fatalf("stored %+v", m)
		}

		// Malformed requests are 400, never 500.
		for _, raw := range []string{`{`, `[]`, `{"content_type":"episode","title":"x","language":"en","publish_date":"yesterday"}`} {
			if r := f.do(editor, http.MethodPut, itemPath(ep), raw); r.status != http.StatusBadRequest && r.status != http.StatusUnprocessableEntity {
				t.Errorf("%s: status %d: %s", raw, r.status, r.body)
			}
		}
		f.do(editor, http.MethodPut, "/api/v1/metadata/items/not-a-uuid", base(nil)).want(t, http.StatusBadRequest, nil)
	})
}

// TestConcurrentPuts: writers of one item each make one version, numbered without gaps, and of
// writers that all send the current If-Match one wins and the others get 412.
func TestConcurrentPuts(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		id := f.program("title", "en")
		const writers = 8
		statuses := make([]int, writers)
		var wg sync.WaitGroup
		for i := range writers {
			wg.Go(func() {
				statuses[i] = f.do(editor, http.MethodPut, itemPath(id), map[string]any{"content_type": "program", "title": fmt.Sprintf("title %d", i), "language": "en"}).status
			})
		}
		wg.Wait()
		for _, s := range statuses {
			if s != http.StatusOK {
				t.Fatalf("statuses %v", statuses)
			}
		}
		var page metadataapi.MetadataVersionPage
		f.do(editor, http.MethodGet, itemPath(id, "/versions?limit=100"), nil).want(t, http.StatusOK, &page)
		if len(page.Items) != writers+1 {
			t.Fatalf("%d versions, want %d", len(page.Items), writers+1)
		}
		for i, v := range page.Items {
			if v.Version != int32(writers+1-i) {
				t.Fatalf("versions are not contiguous: %+v", page.Items)
			}
		}
		var cur metadataapi.Metadata
		f.do(editor, http.MethodGet, itemPath(id), nil).want(t, http.StatusOK, &cur)
		if cur.Title != f.cms.get(id).title {
			t.Fatalf("metadata title %q, CMS %q", cur.Title, f.cms.get(id).title)
		}

		// Writers that all send If-Match with the current version: one wins, the others get 412.
		statuses = make([]int, writers)
		for i := range writers {
			wg.Go(func() {
				statuses[i] = f.do(editor, http.MethodPut, itemPath(id), map[string]any{"content_type": "program", "title": fmt.Sprintf("again %d", i), "language": "en"},
					"If-Match", fmt.Sprintf(`"%d"`, writers+1)).status
			})
		}
		wg.Wait()
		slices.Sort(statuses)
		if statuses[0] != http.StatusOK || statuses[1] != http.StatusPreconditionFailed || statuses[writers-1] != http.StatusPreconditionFailed {
			t.Fatalf("statuses %v, want one 200 and the rest 412", statuses)
		}
	})
}
