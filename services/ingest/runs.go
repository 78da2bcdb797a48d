package ingest

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/ent/ingestdb"
	"github.com/mediamesh/mediamesh/ent/ingestdb/run"
	"github.com/mediamesh/mediamesh/ent/ingestdb/source"
	"github.com/mediamesh/mediamesh/gen/openapi/ingestapi"
	"github.com/mediamesh/mediamesh/internal/apierror"
	"github.com/mediamesh/mediamesh/internal/authn"
	"github.com/mediamesh/mediamesh/internal/etag"
)

func noRun() error { return apierror.NotFound("no ingest run with this id") }

// toRun renders r for the API.
func toRun(r *ingestdb.Run) ingestapi.IngestRun {
	out := ingestapi.IngestRun{
		Id: r.ID, SourceId: r.SourceID, Status: ingestapi.IngestRunStatus(r.Status), Trigger: ingestapi.IngestRunTrigger(r.Trigger),
		FullRefresh: r.FullRefresh, TriggeredBy: r.TriggeredBy, StartedAt: utc(r.StartedAt), FinishedAt: utc(r.FinishedAt),
		ItemsSeen: r.ItemsSeen, ItemsCreated: r.ItemsCreated, ItemsUpdated: r.ItemsUpdated, ItemsSkipped: r.ItemsSkipped,
		ItemsFailed: r.ItemsFailed, Errors: []ingestapi.IngestItemError{}, Message: r.Message, HttpStatus: r.HTTPStatus,
		NotModified: r.NotModified, CreatedAt: r.CreatedAt.UTC(),
	}
	if r.StartedAt != nil && r.FinishedAt != nil {
		ms := r.FinishedAt.Sub(*r.StartedAt).Milliseconds()
		out.DurationMs = &ms
	}
	for _, e := range r.Errors {
		out.Errors = append(out.Errors, ingestapi.IngestItemError{ItemGuid: e.ItemGuid, Message: e.Message, Code: e.Code})
	}
	return out
}

// TriggerIngestRun implements ingestapi.StrictServerInterface: queues a manual run (one per source
// at a time).
func (s *Service) TriggerIngestRun(ctx context.Context, req ingestapi.TriggerIngestRunRequestObject) (ingestapi.TriggerIngestRunResponseObject, error) {
	full := req.Body != nil && req.Body.FullRefresh != nil && *req.Body.FullRefresh
	var by *uuid.UUID
	if p, ok := authn.FromContext(ctx); ok {
		if id, err := uuid.Parse(p.Subject); err == nil {
			by = &id
		}
	}
	var out *ingestdb.Run
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		c := s.txClient(tx)
		if _, err := currentSource(ctx, c, req.SourceId, nil); err != nil {
			return err
		}
		var err error
		out, err = s.queue(ctx, c, req.SourceId, run.TriggerManual, full, by)
		return err
	})
	if err != nil {
		return nil, storeError("queue a run", err)
	}
	s.poke()
	loc := "/api/v1/ingest/runs/" + out.ID.String()
	return ingestapi.TriggerIngestRun202JSONResponse{Body: toRun(out), Headers: ingestapi.TriggerIngestRun202ResponseHeaders{Location: &loc}}, nil
}

// queue creates a queued run of source id, unless one is queued or running (409).
func (s *Service) queue(ctx context.Context, c *ingestdb.Client, id uuid.UUID, trigger run.Trigger, full bool, by *uuid.UUID) (*ingestdb.Run, error) {
	// Lock the source row (a no-op update) so that of two transactions queueing for it, the second
	// waits and then sees the first one's run.
	if err := c.Source.Update().Where(source.ID(id)).AddVersion(0).Exec(ctx); err != nil {
		return nil, err
	}
	busy, err := c.Run.Query().Where(run.SourceID(id), run.StatusIn(run.StatusQueued, run.StatusRunning)).Exist(ctx)
	if err != nil {
		return nil, err
	}
	if busy {
		return nil, apierror.Conflict("the source already has a run queued or in progress")
	}
	return c.Run.Create().SetSourceID(id).SetStatus(run.StatusQueued).SetTrigger(trigger).SetFullRefresh(full).
		SetNillableTriggeredBy(by).SetItemsSeen(0).SetItemsCreated(0).SetItemsUpdated(0).SetItemsSkipped(0).
		SetItemsFailed(0).SetErrors(nil).SetNotModified(false).SetCreatedAt(s.clock()).Save(ctx)
}

// ListIngestRuns implements ingestapi.StrictServerInterface: the runs of a source, newest first.
func (s *Service) ListIngestRuns(ctx context.Context, req ingestapi.ListIngestRunsRequestObject) (ingestapi.ListIngestRunsResponseObject, error) {
	if _, err := currentSource(ctx, s.read, req.SourceId, nil); err != nil {
		return nil, err
	}
	p := req.Params
	limit := pageLimit(p.Limit)
	q := s.read.Run.Query().Where(run.SourceID(req.SourceId))
	if p.Status != nil {
		q = q.Where(run.StatusEQ(run.Status(*p.Status)))
	}
	if p.Cursor != nil {
		at, id, err := decodePosition(*p.Cursor)
		if err != nil {
			return nil, err
		}
		q = q.Where(run.Or(run.CreatedAtLT(at), run.And(run.CreatedAtEQ(at), run.IDLT(id))))
	}
	rows, err := q.Order(ingestdb.Desc(run.FieldCreatedAt), ingestdb.Desc(run.FieldID)).Limit(limit + 1).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("ingest: list runs: %w", err)
	}
	page := ingestapi.ListIngestRuns200JSONResponse{Items: []ingestapi.IngestRun{}}
	for _, r := range rows[:min(limit, len(rows))] {
		page.Items = append(page.Items, toRun(r))
	}
	if len(rows) > limit {
		next := encodePosition(rows[limit-1].CreatedAt, rows[limit-1].ID)
		page.Page.NextCursor, page.Page.HasMore = &next, true
	}
	return page, nil
}

// GetIngestRun implements ingestapi.StrictServerInterface.
func (s *Service) GetIngestRun(ctx context.Context, req ingestapi.GetIngestRunRequestObject) (ingestapi.GetIngestRunResponseObject, error) {
	r, err := s.read.Run.Get(ctx, req.RunId)
	if ingestdb.IsNotFound(err) {
		return nil, noRun()
	}
	if err != nil {
		return nil, fmt.Errorf("ingest: read a run: %w", err)
	}
	// A run changes until it finishes, and has no version: its tag is a digest of what it shows.
	body := toRun(r)
	tag := etag.Of(body)
	return ingestapi.GetIngestRun200JSONResponse{Body: body, Headers: ingestapi.GetIngestRun200ResponseHeaders{ETag: &tag}}, nil
}
