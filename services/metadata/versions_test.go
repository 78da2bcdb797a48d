package metadata

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/gen/openapi/metadataapi"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
)

// fieldNames turns changed_fields into strings.
func fieldNames(fs []metadataapi.MetadataFieldName) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = string(f)
	}
	return out
}

func TestVersionHistory(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		news := f.createCategory("news", nil)
		id := f.program("t1", "en")
		body := map[string]any{"content_type": "program", "title": "t1", "language": "en"}
		// What each version changes, and the changed_fields its summary must list; version 1 is
		// the program's creation in the CMS, version 6 its publication there.
		published := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		steps := []struct {
			change func()
			fields []string
		}{
			{nil, []string{"content_type", "title", "language"}},
			{func() { body["title"] = "t2"; body["tags"] = []string{"a"} }, []string{"title", "tags"}},
			{func() { body["category_id"] = news.Id.String() }, []string{"category_id"}},
			{func() { body["language"] = "ar" }, []string{"language"}},
			{func() { body["description"] = "d" }, []string{"description"}},
			{func() { f.cms.publish(id, published, editorID) }, []string{"publish_date"}},
			{func() { body["extra"] = []map[string]string{{"key": "k", "value": "v"}} }, []string{"extra"}},
			{func() { body["tags"] = []string{"a", "b"}; delete(body, "category_id") }, []string{"category_id", "tags"}},
		}
		for i, s := range steps[1:] {
			s.change()
			if i+2 == 6 {
				continue // a publication, not a PUT
			}
			if v := f.put(id, body, http.StatusOK); v.Version != int32(i+2) {
				t.Fatalf("step %d made version %d", i+2, v.Version)
			}
		}

		// Walk the history newest first, three at a time.
		var versions []int32
		var cursor string
		pages := 0
		for {
			path := itemPath(id, "/versions?limit=3")
			if cursor != "" {
				path += "&cursor=" + cursor
			}
			var page metadataapi.MetadataVersionPage
			f.do(editor, http.MethodGet, path, nil).want(t, http.StatusOK, &page)
			pages++
			for _, v := range page.Items {
				versions = append(versions, v.Version)
				if want := steps[v.Version-1].fields; !slices.Equal(fieldNames(v.ChangedFields), want) {
					t.Errorf("version %d changed %v, want %v", v.Version, v.ChangedFields, want)
				}
				if v.ChangedBy != editorID || v.ChangedAt.IsZero() {
					t.Errorf("version %d by %v at %v", v.Version, v.ChangedBy, v.ChangedAt)
				}
			}
			if !page.Page.HasMore {
				if page.Page.NextCursor != nil {
					t.Fatal("a last page has a next cursor")
				}
				break
			}
			cursor = *page.Page.NextCursor
		}
		if pages != 3 || !slices.Equal(versions, []int32{8, 7, 6, 5, 4, 3, 2, 1}) {
			t.Fatalf("%d pages, versions %v", pages, versions)
		}

		// The default page holds all eight; a cursor past the oldest version gives an empty page.
		var page metadataapi.MetadataVersionPage
		f.do(editor, http.MethodGet, itemPath(id, "/versions"), nil).want(t, http.StatusOK, &page)
		if len(page.Items) != 8 || page.Page.HasMore {
			t.Fatalf("default page %+v", page)
		}
		end := base64.RawURLEncoding.EncodeToString([]byte(`{"version":1}`))
		f.do(editor, http.MethodGet, itemPath(id, "/versions?cursor="+end), nil).want(t, http.StatusOK, &page)
		if len(page.Items) != 0 || page.Page.HasMore {
			t.Fatalf("page past the end %+v", page)
		}

		// Cursors that this list did not produce are 400 on query.cursor.
		for _, raw := range []string{"!!", "e30", base64.RawURLEncoding.EncodeToString([]byte(`{"version":0}`)),
			base64.RawURLEncoding.EncodeToString([]byte(`{"version":2}{}`)), base64.RawURLEncoding.EncodeToString([]byte(`{"slug":"news"}`)),
			base64.RawURLEncoding.EncodeToString([]byte(`{"version":1e99}`))} {
			r := f.do(editor, http.MethodGet, itemPath(id, "/versions?cursor="+raw), nil)
			if r.status != http.StatusBadRequest || !slices.Equal(r.fields(t), []string{"query.cursor"}) {
				t.Errorf("cursor %q: %d %s", raw, r.status, r.body)
			}
		}
		f.do(editor, http.MethodGet, itemPath(newID(), "/versions"), nil).want(t, http.StatusNotFound, nil)
	})
}

