package cms

import (
	"context"
	"database/sql"
	"time"

	"github.com/mediamesh/mediamesh/ent/cmsdb"
	"github.com/mediamesh/mediamesh/ent/cmsdb/auditentry"
	"github.com/mediamesh/mediamesh/ent/cmsdb/episode"
	"github.com/mediamesh/mediamesh/ent/cmsdb/schema"
	"github.com/mediamesh/mediamesh/gen/openapi/cmsapi"
	"github.com/mediamesh/mediamesh/internal/apierror"
	"github.com/mediamesh/mediamesh/internal/database"
)

// CreateEpisode implements cmsapi.StrictServerInterface: a new episode in draft, in the program's
// language unless it names its own.
func (s *Service) CreateEpisode(ctx context.Context, req cmsapi.CreateEpisodeRequestObject) (cmsapi.CreateEpisodeResponseObject, error) {
	a, err := actorFrom(ctx)
	if err != nil {
		return nil, err
	}
	b := req.Body
	var fe fieldErrors
	fe.title("title", &b.Title)
	fe.summary("summary", b.Summary)
	fe.language("language", b.Language)
	if err := fe.err(); err != nil {
		return nil, err
	}
	if err := s.checkAssets(ctx, playableRef("media_asset_id", b.MediaAssetId), imageRef("thumbnail_asset_id", b.ThumbnailAssetId)); err != nil {
		return nil, err
	}
	now := s.clock()
	var out *cmsdb.Episode
	err = s.inTx(ctx, func(c *cmsdb.Client, tx *sql.Tx) error {
		p, err := s.shareProgram(ctx, c, tx, req.ProgramId)
		if err != nil {
			return err
		}
		if err := refuseDeleted("program", programLifecycle(p)); err != nil {
			return err
		}
		if string(p.Status) == statusArchived {
			return apierror.Conflict("the program is archived; unpublish it before adding episodes")
		}
		lang := p.Language
		if b.Language != nil {
			lang = *b.Language
		}
		e, err := c.Episode.Create().
			SetProgramID(p.ID).SetNillableSeasonNumber(b.SeasonNumber).SetEpisodeNumber(b.EpisodeNumber).
			SetTitle(b.Title).SetNillableSummary(b.Summary).SetLanguage(lang).SetNillableDurationSeconds(b.DurationSeconds).
			SetNillableMediaAssetID(b.MediaAssetId).SetNillableThumbnailAssetID(b.ThumbnailAssetId).
			SetStatus(episode.StatusDraft).SetVersion(1).
			SetCreatedAt(now).SetCreatedBy(a.id).SetUpdatedAt(now).SetUpdatedBy(a.id).
			Save(ctx)
		if err != nil {
			return numberErr(err)
		}
		out = e
		return s.record(ctx, c, tx, a, auditentry.ActionCreated, nil, episodeContent(e), now)
	})
	if err != nil {
		return nil, storeErr("create episode", err)
	}
	return cmsapi.CreateEpisode201JSONResponse{
		Body:    episodeToAPI(out),
		Headers: cmsapi.CreateEpisode201ResponseHeaders{ETag: etag(out.Version), Location: "/api/v1/cms/episodes/" + out.ID.String()},
	}, nil
}

// GetEpisode implements cmsapi.StrictServerInterface: one episode, soft-deleted ones included.
func (s *Service) GetEpisode(ctx context.Context, req cmsapi.GetEpisodeRequestObject) (cmsapi.GetEpisodeResponseObject, error) {
	e, err := getEpisode(ctx, s.read, req.EpisodeId)
	if err != nil {
		return nil, err
	}
	return cmsapi.GetEpisode200JSONResponse{Body: episodeToAPI(e), Headers: cmsapi.GetEpisode200ResponseHeaders{ETag: etag(e.Version)}}, nil
}

