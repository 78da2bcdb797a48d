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
)

// Page sizes of listEpisodesOfPrograms' per_program, as the contract declares them.
const (
	defaultPerProgram = 5
	maxPerProgram     = 20
)

// ListEpisodesOfPrograms implements discoveryapi.StrictServerInterface: for each published
// program asked for, the first page that ListPublicEpisodes answers with the same sort, season
// and a limit of per_program, with a next_cursor that ListPublicEpisodes accepts. It reads the
// programs in one query, all their episodes in another and the assets of those episodes in a
// third, whatever the number of programs.
func (s *Service) ListEpisodesOfPrograms(ctx context.Context, req discoveryapi.ListEpisodesOfProgramsRequestObject) (discoveryapi.ListEpisodesOfProgramsResponseObject, error) {
	p := req.Params
	order := orderEpisodesNumber
	if p.Sort != nil {
		switch *p.Sort {
		case discoveryapi.ListEpisodesOfProgramsParamsSortMinusEpisodeNumber:
			order = orderEpisodesReverse
		case discoveryapi.ListEpisodesOfProgramsParamsSortLatest:
			order = orderEpisodesLatest
		}
	}
	limit := pageSize(p.PerProgram, defaultPerProgram, maxPerProgram)
	programs, err := s.read.Program.Query().Where(program.IDIn(p.ProgramId...)).Select(program.FieldID, program.FieldTitle).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("read programs: %w", err)
	}
	titles := make(map[uuid.UUID]string, len(programs))
	visible := make([]uuid.UUID, len(programs))
	for i, prog := range programs {
		titles[prog.ID], visible[i] = prog.Title, prog.ID
	}
	out := discoveryapi.ListEpisodesOfPrograms200JSONResponse{Items: []discoveryapi.ProgramEpisodes{}}
	if len(visible) == 0 {
		return out, nil
	}
	cols, desc := episodeOrderColumns(order)
	q := s.read.Episode.Query().Where(firstOfEachProgram(visible, p.SeasonNumber, cols, desc, limit+1))
	q.Order(episode.ByProgramID())
	for _, c := range cols {
		q.Order(sql.OrderByField(c, orderDirection(desc)).ToFunc())
	}
	rows, err := q.All(ctx)
	if err != nil {
		return nil, fmt.Errorf("list episodes of %d programs: %w", len(visible), err)
	}
	assets, err := s.episodeAssets(ctx, rows)
	if err != nil {
		return nil, err
	}
	byProgram := make(map[uuid.UUID][]*discoverydb.Episode, len(visible))
	for _, r := range rows {
		byProgram[r.ProgramID] = append(byProgram[r.ProgramID], r)
	}
	for _, id := range p.ProgramId {
		title, ok := titles[id]
		if !ok {
			continue // unknown, unpublished, or already answered
		}
		delete(titles, id)
		page, info := paginate(byProgram[id], limit, func(last *discoverydb.Episode) cursor { return episodeCursor(order, last) })
		item := discoveryapi.ProgramEpisodes{ProgramId: id, Episodes: make([]discoveryapi.PublicEpisode, len(page)), HasMore: info.HasMore, NextCursor: info.NextCursor}
		for i, r := range page {
			item.Episodes[i] = publicEpisode(r, title, assets)
		}
		out.Items = append(out.Items, item)
	}
	return out, nil
}

// firstOfEachProgram keeps the first n episodes of each of programs (of season, when given) in
// the order of cols: for each program, the ids of its first n through the index that serves the
// order, the lists joined with UNION ALL in one statement. (A window numbering every episode of the
// programs costs as many rows as they have, and was most of a GraphQL programs-with-episodes
// query's CPU.) The contract allows at most 100 programs, well below the 500 terms SQLite allows
// in a compound SELECT.
func firstOfEachProgram(programs []uuid.UUID, season *int32, cols []string, desc bool, n int) predicate.Episode {
	return func(s *sql.Selector) {
		var first *sql.Selector
		for i, id := range programs {
			t := sql.Table(episode.Table)
			order := make([]string, len(cols))
			for j, c := range cols {
				order[j] = t.C(c)
				if desc {
					order[j] = sql.Desc(order[j])
				}
			}
			page := sql.Select(t.C(episode.FieldID)).From(t).Where(sql.EQ(t.C(episode.FieldProgramID), id))
			if season != nil {
				page.Where(sql.EQ(t.C(episode.FieldSeasonKey), *season))
			}
			page.OrderBy(order...).Limit(n).As(fmt.Sprintf("p%d", i))
			ids := sql.Select(page.C(episode.FieldID)).From(page) // ORDER BY and LIMIT within a UNION member need a sub-select
			if first == nil {
				first = ids
			} else {
				first.UnionAll(ids)
			}
		}
		s.Where(sql.In(s.C(episode.FieldID), first))
	}
}

// episodeOrderColumns returns the columns of a listPublicEpisodes order, most significant first,
// and whether they descend.
func episodeOrderColumns(order string) (cols []string, desc bool) {
	switch order {
	case orderEpisodesLatest:
		return []string{episode.FieldPublishedAt, episode.FieldID}, true
	case orderEpisodesReverse:
		return []string{episode.FieldSeasonKey, episode.FieldEpisodeNumber, episode.FieldID}, true
	default:
		return []string{episode.FieldSeasonKey, episode.FieldEpisodeNumber, episode.FieldID}, false
	}
}

// orderDirection is the ent ordering option of an ascending or descending column.
func orderDirection(desc bool) sql.OrderTermOption {
	if desc {
		return sql.OrderDesc()
	}
	return sql.OrderAsc()
}

// episodeCursor is the cursor after e in a listPublicEpisodes order, as ListPublicEpisodes
// writes it.
func episodeCursor(order string, e *discoverydb.Episode) cursor {
	if order == orderEpisodesLatest {
		return publishedCursor(order, e)
	}
	return cursor{Order: order, Season: &e.SeasonKey, Number: &e.EpisodeNumber, ID: e.ID}
}
