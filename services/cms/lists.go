package cms

import (
	"context"
	"fmt"
	"strings"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	"entgo.io/ent/dialect/sql/sqljson"
	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/ent/cmsdb"
	"github.com/mediamesh/mediamesh/ent/cmsdb/episode"
	"github.com/mediamesh/mediamesh/ent/cmsdb/program"
	"github.com/mediamesh/mediamesh/gen/openapi/cmsapi"
)

// Lists read limit+1 rows in keyset order (the sort key, then the id) after the cursor, and never
// count the whole result.

// ListPrograms implements cmsapi.StrictServerInterface.
func (s *Service) ListPrograms(ctx context.Context, req cmsapi.ListProgramsRequestObject) (cmsapi.ListProgramsResponseObject, error) {
	p := req.Params
	if err := queryText("q", p.Q); err != nil {
		return nil, err
	}
	if err := queryText("tag", p.Tag); err != nil {
		return nil, err
	}
	sort := string(cmsapi.ProgramSortMinusCreatedAt)
	if p.Sort != nil {
		sort = string(*p.Sort)
	}
	cur, err := decodeCursor(p.Cursor, sort)
	if err != nil {
		return nil, err
	}
	field, desc := sortField(sort)
	limit := pageLimit(p.Limit)

	q := s.read.Program.Query()
	if p.IncludeDeleted == nil || !*p.IncludeDeleted {
		q.Where(program.DeletedAtIsNil())
	}
	if p.Status != nil {
		q.Where(program.StatusEQ(program.Status(*p.Status)))
	}
	if p.Kind != nil {
		q.Where(program.KindEQ(program.Kind(*p.Kind)))
	}
	if p.Language != nil {
		q.Where(program.Language(*p.Language))
	}
	if p.CategoryId != nil {
		q.Where(program.CategoryID(*p.CategoryId))
	}
	if p.Tag != nil {
		tag := normalizeTag(*p.Tag)
		q.Where(func(s *entsql.Selector) { s.Where(sqljson.ValueContains(s.C(program.FieldTags), tag)) })
	}
	if p.Q != nil {
		q.Where(titleContains(*p.Q))
	}
	if p.UpdatedSince != nil {
		q.Where(program.UpdatedAtGTE(p.UpdatedSince.UTC()))
	}
	if cur != nil {
		var key any = cur.At
		if field == program.FieldTitle {
			if key, err = cursorTitle(cur, func(id uuid.UUID) (string, error) {
				return s.read.Program.Query().Where(program.ID(id)).Select(program.FieldTitle).String(ctx)
			}); err != nil {
				return nil, err
			}
		}
		q.Where(func(s *entsql.Selector) { s.Where(after(s, []string{s.C(field)}, []any{key}, cur.ID, desc)) })
	}
	rows, err := q.Order(byField(field, desc), byField(program.FieldID, desc)).Limit(limit + 1).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("cms: list programs: %w", err)
	}
	rows, page, err := paginate(rows, limit, func(p *cmsdb.Program) cursor {
		c := cursor{Sort: sort, ID: p.ID}
		switch field {
		case program.FieldTitle:
			c.Title = &p.Title
		case program.FieldUpdatedAt:
			c.At = p.UpdatedAt.UTC()
		default:
			c.At = p.CreatedAt.UTC()
		}
		return c
	})
	if err != nil {
		return nil, err
	}
	counts, err := episodeCounts(ctx, s.read, rows)
	if err != nil {
		return nil, err
	}
	out := cmsapi.ListPrograms200JSONResponse{Items: make([]cmsapi.Program, len(rows)), Page: page}
	for i, p := range rows {
		out.Items[i] = programToAPI(p, counts[p.ID])
	}
	return out, nil
}

