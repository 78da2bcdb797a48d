package public

import (
	"context"
	"net/http"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/gen/graphql/discoverygql/model"
	"github.com/mediamesh/mediamesh/gen/openapi/commonapi"
	"github.com/mediamesh/mediamesh/gen/openapi/discoveryapi"
)

// Resolvers of a signed-in caller's own discovery data (issue 15), over listFollows,
// followProgram, unfollowProgram, listContinueWatching, listHistory, deleteHistory and getFeed.
// The caller's Authorization (or X-API-Key) is forwarded to the service, which answers for that
// account only; these answers are never cached (graphqlCache serves signed-in callers uncached).

// programArgs maps the problem fields of the operations on one program to the argument id.
var programArgs = argNames{"path.programId": "id"}

// MyFollows resolves Query.myFollows with listFollows.
func (q queryResolver) MyFollows(ctx context.Context, first *int, after *string) (*model.FollowConnection, error) {
	n, err := pageSize(first)
	if err != nil {
		return nil, err
	}
	p, err := paginate(ctx, after, n, func(ctx context.Context, cursor *string, limit int) ([]discoveryapi.FollowedProgram, commonapi.PageInfo, error) {
		res, err := q.discovery.ListFollowsWithResponse(ctx, &discoveryapi.ListFollowsParams{Cursor: cursor, Limit: ptr(int32(limit))})
		if err != nil {
			return nil, commonapi.PageInfo{}, callFailed(ctx, q.log, serviceDiscovery, err)
		}
		if res.JSON200 == nil {
			return nil, commonapi.PageInfo{}, failure(ctx, q.log, serviceDiscovery, res.HTTPResponse, res.Body, pageArgs)
		}
		return res.JSON200.Items, res.JSON200.Page, nil
	})
	if err != nil {
		return nil, err
	}
	conn := &model.FollowConnection{Edges: make([]*model.FollowEdge, len(p.items)), PageInfo: p.info}
	for i, it := range p.items {
		conn.Edges[i] = &model.FollowEdge{Cursor: p.cursors[i], Node: &model.Follow{FollowedAt: it.FollowedAt, Program: programModel(it.Program)}}
	}
	return conn, nil
}

// MyContinueWatching resolves Query.myContinueWatching with listContinueWatching.
func (q queryResolver) MyContinueWatching(ctx context.Context, first *int, after *string) (*model.WatchConnection, error) {
	return q.watched(ctx, first, after, func(ctx context.Context, cursor *string, limit int32) (*discoveryapi.WatchList, *http.Response, []byte, error) {
		res, err := q.discovery.ListContinueWatchingWithResponse(ctx, &discoveryapi.ListContinueWatchingParams{Cursor: cursor, Limit: &limit})
		if err != nil {
			return nil, nil, nil, err
		}
		return res.JSON200, res.HTTPResponse, res.Body, nil
	})
}

// MyHistory resolves Query.myHistory with listHistory.
func (q queryResolver) MyHistory(ctx context.Context, first *int, after *string) (*model.WatchConnection, error) {
	return q.watched(ctx, first, after, func(ctx context.Context, cursor *string, limit int32) (*discoveryapi.WatchList, *http.Response, []byte, error) {
		res, err := q.discovery.ListHistoryWithResponse(ctx, &discoveryapi.ListHistoryParams{Cursor: cursor, Limit: &limit})
		if err != nil {
			return nil, nil, nil, err
		}
		return res.JSON200, res.HTTPResponse, res.Body, nil
	})
}

// watchCall calls one REST list of played episodes: its answer (nil unless 200) and the raw response.
type watchCall func(ctx context.Context, cursor *string, limit int32) (*discoveryapi.WatchList, *http.Response, []byte, error)

