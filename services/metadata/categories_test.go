package metadata

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/gen/openapi/metadataapi"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
)

const categories = "/api/v1/metadata/categories"

// categoryPath is the path of one category.
func categoryPath(id uuid.UUID) string { return categories + "/" + id.String() }

func TestCategoryCRUD(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)

		// Create: 201 with Location and ETag.
		r := f.do(admin, http.MethodPost, categories, map[string]any{"slug": "news", "names": map[string]any{"en": "News", "ar": "أخبار"}})
		var news metadataapi.Category
		r.want(t, http.StatusCreated, &news)
		if r.header.Get("Location") != categoryPath(news.Id) || r.header.Get("ETag") != categoryETag(news.UpdatedAt) || news.ParentId != nil ||
			news.Names.En != "News" || *news.Names.Ar != "أخبار" || !news.CreatedAt.Equal(news.UpdatedAt) {
			t.Fatalf("created %+v %v", news, r.header)
		}
		sports := f.createCategory("sports-news", &news.Id)
		if sports.ParentId == nil || *sports.ParentId != news.Id {
			t.Fatalf("child %+v", sports)
		}

		// A taken slug is 409; an unknown parent or a blank name 422 on the field.
		r = f.do(admin, http.MethodPost, categories, map[string]any{"slug": "news", "names": map[string]any{"en": "Other"}})
		r.want(t, http.StatusConflict, nil)
		f.do(admin, http.MethodPost, categories, map[string]any{"slug": "x", "names": map[string]any{"en": "X"}, "parent_id": newID().String()}).wantFields(t, "parent_id")
		f.do(admin, http.MethodPost, categories, map[string]any{"slug": "y", "names": map[string]any{"en": "  ", "ar": "a\u0000"}}).wantFields(t, "names.ar", "names.en")
		f.do(admin, http.MethodPost, categories, map[string]any{"slug": "Bad Slug", "names": map[string]any{"en": "Y"}}).wantFields(t, "slug")

		// Get.
		var got metadataapi.Category
		r = f.do(editor, http.MethodGet, categoryPath(sports.Id), nil)
		r.want(t, http.StatusOK, &got)
		if got.Slug != "sports-news" || r.header.Get("ETag") != categoryETag(sports.UpdatedAt) {
			t.Fatalf("get %+v %v", got, r.header)
		}
		f.do(editor, http.MethodGet, categoryPath(newID()), nil).want(t, http.StatusNotFound, nil)

		// Update: only the fields sent change, and the ETag changes on every update, even within
		// the same microsecond of the clock.
		etag := r.header.Get("ETag")
		r = f.do(admin, http.MethodPatch, categoryPath(sports.Id), map[string]any{"names": map[string]any{"en": "Sport"}}, "If-Match", etag)
		var upd metadataapi.Category
		r.want(t, http.StatusOK, &upd)
		if upd.Slug != "sports-news" || upd.Names.En != "Sport" || upd.Names.Ar != nil || *upd.ParentId != news.Id || r.header.Get("ETag") == etag || !upd.CreatedAt.Equal(sports.CreatedAt) {
			t.Fatalf("updated %+v %v", upd, r.header)
		}
		f.do(admin, http.MethodPatch, categoryPath(sports.Id), map[string]any{"slug": "sport"}, "If-Match", etag).want(t, http.StatusPreconditionFailed, nil)
		etag = r.header.Get("ETag")
		r = f.do(admin, http.MethodPatch, categoryPath(sports.Id), map[string]any{"slug": "sport", "move_to_top_level": true}, "If-Match", etag)
		var moved metadataapi.Category
		r.want(t, http.StatusOK, &moved)
		if moved.Slug != "sport" || moved.ParentId != nil || r.header.Get("ETag") == etag {
			t.Fatalf("moved %+v", moved)
		}
		f.do(admin, http.MethodPatch, categoryPath(sports.Id), map[string]any{"slug": "news"}).want(t, http.StatusConflict, nil)
		f.do(admin, http.MethodPatch, categoryPath(sports.Id), map[string]any{"parent_id": news.Id.String(), "move_to_top_level": true}).wantFields(t, "move_to_top_level")
		f.do(admin, http.MethodPatch, categoryPath(sports.Id), map[string]any{"parent_id": newID().String()}).wantFields(t, "parent_id")
		f.do(admin, http.MethodPatch, categoryPath(newID()), map[string]any{"slug": "z"}).want(t, http.StatusNotFound, nil)
		f.do(admin, http.MethodPatch, categoryPath(sports.Id), map[string]any{}).want(t, http.StatusUnprocessableEntity, nil)
		r = f.do(admin, http.MethodPatch, categoryPath(sports.Id), map[string]any{"parent_id": news.Id.String()})
		var reparented metadataapi.Category
		r.want(t, http.StatusOK, &reparented)
		if reparented.ParentId == nil || *reparented.ParentId != news.Id || reparented.Slug != "sport" {
			t.Fatalf("re-parented %+v", reparented)
		}

		// Delete: If-Match, then 204 and 404.
		f.do(admin, http.MethodDelete, categoryPath(sports.Id), nil, "If-Match", etag).want(t, http.StatusPreconditionFailed, nil)
		f.do(admin, http.MethodDelete, categoryPath(sports.Id), nil, "If-Match", r.header.Get("ETag")).want(t, http.StatusNoContent, nil)
		f.do(editor, http.MethodGet, categoryPath(sports.Id), nil).want(t, http.StatusNotFound, nil)
		f.do(admin, http.MethodDelete, categoryPath(sports.Id), nil).want(t, http.StatusNotFound, nil)
	})
}

