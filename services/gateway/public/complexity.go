package public

import (
	"github.com/mediamesh/mediamesh/gen/graphql/discoverygql"
	"github.com/mediamesh/mediamesh/gen/graphql/discoverygql/model"
)

// defaultSuggestFirst is suggest's default `first`, as the SDL declares it (the connections'
// default is defaultFirst).
const defaultSuggestFirst = 8

// pageCost prices a list field by its page size: a page of n items costs n times what one item
// selects (plus the field itself), so the complexity limit bounds how many upstream items a query
// can ask for, however the lists are nested.
func pageCost(child int, first *int, def int) int {
	n := def
	if first != nil && *first > 0 {
		n = min(*first, maxFirst) // a larger first is refused by the resolver as BAD_USER_INPUT
	}
	return 1 + n*child
}

// complexity makes the cost of every connection scale with its `first`.
func complexity() discoverygql.ComplexityRoot {
	var c discoverygql.ComplexityRoot
	c.Query.Programs = func(child int, first *int, _ *string, _ *model.ProgramFilter, _ *model.ProgramSort) int {
		return pageCost(child, first, defaultFirst)
	}
	c.Query.LatestEpisodes = func(child int, first *int, _ *string, _ *string, _ *model.ProgramKind, _ *string) int {
		return pageCost(child, first, defaultFirst)
	}
	c.Query.Search = func(child int, _ *string, _ *model.SearchFilter, _ *model.SearchSort, first *int, _ *string) int {
		return pageCost(child, first, defaultFirst)
	}
	c.Query.Suggest = func(child int, _ string, _ *string, first *int) int {
		return pageCost(child, first, defaultSuggestFirst)
	}
	c.Query.Trending = func(child int, _ *model.ContentType, _ *model.TrendingWindow, _ *model.RankingFilter, first *int, _ *string) int {
		return pageCost(child, first, defaultFirst)
	}
	c.Query.Popular = func(child int, _ *model.ContentType, _ *model.PopularPeriod, _ *model.RankingFilter, first *int, _ *string) int {
		return pageCost(child, first, defaultFirst)
	}
	c.Query.SimilarPrograms = func(child int, _ string, first *int) int { return pageCost(child, first, defaultSimilarFirst) }
	c.Query.SimilarEpisodes = func(child int, _ string, first *int) int { return pageCost(child, first, defaultSimilarFirst) }
	c.Query.MyFollows = func(child int, first *int, _ *string) int { return pageCost(child, first, defaultFirst) }
	c.Query.MyContinueWatching = func(child int, first *int, _ *string) int { return pageCost(child, first, defaultFirst) }
	c.Query.MyHistory = func(child int, first *int, _ *string) int { return pageCost(child, first, defaultFirst) }
	c.Query.MyFeed = func(child int, first *int, _ *string) int { return pageCost(child, first, defaultFirst) }
	c.Program.Episodes = func(child int, first *int, _ *string, _ *int, _ *model.EpisodeSort) int {
		return pageCost(child, first, defaultFirst)
	}
	return c
}
