package cms

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/ent/cmsdb"
	"github.com/mediamesh/mediamesh/ent/cmsdb/episode"
	"github.com/mediamesh/mediamesh/gen/openapi/cmsapi"
	"github.com/mediamesh/mediamesh/internal/apierror"
)

// PublishProgram implements cmsapi.StrictServerInterface: publish now, or schedule.
func (s *Service) PublishProgram(ctx context.Context, req cmsapi.PublishProgramRequestObject) (cmsapi.PublishProgramResponseObject, error) {
	now := s.clock()
	at, err := publishAt(req.Body, now)
	if err != nil {
		return nil, err
	}
	var episodes plan // with_episodes: the drafts go the same way, scheduled with it or published now
	if req.Params.WithEpisodes != nil && *req.Params.WithEpisodes {
		episodes = planPublish("episode", at, now)
	}
	p, n, err := s.transitionProgram(ctx, req.ProgramId, req.Params.IfMatch, planPublish("program", at, now), episodes)
	if err != nil {
		return nil, err
	}
	return cmsapi.PublishProgram200JSONResponse{Body: programToAPI(p, n), Headers: cmsapi.PublishProgram200ResponseHeaders{ETag: etag(p.Version)}}, nil
}

// UnpublishProgram implements cmsapi.StrictServerInterface: back to draft.
func (s *Service) UnpublishProgram(ctx context.Context, req cmsapi.UnpublishProgramRequestObject) (cmsapi.UnpublishProgramResponseObject, error) {
	p, n, err := s.transitionProgram(ctx, req.ProgramId, req.Params.IfMatch, planUnpublish("program"), nil)
	if err != nil {
		return nil, err
	}
	return cmsapi.UnpublishProgram200JSONResponse{Body: programToAPI(p, n), Headers: cmsapi.UnpublishProgram200ResponseHeaders{ETag: etag(p.Version)}}, nil
}

// ArchiveProgram implements cmsapi.StrictServerInterface: withdrawn from the public, kept.
func (s *Service) ArchiveProgram(ctx context.Context, req cmsapi.ArchiveProgramRequestObject) (cmsapi.ArchiveProgramResponseObject, error) {
	p, n, err := s.transitionProgram(ctx, req.ProgramId, req.Params.IfMatch, planArchive("program", s.clock()), nil)
	if err != nil {
		return nil, err
	}
	return cmsapi.ArchiveProgram200JSONResponse{Body: programToAPI(p, n), Headers: cmsapi.ArchiveProgram200ResponseHeaders{ETag: etag(p.Version)}}, nil
}

// PublishEpisode implements cmsapi.StrictServerInterface: publish now, or schedule. The
// program must not be archived or soft-deleted; it need not be published (its published
// episodes become visible when it is).
func (s *Service) PublishEpisode(ctx context.Context, req cmsapi.PublishEpisodeRequestObject) (cmsapi.PublishEpisodeResponseObject, error) {
	now := s.clock()
	at, err := publishAt(req.Body, now)
	if err != nil {
		return nil, err
	}
	e, err := s.transitionEpisode(ctx, req.EpisodeId, req.Params.IfMatch, true, planPublish("episode", at, now))
	if err != nil {
		return nil, err
	}
	return cmsapi.PublishEpisode200JSONResponse{Body: episodeToAPI(e), Headers: cmsapi.PublishEpisode200ResponseHeaders{ETag: etag(e.Version)}}, nil
}

// UnpublishEpisode implements cmsapi.StrictServerInterface: back to draft.
func (s *Service) UnpublishEpisode(ctx context.Context, req cmsapi.UnpublishEpisodeRequestObject) (cmsapi.UnpublishEpisodeResponseObject, error) {
	e, err := s.transitionEpisode(ctx, req.EpisodeId, req.Params.IfMatch, false, planUnpublish("episode"))
	if err != nil {
		return nil, err
	}
	return cmsapi.UnpublishEpisode200JSONResponse{Body: episodeToAPI(e), Headers: cmsapi.UnpublishEpisode200ResponseHeaders{ETag: etag(e.Version)}}, nil
}