// ListEpisodes implements cmsapi.StrictServerInterface.
func (s *Service) ListEpisodes(ctx context.Context, req cmsapi.ListEpisodesRequestObject) (cmsapi.ListEpisodesResponseObject, error) {
	p := req.Params
	sort := string(cmsapi.EpisodeSortEpisodeNumber)
	if p.Sort != nil {
		sort = string(*p.Sort)
	}
	cur, err := decodeCursor(p.Cursor, sort)
	if err != nil {
		return nil, err
	}
	field, desc := sortField(sort)
	limit := pageLimit(p.Limit)
	if ok, err := s.read.Program.Query().Where(program.ID(req.ProgramId)).Exist(ctx); err != nil {
		return nil, fmt.Errorf("cms: read program %s: %w", req.ProgramId, err)
	} else if !ok {
		return nil, programNotFound(req.ProgramId)
	}

	q := s.read.Episode.Query().Where(episode.ProgramID(req.ProgramId))
	if p.IncludeDeleted == nil || !*p.IncludeDeleted {
		q.Where(episode.DeletedAtIsNil())
	}
	if p.Status != nil {
		q.Where(episode.StatusEQ(episode.Status(*p.Status)))
	}
	if p.SeasonNumber != nil {
		q.Where(episode.SeasonNumber(*p.SeasonNumber))
	}
	if cur != nil {
		var key any = cur.At
		if field == episode.FieldTitle {
			if key, err = cursorTitle(cur, func(id uuid.UUID) (string, error) {
				return s.read.Episode.Query().Where(episode.ID(id)).Select(episode.FieldTitle).String(ctx)
			}); err != nil {
				return nil, err
			}
		}
		q.Where(func(s *entsql.Selector) {
			if field == episode.FieldEpisodeNumber {
				s.Where(after(s, []string{seasonKey(s), s.C(episode.FieldEpisodeNumber)}, []any{cur.Season, cur.Number}, cur.ID, desc))
				return
			}
			s.Where(after(s, []string{s.C(field)}, []any{key}, cur.ID, desc))
		})
	}
	order := []episode.OrderOption{byField(field, desc)}
	if field == episode.FieldEpisodeNumber {
		// Episodes without a season first (ascending), then by season and number.
		order = []episode.OrderOption{
			func(s *entsql.Selector) { s.OrderExpr(entsql.Expr(seasonKey(s) + direction(desc))) },
			byField(episode.FieldEpisodeNumber, desc),
		}
	}
	rows, err := q.Order(append(order, byField(episode.FieldID, desc))...).Limit(limit + 1).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("cms: list episodes: %w", err)
	}
	rows, page, err := paginate(rows, limit, func(e *cmsdb.Episode) cursor {
		c := cursor{Sort: sort, ID: e.ID}
		switch field {
		case episode.FieldTitle:
			c.Title = &e.Title
		case episode.FieldEpisodeNumber:
			c.Number = e.EpisodeNumber
			if e.SeasonNumber != nil {
				c.Season = *e.SeasonNumber
			}
		case episode.FieldUpdatedAt:
			c.At = e.UpdatedAt.UTC()
		default:
			c.At = e.CreatedAt.UTC()
		}
		return c
	})
	if err != nil {
		return nil, err
	}
	out := cmsapi.ListEpisodes200JSONResponse{Items: make([]cmsapi.Episode, len(rows)), Page: page}
	for i, e := range rows {
		out.Items[i] = episodeToAPI(e)
	}
	return out, nil
}

// sortField splits a sort parameter into its column and direction.
func sortField(sort string) (field string, desc bool) {
	field, desc = strings.CutPrefix(sort, "-")
	return field, desc
}

func direction(desc bool) string {
	if desc {
		return " DESC"
	}
	return " ASC"
}

// byField orders by one column.
func byField(field string, desc bool) func(*entsql.Selector) {
	if desc {
		return entsql.OrderByField(field, entsql.OrderDesc()).ToFunc()
	}
	return entsql.OrderByField(field).ToFunc()
}

// seasonKey is the season sort key of an episode: 0 (before every season) when it has none.
func seasonKey(s *entsql.Selector) string {
	return "COALESCE(" + s.C(episode.FieldSeasonNumber) + ", 0)"
}

// titleContains matches titles that contain sub, case-insensitively (ILIKE on PostgreSQL; LIKE
// on SQLite, which folds ASCII letters only), with LIKE's wildcards in sub taken literally.
func titleContains(sub string) func(*entsql.Selector) {
	escaped := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(sub)
	return func(s *entsql.Selector) {
		s.Where(entsql.P(func(b *entsql.Builder) {
			op := " LIKE "
			if b.Dialect() == dialect.Postgres {
				op = " ILIKE "
			}
			b.WriteString(s.C(program.FieldTitle)).WriteString(op).Arg("%" + escaped + "%").WriteString(` ESCAPE '\'`)
		}))
	}
}

// cursorTitle is the title a title-sorted cursor continues after: the cursor's, or, when it was
// too long to carry, the item's as read again with title (400 when the item is gone).
func cursorTitle(c *cursor, title func(uuid.UUID) (string, error)) (string, error) {
	if c.Title != nil {
		return *c.Title, nil
	}
	t, err := title(c.ID)
	if cmsdb.IsNotFound(err) {
		return "", badCursor("points at an item that no longer exists; start again without a cursor")
	}
	if err != nil {
		return "", fmt.Errorf("cms: read the item of a cursor: %w", err)
	}
	return t, nil
}

// episodeCounts counts the episodes that are not soft-deleted of each program, in one grouped
// query.
func episodeCounts(ctx context.Context, c *cmsdb.Client, programs []*cmsdb.Program) (map[uuid.UUID]int, error) {
	counts := make(map[uuid.UUID]int, len(programs))
	if len(programs) == 0 {
		return counts, nil
	}
	ids := make([]uuid.UUID, len(programs))
	for i, p := range programs {
		ids[i] = p.ID
	}
	var rows []struct {
		ProgramID uuid.UUID `json:"program_id"`
		Count     int       `json:"count"`
	}
	err := c.Episode.Query().Where(episode.ProgramIDIn(ids...), episode.DeletedAtIsNil()).
		GroupBy(episode.FieldProgramID).Aggregate(cmsdb.Count()).Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("cms: count episodes: %w", err)
	}
	for _, r := range rows {
		counts[r.ProgramID] = r.Count
	}
	return counts, nil
}
