package cms

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/ent/cmsdb"
	"github.com/mediamesh/mediamesh/ent/cmsdb/auditentry"
	"github.com/mediamesh/mediamesh/ent/cmsdb/episode"
	"github.com/mediamesh/mediamesh/ent/cmsdb/program"
	"github.com/mediamesh/mediamesh/ent/cmsdb/schema"
	"github.com/mediamesh/mediamesh/gen/openapi/cmsapi"
	"github.com/mediamesh/mediamesh/internal/apierror"
	"github.com/mediamesh/mediamesh/internal/database"
)

// CreateProgram implements cmsapi.StrictServerInterface: a new program in draft.
func (s *Service) CreateProgram(ctx context.Context, req cmsapi.CreateProgramRequestObject) (cmsapi.CreateProgramResponseObject, error) {
	a, err := actorFrom(ctx)
	if err != nil {
		return nil, err
	}
	b := req.Body
	var fe fieldErrors
	fe.title("title", &b.Title)
	fe.summary("summary", b.Summary)
	fe.language("language", &b.Language)
	tags := fe.tags("tags", b.Tags)
	if err := fe.err(); err != nil {
		return nil, err
	}
	if b.CategoryId != nil {
		if err := s.checkCategory(ctx, *b.CategoryId); err != nil {
			return nil, err
		}
	}
	if err := s.checkAssets(ctx, imageRef("cover_asset_id", b.CoverAssetId)); err != nil {
		return nil, err
	}
	now := s.clock()
	var out *cmsdb.Program
	err = s.inTx(ctx, func(c *cmsdb.Client, tx *sql.Tx) error {
		p, err := c.Program.Create().
			SetKind(program.Kind(b.Kind)).SetTitle(b.Title).SetSlug(b.Slug).SetNillableSummary(b.Summary).
			SetLanguage(b.Language).SetNillableCategoryID(b.CategoryId).SetTags(nonNil(tags)).
			SetNillableCoverAssetID(b.CoverAssetId).
			SetStatus(program.StatusDraft).SetVersion(1).
			SetCreatedAt(now).SetCreatedBy(a.id).SetUpdatedAt(now).SetUpdatedBy(a.id).
			Save(ctx)
		if err != nil {
			return slugErr(b.Slug, err)
		}
		out = p
		return s.record(ctx, c, tx, a, auditentry.ActionCreated, nil, programContent(p), now)
	})
	if err != nil {
		return nil, storeErr("create program", err)
	}
	return cmsapi.CreateProgram201JSONResponse{
		Body:    programToAPI(out, 0),
		Headers: cmsapi.CreateProgram201ResponseHeaders{ETag: etag(out.Version), Location: "/api/v1/cms/programs/" + out.ID.String()},
	}, nil
}

// GetProgram implements cmsapi.StrictServerInterface: one program, soft-deleted ones included.
func (s *Service) GetProgram(ctx context.Context, req cmsapi.GetProgramRequestObject) (cmsapi.GetProgramResponseObject, error) {
	p, err := getProgram(ctx, s.read, req.ProgramId)
	if err != nil {
		return nil, err
	}
	n, err := episodeCount(ctx, s.read, p.ID)
	if err != nil {
		return nil, err
	}
	return cmsapi.GetProgram200JSONResponse{Body: programToAPI(p, n), Headers: cmsapi.GetProgram200ResponseHeaders{ETag: etag(p.Version)}}, nil
}

