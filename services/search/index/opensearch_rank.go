package index

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
)

// Ranking by relevance on OpenSearch (issue 18, the 1M-episode benchmark).
//
// The rank of a hit is its BM25 text score times freshnessFactor times popularityFactor, the
// factors of the other engines, applied to a window of the best text matches: OpenSearch is asked
// for the osRankWindow documents of highest BM25 score, with their id, publication time and
// popularity (doc values, no stored field); the factors are applied here, the window sorted by rank and id, the
// page cut after the cursor, and the page's documents fetched by id (_mget). This is a rescore of
// the best text matches, done here because OpenSearch's rescore cannot be paged by search_after.
// Before, a function_score over the query multiplied the factors into the score of every match
// (two common words match a fifth of a million documents): over 1,010,000 documents, 16 queries
// took 53.8 ms each on average, 42.7 ms now (docs/search-scale.md). The profile API shows that the
// BM25 query alone still scores all 200,000 matches of a common pair: their block maxima are too
// close to the window's lowest score for Lucene's block-max WAND to skip any.
//
// A page that the window cannot fill while the window is full (deep pages) takes a window four
// times larger, up to max_result_window: the order of those pages is that of the larger window, so
// a document near the window's edge may move across the page boundary there.

const (
	// osRankWindow is the window of a search by relevance: the best text matches it ranks.
	osRankWindow = 200
	// osMaxWindow is the largest window: the index's max_result_window.
	osMaxWindow = 10000
)

// osWindowHit is a hit of a window: its id, text score and rank factors' fields.
type osWindowHit struct {
	Score  *float64 `json:"_score"`
	Fields struct {
		ID         []string  `json:"id"`
		Published  []int64   `json:"published"`
		Popularity []float64 `json:"popularity"`
	} `json:"fields"`
}

// rankedHit is a document of a window with its rank.
type rankedHit struct {
	id   string
	rank float64
}

// searchRelevance runs the relevance search of p: query is its text and filters, aggs its facet
// aggregations (nil for none). When a document of the page is gone by the time it is fetched
// (deleted, or the alias moved to a rebuilt index between the two requests), the search runs once
// more.
func (o *OpenSearch) searchRelevance(ctx context.Context, p *plan, query m, aggs m) (Result, error) {
	res, complete, err := o.searchRelevanceOnce(ctx, p, query, aggs)
	if err != nil || complete {
		return res, err
	}
	res, _, err = o.searchRelevanceOnce(ctx, p, query, aggs)
	return res, err
}

// searchRelevanceOnce is searchRelevance's one try; complete reports whether every document of
// the page was found.
func (o *OpenSearch) searchRelevanceOnce(ctx context.Context, p *plan, query m, aggs m) (_ Result, complete bool, _ error) {
	k := p.limit + 1
	var (
		page   []rankedHit
		facets map[string][]FacetCount
	)
	for window := max(osRankWindow, 2*k); ; window = min(4*window, osMaxWindow) {
		body := m{
			"size": window, "track_total_hits": false, "query": query,
			// Doc values only: the stored fields (_id and _source) sit in compressed blocks, one
			// to decompress per hit (hot_threads showed them in the fetch phase of a 200-hit window).
			"stored_fields": "_none_", "docvalue_fields": []string{"id", "published", "popularity"},
		}
		if aggs != nil && facets == nil {
			body["aggs"] = aggs
		}
		raw, err := json.Marshal(body)
		if err != nil {
			return Result{}, false, fmt.Errorf("index: encode search: %w", err)
		}
		var out struct {
			Hits struct {
				Hits []osWindowHit `json:"hits"`
			} `json:"hits"`
			Aggregations osAggregations `json:"aggregations"`
		}
		if err := o.do(ctx, http.MethodPost, osRequest{path: "/" + url.PathEscape(o.name()) + "/_search", body: raw}, &out); err != nil {
			return Result{}, false, fmt.Errorf("index: search: %w", err)
		}
		if aggs != nil && facets == nil {
			facets = out.Aggregations.facets(p.facets)
		}
		hits := out.Hits.Hits
		ranked := make([]rankedHit, 0, len(hits))
		for _, h := range hits {
			text := 0.0
			if h.Score != nil {
				text = *h.Score
			}
			var published int64
			if len(h.Fields.Published) > 0 {
				published = h.Fields.Published[0]
			}
			pop := 0.0
			if len(h.Fields.Popularity) > 0 {
				pop = h.Fields.Popularity[0]
			}
			if len(h.Fields.ID) == 0 {
				continue
			}
			r := rankedHit{id: h.Fields.ID[0], rank: text * freshnessFactor(published, p.now) * popularityFactor(pop)}
			if p.after != nil && !(r.rank < p.after.Score || r.rank == p.after.Score && r.id > p.after.ID) {
				continue // on a page before the cursor's
			}
			ranked = append(ranked, r)
		}
		slices.SortFunc(ranked, func(a, b rankedHit) int {
			if c := cmp.Compare(b.rank, a.rank); c != 0 {
				return c
			}
			return cmp.Compare(a.id, b.id)
		})
		page = ranked[:min(k, len(ranked))]
		if len(page) == k || len(hits) < window || window >= osMaxWindow {
			break // a full page, or every match is in the window
		}
	}
	docs, err := o.docsByID(ctx, page)
	if err != nil {
		return Result{}, false, err
	}
	return p.result(docs, facets), len(docs) == len(page), nil
}

// docsByID returns the hits of page with their documents, fetched in one _mget; a document
// deleted since the search is left out.
func (o *OpenSearch) docsByID(ctx context.Context, page []rankedHit) ([]Hit, error) {
	if len(page) == 0 {
		return nil, nil
	}
	ids := make([]string, len(page))
	for i, h := range page {
		ids[i] = h.id
	}
	raw, err := json.Marshal(m{"ids": ids})
	if err != nil {
		return nil, fmt.Errorf("index: encode get: %w", err)
	}
	var out struct {
		Docs []struct {
			Found  bool `json:"found"`
			Source struct {
				Doc Doc `json:"doc"`
			} `json:"_source"`
		} `json:"docs"`
	}
	path := "/" + url.PathEscape(o.name()) + "/_mget?_source_includes=doc&realtime=false"
	if err := o.do(ctx, http.MethodPost, osRequest{path: path, body: raw}, &out); err != nil {
		return nil, fmt.Errorf("index: search: get the page's documents: %w", err)
	}
	hits := make([]Hit, 0, len(page))
	for i, d := range out.Docs {
		if !d.Found || i >= len(page) {
			continue
		}
		hits = append(hits, Hit{Doc: d.Source.Doc, Score: page[i].rank})
	}
	return hits, nil
}

// osAggregations are the terms aggregations of a search's facets.
type osAggregations map[string]struct {
	Buckets []struct {
		Key   string `json:"key"`
		Count int64  `json:"doc_count"`
	} `json:"buckets"`
}

// facets returns the counts of the facets names.
func (a osAggregations) facets(names []string) map[string][]FacetCount {
	if len(names) == 0 {
		return nil
	}
	out := make(map[string][]FacetCount, len(names))
	for _, f := range names {
		for _, b := range a[f].Buckets {
			out[f] = append(out[f], FacetCount{Value: b.Key, Count: b.Count})
		}
	}
	return out
}
