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