// watched reads a page of a REST list of played episodes as a connection.
func (q queryResolver) watched(ctx context.Context, first *int, after *string, call watchCall) (*model.WatchConnection, error) {
	n, err := pageSize(first)
	if err != nil {
		return nil, err
	}
	p, err := paginate(ctx, after, n, func(ctx context.Context, cursor *string, limit int) ([]discoveryapi.WatchedEpisode, commonapi.PageInfo, error) {
		list, res, body, err := call(ctx, cursor, int32(limit))
		if err != nil {
			return nil, commonapi.PageInfo{}, callFailed(ctx, q.log, serviceDiscovery, err)
		}
		if list == nil {
			return nil, commonapi.PageInfo{}, failure(ctx, q.log, serviceDiscovery, res, body, pageArgs)
		}
		return list.Items, list.Page, nil
	})
	if err != nil {
		return nil, err
	}
	conn := &model.WatchConnection{Edges: make([]*model.WatchEdge, len(p.items)), PageInfo: p.info}
	for i, it := range p.items {
		conn.Edges[i] = &model.WatchEdge{Cursor: p.cursors[i], Node: &model.WatchedEpisode{
			PositionSeconds: int(it.PositionSeconds), Completed: it.Completed, PlayedAt: it.PlayedAt, Episode: episodeModel(it.Episode, nil),
		}}
	}
	return conn, nil
}

// MyFeed resolves Query.myFeed with getFeed: the recommendations come with the list's first page
// (no `after`), as REST hands them out.
func (q queryResolver) MyFeed(ctx context.Context, first *int, after *string) (*model.Feed, error) {
	n, err := pageSize(first)
	if err != nil {
		return nil, err
	}
	recommendations := []*model.Program{}
	p, err := paginate(ctx, after, n, func(ctx context.Context, cursor *string, limit int) ([]discoveryapi.PublicEpisode, commonapi.PageInfo, error) {
		res, err := q.discovery.GetFeedWithResponse(ctx, &discoveryapi.GetFeedParams{Cursor: cursor, Limit: ptr(int32(limit))})
		if err != nil {
			return nil, commonapi.PageInfo{}, callFailed(ctx, q.log, serviceDiscovery, err)
		}
		if res.JSON200 == nil {
			return nil, commonapi.PageInfo{}, failure(ctx, q.log, serviceDiscovery, res.HTTPResponse, res.Body, pageArgs)
		}
		if after == nil && cursor == nil {
			for _, r := range res.JSON200.Recommendations {
				recommendations = append(recommendations, programModel(r))
			}
		}
		return res.JSON200.Items, res.JSON200.Page, nil
	})
	if err != nil {
		return nil, err
	}
	return &model.Feed{Episodes: episodeConnection(p, nil), Recommendations: recommendations}, nil
}

// mutationResolver answers the Mutation type.
type mutationResolver struct{ *resolver }

// FollowProgram resolves Mutation.followProgram with followProgram, and the followed program with
// getPublicProgram.
func (m mutationResolver) FollowProgram(ctx context.Context, id string) (*model.Follow, error) {
	programID, err := uuid.Parse(id)
	if err != nil {
		return nil, badInput("id", "is not a UUID")
	}
	res, err := m.discovery.FollowProgramWithResponse(ctx, programID)
	if err != nil {
		return nil, callFailed(ctx, m.log, serviceDiscovery, err)
	}
	if res.JSON200 == nil {
		return nil, failure(ctx, m.log, serviceDiscovery, res.HTTPResponse, res.Body, programArgs)
	}
	program, err := loadersFrom(ctx).programs.load(ctx, id, 1)
	if err != nil {
		return nil, err
	}
	return &model.Follow{FollowedAt: res.JSON200.FollowedAt, Program: program}, nil
}

// UnfollowProgram resolves Mutation.unfollowProgram with unfollowProgram.
func (m mutationResolver) UnfollowProgram(ctx context.Context, id string) (bool, error) {
	programID, err := uuid.Parse(id)
	if err != nil {
		return false, badInput("id", "is not a UUID")
	}
	res, err := m.discovery.UnfollowProgramWithResponse(ctx, programID)
	if err != nil {
		return false, callFailed(ctx, m.log, serviceDiscovery, err)
	}
	if res.StatusCode() != http.StatusNoContent {
		return false, failure(ctx, m.log, serviceDiscovery, res.HTTPResponse, res.Body, programArgs)
	}
	return true, nil
}

// DeleteHistory resolves Mutation.deleteHistory with deleteHistory.
func (m mutationResolver) DeleteHistory(ctx context.Context) (bool, error) {
	res, err := m.discovery.DeleteHistoryWithResponse(ctx)
	if err != nil {
		return false, callFailed(ctx, m.log, serviceDiscovery, err)
	}
	if res.StatusCode() != http.StatusNoContent {
		return false, failure(ctx, m.log, serviceDiscovery, res.HTTPResponse, res.Body, nil)
	}
	return true, nil
}