// UpdateProgram implements cmsapi.StrictServerInterface: a merge patch of the program's fields.
// A patch that changes nothing changes nothing: no new version, event or audit entry.
func (s *Service) UpdateProgram(ctx context.Context, req cmsapi.UpdateProgramRequestObject) (cmsapi.UpdateProgramResponseObject, error) {
	a, err := actorFrom(ctx)
	if err != nil {
		return nil, err
	}
	b, ifMatch := req.Body, req.Params.IfMatch
	var fe fieldErrors
	fe.title("title", b.Title)
	fe.summary("summary", b.Summary)
	fe.language("language", b.Language)
	tags := fe.tags("tags", b.Tags)
	extra := fe.extra("extra", b.Extra)
	if err := fe.err(); err != nil {
		return nil, err
	}
	// Fail fast on what can be known before asking the metadata and media services.
	seen, err := getProgram(ctx, s.read, req.ProgramId)
	if err != nil {
		return nil, err
	}
	if err := checkIfMatch(ifMatch, seen.Version); err != nil {
		return nil, err
	}
	if err := refuseDeleted("program", programLifecycle(seen)); err != nil {
		return nil, err
	}
	if b.CategoryId.IsSpecified() && !b.CategoryId.IsNull() {
		if id := b.CategoryId.MustGet(); seen.CategoryID == nil || *seen.CategoryID != id {
			if err := s.checkCategory(ctx, id); err != nil {
				return nil, err
			}
		}
	}
	if err := s.checkAssets(ctx, imageRef("cover_asset_id", changedAsset(b.CoverAssetId, seen.CoverAssetID))); err != nil {
		return nil, err
	}
	now := s.clock()
	var out *cmsdb.Program
	var count int
	err = s.write(ctx, ifMatch, func(c *cmsdb.Client, tx *sql.Tx) error {
		cur, err := getProgram(ctx, c, req.ProgramId)
		if err != nil {
			return err
		}
		if err := checkIfMatch(ifMatch, cur.Version); err != nil {
			return err
		}
		if err := refuseDeleted("program", programLifecycle(cur)); err != nil {
			return err
		}
		next := *cur
		patchProgram(&next, b, tags, extra)
		if out, err = s.updateProgram(ctx, c, tx, a, cur, &next, now); err != nil {
			return err
		}
		count, err = episodeCount(ctx, c, cur.ID)
		return err
	})
	if err != nil {
		return nil, storeErr("update program", err)
	}
	return cmsapi.UpdateProgram200JSONResponse{Body: programToAPI(out, count), Headers: cmsapi.UpdateProgram200ResponseHeaders{ETag: etag(out.Version)}}, nil
}

// patchProgram applies a merge patch to p; tags and extra are the patch's normalised lists.
func patchProgram(p *cmsdb.Program, b *cmsapi.ProgramUpdate, tags []string, extra []schema.ExtraField) {
	if b.Kind != nil {
		p.Kind = program.Kind(*b.Kind)
	}
	if b.Title != nil {
		p.Title = *b.Title
	}
	if b.Slug != nil {
		p.Slug = *b.Slug
	}
	if b.Summary != nil {
		p.Summary = summaryOrNil(*b.Summary)
	}
	if b.Language != nil {
		p.Language = *b.Language
	}
	if b.Tags != nil {
		p.Tags = tags
	}
	if b.Extra != nil {
		p.Extra = extra
	}
	if b.CategoryId.IsSpecified() {
		p.CategoryID = nullableUUID(b.CategoryId.Get())
	}
	if b.CoverAssetId.IsSpecified() {
		p.CoverAssetID = nullableUUID(b.CoverAssetId.Get())
	}
}

// summaryOrNil is the summary a patch sets: an empty one removes it (what the metadata service
// sends for a description left out of a full replacement).
func summaryOrNil(v string) *string {
	if v == "" {
		return nil
	}
	return &v
}

// nullableUUID turns the value of a specified nullable.Nullable into a pointer, nil for null.
func nullableUUID(id uuid.UUID, err error) *uuid.UUID {
	if err != nil {
		return nil
	}
	return &id
}

// updateProgram saves next, a copy of the program cur with edited fields, as a's update of cur:
// with a new version, its content.updated event and its audit entry. When next changes no
// editable field nothing is written and cur is returned. The caller checked what next may be.
func (s *Service) updateProgram(ctx context.Context, c *cmsdb.Client, tx *sql.Tx, a actor, cur, next *cmsdb.Program, now time.Time) (*cmsdb.Program, error) {
	if len(diff(programContent(cur).fields, programContent(next).fields)) == 0 {
		return cur, nil
	}
	next.Version, next.UpdatedAt, next.UpdatedBy = cur.Version+1, now, a.id
	saved, err := saveProgram(ctx, c, cur, next)
	if err != nil {
		return nil, err
	}
	return saved, s.record(ctx, c, tx, a, auditentry.ActionUpdated, programContent(cur), programContent(saved), now)
}

