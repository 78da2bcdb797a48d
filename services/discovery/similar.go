package discovery

import (
	"context"
	"fmt"
	"slices"

	"entgo.io/ent/dialect/sql"
	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/ent/discoverydb"
	"github.com/mediamesh/mediamesh/ent/discoverydb/episode"
	"github.com/mediamesh/mediamesh/ent/discoverydb/itemstat"
	"github.com/mediamesh/mediamesh/ent/discoverydb/program"
	"github.com/mediamesh/mediamesh/gen/openapi/discoveryapi"
	"github.com/mediamesh/mediamesh/internal/apierror"
)

// "More like this": programs are compared by what the read model knows of them (category, tags,
// language, kind); ties go to the more popular this week, then the newer. The candidates are the
// programs that share the category or the language (at most similarCandidates of each, newest
// first), so the cost does not grow with the catalogue.

const (
	defaultSimilar    = 10
	maxSimilar        = 50
	similarCandidates = 500
	// Weights of what two programs share.
	similarCategory = 4
	similarTag      = 1
	similarLanguage = 1
	similarKind     = 1
)

// similarity is how much b is like a.
func similarity(a, b *discoverydb.Program) int {
	score := 0
	if a.CategoryID != nil && b.CategoryID != nil && *a.CategoryID == *b.CategoryID {
		score += similarCategory
	}
	for _, t := range b.TagKeys {
		if slices.Contains(a.TagKeys, t) {
			score += similarTag
		}
	}
	if a.Language == b.Language {
		score += similarLanguage
	}
	if a.Kind == b.Kind {
		score += similarKind
	}
	return score
}

// ranked program: a candidate with its similarity and tie-breakers.
type similarProgram struct {
	row        *discoverydb.Program
	similarity int
	popularity float64 // week rank key; -Inf without engagement
}

// similarPrograms returns the programs most like target (not target itself, nor any of exclude),
// most similar first, at most n.
func (s *Service) similarPrograms(ctx context.Context, target *discoverydb.Program, n int, exclude map[uuid.UUID]bool) ([]similarProgram, error) {
	candidates := map[uuid.UUID]*discoverydb.Program{}
	queries := []*discoverydb.ProgramQuery{s.read.Program.Query().Where(program.Language(target.Language))}
	if target.CategoryID != nil {
		queries = append(queries, s.read.Program.Query().Where(program.CategoryID(*target.CategoryID)))
	}
	for _, q := range queries {
		rows, err := q.Where(program.IDNEQ(target.ID)).Order(program.ByPublishedAt(sql.OrderDesc()), program.ByID(sql.OrderDesc())).Limit(similarCandidates).All(ctx)
		if err != nil {
			return nil, fmt.Errorf("read similar programs: %w", err)
		}
		for _, r := range rows {
			if !exclude[r.ID] {
				candidates[r.ID] = r
			}
		}
	}
	ids := make([]uuid.UUID, 0, len(candidates))
	for id := range candidates {
		ids = append(ids, id)
	}
	popularity, err := s.weekKeys(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]similarProgram, 0, len(candidates))
	for id, r := range candidates {
		out = append(out, similarProgram{row: r, similarity: similarity(target, r), popularity: popularity[id]})
	}
	slices.SortFunc(out, func(a, b similarProgram) int {
		switch {
		case a.similarity != b.similarity:
			return b.similarity - a.similarity
		case a.popularity != b.popularity:
			if a.popularity > b.popularity {
				return -1
			}
			return 1
		case !a.row.PublishedAt.Equal(b.row.PublishedAt):
			return b.row.PublishedAt.Compare(a.row.PublishedAt)
		}
		return slices.Compare(b.row.ID[:], a.row.ID[:])
	})
	return out[:min(n, len(out))], nil
}