// UpdateEpisode implements cmsapi.StrictServerInterface: a merge patch of the episode's fields.
// A patch that changes nothing changes nothing: no new version, event or audit entry.
func (s *Service) UpdateEpisode(ctx context.Context, req cmsapi.UpdateEpisodeRequestObject) (cmsapi.UpdateEpisodeResponseObject, error) {
	a, err := actorFrom(ctx)
	if err != nil {
		return nil, err
	}
	b, ifMatch := req.Body, req.Params.IfMatch
	var fe fieldErrors
	fe.title("title", b.Title)
	fe.summary("summary", b.Summary)
	fe.language("language", b.Language)
	extra := fe.extra("extra", b.Extra)
	if err := fe.err(); err != nil {
		return nil, err
	}
	if (b.MediaAssetId.IsSpecified() && !b.MediaAssetId.IsNull()) || (b.ThumbnailAssetId.IsSpecified() && !b.ThumbnailAssetId.IsNull()) {
		// Fail fast on what can be known before asking the media service, and do not ask about
		// the ids the episode has already.
		seen, err := getEpisode(ctx, s.read, req.EpisodeId)
		if err != nil {
			return nil, err
		}
		if err := checkIfMatch(ifMatch, seen.Version); err != nil {
			return nil, err
		}
		if err := refuseDeleted("episode", episodeLifecycle(seen)); err != nil {
			return nil, err
		}
		err = s.checkAssets(ctx,
			playableRef("media_asset_id", changedAsset(b.MediaAssetId, seen.MediaAssetID)),
			imageRef("thumbnail_asset_id", changedAsset(b.ThumbnailAssetId, seen.ThumbnailAssetID)))
		if err != nil {
			return nil, err
		}
	}
	now := s.clock()
	var out *cmsdb.Episode
	err = s.write(ctx, ifMatch, func(c *cmsdb.Client, tx *sql.Tx) error {
		cur, err := getEpisode(ctx, c, req.EpisodeId)
		if err != nil {
			return err
		}
		if err := checkIfMatch(ifMatch, cur.Version); err != nil {
			return err
		}
		if err := refuseDeleted("episode", episodeLifecycle(cur)); err != nil {
			return err
		}
		next := *cur
		patchEpisode(&next, b, extra)
		out, err = s.updateEpisode(ctx, c, tx, a, cur, &next, now)
		return err
	})
	if err != nil {
		return nil, storeErr("update episode", err)
	}
	return cmsapi.UpdateEpisode200JSONResponse{Body: episodeToAPI(out), Headers: cmsapi.UpdateEpisode200ResponseHeaders{ETag: etag(out.Version)}}, nil
}

// patchEpisode applies a merge patch to e; extra is the patch's normalised list.
func patchEpisode(e *cmsdb.Episode, b *cmsapi.EpisodeUpdate, extra []schema.ExtraField) {
	if b.Extra != nil {
		e.Extra = extra
	}
	if b.SeasonNumber.IsSpecified() {
		if n, err := b.SeasonNumber.Get(); err == nil {
			e.SeasonNumber = &n
		} else {
			e.SeasonNumber = nil
		}
	}
	if b.EpisodeNumber != nil {
		e.EpisodeNumber = *b.EpisodeNumber
	}
	if b.Title != nil {
		e.Title = *b.Title
	}
	if b.Summary != nil {
		e.Summary = summaryOrNil(*b.Summary)
	}
	if b.Language != nil {
		e.Language = *b.Language
	}
	if b.DurationSeconds.IsSpecified() {
		if n, err := b.DurationSeconds.Get(); err == nil {
			e.DurationSeconds = &n
		} else {
			e.DurationSeconds = nil
		}
	}
	if b.MediaAssetId.IsSpecified() {
		e.MediaAssetID = nullableUUID(b.MediaAssetId.Get())
	}
	if b.ThumbnailAssetId.IsSpecified() {
		e.ThumbnailAssetID = nullableUUID(b.ThumbnailAssetId.Get())
	}
}

// updateEpisode saves next, a copy of the episode cur with edited fields, as a's update of cur:
// with a new version, its content.updated event and its audit entry. When next changes no
// editable field nothing is written and cur is returned. The caller checked what next may be.
func (s *Service) updateEpisode(ctx context.Context, c *cmsdb.Client, tx *sql.Tx, a actor, cur, next *cmsdb.Episode, now time.Time) (*cmsdb.Episode, error) {
	if len(diff(episodeContent(cur).fields, episodeContent(next).fields)) == 0 {
		return cur, nil
	}
	next.Version, next.UpdatedAt, next.UpdatedBy = cur.Version+1, now, a.id
	saved, err := saveEpisode(ctx, c, cur, next)
	if err != nil {
		return nil, err
	}
	return saved, s.record(ctx, c, tx, a, auditentry.ActionUpdated, episodeContent(cur), episodeContent(saved), now)
}

