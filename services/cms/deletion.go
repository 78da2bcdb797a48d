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
	"github.com/mediamesh/mediamesh/gen/openapi/cmsapi"
	"github.com/mediamesh/mediamesh/internal/apierror"
)

// DeleteProgram implements cmsapi.StrictServerInterface: soft-deletes the program and its
// episodes. One content.deleted event covers the program and its episodes (consumers remove the
// episodes of a deleted program); every episode gets its own audit entry and new version.
func (s *Service) DeleteProgram(ctx context.Context, req cmsapi.DeleteProgramRequestObject) (cmsapi.DeleteProgramResponseObject, error) {
	a, err := actorFrom(ctx)
	if err != nil {
		return nil, err
	}
	now, ifMatch := s.clock(), req.Params.IfMatch
	err = s.write(ctx, ifMatch, func(c *cmsdb.Client, tx *sql.Tx) error {
		cur, err := getProgram(ctx, c, req.ProgramId)
		if err != nil {
			return err
		}
		if err := checkIfMatch(ifMatch, cur.Version); err != nil {
			return err
		}
		l, action, err := planDelete(now)(programLifecycle(cur))
		if err != nil || action == "" {
			return err
		}
		// The program's compare-and-swap locks its row first: no episode can be added meanwhile.
		if _, err := s.changeProgram(ctx, c, tx, a, cur, l, action, now); err != nil {
			return err
		}
		return deleteEpisodesOf(ctx, c, a, cur.ID, now)
	})
	if err != nil {
		return nil, storeErr("delete program", err)
	}
	return cmsapi.DeleteProgram204Response{}, nil
}

// deleteEpisodesOf soft-deletes the episodes of a program that are not deleted yet.
func deleteEpisodesOf(ctx context.Context, c *cmsdb.Client, a actor, programID uuid.UUID, now time.Time) error {
	ids, err := c.Episode.Query().Where(episode.ProgramID(programID), episode.DeletedAtIsNil()).IDs(ctx)
	if err != nil {
		return fmt.Errorf("cms: read the episodes of program %s: %w", programID, err)
	}
	for start := 0; start < len(ids); start += auditBatch {
		batch := ids[start:min(start+auditBatch, len(ids))]
		err := c.Episode.Update().Where(episode.IDIn(batch...), episode.DeletedAtIsNil()).
			SetDeletedAt(now).AddVersion(1).SetUpdatedAt(now).SetUpdatedBy(a.id).Exec(ctx)
		if err != nil {
			return fmt.Errorf("cms: delete the episodes of program %s: %w", programID, err)
		}
	}
	return writeAudit(ctx, c, a, auditentry.EntityTypeEpisode, ids, auditentry.ActionDeleted, nil, now)
}

// DeleteEpisode implements cmsapi.StrictServerInterface: soft-deletes the episode.
func (s *Service) DeleteEpisode(ctx context.Context, req cmsapi.DeleteEpisodeRequestObject) (cmsapi.DeleteEpisodeResponseObject, error) {
	if _, err := s.transitionEpisode(ctx, req.EpisodeId, req.Params.IfMatch, false, planDelete(s.clock())); err != nil {
		return nil, err
	}
	return cmsapi.DeleteEpisode204Response{}, nil
}

// PurgeProgram implements cmsapi.StrictServerInterface: removes a soft-deleted program and all
// its episodes for good. Their audit entries stay.
func (s *Service) PurgeProgram(ctx context.Context, req cmsapi.PurgeProgramRequestObject) (cmsapi.PurgeProgramResponseObject, error) {
	a, err := actorFrom(ctx)
	if err != nil {
		return nil, err
	}
	now, ifMatch := s.clock(), req.Params.IfMatch
	err = s.write(ctx, ifMatch, func(c *cmsdb.Client, tx *sql.Tx) error {
		cur, err := getProgram(ctx, c, req.ProgramId)
		if err != nil {
			return err
		}
		if err := checkIfMatch(ifMatch, cur.Version); err != nil {
			return err
		}
		if cur.DeletedAt == nil {
			return apierror.Conflict("the program is not deleted; delete it before purging it")
		}
		return s.purgeProgram(ctx, c, tx, a, cur, now)
	})
	if err != nil {
		return nil, storeErr("purge program", err)
	}
	return cmsapi.PurgeProgram204Response{}, nil
}

