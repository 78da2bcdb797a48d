package cms

import (
	"context"
	"fmt"
	"time"

	entsql "entgo.io/ent/dialect/sql"
	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/ent/cmsdb"
	"github.com/mediamesh/mediamesh/ent/cmsdb/auditentry"
	"github.com/mediamesh/mediamesh/ent/cmsdb/schema"
	"github.com/mediamesh/mediamesh/gen/openapi/cmsapi"
)

// auditBatch is how many audit entries one INSERT writes, well under the bind-parameter limits
// of SQLite and PostgreSQL.
const auditBatch = 500

// auditChanges returns the changed fields an audit entry records: every field set at creation,
// the changed fields of an update, the new time of a schedule; none for pure status transitions,
// deletes and purges.
func auditChanges(action auditentry.Action, before, after *content) []schema.AuditChange {
	switch action {
	case auditentry.ActionCreated:
		return diff(nil, after.fields)
	case auditentry.ActionUpdated:
		return diff(before.fields, after.fields)
	case auditentry.ActionScheduled:
		return diff([]auditField{{"scheduled_publish_at", timeString(before.scheduledAt)}}, []auditField{{"scheduled_publish_at", timeString(after.scheduledAt)}})
	}
	return []schema.AuditChange{}
}

// writeAudit records one action of a on each of the entities ids, with the same changes.
func writeAudit(ctx context.Context, c *cmsdb.Client, a actor, entity auditentry.EntityType, ids []uuid.UUID, action auditentry.Action, changes []schema.AuditChange, at time.Time) error {
	if changes == nil {
		changes = []schema.AuditChange{}
	}
	for start := 0; start < len(ids); start += auditBatch {
		batch := ids[start:min(start+auditBatch, len(ids))]
		creates := make([]*cmsdb.AuditEntryCreate, len(batch))
		for i, id := range batch {
			creates[i] = c.AuditEntry.Create().
				SetEntityType(entity).SetEntityID(id).SetAction(action).
				SetActorID(a.id).SetActorRoles(a.roles).SetNillableAPIKeyID(a.apiKey).SetChanges(changes).
				SetOccurredAt(at).SetNillableRequestID(a.requestID)
		}
		if err := c.AuditEntry.CreateBulk(creates...).Exec(ctx); err != nil {
			return fmt.Errorf("cms: write %s audit entries: %w", action, err)
		}
	}
	return nil
}

// ListAuditEntries implements cmsapi.StrictServerInterface: the audit trail, newest first, with
// keyset pagination on (occurred_at, id).
func (s *Service) ListAuditEntries(ctx context.Context, req cmsapi.ListAuditEntriesRequestObject) (cmsapi.ListAuditEntriesResponseObject, error) {
	p := req.Params
	const sortKey = "-occurred_at"
	cur, err := decodeCursor(p.Cursor, sortKey)
	if err != nil {
		return nil, err
	}
	limit := pageLimit(p.Limit)
	q := s.read.AuditEntry.Query()
	if p.EntityType != nil {
		q.Where(auditentry.EntityTypeEQ(auditentry.EntityType(*p.EntityType)))
	}
	if p.EntityId != nil {
		q.Where(auditentry.EntityID(*p.EntityId))
	}
	if p.ActorId != nil {
		q.Where(auditentry.ActorID(*p.ActorId))
	}
	if p.Action != nil {
		q.Where(auditentry.ActionEQ(auditentry.Action(*p.Action)))
	}
	if p.OccurredSince != nil {
		q.Where(auditentry.OccurredAtGTE(p.OccurredSince.UTC()))
	}
	if p.OccurredUntil != nil {
		q.Where(auditentry.OccurredAtLT(p.OccurredUntil.UTC()))
	}
	if cur != nil {
		q.Where(func(s *entsql.Selector) {
			s.Where(after(s, []string{s.C(auditentry.FieldOccurredAt)}, []any{cur.At}, cur.ID, true))
		})
	}
	rows, err := q.Order(auditentry.ByOccurredAt(entsql.OrderDesc()), auditentry.ByID(entsql.OrderDesc())).Limit(limit + 1).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("cms: list audit entries: %w", err)
	}
	rows, page, err := paginate(rows, limit, func(e *cmsdb.AuditEntry) cursor {
		return cursor{Sort: sortKey, At: e.OccurredAt.UTC(), ID: e.ID}
	})
	if err != nil {
		return nil, err
	}
	out := cmsapi.ListAuditEntries200JSONResponse{Items: make([]cmsapi.AuditEntry, len(rows)), Page: page}
	for i, e := range rows {
		out.Items[i] = auditToAPI(e)
	}
	return out, nil
}

func auditToAPI(e *cmsdb.AuditEntry) cmsapi.AuditEntry {
	roles := make([]cmsapi.Role, len(e.ActorRoles))
	for i, r := range e.ActorRoles {
		roles[i] = cmsapi.Role(r)
	}
	changes := make([]cmsapi.AuditChange, len(e.Changes))
	for i, ch := range e.Changes {
		changes[i] = cmsapi.AuditChange{Field: ch.Field, Before: ch.Before, After: ch.After}
	}
	return cmsapi.AuditEntry{
		Id: e.ID, EntityType: cmsapi.AuditEntityType(e.EntityType), EntityId: e.EntityID, Action: cmsapi.AuditAction(e.Action),
		ActorId: e.ActorID, ActorRoles: roles, ApiKeyId: e.APIKeyID, Changes: changes, OccurredAt: e.OccurredAt.UTC(), RequestId: e.RequestID,
	}
}