// changeProgram moves the program cur to the lifecycle l with a new version, and records the
// change under action.
func (s *Service) changeProgram(ctx context.Context, c *cmsdb.Client, tx *sql.Tx, a actor, cur *cmsdb.Program, l lifecycle, action auditentry.Action, now time.Time) (*cmsdb.Program, error) {
	next := *cur
	setProgramLifecycle(&next, l)
	next.Version, next.UpdatedAt, next.UpdatedBy = cur.Version+1, now, a.id
	saved, err := saveProgram(ctx, c, cur, &next)
	if err != nil {
		return nil, err
	}
	return saved, s.record(ctx, c, tx, a, action, programContent(cur), programContent(saved), now)
}

// saveProgram writes every mutable field of next over the program cur if cur's version is still
// the stored one (compare-and-swap); errStale otherwise.
func saveProgram(ctx context.Context, c *cmsdb.Client, cur, next *cmsdb.Program) (*cmsdb.Program, error) {
	u := c.Program.UpdateOneID(cur.ID).Where(program.Version(cur.Version)).
		SetKind(next.Kind).SetTitle(next.Title).SetSlug(next.Slug).SetLanguage(next.Language).SetTags(nonNil(next.Tags)).SetExtra(nonNilExtra(next.Extra)).
		SetStatus(next.Status).SetVersion(next.Version).SetUpdatedAt(next.UpdatedAt).SetUpdatedBy(next.UpdatedBy)
	setOrClear(u.SetSummary, u.ClearSummary, next.Summary)
	setOrClear(u.SetCategoryID, u.ClearCategoryID, next.CategoryID)
	setOrClear(u.SetCoverAssetID, u.ClearCoverAssetID, next.CoverAssetID)
	setOrClear(u.SetScheduledPublishAt, u.ClearScheduledPublishAt, next.ScheduledPublishAt)
	setOrClear(u.SetPublishedAt, u.ClearPublishedAt, next.PublishedAt)
	setOrClear(u.SetArchivedAt, u.ClearArchivedAt, next.ArchivedAt)
	setOrClear(u.SetDeletedAt, u.ClearDeletedAt, next.DeletedAt)
	p, err := u.Save(ctx)
	if err != nil {
		return nil, slugErr(next.Slug, casErr(err))
	}
	return p, nil
}

// setOrClear sets an optional field to *v, or clears it when v is nil.
func setOrClear[T, R any](set func(T) R, clear func() R, v *T) {
	if v == nil {
		clear()
	} else {
		set(*v)
	}
}

// slugErr turns a unique violation on a program write into 409: the slug is taken (by a
// program that is not purged, soft-deleted ones included).
func slugErr(slug string, err error) error {
	if database.IsUniqueViolation(err) {
		return apierror.Conflict(fmt.Sprintf("a program with slug %q already exists", slug))
	}
	return err
}

// episodeCount counts the program's episodes that are not soft-deleted.
func episodeCount(ctx context.Context, c *cmsdb.Client, programID uuid.UUID) (int, error) {
	n, err := c.Episode.Query().Where(episode.ProgramID(programID), episode.DeletedAtIsNil()).Count(ctx)
	if err != nil {
		return 0, fmt.Errorf("cms: count the episodes of program %s: %w", programID, err)
	}
	return n, nil
}

func programToAPI(p *cmsdb.Program, episodes int) cmsapi.Program {
	return cmsapi.Program{
		Id: p.ID, Kind: cmsapi.ProgramKind(p.Kind), Status: cmsapi.PublicationStatus(p.Status),
		Title: p.Title, Slug: p.Slug, Summary: p.Summary, Language: p.Language,
		CategoryId: p.CategoryID, Tags: nonNil(p.Tags), Extra: extraToAPI(p.Extra), CoverAssetId: p.CoverAssetID,
		ScheduledPublishAt: utc(p.ScheduledPublishAt), PublishedAt: utc(p.PublishedAt), ArchivedAt: utc(p.ArchivedAt), DeletedAt: utc(p.DeletedAt),
		Version: p.Version, EpisodeCount: int32(min(episodes, maxEpisodeCount)),
		CreatedBy: p.CreatedBy, UpdatedBy: p.UpdatedBy, CreatedAt: p.CreatedAt.UTC(), UpdatedAt: p.UpdatedAt.UTC(),
	}
}

// maxEpisodeCount is the largest episode_count the contract allows.
const maxEpisodeCount = 1_000_000

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
