package metadata

import (
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
)

// A run of events applied in one transaction (HandleBatch) records what the same events applied one
// at a time would: an item's later events in the run (its publication, an edit) see what its
// earlier ones wrote, and a lifecycle change in between (a soft delete) is read again.
func TestRunOfEventsRecordsAsOneByOne(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		versionsIn := func(db *database.DB, id uuid.UUID) []string {
			t.Helper()
			rows, err := db.QueryContext(t.Context(), db.Rebind(`SELECT title FROM metadata_versions WHERE content_id = ? ORDER BY version`), id)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var out []string
			for rows.Next() {
				var title string
				if err := rows.Scan(&title); err != nil {
					t.Fatal(err)
				}
				out = append(out, title)
			}
			return out
		}
		versions := func(id uuid.UUID) []string { return versionsIn(db, id) }
		f.cms.withheld = true
		p := f.cms.create(nil, "Harbour lights", "en", editorID)
		f.cms.publish(p, time.Now(), editorID)                                        // no descriptive change: no version
		f.cms.change(p, editorID, func(it *fakeItem) { it.title = "Harbour nights" }) // version 2
		e := f.cms.create(&p, "Lighthouse keepers", "en", editorID)
		f.cms.remove(e, true)                                                      // soft delete
		f.cms.change(e, editorID, func(it *fakeItem) { it.title = "Net menders" }) // an edit after it: version 2
		f.cms.mu.Lock()
		run := f.cms.held
		f.cms.held, f.cms.withheld = nil, false
		f.cms.mu.Unlock()
		if err := f.svc.HandleBatch(t.Context(), run); err != nil {
			t.Fatal(err)
		}
		if got, want := versions(p), []string{"Harbour lights", "Harbour lights", "Harbour nights"}; !slices.Equal(got, want) {
			t.Errorf("program versions %v, want %v", got, want)
		}
		if got, want := versions(e), []string{"Lighthouse keepers", "Net menders"}; !slices.Equal(got, want) {
			t.Errorf("episode versions %v, want %v", got, want)
		}
		// The same events one at a time, on a database of their own, record the same.
		one := newFixture(t, databasetest.SQLite(t))
		for _, m := range run {
			if err := one.svc.HandleEvent(t.Context(), m); err != nil {
				t.Fatal(err)
			}
		}
		for _, id := range []uuid.UUID{p, e} {
			if got, want := versions(id), versionsIn(one.db, id); !slices.Equal(got, want) {
				t.Errorf("%s: versions %v in a run, %v one by one", id, got, want)
			}
		}
		// Delivered again, one by one: nothing more.
		for _, m := range run {
			if err := f.svc.HandleEvent(t.Context(), m); err != nil {
				t.Fatal(err)
			}
		}
		if got := versions(p); len(got) != 3 {
			t.Errorf("a redelivery added versions: %v", got)
		}
	})
}
