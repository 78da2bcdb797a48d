package search

import (
	"fmt"
	"math"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/gen/openapi/searchapi"
	"github.com/mediamesh/mediamesh/services/search/index"
)

// Bounds of response values, as the contract declares them.
const (
	maxScore      = 1_000_000
	maxTookMillis = 60_000
)

// searchHits maps the hits of the index to the contract's SearchHit. Media URLs (covers and
// thumbnails) come from the media service, which the index does not know yet: they are left out
// rather than made up.
func searchHits(hits []index.Hit) ([]searchapi.SearchHit, error) {
	out := make([]searchapi.SearchHit, 0, len(hits))
	for _, h := range hits {
		item, err := searchHit(h)
		if err != nil {
			return nil, err
		}
		out = append(out, item)
	}
	return out, nil
}

// searchHit maps one hit.
func searchHit(h index.Hit) (searchapi.SearchHit, error) {
	id, err := uuid.Parse(h.ID)
	if err != nil {
		return searchapi.SearchHit{}, fmt.Errorf("indexed document %q: id: %w", h.ID, err)
	}
	item := searchapi.SearchHit{
		Id: id, Type: searchapi.HitType(h.Type), Title: h.Title, Language: h.Language,
		Kind: searchapi.ProgramKind(h.Kind), PublishedAt: h.PublishedAt.UTC(), Score: score(h.Score),
	}
	if h.Snippet != "" {
		item.Snippet = &h.Snippet
	}
	if h.Type == index.TypeEpisode {
		programID, err := uuid.Parse(h.ProgramID)
		if err != nil {
			return searchapi.SearchHit{}, fmt.Errorf("indexed episode %q: program id: %w", h.ID, err)
		}
		item.ProgramId = &programID
		if h.ProgramTitle != "" {
			item.ProgramTitle = &h.ProgramTitle
		}
		if h.DurationSeconds > 0 {
			d := int32(min(h.DurationSeconds, maxDuration))
			item.DurationSeconds = &d
		}
	}
	if h.CategoryID != "" && h.CategorySlug != "" && h.CategoryName != "" {
		categoryID, err := uuid.Parse(h.CategoryID)
		if err != nil {
			return searchapi.SearchHit{}, fmt.Errorf("indexed document %q: category id: %w", h.ID, err)
		}
		item.Category = &searchapi.CategoryRef{Id: categoryID, Slug: h.CategorySlug, Name: h.CategoryName}
	}
	return item, nil
}

// score returns a relevance score within the contract's range.
func score(s float64) float64 {
	if math.IsNaN(s) || s < 0 {
		return 0
	}
	return min(s, maxScore)
}

// searchFacets maps the facet counts of the index to the contract's SearchFacets: the requested
// facets, each with its values (none when nothing matched), or nil when none was requested.
func searchFacets(requested []string, counts map[string][]index.FacetCount) *searchapi.SearchFacets {
	if len(requested) == 0 {
		return nil
	}
	out := &searchapi.SearchFacets{}
	for _, f := range requested {
		buckets := make([]searchapi.FacetBucket, 0, len(counts[f]))
		for _, c := range counts[f] {
			buckets = append(buckets, searchapi.FacetBucket{Value: c.Value, Count: c.Count})
		}
		switch f {
		case index.FacetCategory:
			out.Category = &buckets
		case index.FacetLanguage:
			out.Language = &buckets
		case index.FacetKind:
			out.Kind = &buckets
		case index.FacetType:
			out.Type = &buckets
		}
	}
	return out
}