func TestListCategories(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		// Slugs whose order depends on the hyphen: byte order puts "a-b" before "a0" and "ab".
		a := f.createCategory("ab", nil)
		for _, s := range []string{"a0", "a-b", "b"} {
			f.createCategory(s, nil)
		}
		f.createCategory("ab-child-2", &a.Id)
		f.createCategory("ab-child-1", &a.Id)

		list := func(query string) []string {
			t.Helper()
			var slugs []string
			cursor := ""
			for range 10 {
				path := categories + "?limit=2" + query
				if cursor != "" {
					path += "&cursor=" + cursor
				}
				var page metadataapi.CategoryPage
				f.do(editor, http.MethodGet, path, nil).want(t, http.StatusOK, &page)
				for _, c := range page.Items {
					slugs = append(slugs, c.Slug)
				}
				if !page.Page.HasMore {
					return slugs
				}
				cursor = *page.Page.NextCursor
			}
			t.Fatal("pagination does not end")
			return nil
		}
		if got, want := list(""), []string{"a-b", "a0", "ab", "ab-child-1", "ab-child-2", "b"}; !slices.Equal(got, want) {
			t.Errorf("all: %v, want %v", got, want)
		}
		if got, want := list("&top_level=true"), []string{"a-b", "a0", "ab", "b"}; !slices.Equal(got, want) {
			t.Errorf("top level: %v, want %v", got, want)
		}
		if got, want := list("&top_level=false"), []string{"ab-child-1", "ab-child-2"}; !slices.Equal(got, want) {
			t.Errorf("with a parent: %v, want %v", got, want)
		}
		if got, want := list("&parent_id="+a.Id.String()), []string{"ab-child-1", "ab-child-2"}; !slices.Equal(got, want) {
			t.Errorf("children: %v, want %v", got, want)
		}
		if got := list("&parent_id=" + newID().String()); len(got) != 0 {
			t.Errorf("children of an unknown category: %v", got)
		}
		f.do(editor, http.MethodGet, categories+"?top_level=true&parent_id="+a.Id.String(), nil).wantFields(t, "query.top_level")
		for _, raw := range []string{"not.base64", base64.RawURLEncoding.EncodeToString([]byte(`{"slug":"Not A Slug"}`)), base64.RawURLEncoding.EncodeToString([]byte(`{"version":2}`))} {
			r := f.do(editor, http.MethodGet, categories+"?cursor="+raw, nil)
			if r.status != http.StatusBadRequest {
				t.Errorf("cursor %q: %d %s", raw, r.status, r.body)
			}
		}
		var page metadataapi.CategoryPage
		f.do(editor, http.MethodGet, categories, nil).want(t, http.StatusOK, &page)
		if len(page.Items) != 6 || page.Page.HasMore || page.Page.NextCursor != nil {
			t.Fatalf("default page %+v", page.Page)
		}
	})
}

func TestCategoryTree(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		// l1 > l2 > l3 > l4 > l5: the deepest tree allowed.
		var chain []metadataapi.Category
		var parent *uuid.UUID
		for _, s := range []string{"l1", "l2", "l3", "l4", "l5"} {
			c := f.createCategory(s, parent)
			chain = append(chain, c)
			parent = &c.Id
		}
		r := f.do(admin, http.MethodPost, categories, map[string]any{"slug": "l6", "names": map[string]any{"en": "L6"}, "parent_id": chain[4].Id.String()})
		r.wantFields(t, "parent_id")

		move := func(c metadataapi.Category, parent uuid.UUID) response {
			return f.do(admin, http.MethodPatch, categoryPath(c.Id), map[string]any{"parent_id": parent.String()})
		}
		// No cycles: not under itself, not under a descendant.
		for _, p := range []uuid.UUID{chain[0].Id, chain[2].Id, chain[4].Id} {
			r = move(chain[0], p)
			r.wantFields(t, "parent_id")
			var pr problem
			if err := json.Unmarshal(r.body, &pr); err != nil || pr.Errors[0].Code != "cycle" {
				t.Fatalf("move under %v: %s", p, r.body)
			}
		}
		move(chain[3], chain[3].Id).wantFields(t, "parent_id")

		// Depth counts the whole moved subtree.
		other := f.createCategory("other", nil)
		deep := f.createCategory("deep", &other.Id)
		move(chain[3], deep.Id).want(t, http.StatusOK, nil) // other > deep > l4 > l5
		move(other, chain[2].Id).wantFields(t, "parent_id") // l1 > l2 > l3 > other > deep > l4 > l5
		move(chain[1], deep.Id).want(t, http.StatusOK, nil) // other > deep > l2 > l3
	})
}

