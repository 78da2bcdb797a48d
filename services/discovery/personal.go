package discovery

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	entsql "entgo.io/ent/dialect/sql"
	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/ent/discoverydb"
	"github.com/mediamesh/mediamesh/ent/discoverydb/episode"
	"github.com/mediamesh/mediamesh/ent/discoverydb/follow"
	"github.com/mediamesh/mediamesh/ent/discoverydb/predicate"
	"github.com/mediamesh/mediamesh/ent/discoverydb/program"
	"github.com/mediamesh/mediamesh/ent/discoverydb/watch"
	"github.com/mediamesh/mediamesh/gen/openapi/commonapi"
	"github.com/mediamesh/mediamesh/gen/openapi/discoveryapi"
	"github.com/mediamesh/mediamesh/internal/apierror"
	"github.com/mediamesh/mediamesh/internal/authn"
)

// A signed-in user's side of discovery: follows (written here), positions from its play events
// (engagement_apply.go), the history built from them, and the feed. Follows and positions name
// content that may leave the read model: reads show only what is published now.

// caller returns the signed-in user of the request.
func caller(ctx context.Context) (uuid.UUID, error) {
	p, ok := authn.FromContext(ctx)
	if !ok {
		return uuid.Nil, apierror.Unauthorized("this operation needs a bearer token")
	}
	id, err := uuid.Parse(p.Subject)
	if err != nil {
		return uuid.Nil, apierror.Forbidden("this operation is for user accounts")
	}
	return id, nil
}

// timeCursor is the position after the last item of a personal list: its time and id.
type timeCursor struct {
	Order string    `json:"o"`
	Time  time.Time `json:"t"`
	ID    uuid.UUID `json:"i"`
}

func (c timeCursor) encode() *string {
	s := encodeCursor(c)
	return &s
}

func parseTimeCursor(raw *string, order string) (*timeCursor, error) {
	c, err := decodeCursor(raw, order, func(c *timeCursor) string { return c.Order })
	if c == nil || err != nil {
		return nil, err
	}
	if c.ID == uuid.Nil || c.Time.IsZero() {
		return nil, badCursor("is incomplete")
	}
	c.Time = c.Time.UTC()
	return c, nil
}

// The orders of the personal lists' cursors.
const (
	orderFollows          = "me.follows"
	orderContinueWatching = "me.continue_watching"
	orderHistory          = "me.history"
	orderFeed             = "me.feed"
)

// followNamespace is the UUID v5 namespace of follow ids (one per user and program).
var followNamespace = uuid.MustParse("8e2b3c1d-4a5f-4e6b-9c7d-1f0a2b3c4d5e")

// FollowProgram implements discoveryapi.StrictServerInterface.
func (s *Service) FollowProgram(ctx context.Context, req discoveryapi.FollowProgramRequestObject) (discoveryapi.FollowProgramResponseObject, error) {
	user, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := s.program(ctx, req.ProgramId); err != nil {
		return nil, err
	}
	id := uuid.NewSHA1(followNamespace, append(user[:len(user):len(user)], req.ProgramId[:]...))
	var at time.Time
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		c := s.inTx(tx)
		old, err := c.Follow.Get(ctx, id)
		if err == nil {
			at = old.CreatedAt
			return nil
		}
		if !discoverydb.IsNotFound(err) {
			return err
		}
		at = s.now().UTC().Truncate(time.Microsecond)
		return c.Follow.Create().SetID(id).SetUserID(user).SetProgramID(req.ProgramId).SetCreatedAt(at).Exec(ctx)
	})
	if err != nil {
		return nil, fmt.Errorf("follow program %s: %w", req.ProgramId, err)
	}
	return discoveryapi.FollowProgram200JSONResponse{ProgramId: req.ProgramId, FollowedAt: at.UTC()}, nil
}

// UnfollowProgram implements discoveryapi.StrictServerInterface.
func (s *Service) UnfollowProgram(ctx context.Context, req discoveryapi.UnfollowProgramRequestObject) (discoveryapi.UnfollowProgramResponseObject, error) {
	user, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		_, err := s.inTx(tx).Follow.Delete().Where(follow.UserID(user), follow.ProgramID(req.ProgramId)).Exec(ctx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("unfollow program %s: %w", req.ProgramId, err)
	}
	return discoveryapi.UnfollowProgram204Response{}, nil
}

