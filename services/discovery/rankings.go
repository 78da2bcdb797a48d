package discovery

import (
	"context"
	"fmt"
	"math"
	"time"

	"entgo.io/ent/dialect/sql"
	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/ent/discoverydb"
	"github.com/mediamesh/mediamesh/ent/discoverydb/episode"
	"github.com/mediamesh/mediamesh/ent/discoverydb/itemstat"
	"github.com/mediamesh/mediamesh/ent/discoverydb/predicate"
	"github.com/mediamesh/mediamesh/ent/discoverydb/program"
	"github.com/mediamesh/mediamesh/gen/openapi/discoveryapi"
)

// ranking is one order of the engagement counts: the column of its rank key and how a key turns
// into the score shown (the count decayed to now, or the all-time total as it is).
type ranking struct {
	name     string // the cursor's order
	column   string
	halfLife time.Duration // zero: the column is the score
}

var (
	rankTrendingHour = ranking{"trending.hour", itemstat.FieldHourKey, halfLifeHour}
	rankTrendingDay  = ranking{"trending.day", itemstat.FieldDayKey, halfLifeDay}
	rankPopularWeek  = ranking{"popular.week", itemstat.FieldWeekKey, halfLifeWeek}
	rankPopularAll   = ranking{"popular.all_time", itemstat.FieldTotal, 0}
)

func (r ranking) score(row *discoverydb.ItemStat, now time.Time) float64 {
	var k float64
	switch r.column {
	case itemstat.FieldHourKey:
		k = row.HourKey
	case itemstat.FieldDayKey:
		k = row.DayKey
	case itemstat.FieldWeekKey:
		k = row.WeekKey
	default:
		return row.Total
	}
	return decayed(k, now, r.halfLife)
}

func (r ranking) key(row *discoverydb.ItemStat) float64 {
	switch r.column {
	case itemstat.FieldHourKey:
		return row.HourKey
	case itemstat.FieldDayKey:
		return row.DayKey
	case itemstat.FieldWeekKey:
		return row.WeekKey
	}
	return row.Total
}

// rankCursor is the position after the last item of a ranking's page: its rank key and id.
type rankCursor struct {
	Order string    `json:"o"`
	Key   float64   `json:"k"`
	ID    uuid.UUID `json:"i"`
}

func (c rankCursor) encode() string { return encodeCursor(c) }

func parseRankCursor(raw *string, order string) (*rankCursor, error) {
	c, err := decodeCursor(raw, order, func(c *rankCursor) string { return c.Order })
	if c == nil || err != nil {
		return nil, err
	}
	if c.ID == uuid.Nil || math.IsNaN(c.Key) || math.IsInf(c.Key, 0) {
		return nil, badCursor("is incomplete")
	}
	return c, nil
}

// rankFilters are the browse filters of a ranking.
type rankFilters struct {
	episodes bool
	kind     *discoveryapi.ProgramKind
	category *string
	language *string
}

// ListTrending implements discoveryapi.StrictServerInterface.
func (s *Service) ListTrending(ctx context.Context, req discoveryapi.ListTrendingRequestObject) (discoveryapi.ListTrendingResponseObject, error) {
	p := req.Params
	r := rankTrendingDay
	if p.Window != nil && *p.Window == discoveryapi.Hour {
		r = rankTrendingHour
	}
	f := rankFilters{episodes: p.Type != nil && *p.Type == discoveryapi.ListTrendingParamsTypeEpisode, kind: p.Kind, category: p.Category, language: p.Language}
	list, err := s.ranked(ctx, r, f, p.Cursor, p.Limit)
	if err != nil {
		return nil, err
	}
	return discoveryapi.ListTrending200JSONResponse(list), nil
}

// ListPopular implements discoveryapi.StrictServerInterface.
func (s *Service) ListPopular(ctx context.Context, req discoveryapi.ListPopularRequestObject) (discoveryapi.ListPopularResponseObject, error) {
	p := req.Params
	r := rankPopularWeek
	if p.Period != nil && *p.Period == discoveryapi.AllTime {
		r = rankPopularAll
	}
	f := rankFilters{episodes: p.Type != nil && *p.Type == discoveryapi.ListPopularParamsTypeEpisode, kind: p.Kind, category: p.Category, language: p.Language}
	list, err := s.ranked(ctx, r, f, p.Cursor, p.Limit)
	if err != nil {
		return nil, err
	}
	return discoveryapi.ListPopular200JSONResponse(list), nil
}

