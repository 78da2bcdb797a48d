package cms

import (
	"net/http"
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/gen/events/contentevents"
	"github.com/mediamesh/mediamesh/gen/openapi/cmsapi"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
)

// TestPublishProgramWithEpisodes: publish?with_episodes=true publishes the program and its draft
// episodes in one call, each with its own event and audit entry, and leaves the episodes that are
// archived or soft-deleted as they are; with publish_at the drafts are scheduled with the program;
// without the parameter the drafts stay drafts.
func TestPublishProgramWithEpisodes(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, Config{})
		p := f.createProgram("with-episodes", nil)
		drafts := []cmsapi.Episode{f.createEpisode(p.Id, nil, 1, nil), f.createEpisode(p.Id, nil, 2, nil)}
		archived := f.createEpisode(p.Id, nil, 3, nil)
		f.do(http.MethodPost, episodePath(archived.Id, "archive"), "editor", nil).must(t, http.StatusOK, nil)
		deleted := f.createEpisode(p.Id, nil, 4, nil)
		f.do(http.MethodDelete, episodePath(deleted.Id), "editor", nil).must(t, http.StatusNoContent, nil)

		var got cmsapi.Program
		f.do(http.MethodPost, programPath(p.Id, "publish")+"?with_episodes=true", "editor", nil).must(t, http.StatusOK, &got)
		if got.Status != cmsapi.PublicationStatusPublished {
			t.Fatalf("program %+v", got)
		}
		for _, d := range drafts {
			var e cmsapi.Episode
			f.do(http.MethodGet, episodePath(d.Id), "editor", nil).must(t, http.StatusOK, &e)
			if e.Status != cmsapi.PublicationStatusPublished || e.PublishedAt == nil || e.Version != d.Version+1 {
				t.Errorf("draft episode %d after publish with_episodes: %+v", d.EpisodeNumber, e)
			}
			evs := f.eventsOf(d.Id)
			if last := evs[len(evs)-1]; last.typ != contentevents.TypeContentPublished {
				t.Errorf("episode %d: last event %s, want %s", d.EpisodeNumber, last.typ, contentevents.TypeContentPublished)
			}
			if a := f.audit(d.Id); len(a) == 0 || a[0].Action != cmsapi.AuditActionPublished {
				t.Errorf("episode %d: audit %+v, want a published entry", d.EpisodeNumber, a)
			}
		}
		var e cmsapi.Episode
		f.do(http.MethodGet, episodePath(archived.Id), "editor", nil).must(t, http.StatusOK, &e)
		if e.Status != cmsapi.PublicationStatusArchived {
			t.Errorf("archived episode became %s", e.Status)
		}
		f.do(http.MethodGet, episodePath(deleted.Id), "editor", nil).must(t, http.StatusOK, &e)
		if e.Status != cmsapi.PublicationStatusDraft || e.DeletedAt == nil {
			t.Errorf("soft-deleted episode became %s (deleted %v)", e.Status, e.DeletedAt)
		}

		// Scheduled together; and without the parameter the drafts stay drafts.
		q := f.createProgram("scheduled-with-episodes", nil)
		d := f.createEpisode(q.Id, nil, 1, nil)
		at := f.clock.now().Add(time.Hour).UTC().Truncate(time.Second)
		f.do(http.MethodPost, programPath(q.Id, "publish")+"?with_episodes=true", "editor", map[string]any{"publish_at": at}).must(t, http.StatusOK, nil)
		f.do(http.MethodGet, episodePath(d.Id), "editor", nil).must(t, http.StatusOK, &e)
		if e.Status != cmsapi.PublicationStatusScheduled || e.ScheduledPublishAt == nil || !time.Time(*e.ScheduledPublishAt).Equal(at) {
			t.Errorf("draft of a scheduled program: %+v, want scheduled at %s", e, at)
		}
		r := f.createProgram("alone", nil)
		alone := f.createEpisode(r.Id, nil, 1, nil)
		f.do(http.MethodPost, programPath(r.Id, "publish"), "editor", nil).must(t, http.StatusOK, nil)
		f.do(http.MethodGet, episodePath(alone.Id), "editor", nil).must(t, http.StatusOK, &e)
		if e.Status != cmsapi.PublicationStatusDraft {
			t.Errorf("a draft of a program published without with_episodes became %s", e.Status)
		}
	})
}