// purgeProgram removes the soft-deleted program cur and its episodes if cur is still the stored
// version (errStale otherwise), with a content.deleted (hard) event and a purged audit entry for
// it and for each episode.
func (s *Service) purgeProgram(ctx context.Context, c *cmsdb.Client, tx *sql.Tx, a actor, cur *cmsdb.Program, now time.Time) error {
	// Compare-and-swap as a no-op update: it locks the row before the episodes go.
	n, err := c.Program.Update().Where(program.ID(cur.ID), program.Version(cur.Version), program.DeletedAtNotNil()).AddVersion(0).Save(ctx)
	if err != nil {
		return fmt.Errorf("cms: lock program %s: %w", cur.ID, err)
	}
	if n == 0 {
		return errStale
	}
	eps, err := c.Episode.Query().Where(episode.ProgramID(cur.ID)).All(ctx)
	if err != nil {
		return fmt.Errorf("cms: read the episodes of program %s: %w", cur.ID, err)
	}
	// Each episode gets its own content.deleted (hard) event, so consumers that keep something
	// per episode (the media service's attachments) learn of it without knowing the program.
	for _, ep := range eps {
		if err := s.record(ctx, c, tx, a, auditentry.ActionPurged, episodeContent(ep), nil, now); err != nil {
			return err
		}
	}
	if _, err := c.Episode.Delete().Where(episode.ProgramID(cur.ID)).Exec(ctx); err != nil {
		return fmt.Errorf("cms: purge the episodes of program %s: %w", cur.ID, err)
	}
	if err := c.Program.DeleteOneID(cur.ID).Exec(ctx); err != nil {
		return fmt.Errorf("cms: purge program %s: %w", cur.ID, err)
	}
	return s.record(ctx, c, tx, a, auditentry.ActionPurged, programContent(cur), nil, now)
}

// PurgeEpisode implements cmsapi.StrictServerInterface: removes a soft-deleted episode for good.
// Its audit entries stay.
func (s *Service) PurgeEpisode(ctx context.Context, req cmsapi.PurgeEpisodeRequestObject) (cmsapi.PurgeEpisodeResponseObject, error) {
	a, err := actorFrom(ctx)
	if err != nil {
		return nil, err
	}
	now, ifMatch := s.clock(), req.Params.IfMatch
	err = s.write(ctx, ifMatch, func(c *cmsdb.Client, tx *sql.Tx) error {
		cur, err := getEpisode(ctx, c, req.EpisodeId)
		if err != nil {
			return err
		}
		if err := checkIfMatch(ifMatch, cur.Version); err != nil {
			return err
		}
		if cur.DeletedAt == nil {
			return apierror.Conflict("the episode is not deleted; delete it before purging it")
		}
		return s.purgeEpisode(ctx, c, tx, a, cur, now)
	})
	if err != nil {
		return nil, storeErr("purge episode", err)
	}
	return cmsapi.PurgeEpisode204Response{}, nil
}

// purgeEpisode removes the soft-deleted episode cur if it is still the stored version (errStale
// otherwise), with a content.deleted (hard) event and a purged audit entry.
func (s *Service) purgeEpisode(ctx context.Context, c *cmsdb.Client, tx *sql.Tx, a actor, cur *cmsdb.Episode, now time.Time) error {
	n, err := c.Episode.Delete().Where(episode.ID(cur.ID), episode.Version(cur.Version), episode.DeletedAtNotNil()).Exec(ctx)
	if err != nil {
		return fmt.Errorf("cms: purge episode %s: %w", cur.ID, err)
	}
	if n == 0 {
		return errStale
	}
	return s.record(ctx, c, tx, a, auditentry.ActionPurged, episodeContent(cur), nil, now)
}