// ranked answers a page of ranking r: the items of the read model that match f, by rank key
// then id, descending.
func (s *Service) ranked(ctx context.Context, r ranking, f rankFilters, rawCursor *string, rawLimit *int32) (discoveryapi.RankedList, error) {
	contentType := itemstat.ContentTypeProgram
	order := r.name + ".program"
	if f.episodes {
		contentType, order = itemstat.ContentTypeEpisode, r.name+".episode"
	}
	empty := discoveryapi.RankedList{Items: []discoveryapi.RankedItem{}}
	cur, err := parseRankCursor(rawCursor, order)
	if err != nil {
		return empty, err
	}
	programFilters, none, err := s.programFilters(ctx, f.kind, f.category, nil)
	if err != nil || none {
		return empty, err
	}
	q := s.read.ItemStat.Query().Where(itemstat.ContentTypeEQ(contentType))
	if f.episodes {
		q.Where(statOfVisibleEpisode(f.language), statOfProgram(itemstat.FieldProgramID, programFilters...))
	} else {
		if f.language != nil {
			programFilters = append(programFilters, program.Language(*f.language))
		}
		q.Where(statOfProgram(itemstat.FieldID, programFilters...))
	}
	if cur != nil {
		q.Where(predicate.ItemStat(sql.OrPredicates(sql.FieldLT(r.column, cur.Key), sql.AndPredicates(sql.FieldEQ(r.column, cur.Key), sql.FieldLT(itemstat.FieldID, cur.ID)))))
	}
	limit := pageSize(rawLimit, defaultPageSize, maxPageSize)
	rows, err := q.Order(sql.OrderByField(r.column, sql.OrderDesc()).ToFunc(), itemstat.ByID(sql.OrderDesc())).Limit(limit + 1).All(ctx)
	if err != nil {
		return empty, fmt.Errorf("rank %s: %w", order, err)
	}
	var page = empty.Page
	if len(rows) > limit {
		rows = rows[:limit]
		last := rows[limit-1]
		next := rankCursor{Order: order, Key: r.key(last), ID: last.ID}.encode()
		page.HasMore, page.NextCursor = true, &next
	}
	items, err := s.rankedItems(ctx, rows, r, f.episodes)
	if err != nil {
		return empty, err
	}
	return discoveryapi.RankedList{Items: items, Page: page}, nil
}

// statOfProgram keeps the counts whose column (id or program_id) is a program of the read model
// that matches filters.
func statOfProgram(column string, filters ...predicate.Program) predicate.ItemStat {
	return func(s *sql.Selector) {
		t := sql.Table(program.Table)
		programs := sql.Select(t.C(program.FieldID)).From(t)
		for _, f := range filters {
			f(programs)
		}
		s.Where(sql.In(s.C(column), programs))
	}
}

// statOfVisibleEpisode keeps the counts of episodes of the read model (in language, when given).
func statOfVisibleEpisode(language *string) predicate.ItemStat {
	return func(s *sql.Selector) {
		t := sql.Table(episode.Table)
		episodes := sql.Select(t.C(episode.FieldID)).From(t)
		if language != nil {
			episodes.Where(sql.EQ(t.C(episode.FieldLanguage), *language))
		}
		s.Where(sql.In(s.C(itemstat.FieldID), episodes))
	}
}

// rankedItems renders rows, in their order, with their programs or episodes.
func (s *Service) rankedItems(ctx context.Context, rows []*discoverydb.ItemStat, r ranking, episodes bool) ([]discoveryapi.RankedItem, error) {
	now := s.now()
	ids := make([]uuid.UUID, len(rows))
	for i, row := range rows {
		ids[i] = row.ID
	}
	items := make([]discoveryapi.RankedItem, 0, len(rows))
	add := func(row *discoverydb.ItemStat, prog *discoveryapi.PublicProgram, ep *discoveryapi.PublicEpisode) {
		it := discoveryapi.RankedItem{ContentType: discoveryapi.RankedItemContentType(row.ContentType), Score: r.score(row, now),
			Plays: row.Plays, Views: row.Views, Completes: row.Completes, Program: prog, Episode: ep}
		items = append(items, it)
	}
	if episodes {
		eps, err := s.publicEpisodesByID(ctx, ids)
		if err != nil {
			return nil, err
		}
		for _, row := range rows {
			if e, ok := eps[row.ID]; ok {
				add(row, nil, &e)
			}
		}
		return items, nil
	}
	progs, err := s.publicProgramsByID(ctx, ids)
	if err != nil {
		return nil, err
	}
	for _, row := range rows {
		if p, ok := progs[row.ID]; ok {
			add(row, &p, nil)
		}
	}
	return items, nil
}

// publicProgramsByID renders the programs of the read model among ids, by id.
func (s *Service) publicProgramsByID(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]discoveryapi.PublicProgram, error) {
	out := make(map[uuid.UUID]discoveryapi.PublicProgram, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.read.Program.Query().Where(program.IDIn(ids...)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("read programs: %w", err)
	}
	rendered, err := s.publicPrograms(ctx, rows)
	if err != nil {
		return nil, err
	}
	for _, p := range rendered {
		out[p.Id] = p
	}
	return out, nil
}

// publicEpisodesByID renders the visible episodes of the read model among ids, by id.
func (s *Service) publicEpisodesByID(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]discoveryapi.PublicEpisode, error) {
	out := make(map[uuid.UUID]discoveryapi.PublicEpisode, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.read.Episode.Query().Where(episode.IDIn(ids...), ofVisibleProgram()).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("read episodes: %w", err)
	}
	return s.renderEpisodes(ctx, rows, out)
}

// renderEpisodes renders rows into out, by id, with their program titles and assets.
func (s *Service) renderEpisodes(ctx context.Context, rows []*discoverydb.Episode, out map[uuid.UUID]discoveryapi.PublicEpisode) (map[uuid.UUID]discoveryapi.PublicEpisode, error) {
	titles, err := s.programTitles(ctx, rows)
	if err != nil {
		return nil, err
	}
	assets, err := s.episodeAssets(ctx, rows)
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		if title, ok := titles[r.ProgramID]; ok {
			out[r.ID] = publicEpisode(r, title, assets)
		}
	}
	return out, nil
}
