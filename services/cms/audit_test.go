package cms

import (
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/gen/openapi/cmsapi"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
)

// TestAuditTrail checks what the audit trail records of each change, its filters, its order and
// its pagination, and that only admins read it.
func TestAuditTrail(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, Config{})
		var p cmsapi.Program
		f.do(http.MethodPost, "/api/v1/cms/programs", "editor", map[string]any{
			"kind": "show", "title": "برنامج الصباح", "slug": "sabah", "language": "ar", "tags": []string{"صباحي", "حوارات"}, "category_id": f.cat,
		}, "X-Request-ID", "req-create-1").must(t, http.StatusCreated, &p)
		f.clock.advance(time.Second)
		f.do(http.MethodPatch, programPath(p.Id), "admin", map[string]any{
			"title": "برنامج الصباح الجديد", "tags": []string{"صباحي", "رياضة"}, "category_id": nil, "summary": "<b>&</b>",
		}, "X-Request-ID", "req-update-1").must(t, http.StatusOK, nil)
		f.clock.advance(time.Second)
		at := f.clock.now().Add(time.Hour).UTC().Truncate(time.Second)
		f.do(http.MethodPost, programPath(p.Id, "publish"), "editor", map[string]any{"publish_at": at}).must(t, http.StatusOK, nil)
		f.clock.advance(time.Second)
		f.do(http.MethodPost, programPath(p.Id, "publish"), "editor", nil, "X-Request-ID", "bad id with spaces").must(t, http.StatusOK, nil)

		entries := f.audit(p.Id)
		actions := []cmsapi.AuditAction{}
		for _, e := range entries {
			actions = append(actions, e.Action)
		}
		if !slices.Equal(actions, []cmsapi.AuditAction{"published", "scheduled", "updated", "created"}) {
			t.Fatalf("actions %v", actions)
		}
		published, scheduled, updated, created := entries[0], entries[1], entries[2], entries[3]
		if created.ActorId != editorID || !slices.Equal(created.ActorRoles, []cmsapi.Role{"EDITOR"}) || created.RequestId == nil ||
			*created.RequestId != "req-create-1" || created.EntityType != "program" || created.EntityId != p.Id {
			t.Fatalf("created entry %+v", created)
		}
		if len(created.Changes) != 6 || created.Changes[0].Field != "kind" || created.Changes[0].Before != nil || *created.Changes[0].After != "show" {
			t.Fatalf("created changes %+v", created.Changes)
		}
		changes := map[string]cmsapi.AuditChange{}
		for _, c := range updated.Changes {
			changes[c.Field] = c
		}
		if updated.ActorId != adminID || *updated.RequestId != "req-update-1" || len(changes) != 4 {
			t.Fatalf("updated entry %+v", updated)
		}
		if c := changes["title"]; *c.Before != "برنامج الصباح" || *c.After != "برنامج الصباح الجديد" {
			t.Errorf("title change %+v", c)
		}
		if c := changes["tags"]; *c.Before != `["صباحي","حوارات"]` || *c.After != `["صباحي","رياضة"]` {
			t.Errorf("tags change %s -> %s", *c.Before, *c.After)
		}
		if c := changes["category_id"]; *c.Before != f.cat.String() || c.After != nil {
			t.Errorf("category change %+v", c)
		}
		if c := changes["summary"]; c.Before != nil || *c.After != "<b>&</b>" {
			t.Errorf("summary change %+v", c)
		}
		if len(scheduled.Changes) != 1 || scheduled.Changes[0].Field != "scheduled_publish_at" || *scheduled.Changes[0].After != at.Format(time.RFC3339Nano) {
			t.Errorf("scheduled changes %+v", scheduled.Changes)
		}
		if len(published.Changes) != 0 || published.RequestId != nil {
			t.Errorf("published entry %+v", published)
		}

		// Filters and pagination.
		e := f.createProgram("other", nil)
		f.createEpisode(e.Id, nil, 1, nil)
		const path = "/api/v1/cms/audit"
		all := walk[cmsapi.AuditEntryList](t, f, path, "", 2, "admin")
		if len(all) != 6 {
			t.Fatalf("%d entries", len(all))
		}
		for _, c := range []struct {
			query string
			want  int
		}{
			{"entity_type=episode", 1},
			{"entity_type=program", 5},
			{"entity_id=" + p.Id.String(), 4},
			{"actor_id=" + adminID.String(), 1},
			{"action=created", 3},
			{"action=published&entity_id=" + p.Id.String(), 1},
			{"occurred_since=" + url.QueryEscape(updated.OccurredAt.Format(time.RFC3339Nano)), 5},
			{"occurred_until=" + url.QueryEscape(updated.OccurredAt.Format(time.RFC3339Nano)), 1},
		} {
			if n := len(walk[cmsapi.AuditEntryList](t, f, path, c.query, 2, "admin")); n != c.want {
				t.Errorf("%s: %d entries, want %d", c.query, n, c.want)
			}
		}
		var l cmsapi.AuditEntryList
		f.do(http.MethodGet, path+"?limit=100", "admin", nil).must(t, http.StatusOK, &l)
		for i := 1; i < len(l.Items); i++ {
			if l.Items[i].OccurredAt.After(l.Items[i-1].OccurredAt) {
				t.Fatal("the audit trail is not newest first")
			}
		}
		f.do(http.MethodGet, path, "editor", nil).fails(t, http.StatusForbidden, "")
		f.do(http.MethodGet, path+"?cursor=e30", "admin", nil).fails(t, http.StatusBadRequest, "query.cursor")
		f.do(http.MethodGet, path+"?action=nope", "admin", nil).fails(t, http.StatusBadRequest, "query.action")
	})
}