func TestDiffMetadataVersions(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		cat := f.createCategory("culture", nil)
		id := f.program("الصباح", "ar")
		f.put(id, map[string]any{
			"content_type": "program", "title": "الصباح", "description": "old", "language": "ar",
			"tags": []string{"morning-show"}, "extra": []map[string]string{{"key": "rating", "value": "PG"}},
		}, http.StatusOK)
		f.put(id, map[string]any{"content_type": "program", "title": "intermediate", "language": "ar"}, http.StatusOK)
		f.cms.publish(id, time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC), editorID)
		f.put(id, map[string]any{
			"content_type": "program", "title": "برنامج الصباح", "language": "ar", "category_id": cat.Id.String(),
			"tags":  []string{"morning-show", "news", "<culture> & more"},
			"extra": []map[string]string{{"key": "presenter", "value": "سارة \"علي\""}},
		}, http.StatusOK)

		str := func(s string) *string { return &s }
		forward := []metadataapi.FieldChange{
			{Field: "title", Before: str("الصباح"), After: str("برنامج الصباح")},
			{Field: "description", Before: str("old")},
			{Field: "category_id", After: str(cat.Id.String())},
			{Field: "publish_date", After: str("2026-12-01T06:00:00Z")},
			{Field: "tags", Before: str(`["morning-show"]`), After: str(`["morning-show","news","<culture> & more"]`)},
			{Field: "extra", Before: str(`[{"key":"rating","value":"PG"}]`), After: str(`[{"key":"presenter","value":"سارة \"علي\""}]`)},
		}
		check := func(from, to int, want []metadataapi.FieldChange) {
			t.Helper()
			var d metadataapi.MetadataDiff
			f.do(editor, http.MethodGet, itemPath(id, fmt.Sprintf("/diff?from=%d&to=%d", from, to)), nil).want(t, http.StatusOK, &d)
			if d.ContentId != id || d.From != int32(from) || d.To != int32(to) {
				t.Fatalf("diff header %+v", d)
			}
			if len(d.Changes) != len(want) {
				t.Fatalf("diff %d..%d: %d changes, want %d: %+v", from, to, len(d.Changes), len(want), d.Changes)
			}
			for i, c := range d.Changes {
				w := want[i]
				if c.Field != w.Field || !slices.Equal(opt(c.Before), opt(w.Before)) || !slices.Equal(opt(c.After), opt(w.After)) {
					t.Errorf("diff %d..%d change %d: %s %v -> %v, want %s %v -> %v", from, to, i, c.Field, opt(c.Before), opt(c.After), w.Field, opt(w.Before), opt(w.After))
				}
			}
		}
		check(2, 5, forward)
		backward := make([]metadataapi.FieldChange, len(forward))
		for i, c := range forward {
			backward[i] = metadataapi.FieldChange{Field: c.Field, Before: c.After, After: c.Before}
		}
		check(5, 2, backward)
		check(3, 3, nil)

		// Absent before/after are absent in the JSON, not null or "".
		r := f.do(editor, http.MethodGet, itemPath(id, "/diff?from=2&to=3"), nil)
		r.want(t, http.StatusOK, nil)
		if want := `{"before":"old","field":"description"}`; !strings.Contains(string(r.body), want) {
			t.Fatalf("diff 2..3 %s lacks %s", r.body, want)
		}

		f.do(editor, http.MethodGet, itemPath(id, "/diff?from=1&to=6"), nil).want(t, http.StatusNotFound, nil)
		f.do(editor, http.MethodGet, itemPath(newID(), "/diff?from=1&to=1"), nil).want(t, http.StatusNotFound, nil)
		for _, q := range []string{"from=0&to=1", "from=1", "from=99999999999&to=1", "from=1&to=x"} {
			f.do(editor, http.MethodGet, itemPath(id, "/diff?"+q), nil).want(t, http.StatusBadRequest, nil)
		}
	})
}

// opt returns the value of p as a slice of zero or one element, for comparing optional strings.
func opt(p *string) []string {
	if p == nil {
		return nil
	}
	return []string{*p}
}