// ArchiveEpisode implements cmsapi.StrictServerInterface: withdrawn from the public, kept.
func (s *Service) ArchiveEpisode(ctx context.Context, req cmsapi.ArchiveEpisodeRequestObject) (cmsapi.ArchiveEpisodeResponseObject, error) {
	e, err := s.transitionEpisode(ctx, req.EpisodeId, req.Params.IfMatch, false, planArchive("episode", s.clock()))
	if err != nil {
		return nil, err
	}
	return cmsapi.ArchiveEpisode200JSONResponse{Body: episodeToAPI(e), Headers: cmsapi.ArchiveEpisode200ResponseHeaders{ETag: etag(e.Version)}}, nil
}

// transitionProgram applies plan to the program as the caller, in one transaction with its event
// and audit entry, and drafts, when set, to its draft episodes (transitionDrafts); it returns the
// program and its episode count.
func (s *Service) transitionProgram(ctx context.Context, id uuid.UUID, ifMatch *string, pl plan, drafts plan) (*cmsdb.Program, int, error) {
	a, err := actorFrom(ctx)
	if err != nil {
		return nil, 0, err
	}
	now := s.clock()
	var out *cmsdb.Program
	var count int
	err = s.write(ctx, ifMatch, func(c *cmsdb.Client, tx *sql.Tx) error {
		cur, err := getProgram(ctx, c, id)
		if err != nil {
			return err
		}
		if err := checkIfMatch(ifMatch, cur.Version); err != nil {
			return err
		}
		l, action, err := pl(programLifecycle(cur))
		if err != nil {
			return err
		}
		out = cur
		if action != "" {
			if out, err = s.changeProgram(ctx, c, tx, a, cur, l, action, now); err != nil {
				return err
			}
		}
		if drafts != nil {
			if err := s.transitionDrafts(ctx, c, tx, a, id, drafts, now); err != nil {
				return err
			}
		}
		count, err = episodeCount(ctx, c, id)
		return err
	})
	if err != nil {
		return nil, 0, storeErr("change program", err)
	}
	return out, count, nil
}

// transitionDrafts applies plan to the draft episodes of the program (not soft-deleted) in tx, as
// the caller, each with its own event and audit entry.
func (s *Service) transitionDrafts(ctx context.Context, c *cmsdb.Client, tx *sql.Tx, a actor, programID uuid.UUID, pl plan, now time.Time) error {
	drafts, err := c.Episode.Query().
		Where(episode.ProgramID(programID), episode.DeletedAtIsNil(), episode.StatusEQ(episode.Status(statusDraft))).
		Order(episode.ByID()).All(ctx)
	if err != nil {
		return fmt.Errorf("cms: the draft episodes of program %s: %w", programID, err)
	}
	for _, e := range drafts {
		l, action, err := pl(episodeLifecycle(e))
		if err != nil {
			return err
		}
		if action != "" {
			if _, err := s.changeEpisode(ctx, c, tx, a, e, l, action, now); err != nil {
				return err
			}
		}
	}
	return nil
}

// transitionEpisode applies plan to the episode as the caller, in one transaction with its event
// and audit entry. With checkProgram, an archived or soft-deleted program refuses it (409).
func (s *Service) transitionEpisode(ctx context.Context, id uuid.UUID, ifMatch *string, checkProgram bool, pl plan) (*cmsdb.Episode, error) {
	a, err := actorFrom(ctx)
	if err != nil {
		return nil, err
	}
	now := s.clock()
	var out *cmsdb.Episode
	err = s.write(ctx, ifMatch, func(c *cmsdb.Client, tx *sql.Tx) error {
		cur, err := getEpisode(ctx, c, id)
		if err != nil {
			return err
		}
		if err := checkIfMatch(ifMatch, cur.Version); err != nil {
			return err
		}
		if checkProgram {
			p, err := s.shareProgram(ctx, c, tx, cur.ProgramID)
			if err != nil {
				return err
			}
			if p.DeletedAt != nil || string(p.Status) == statusArchived {
				return apierror.Conflict("the episode's program is archived or deleted")
			}
		}
		l, action, err := pl(episodeLifecycle(cur))
		if err != nil {
			return err
		}
		out = cur
		if action != "" {
			out, err = s.changeEpisode(ctx, c, tx, a, cur, l, action, now)
		}
		return err
	})
	if err != nil {
		return nil, storeErr("change episode", err)
	}
	return out, nil
}
