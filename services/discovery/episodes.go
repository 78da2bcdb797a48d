package discovery

import (
	"context"
	"fmt"

	"entgo.io/ent/dialect/sql"
	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/ent/discoverydb"
	"github.com/mediamesh/mediamesh/ent/discoverydb/episode"
	"github.com/mediamesh/mediamesh/ent/discoverydb/predicate"
	"github.com/mediamesh/mediamesh/ent/discoverydb/program"
	"github.com/mediamesh/mediamesh/gen/openapi/discoveryapi"
	"github.com/mediamesh/mediamesh/internal/apierror"
	"github.com/mediamesh/mediamesh/internal/etag"
)

// ListPublicEpisodes implements discoveryapi.StrictServerInterface: the episodes of a published
// program, optionally of one season, in keyset pages of the requested order.
func (s *Service) ListPublicEpisodes(ctx context.Context, req discoveryapi.ListPublicEpisodesRequestObject) (discoveryapi.ListPublicEpisodesResponseObject, error) {
	p := req.Params
	order := orderEpisodesNumber
	if p.Sort != nil {
		switch *p.Sort {
		case discoveryapi.ListPublicEpisodesParamsSortMinusEpisodeNumber:
			order = orderEpisodesReverse
		case discoveryapi.ListPublicEpisodesParamsSortLatest:
			order = orderEpisodesLatest
		}
	}
	cur, err := parseCursor(p.Cursor, order)
	if err != nil {
		return nil, err
	}
	// Only what the page shows of the program: a whole row costs its every column's decoding.
	prog, err := s.read.Program.Query().Where(program.ID(req.ProgramId)).Select(program.FieldID, program.FieldTitle).Only(ctx)
	if discoverydb.IsNotFound(err) {
		return nil, apierror.NotFound(fmt.Sprintf("program %s not found", req.ProgramId))
	}
	if err != nil {
		return nil, fmt.Errorf("read program %s: %w", req.ProgramId, err)
	}
	q := s.read.Episode.Query().Where(episode.ProgramID(prog.ID))
	if p.SeasonNumber != nil {
		q.Where(episode.SeasonKey(*p.SeasonNumber))
	}
	switch order {
	case orderEpisodesNumber:
		q.Order(episode.BySeasonKey(), episode.ByEpisodeNumber(), episode.ByID())
		if cur != nil {
			q.Where(afterNumber(cur, episode.SeasonKeyGT, episode.EpisodeNumberGT, episode.IDGT))
		}
	case orderEpisodesReverse:
		desc := sql.OrderDesc()
		q.Order(episode.BySeasonKey(desc), episode.ByEpisodeNumber(desc), episode.ByID(desc))
		if cur != nil {
			q.Where(afterNumber(cur, episode.SeasonKeyLT, episode.EpisodeNumberLT, episode.IDLT))
		}
	default:
		latestFirst(q, cur)
	}
	limit := pageSize(p.Limit, defaultPageSize, maxPageSize)
	rows, err := q.Limit(limit + 1).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("list episodes of program %s: %w", prog.ID, err)
	}
	rows, page := paginate(rows, limit, func(last *discoverydb.Episode) cursor {
		if order == orderEpisodesLatest {
			return publishedCursor(order, last)
		}
		return cursor{Order: order, Season: &last.SeasonKey, Number: &last.EpisodeNumber, ID: last.ID}
	})
	assets, err := s.episodeAssets(ctx, rows)
	if err != nil {
		return nil, err
	}
	items := make([]discoveryapi.PublicEpisode, len(rows))
	for i, r := range rows {
		items[i] = publicEpisode(r, prog.Title, assets)
	}
	return discoveryapi.ListPublicEpisodes200JSONResponse{Items: items, Page: page}, nil
}

// GetPublicEpisode implements discoveryapi.StrictServerInterface: one published episode of a
// published program.
func (s *Service) GetPublicEpisode(ctx context.Context, req discoveryapi.GetPublicEpisodeRequestObject) (discoveryapi.GetPublicEpisodeResponseObject, error) {
	notFound := apierror.NotFound(fmt.Sprintf("episode %s not found", req.EpisodeId))
	row, err := s.read.Episode.Get(ctx, req.EpisodeId)
	if discoverydb.IsNotFound(err) {
		return nil, notFound
	}
	if err != nil {
		return nil, fmt.Errorf("read episode %s: %w", req.EpisodeId, err)
	}
	prog, err := s.read.Program.Query().Where(program.ID(row.ProgramID)).Select(program.FieldTitle).Only(ctx)
	if discoverydb.IsNotFound(err) {
		return nil, notFound // its program is not published
	}
	if err != nil {
		return nil, fmt.Errorf("read program %s: %w", row.ProgramID, err)
	}
	assets, err := s.episodeAssets(ctx, []*discoverydb.Episode{row})
	if err != nil {
		return nil, err
	}
	body := publicEpisode(row, prog.Title, assets)
	tag := etag.Of(body)
	return discoveryapi.GetPublicEpisode200JSONResponse{Body: body, Headers: discoveryapi.GetPublicEpisode200ResponseHeaders{ETag: &tag}}, nil
}

