package discovery

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"entgo.io/ent/dialect/sql"
	"entgo.io/ent/dialect/sql/sqljson"
	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/ent/discoverydb"
	"github.com/mediamesh/mediamesh/ent/discoverydb/category"
	"github.com/mediamesh/mediamesh/ent/discoverydb/episode"
	"github.com/mediamesh/mediamesh/ent/discoverydb/predicate"
	"github.com/mediamesh/mediamesh/ent/discoverydb/program"
	"github.com/mediamesh/mediamesh/gen/openapi/commonapi"
	"github.com/mediamesh/mediamesh/gen/openapi/discoveryapi"
	"github.com/mediamesh/mediamesh/internal/apierror"
	"github.com/mediamesh/mediamesh/internal/etag"
)

// Page sizes of the paginated lists, as the contract (common.yaml Limit) declares them.
const (
	defaultPageSize = 20
	maxPageSize     = 100
)

// ListPublicPrograms implements discoveryapi.StrictServerInterface: published programs, filtered
// and in keyset pages of the requested order.
func (s *Service) ListPublicPrograms(ctx context.Context, req discoveryapi.ListPublicProgramsRequestObject) (discoveryapi.ListPublicProgramsResponseObject, error) {
	p := req.Params
	order := orderProgramsLatest
	if p.Sort != nil && *p.Sort == discoveryapi.ListPublicProgramsParamsSortTitle {
		order = orderProgramsTitle
	}
	cur, err := parseCursor(p.Cursor, order)
	if err != nil {
		return nil, err
	}
	limit := pageSize(p.Limit, defaultPageSize, maxPageSize)
	empty := discoveryapi.ListPublicPrograms200JSONResponse{Items: []discoveryapi.PublicProgram{}}
	filters, none, err := s.programFilters(ctx, p.Kind, p.Category, p.Language)
	if err != nil || none {
		return empty, err
	}
	if p.Tag != nil {
		tag := *p.Tag
		if !utf8.ValidString(tag) || strings.ContainsRune(tag, 0) {
			return empty, nil // no stored tag holds invalid UTF-8 or NUL
		}
		key := tagKey(tag)
		filters = append(filters, func(s *sql.Selector) { s.Where(sqljson.ValueContains(program.FieldTagKeys, key)) })
	}
	// The columns a page shows and its cursor needs, not the row's search keys (tag_keys is JSON
	// to decode) nor its version: decoding columns is most of what a list costs.
	q := s.read.Program.Query().Where(filters...).Select(publicProgramColumns...)
	switch order {
	case orderProgramsTitle:
		q.Select(program.FieldTitleKey)
		q.Order(program.ByTitleKey(), program.ByID())
		if cur != nil {
			q.Where(program.Or(program.TitleKeyGT(cur.Key), program.And(program.TitleKey(cur.Key), program.IDGT(cur.ID))))
		}
	default:
		q.Order(program.ByPublishedAt(sql.OrderDesc()), program.ByID(sql.OrderDesc()))
		if cur != nil {
			q.Where(program.Or(program.PublishedAtLT(*cur.Time), program.And(program.PublishedAt(*cur.Time), program.IDLT(cur.ID))))
		}
	}
	rows, err := q.Limit(limit + 1).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("list programs: %w", err)
	}
	rows, page := paginate(rows, limit, func(last *discoverydb.Program) cursor {
		if order == orderProgramsTitle {
			return cursor{Order: order, Key: last.TitleKey, ID: last.ID}
		}
		t := last.PublishedAt.UTC()
		return cursor{Order: order, Time: &t, ID: last.ID}
	})
	items, err := s.publicPrograms(ctx, rows)
	if err != nil {
		return nil, err
	}
	return discoveryapi.ListPublicPrograms200JSONResponse{Items: items, Page: page}, nil
}

// publicProgramColumns are the columns of a program that publicPrograms renders.
var publicProgramColumns = []string{program.FieldID, program.FieldCategoryID, program.FieldCoverAssetID, program.FieldEpisodeCount,
	program.FieldKind, program.FieldLanguage, program.FieldPublishedAt, program.FieldSlug, program.FieldSummary, program.FieldTags,
	program.FieldTitle, program.FieldUpdatedAt}

// GetPublicProgram implements discoveryapi.StrictServerInterface: one published program.
func (s *Service) GetPublicProgram(ctx context.Context, req discoveryapi.GetPublicProgramRequestObject) (discoveryapi.GetPublicProgramResponseObject, error) {
	row, err := s.read.Program.Query().Where(program.ID(req.ProgramId)).Select(publicProgramColumns...).Only(ctx)
	if discoverydb.IsNotFound(err) {
		return nil, apierror.NotFound(fmt.Sprintf("program %s not found", req.ProgramId))
	}
	if err != nil {
		return nil, fmt.Errorf("read program %s: %w", req.ProgramId, err)
	}
	items, err := s.publicPrograms(ctx, []*discoverydb.Program{row})
	if err != nil {
		return nil, err
	}
	tag := etag.Of(items[0])
	return discoveryapi.GetPublicProgram200JSONResponse{Body: items[0], Headers: discoveryapi.GetPublicProgram200ResponseHeaders{ETag: &tag}}, nil
}