// followOfVisibleProgram keeps the follows of programs in the read model.
func followOfVisibleProgram() predicate.Follow {
	return func(s *entsql.Selector) {
		t := entsql.Table(program.Table)
		s.Where(entsql.In(s.C(follow.FieldProgramID), entsql.Select(t.C(program.FieldID)).From(t)))
	}
}

// ListFollows implements discoveryapi.StrictServerInterface.
func (s *Service) ListFollows(ctx context.Context, req discoveryapi.ListFollowsRequestObject) (discoveryapi.ListFollowsResponseObject, error) {
	user, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	cur, err := parseTimeCursor(req.Params.Cursor, orderFollows)
	if err != nil {
		return nil, err
	}
	q := s.read.Follow.Query().Where(follow.UserID(user), followOfVisibleProgram())
	if cur != nil {
		q.Where(follow.Or(follow.CreatedAtLT(cur.Time), follow.And(follow.CreatedAt(cur.Time), follow.IDLT(cur.ID))))
	}
	limit := pageSize(req.Params.Limit, defaultPageSize, maxPageSize)
	rows, err := q.Order(follow.ByCreatedAt(entsql.OrderDesc()), follow.ByID(entsql.OrderDesc())).Limit(limit + 1).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("list follows: %w", err)
	}
	var page commonapi.PageInfo
	if len(rows) > limit {
		rows = rows[:limit]
		last := rows[limit-1]
		page = commonapi.PageInfo{HasMore: true, NextCursor: timeCursor{Order: orderFollows, Time: last.CreatedAt.UTC(), ID: last.ID}.encode()}
	}
	ids := make([]uuid.UUID, len(rows))
	for i, r := range rows {
		ids[i] = r.ProgramID
	}
	programs, err := s.publicProgramsByID(ctx, ids)
	if err != nil {
		return nil, err
	}
	items := make([]discoveryapi.FollowedProgram, 0, len(rows))
	for _, r := range rows {
		if p, ok := programs[r.ProgramID]; ok {
			items = append(items, discoveryapi.FollowedProgram{Program: p, FollowedAt: r.CreatedAt.UTC()})
		}
	}
	return discoveryapi.ListFollows200JSONResponse{Items: items, Page: page}, nil
}

// watchOfVisibleEpisode keeps the positions in episodes of the read model whose program is too.
func watchOfVisibleEpisode() predicate.Watch {
	return func(s *entsql.Selector) {
		e, p := entsql.Table(episode.Table), entsql.Table(program.Table)
		s.Where(entsql.In(s.C(watch.FieldEpisodeID), entsql.Select(e.C(episode.FieldID)).From(e).
			Where(entsql.In(e.C(episode.FieldProgramID), entsql.Select(p.C(program.FieldID)).From(p)))))
	}
}

// finishedMargin is how close to its end a position counts as finished.
const finishedMargin = 30

// ListContinueWatching implements discoveryapi.StrictServerInterface.
func (s *Service) ListContinueWatching(ctx context.Context, req discoveryapi.ListContinueWatchingRequestObject) (discoveryapi.ListContinueWatchingResponseObject, error) {
	list, err := s.watched(ctx, orderContinueWatching, req.Params.Cursor, req.Params.Limit)
	if err != nil {
		return nil, err
	}
	return discoveryapi.ListContinueWatching200JSONResponse(list), nil
}

// ListHistory implements discoveryapi.StrictServerInterface.
func (s *Service) ListHistory(ctx context.Context, req discoveryapi.ListHistoryRequestObject) (discoveryapi.ListHistoryResponseObject, error) {
	list, err := s.watched(ctx, orderHistory, req.Params.Cursor, req.Params.Limit)
	if err != nil {
		return nil, err
	}
	return discoveryapi.ListHistory200JSONResponse(list), nil
}

