package metadata

import (
	"context"
	"net/http"
	"testing"

	"github.com/mediamesh/mediamesh/gen/events/metadataevents"
	"github.com/mediamesh/mediamesh/gen/openapi/metadataapi"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
	"github.com/mediamesh/mediamesh/internal/eventbus"
	"github.com/mediamesh/mediamesh/internal/outbox"
)

// outboxEvents decodes every event in the outbox, oldest first.
func outboxEvents(t *testing.T, db *database.DB) []any {
	t.Helper()
	recs, err := outbox.Unsent(context.Background(), db, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []any
	for _, rec := range recs {
		ev, ok := metadataevents.New(rec.EventType)
		schema, _ := metadataevents.SchemaFor(rec.EventType)
		if !ok {
			t.Fatalf("unknown event type %s", rec.EventType)
		}
		if err := eventbus.Decode(rec.Payload, schema, ev); err != nil {
			t.Fatal(err)
		}
		out = append(out, ev)
	}
	return out
}

// TestCategoryEvents: every category change writes its metadata.events event in its transaction;
// a refused change writes none.
func TestCategoryEvents(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		news := f.createCategory("news", nil)
		r := f.do(admin, http.MethodPatch, categoryPath(news.Id), map[string]any{"names": map[string]any{"en": "News", "ar": "أخبار"}})
		var upd metadataapi.Category
		r.want(t, http.StatusOK, &upd)
		f.do(admin, http.MethodPost, categories, map[string]any{"slug": "news", "names": map[string]any{"en": "Again"}}).want(t, http.StatusConflict, nil)
		f.do(admin, http.MethodDelete, categoryPath(news.Id), nil).want(t, http.StatusNoContent, nil)

		evs := outboxEvents(t, db)
		if len(evs) != 3 {
			t.Fatalf("%d events, want created, updated and deleted (none for the refused create): %#v", len(evs), evs)
		}
		created, ok1 := evs[0].(*metadataevents.CategoryUpserted)
		updated, ok2 := evs[1].(*metadataevents.CategoryUpserted)
		deleted, ok3 := evs[2].(*metadataevents.CategoryDeleted)
		if !ok1 || !ok2 || !ok3 {
			t.Fatalf("event types %T %T %T", evs[0], evs[1], evs[2])
		}
		id := news.Id.String()
		if created.AggregateID != id || created.Slug != "news" || created.Names["en"] != news.Names.En || created.ActorID == nil {
			t.Fatalf("created %+v", created)
		}
		if updated.Names["ar"] != "أخبار" || updated.Version <= created.Version || updated.Version != upd.UpdatedAt.UnixMicro() {
			t.Fatalf("updated %+v (created version %d)", updated, created.Version)
		}
		if deleted.AggregateID != id || deleted.EventID == "" {
			t.Fatalf("deleted %+v", deleted)
		}
	})
}
