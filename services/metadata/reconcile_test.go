package metadata

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/ent/metadatadb/metadataversion"
	"github.com/mediamesh/mediamesh/gen/openapi/metadataapi"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
)

// TestReconcile: a replay of the content events reconciles metadata that diverged from the CMS
// before the CMS became its one owner (versions written by PUTs that the CMS never saw): one version
// with the CMS's values per item that differs, however many events it had; purged items forgotten;
// metadata of ids no event names counted and left; a second replay changes nothing.
func TestReconcile(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		// The CMS's history, as its topic holds it; this service has not consumed it.
		f.cms.withheld = true
		diverged := f.program("CMS title", "en")
		f.cms.change(diverged, editorID, func(it *fakeItem) { it.tags = []string{"cms"} })
		f.cms.publish(diverged, time.Date(2026, 5, 1, 6, 0, 0, 0, time.UTC), editorID)
		purged := f.program("to purge", "en")
		f.cms.remove(purged, true)
		f.cms.remove(purged, false)
		fresh := f.program("never had metadata", "ar")
		held := f.cms.held
		f.cms.held, f.cms.withheld = nil, false

		// Metadata written the old way: by PUTs for any id, unchecked.
		orphan := newID()
		legacy := func(id uuid.UUID, version int32, title string) {
			t.Helper()
			err := f.svc.read.MetadataVersion.Create().SetContentID(id).SetContentType(metadataversion.ContentTypeProgram).SetVersion(version).
				SetTitle(title).SetLanguage("en").SetTags([]string{"legacy"}).SetExtra(nil).SetUpdatedBy(editorID).
				SetUpdatedAt(f.clock.now()).SetCreatedAt(f.clock.now()).Exec(ctx)
			if err != nil {
				t.Fatal(err)
			}
		}
		legacy(diverged, 1, "old title")
		legacy(diverged, 2, "metadata-only title")
		legacy(purged, 1, "purged")
		legacy(orphan, 1, "no such content")

		replay := func() Report {
			t.Helper()
			commit, _, err := f.svc.BeginRebuild(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range held {
				if err := f.svc.HandleEvent(ctx, m); err != nil {
					t.Fatal(err)
				}
			}
			// An event this build cannot read is skipped and counted.
			bad := held[0]
			bad.Value = append([]byte{0xc3, 0x01, 1, 2, 3, 4, 5, 6, 7, 8}, 0)
			if err := f.svc.HandleEvent(ctx, bad); err != nil {
				t.Fatal(err)
			}
			if err := commit(ctx); err != nil {
				t.Fatal(err)
			}
			return f.svc.report
		}
		if r := replay(); r != (Report{Events: len(held) + 1, Items: 3, Appended: 2, Purged: 1, Orphans: 1, Unreadable: 1}) {
			t.Fatalf("report %+v (%s)", r, r)
		}
		var m metadataapi.Metadata
		f.do(editor, http.MethodGet, itemPath(diverged), nil).want(t, http.StatusOK, &m)
		if m.Version != 3 || m.Title != "CMS title" || len(m.Tags) != 1 || m.Tags[0] != "cms" || m.PublishDate == nil || m.UpdatedBy != editorID {
			t.Fatalf("reconciled %+v", m)
		}
		f.do(editor, http.MethodGet, itemPath(diverged, "/versions/2"), nil).want(t, http.StatusOK, &m)
		if m.Title != "metadata-only title" {
			t.Fatalf("history lost: %+v", m)
		}
		f.do(editor, http.MethodGet, itemPath(fresh), nil).want(t, http.StatusOK, &m)
		if m.Version != 1 || m.Title != "never had metadata" || m.Language != "ar" {
			t.Fatalf("fresh %+v", m)
		}
		f.do(editor, http.MethodGet, itemPath(purged), nil).want(t, http.StatusNotFound, nil)
		f.do(editor, http.MethodGet, itemPath(orphan), nil).want(t, http.StatusOK, nil)

		// The service knows the items now: a PUT works (its event joins the topic), and a second
		// replay changes nothing.
		f.cms.withheld = true
		f.put(diverged, map[string]any{"content_type": "program", "title": "after", "language": "en"}, http.StatusOK)
		held = append(held, f.cms.held...)
		f.cms.held, f.cms.withheld = nil, false
		if r := replay(); r.Appended != 0 || r.Purged != 0 || r.Orphans != 1 || r.Unreadable != 1 {
			t.Fatalf("second report %+v", r)
		}
		f.do(editor, http.MethodGet, itemPath(diverged), nil).want(t, http.StatusOK, &m)
		if m.Version != 4 || m.Title != "after" {
			t.Fatalf("after the second replay %+v", m)
		}
	})
}

// TestHandleBatch: a run of content events applies in one transaction as they would one by one,
// and again changes nothing.
func TestHandleBatch(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		f.cms.withheld = true
		p := f.program("batched", "en")
		f.cms.change(p, editorID, func(it *fakeItem) { it.title = "batched twice" })
		e := f.episode(p, "episode", "en")
		f.cms.remove(e, true)
		f.cms.remove(e, false)
		held := f.cms.held
		f.cms.held, f.cms.withheld = nil, false
		for range 2 {
			if err := f.svc.HandleBatch(ctx, held); err != nil {
				t.Fatal(err)
			}
		}
		var m metadataapi.Metadata
		f.do(editor, http.MethodGet, itemPath(p), nil).want(t, http.StatusOK, &m)
		if m.Version != 2 || m.Title != "batched twice" {
			t.Fatalf("after the run %+v", m)
		}
		f.do(editor, http.MethodGet, itemPath(e), nil).want(t, http.StatusNotFound, nil)
		f.do(editor, http.MethodPut, itemPath(e), map[string]any{"content_type": "episode", "title": "x", "language": "en"}).wantFields(t, "contentId")
	})
}