// watched answers a page of the caller's positions, the most recent first: all of them
// (history), or those not finished (continue watching).
func (s *Service) watched(ctx context.Context, order string, rawCursor *string, rawLimit *int32) (discoveryapi.WatchList, error) {
	empty := discoveryapi.WatchList{Items: []discoveryapi.WatchedEpisode{}}
	user, err := caller(ctx)
	if err != nil {
		return empty, err
	}
	cur, err := parseTimeCursor(rawCursor, order)
	if err != nil {
		return empty, err
	}
	q := s.read.Watch.Query().Where(watch.UserID(user), watchOfVisibleEpisode())
	if order == orderContinueWatching {
		q.Where(watch.Completed(false))
	}
	if cur != nil {
		q.Where(watch.Or(watch.PlayedAtLT(cur.Time), watch.And(watch.PlayedAt(cur.Time), watch.IDLT(cur.ID))))
	}
	limit := pageSize(rawLimit, defaultPageSize, maxPageSize)
	rows, err := q.Order(watch.ByPlayedAt(entsql.OrderDesc()), watch.ByID(entsql.OrderDesc())).Limit(limit + 1).All(ctx)
	if err != nil {
		return empty, fmt.Errorf("list positions: %w", err)
	}
	var page commonapi.PageInfo
	if len(rows) > limit {
		rows = rows[:limit]
		last := rows[limit-1]
		page = commonapi.PageInfo{HasMore: true, NextCursor: timeCursor{Order: order, Time: last.PlayedAt.UTC(), ID: last.ID}.encode()}
	}
	ids := make([]uuid.UUID, len(rows))
	for i, r := range rows {
		ids[i] = r.EpisodeID
	}
	episodes, err := s.publicEpisodesByID(ctx, ids)
	if err != nil {
		return empty, err
	}
	items := make([]discoveryapi.WatchedEpisode, 0, len(rows))
	for _, r := range rows {
		e, ok := episodes[r.EpisodeID]
		if !ok {
			continue
		}
		finished := r.Completed || (e.DurationSeconds != nil && *e.DurationSeconds > 0 && r.PositionSeconds >= *e.DurationSeconds-finishedMargin)
		if order == orderContinueWatching && finished {
			continue // played to its end (a page may then be shorter than the limit)
		}
		items = append(items, discoveryapi.WatchedEpisode{Episode: e, PositionSeconds: r.PositionSeconds, Completed: finished, PlayedAt: r.PlayedAt.UTC()})
	}
	return discoveryapi.WatchList{Items: items, Page: page}, nil
}

// DeleteHistory implements discoveryapi.StrictServerInterface.
func (s *Service) DeleteHistory(ctx context.Context, _ discoveryapi.DeleteHistoryRequestObject) (discoveryapi.DeleteHistoryResponseObject, error) {
	user, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	err = s.db.InTx(ctx, func(tx *sql.Tx) error { return eraseUser(ctx, s.inTx(tx), user, now, false) })
	if err != nil {
		return nil, fmt.Errorf("delete history: %w", err)
	}
	return discoveryapi.DeleteHistory204Response{}, nil
}

// feedRecommendations is how many programs the feed's first page recommends.
const feedRecommendations = 10

