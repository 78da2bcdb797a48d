package metadata

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/ent/metadatadb"
	"github.com/mediamesh/mediamesh/gen/events/metadataevents"
	"github.com/mediamesh/mediamesh/internal/authn"
	"github.com/mediamesh/mediamesh/internal/outbox"
	"github.com/mediamesh/mediamesh/internal/telemetry"
)

// Category changes are published on metadata.events (category.upserted, category.deleted) through
// the outbox, in the transaction of the change, so read models such as discovery can name
// categories without calling this service.

// categoryUpserted appends the category.upserted event of cat to the outbox within tx.
func (s *Service) categoryUpserted(ctx context.Context, tx *sql.Tx, cat *metadatadb.Category) error {
	names := map[string]string{"en": cat.Names.En}
	if cat.Names.Ar != nil {
		names["ar"] = *cat.Names.Ar
	}
	var parent *string
	if cat.ParentID != nil {
		p := cat.ParentID.String()
		parent = &p
	}
	ev := &metadataevents.CategoryUpserted{
		EventID: newEventID(), OccurredAt: s.clock(), AggregateID: cat.ID.String(), TraceID: telemetry.TraceID(ctx),
		ActorID: actorID(ctx), Slug: cat.Slug, Names: names, ParentID: parent, Version: cat.UpdatedAt.UnixMicro(),
	}
	if err := outbox.Append(ctx, tx, s.db, ev, nil); err != nil {
		return fmt.Errorf("metadata: category.upserted event: %w", err)
	}
	return nil
}

// categoryDeleted appends the category.deleted event of id to the outbox within tx.
func (s *Service) categoryDeleted(ctx context.Context, tx *sql.Tx, id uuid.UUID) error {
	ev := &metadataevents.CategoryDeleted{
		EventID: newEventID(), OccurredAt: s.clock(), AggregateID: id.String(), TraceID: telemetry.TraceID(ctx), ActorID: actorID(ctx),
	}
	if err := outbox.Append(ctx, tx, s.db, ev, nil); err != nil {
		return fmt.Errorf("metadata: category.deleted event: %w", err)
	}
	return nil
}

func newEventID() string { return uuid.Must(uuid.NewV7()).String() }

// actorID is the caller's user id, or nil when there is none.
func actorID(ctx context.Context) *string {
	if p, ok := authn.FromContext(ctx); ok && p.Subject != "" {
		id := p.Subject
		return &id
	}
	return nil
}