func TestDeleteCategoryInUse(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		parent := f.createCategory("parent", nil)
		child := f.createCategory("child", &parent.Id)
		other := f.createCategory("other", nil)

		// A category with children stays.
		r := f.do(admin, http.MethodDelete, categoryPath(parent.Id), nil)
		r.want(t, http.StatusConflict, nil)
		var p problem
		if err := json.Unmarshal(r.body, &p); err != nil || p.Type != "https://mediamesh.dev/problems/category-in-use" {
			t.Fatalf("409 %s", r.body)
		}

		// A category that programs in the CMS use stays, whatever their status: drafts count, and
		// so do soft-deleted ones until they are purged.
		item1, item2 := f.program("one", "en"), f.program("two", "en")
		body := map[string]any{"content_type": "program", "title": "one", "language": "en", "category_id": child.Id.String()}
		f.put(item1, body, http.StatusOK)
		f.cms.change(item2, editorID, func(it *fakeItem) { it.category = &child.Id }) // a CMS PATCH
		r = f.do(admin, http.MethodDelete, categoryPath(child.Id), nil)
		r.want(t, http.StatusConflict, &p)
		if p.Detail != "the category is used by 2 programs and episodes" {
			t.Fatalf("409 %+v", p)
		}
		f.cms.remove(item2, true)
		r = f.do(admin, http.MethodDelete, categoryPath(child.Id), nil)
		r.want(t, http.StatusConflict, &p)
		if p.Detail != "the category is used by 2 programs and episodes" {
			t.Fatalf("409 with a soft-deleted program %+v", p)
		}
		f.cms.remove(item2, false)
		r = f.do(admin, http.MethodDelete, categoryPath(child.Id), nil)
		r.want(t, http.StatusConflict, &p)
		if p.Detail != "the category is used by 1 programs and episodes" {
			t.Fatalf("409 after a purge %+v", p)
		}

		// Once the programs use another category, the old versions do not count.
		body["category_id"] = other.Id.String()
		f.put(item1, body, http.StatusOK)
		f.do(admin, http.MethodDelete, categoryPath(child.Id), nil).want(t, http.StatusNoContent, nil)
		f.do(admin, http.MethodDelete, categoryPath(parent.Id), nil).want(t, http.StatusNoContent, nil)
		f.do(admin, http.MethodDelete, categoryPath(other.Id), nil).want(t, http.StatusConflict, nil)

		// The history still shows the deleted category.
		var v1 metadataapi.Metadata
		f.do(editor, http.MethodGet, itemPath(item1, "/versions/2"), nil).want(t, http.StatusOK, &v1)
		if v1.CategoryId == nil || *v1.CategoryId != child.Id {
			t.Fatalf("version 2 %+v", v1)
		}
	})
}

func TestCategoryETagChangesWithinOneClockTick(t *testing.T) {
	f := newFixture(t, databasetest.SQLite(t))
	c := f.createCategory("news", nil)
	tag := categoryETag(c.UpdatedAt)
	for range 3 {
		r := f.do(admin, http.MethodPatch, categoryPath(c.Id), map[string]any{"names": map[string]any{"en": "News"}}, "If-Match", tag)
		r.want(t, http.StatusOK, nil)
		if r.header.Get("ETag") == tag {
			t.Fatal("the ETag did not change")
		}
		tag = r.header.Get("ETag")
	}
	f.clock.advance(-time.Hour) // a clock that steps back still moves the ETag forward
	f.do(admin, http.MethodPatch, categoryPath(c.Id), map[string]any{"slug": "news"}, "If-Match", tag).want(t, http.StatusOK, nil)
}

func TestRoles(t *testing.T) {
	f := newFixture(t, databasetest.SQLite(t))
	body := map[string]any{"slug": "news", "names": map[string]any{"en": "News"}}
	f.do(editor, http.MethodPost, categories, body).want(t, http.StatusForbidden, nil)
	f.do("", http.MethodGet, categories, nil).want(t, http.StatusUnauthorized, nil)
	f.do("bogus", http.MethodGet, categories, nil).want(t, http.StatusUnauthorized, nil)
	f.do(user, http.MethodGet, itemPath(newID()), nil).want(t, http.StatusForbidden, nil)
	c := f.createCategory("news", nil)
	f.do(editor, http.MethodGet, categories, nil).want(t, http.StatusOK, nil)
	f.do(editor, http.MethodPatch, categoryPath(c.Id), map[string]any{"slug": "x"}).want(t, http.StatusForbidden, nil)
	f.do(editor, http.MethodDelete, categoryPath(c.Id), nil).want(t, http.StatusForbidden, nil)
	f.do(editor, http.MethodGet, "/api/v1/metadata/languages", nil).want(t, http.StatusOK, nil)
}