// program returns the program id of the read model, or a 404.
func (s *Service) program(ctx context.Context, id uuid.UUID) (*discoverydb.Program, error) {
	row, err := s.read.Program.Get(ctx, id)
	if discoverydb.IsNotFound(err) {
		return nil, apierror.NotFound(fmt.Sprintf("program %s not found", id))
	}
	if err != nil {
		return nil, fmt.Errorf("read program %s: %w", id, err)
	}
	return row, nil
}

// programFilters returns the predicates of the kind, category and language filters. none reports
// that no program can match (an unknown category slug).
func (s *Service) programFilters(ctx context.Context, kind *discoveryapi.ProgramKind, categorySlug, lang *string) (filters []predicate.Program, none bool, err error) {
	if kind != nil {
		filters = append(filters, program.KindEQ(program.Kind(*kind)))
	}
	if lang != nil {
		filters = append(filters, program.Language(*lang))
	}
	if categorySlug != nil {
		// Slugs are unique in the metadata service, but two categories may briefly share one here
		// while the events of a rename are on their way: match them all.
		ids, err := s.read.Category.Query().Where(category.Slug(*categorySlug)).IDs(ctx)
		if err != nil {
			return nil, false, fmt.Errorf("read category %q: %w", *categorySlug, err)
		}
		if len(ids) == 0 {
			return nil, true, nil
		}
		filters = append(filters, program.CategoryIDIn(ids...))
	}
	return filters, false, nil
}

// publicPrograms renders rows with their episode counts, categories and cover URLs, in at most
// three queries whatever the number of rows.
func (s *Service) publicPrograms(ctx context.Context, rows []*discoverydb.Program) ([]discoveryapi.PublicProgram, error) {
	var categoryIDs []uuid.UUID
	coverIDs := make([]*uuid.UUID, len(rows))
	for i, r := range rows {
		if r.CategoryID != nil {
			categoryIDs = append(categoryIDs, *r.CategoryID)
		}
		coverIDs[i] = r.CoverAssetID
	}
	counts, err := s.episodeCounts(ctx, rows)
	if err != nil {
		return nil, err
	}
	categories, err := s.categoriesByID(ctx, categoryIDs)
	if err != nil {
		return nil, err
	}
	covers, err := s.assets(ctx, coverIDs...)
	if err != nil {
		return nil, err
	}
	out := make([]discoveryapi.PublicProgram, len(rows))
	for i, r := range rows {
		out[i] = discoveryapi.PublicProgram{
			Id:           r.ID,
			Kind:         discoveryapi.ProgramKind(r.Kind),
			Title:        r.Title,
			Slug:         r.Slug,
			Summary:      r.Summary,
			Language:     r.Language,
			Tags:         r.Tags,
			EpisodeCount: counts[r.ID],
			PublishedAt:  r.PublishedAt.UTC(),
			UpdatedAt:    r.UpdatedAt.UTC(),
			CoverUrl:     assetURL(covers, r.CoverAssetID, false),
		}
		if out[i].Tags == nil {
			out[i].Tags = []string{}
		}
		if r.CategoryID != nil {
			if c, ok := categories[*r.CategoryID]; ok {
				out[i].Category = &discoveryapi.CategoryRef{Id: c.ID, Slug: c.Slug, Name: categoryName(c, r.Language)}
			}
		}
	}
	return out, nil
}

// episodeCounts returns the number of visible episodes of each program of rows (all stored
// episodes of a program in the read model are visible): the count the row keeps, or for rows
// written before it kept one, from one grouped query.
func (s *Service) episodeCounts(ctx context.Context, rows []*discoverydb.Program) (map[uuid.UUID]int32, error) {
	out := make(map[uuid.UUID]int32, len(rows))
	var ids []uuid.UUID
	for _, r := range rows {
		if r.EpisodeCount != nil {
			out[r.ID] = *r.EpisodeCount
		} else {
			ids = append(ids, r.ID)
		}
	}
	if len(ids) == 0 {
		return out, nil
	}
	var counted []struct {
		ProgramID uuid.UUID `json:"program_id"`
		Count     int32     `json:"count"`
	}
	err := s.read.Episode.Query().Where(episode.ProgramIDIn(ids...)).
		GroupBy(episode.FieldProgramID).Aggregate(discoverydb.Count()).Scan(ctx, &counted)
	if err != nil {
		return nil, fmt.Errorf("count episodes: %w", err)
	}
	for _, r := range counted {
		out[r.ProgramID] = r.Count
	}
	return out, nil
}

// paginate cuts rows, fetched with one extra row, to limit and describes the page: a cursor after
// its last item when more follow.
func paginate[T any](rows []T, limit int, after func(last T) cursor) ([]T, commonapi.PageInfo) {
	if len(rows) <= limit {
		return rows, commonapi.PageInfo{}
	}
	rows = rows[:limit]
	next := after(rows[limit-1]).encode()
	return rows, commonapi.PageInfo{HasMore: true, NextCursor: &next}
}