// GetFeed implements discoveryapi.StrictServerInterface.
func (s *Service) GetFeed(ctx context.Context, req discoveryapi.GetFeedRequestObject) (discoveryapi.GetFeedResponseObject, error) {
	user, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	cur, err := parseTimeCursor(req.Params.Cursor, orderFeed)
	if err != nil {
		return nil, err
	}
	followed, err := s.read.Follow.Query().Where(follow.UserID(user)).Select(follow.FieldProgramID).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("read follows: %w", err)
	}
	followedIDs := make([]uuid.UUID, 0, len(followed))
	isFollowed := map[uuid.UUID]bool{}
	for _, f := range followed {
		followedIDs = append(followedIDs, f.ProgramID)
		isFollowed[f.ProgramID] = true
	}
	out := discoveryapi.GetFeed200JSONResponse{Items: []discoveryapi.PublicEpisode{}, Recommendations: []discoveryapi.PublicProgram{}}
	if len(followedIDs) > 0 {
		q := s.read.Episode.Query().Where(episode.ProgramIDIn(followedIDs...), ofVisibleProgram())
		latestFirst(q, nil)
		if cur != nil {
			q.Where(episode.Or(episode.PublishedAtLT(cur.Time), episode.And(episode.PublishedAt(cur.Time), episode.IDLT(cur.ID))))
		}
		limit := pageSize(req.Params.Limit, defaultPageSize, maxPageSize)
		rows, err := q.Limit(limit + 1).All(ctx)
		if err != nil {
			return nil, fmt.Errorf("read the feed: %w", err)
		}
		if len(rows) > limit {
			rows = rows[:limit]
			last := rows[limit-1]
			out.Page = commonapi.PageInfo{HasMore: true, NextCursor: timeCursor{Order: orderFeed, Time: last.PublishedAt.UTC(), ID: last.ID}.encode()}
		}
		rendered, err := s.renderEpisodes(ctx, rows, map[uuid.UUID]discoveryapi.PublicEpisode{})
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			if e, ok := rendered[r.ID]; ok {
				out.Items = append(out.Items, e)
			}
		}
	}
	if cur == nil {
		if out.Recommendations, err = s.recommend(ctx, user, followedIDs, isFollowed); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// recommend picks programs for user: those most like the programs it follows and the programs of
// the episodes it played last, then what is trending today, then the newest programs; never one
// it follows.
func (s *Service) recommend(ctx context.Context, user uuid.UUID, followed []uuid.UUID, exclude map[uuid.UUID]bool) ([]discoveryapi.PublicProgram, error) {
	seeds := append([]uuid.UUID{}, followed...)
	played, err := s.read.Watch.Query().Where(watch.UserID(user)).Order(watch.ByPlayedAt(entsql.OrderDesc())).Limit(20).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("read positions: %w", err)
	}
	for _, w := range played {
		seeds = append(seeds, w.ProgramID)
	}
	chosen := map[uuid.UUID]bool{}
	var picks []uuid.UUID
	pick := func(id uuid.UUID) {
		if len(picks) < feedRecommendations && !exclude[id] && !chosen[id] {
			chosen[id] = true
			picks = append(picks, id)
		}
	}
	// Like the seeds: the best match of each seed in turn, then the second, ...
	var lists [][]similarProgram
	seen := map[uuid.UUID]bool{}
	for _, id := range seeds {
		if seen[id] || len(lists) >= 5 {
			continue
		}
		seen[id] = true
		p, err := s.read.Program.Get(ctx, id)
		if discoverydb.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read program %s: %w", id, err)
		}
		similar, err := s.similarPrograms(ctx, p, feedRecommendations, exclude)
		if err != nil {
			return nil, err
		}
		lists = append(lists, similar)
	}
	for i := 0; i < feedRecommendations; i++ {
		for _, l := range lists {
			if i < len(l) && l[i].similarity > similarLanguage { // more than a language in common
				pick(l[i].row.ID)
			}
		}
	}
	if len(picks) < feedRecommendations { // what is trending today
		trending, err := s.ranked(ctx, rankTrendingDay, rankFilters{}, nil, pointer(int32(feedRecommendations+len(exclude))))
		if err != nil {
			return nil, err
		}
		for _, it := range trending.Items {
			if it.Program != nil {
				pick(it.Program.Id)
			}
		}
	}
	if len(picks) < feedRecommendations { // the newest programs
		ids, err := s.read.Program.Query().Order(program.ByPublishedAt(entsql.OrderDesc()), program.ByID(entsql.OrderDesc())).
			Limit(feedRecommendations + len(exclude)).IDs(ctx)
		if err != nil {
			return nil, fmt.Errorf("read the newest programs: %w", err)
		}
		for _, id := range ids {
			pick(id)
		}
	}
	programs, err := s.publicProgramsByID(ctx, picks)
	if err != nil {
		return nil, err
	}
	out := make([]discoveryapi.PublicProgram, 0, len(picks))
	for _, id := range picks {
		if p, ok := programs[id]; ok {
			out = append(out, p)
		}
	}
	return out, nil
}

func pointer[T any](v T) *T { return &v }