// ListLatestEpisodes implements discoveryapi.StrictServerInterface: the newest episodes of every
// published program, filtered by the episode's language and the program's kind and category.
func (s *Service) ListLatestEpisodes(ctx context.Context, req discoveryapi.ListLatestEpisodesRequestObject) (discoveryapi.ListLatestEpisodesResponseObject, error) {
	p := req.Params
	cur, err := parseCursor(p.Cursor, orderLatestEpisodes)
	if err != nil {
		return nil, err
	}
	empty := discoveryapi.ListLatestEpisodes200JSONResponse{Items: []discoveryapi.PublicEpisode{}}
	programFilters, none, err := s.programFilters(ctx, p.Kind, p.Category, nil)
	if err != nil || none {
		return empty, err
	}
	q := s.read.Episode.Query().Where(ofVisibleProgram(programFilters...))
	if p.Language != nil {
		q.Where(episode.Language(*p.Language))
	}
	latestFirst(q, cur)
	limit := pageSize(p.Limit, defaultPageSize, maxPageSize)
	rows, err := q.Limit(limit + 1).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("list latest episodes: %w", err)
	}
	rows, page := paginate(rows, limit, func(last *discoverydb.Episode) cursor { return publishedCursor(orderLatestEpisodes, last) })
	titles, err := s.programTitles(ctx, rows)
	if err != nil {
		return nil, err
	}
	assets, err := s.episodeAssets(ctx, rows)
	if err != nil {
		return nil, err
	}
	items := make([]discoveryapi.PublicEpisode, 0, len(rows))
	for _, r := range rows {
		if title, ok := titles[r.ProgramID]; ok { // else the program left the read model since the page was read
			items = append(items, publicEpisode(r, title, assets))
		}
	}
	return discoveryapi.ListLatestEpisodes200JSONResponse{Items: items, Page: page}, nil
}

// ofVisibleProgram keeps the episodes whose program is in the read model (and matches filters).
func ofVisibleProgram(filters ...predicate.Program) predicate.Episode {
	return func(s *sql.Selector) {
		t := sql.Table(program.Table)
		programs := sql.Select(t.C(program.FieldID)).From(t)
		for _, f := range filters {
			f(programs)
		}
		s.Where(sql.In(s.C(episode.FieldProgramID), programs))
	}
}

// programTitles returns the titles of the programs of rows, in one query.
func (s *Service) programTitles(ctx context.Context, rows []*discoverydb.Episode) (map[uuid.UUID]string, error) {
	out := map[uuid.UUID]string{}
	if len(rows) == 0 {
		return out, nil
	}
	seen := map[uuid.UUID]bool{}
	ids := make([]uuid.UUID, 0, len(rows))
	for _, r := range rows {
		if !seen[r.ProgramID] {
			seen[r.ProgramID] = true
			ids = append(ids, r.ProgramID)
		}
	}
	programs, err := s.read.Program.Query().Where(program.IDIn(ids...)).Select(program.FieldID, program.FieldTitle).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("read program titles: %w", err)
	}
	for _, p := range programs {
		out[p.ID] = p.Title
	}
	return out, nil
}

// latestFirst orders q by published_at then id, newest first, after cur.
func latestFirst(q *discoverydb.EpisodeQuery, cur *cursor) {
	q.Order(episode.ByPublishedAt(sql.OrderDesc()), episode.ByID(sql.OrderDesc()))
	if cur != nil {
		q.Where(episode.Or(episode.PublishedAtLT(*cur.Time), episode.And(episode.PublishedAt(*cur.Time), episode.IDLT(cur.ID))))
	}
}

// afterNumber is the keyset predicate of the episode_number orders: after (season key, episode
// number, id) of cur, with the comparisons of the direction.
func afterNumber(cur *cursor, season, number func(int32) predicate.Episode, id func(uuid.UUID) predicate.Episode) predicate.Episode {
	return episode.Or(
		season(*cur.Season),
		episode.And(episode.SeasonKey(*cur.Season), number(*cur.Number)),
		episode.And(episode.SeasonKey(*cur.Season), episode.EpisodeNumber(*cur.Number), id(cur.ID)),
	)
}

// publishedCursor is the cursor after e in a published_at order.
func publishedCursor(order string, e *discoverydb.Episode) cursor {
	t := e.PublishedAt.UTC()
	return cursor{Order: order, Time: &t, ID: e.ID}
}

// publicEpisode renders an episode of the program titled programTitle, with the URLs of its
// thumbnail and media among assets (see episodeAssets).
func publicEpisode(e *discoverydb.Episode, programTitle string, assets map[uuid.UUID]*discoverydb.Asset) discoveryapi.PublicEpisode {
	return discoveryapi.PublicEpisode{
		Id:              e.ID,
		ProgramId:       e.ProgramID,
		ProgramTitle:    programTitle,
		SeasonNumber:    e.SeasonNumber,
		EpisodeNumber:   e.EpisodeNumber,
		Title:           e.Title,
		Summary:         e.Summary,
		Language:        e.Language,
		DurationSeconds: e.DurationSeconds,
		MediaUrl:        assetURL(assets, e.MediaAssetID, false),
		ThumbnailUrl:    assetURL(assets, e.ThumbnailAssetID, true),
		PublishedAt:     e.PublishedAt.UTC(),
	}
}