// changeEpisode moves the episode cur to the lifecycle l with a new version, and records the
// change under action.
func (s *Service) changeEpisode(ctx context.Context, c *cmsdb.Client, tx *sql.Tx, a actor, cur *cmsdb.Episode, l lifecycle, action auditentry.Action, now time.Time) (*cmsdb.Episode, error) {
	next := *cur
	setEpisodeLifecycle(&next, l)
	next.Version, next.UpdatedAt, next.UpdatedBy = cur.Version+1, now, a.id
	saved, err := saveEpisode(ctx, c, cur, &next)
	if err != nil {
		return nil, err
	}
	return saved, s.record(ctx, c, tx, a, action, episodeContent(cur), episodeContent(saved), now)
}

// saveEpisode writes every mutable field of next over the episode cur if cur's version is still
// the stored one (compare-and-swap); errStale otherwise.
func saveEpisode(ctx context.Context, c *cmsdb.Client, cur, next *cmsdb.Episode) (*cmsdb.Episode, error) {
	u := c.Episode.UpdateOneID(cur.ID).Where(episode.Version(cur.Version)).
		SetEpisodeNumber(next.EpisodeNumber).SetTitle(next.Title).SetLanguage(next.Language).SetExtra(nonNilExtra(next.Extra)).
		SetStatus(next.Status).SetVersion(next.Version).SetUpdatedAt(next.UpdatedAt).SetUpdatedBy(next.UpdatedBy)
	setOrClear(u.SetSeasonNumber, u.ClearSeasonNumber, next.SeasonNumber)
	setOrClear(u.SetSummary, u.ClearSummary, next.Summary)
	setOrClear(u.SetDurationSeconds, u.ClearDurationSeconds, next.DurationSeconds)
	setOrClear(u.SetMediaAssetID, u.ClearMediaAssetID, next.MediaAssetID)
	setOrClear(u.SetThumbnailAssetID, u.ClearThumbnailAssetID, next.ThumbnailAssetID)
	setOrClear(u.SetScheduledPublishAt, u.ClearScheduledPublishAt, next.ScheduledPublishAt)
	setOrClear(u.SetPublishedAt, u.ClearPublishedAt, next.PublishedAt)
	setOrClear(u.SetArchivedAt, u.ClearArchivedAt, next.ArchivedAt)
	setOrClear(u.SetDeletedAt, u.ClearDeletedAt, next.DeletedAt)
	e, err := u.Save(ctx)
	if err != nil {
		return nil, numberErr(casErr(err))
	}
	return e, nil
}

// numberErr turns a unique violation on an episode write into 409: the program has an episode
// with that season and episode number (soft-deleted episodes keep theirs until purged).
func numberErr(err error) error {
	if database.IsUniqueViolation(err) {
		e := apierror.Conflict("the program already has an episode with this season and episode number")
		e.Type, e.Title = ProblemEpisodeNumberTaken, "Episode number taken"
		return e
	}
	return err
}

func episodeToAPI(e *cmsdb.Episode) cmsapi.Episode {
	return cmsapi.Episode{
		Id: e.ID, ProgramId: e.ProgramID, SeasonNumber: e.SeasonNumber, EpisodeNumber: e.EpisodeNumber,
		Title: e.Title, Summary: e.Summary, Language: e.Language, DurationSeconds: e.DurationSeconds, Extra: extraToAPI(e.Extra),
		Status:             cmsapi.PublicationStatus(e.Status),
		ScheduledPublishAt: utc(e.ScheduledPublishAt), PublishedAt: utc(e.PublishedAt), ArchivedAt: utc(e.ArchivedAt), DeletedAt: utc(e.DeletedAt),
		MediaAssetId: e.MediaAssetID, ThumbnailAssetId: e.ThumbnailAssetID, Version: e.Version,
		CreatedBy: e.CreatedBy, UpdatedBy: e.UpdatedBy, CreatedAt: e.CreatedAt.UTC(), UpdatedAt: e.UpdatedAt.UTC(),
	}
}