// weekKeys returns the week rank key of each of ids that has engagement.
func (s *Service) weekKeys(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]float64, error) {
	out := make(map[uuid.UUID]float64, len(ids))
	for start := 0; start < len(ids); start += 500 {
		rows, err := s.read.ItemStat.Query().Where(itemstat.IDIn(ids[start:min(start+500, len(ids))]...)).
			Select(itemstat.FieldID, itemstat.FieldWeekKey).All(ctx)
		if err != nil {
			return nil, fmt.Errorf("read popularity: %w", err)
		}
		for _, r := range rows {
			out[r.ID] = r.WeekKey
		}
	}
	for _, id := range ids {
		if _, ok := out[id]; !ok {
			out[id] = negInf
		}
	}
	return out, nil
}

// ListSimilarPrograms implements discoveryapi.StrictServerInterface.
func (s *Service) ListSimilarPrograms(ctx context.Context, req discoveryapi.ListSimilarProgramsRequestObject) (discoveryapi.ListSimilarProgramsResponseObject, error) {
	target, err := s.program(ctx, req.ProgramId)
	if err != nil {
		return nil, err
	}
	similar, err := s.similarPrograms(ctx, target, pageSize(req.Params.Limit, defaultSimilar, maxSimilar), nil)
	if err != nil {
		return nil, err
	}
	rows := make([]*discoverydb.Program, len(similar))
	for i, p := range similar {
		rows[i] = p.row
	}
	items, err := s.publicPrograms(ctx, rows)
	if err != nil {
		return nil, err
	}
	return discoveryapi.ListSimilarPrograms200JSONResponse{Items: items}, nil
}

// ListSimilarEpisodes implements discoveryapi.StrictServerInterface: the next episodes of the
// episode's program (up to half the list), then the newest episodes of the programs most like it.
func (s *Service) ListSimilarEpisodes(ctx context.Context, req discoveryapi.ListSimilarEpisodesRequestObject) (discoveryapi.ListSimilarEpisodesResponseObject, error) {
	notFound := apierror.NotFound(fmt.Sprintf("episode %s not found", req.EpisodeId))
	ep, err := s.read.Episode.Get(ctx, req.EpisodeId)
	if discoverydb.IsNotFound(err) {
		return nil, notFound
	}
	if err != nil {
		return nil, fmt.Errorf("read episode %s: %w", req.EpisodeId, err)
	}
	prog, err := s.read.Program.Get(ctx, ep.ProgramID)
	if discoverydb.IsNotFound(err) {
		return nil, notFound // its program is not published
	}
	if err != nil {
		return nil, fmt.Errorf("read program %s: %w", ep.ProgramID, err)
	}
	n := pageSize(req.Params.Limit, defaultSimilar, maxSimilar)
	next, err := s.read.Episode.Query().Where(episode.ProgramID(prog.ID), episode.Or(
		episode.SeasonKeyGT(ep.SeasonKey),
		episode.And(episode.SeasonKey(ep.SeasonKey), episode.EpisodeNumberGT(ep.EpisodeNumber)),
		episode.And(episode.SeasonKey(ep.SeasonKey), episode.EpisodeNumber(ep.EpisodeNumber), episode.IDGT(ep.ID)),
	)).Order(episode.BySeasonKey(), episode.ByEpisodeNumber(), episode.ByID()).Limit(max(n/2, 1)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the next episodes: %w", err)
	}
	rows := next
	if len(rows) < n {
		similar, err := s.similarPrograms(ctx, prog, n, nil)
		if err != nil {
			return nil, err
		}
		for _, p := range similar {
			if len(rows) >= n {
				break
			}
			more, err := s.read.Episode.Query().Where(episode.ProgramID(p.row.ID)).
				Order(episode.ByPublishedAt(sql.OrderDesc()), episode.ByID(sql.OrderDesc())).Limit(min(3, n-len(rows))).All(ctx)
			if err != nil {
				return nil, fmt.Errorf("read episodes of similar programs: %w", err)
			}
			rows = append(rows, more...)
		}
	}
	rendered, err := s.renderEpisodes(ctx, rows, map[uuid.UUID]discoveryapi.PublicEpisode{})
	if err != nil {
		return nil, err
	}
	items := make([]discoveryapi.PublicEpisode, 0, len(rows))
	for _, r := range rows {
		if e, ok := rendered[r.ID]; ok {
			items = append(items, e)
		}
	}
	return discoveryapi.ListSimilarEpisodes200JSONResponse{Items: items}, nil
}
