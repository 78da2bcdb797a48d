package search

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mediamesh/mediamesh/gen/openapi/searchapi"
	"github.com/mediamesh/mediamesh/internal/apierror"
	"github.com/mediamesh/mediamesh/services/search/index"
)

// Limits of the query parameters, as the contract declares them. The contract is enforced
// before a handler runs; the handlers check again, so a direct call is as strict.
const (
	maxQueryRunes   = 200
	maxSuggestRunes = 100
	maxDuration     = 172800
	maxSlugBytes    = 64
)

// SearchContent implements searchapi.StrictServerInterface: a page of the published programs and
// episodes that match the text and filters, with the requested facet counts.
func (s *Service) SearchContent(ctx context.Context, req searchapi.SearchContentRequestObject) (searchapi.SearchContentResponseObject, error) {
	q, err := searchQuery(req.Params)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	res, err := s.index.Search(ctx, q)
	took := time.Since(start)
	if err != nil {
		return nil, indexError(err, "query.q")
	}
	items, err := searchHits(res.Hits)
	if err != nil {
		return nil, err
	}
	out := searchapi.SearchContent200JSONResponse{
		Items:  items,
		Facets: searchFacets(q.Facets, res.Facets),
		TookMs: int32(min(took.Milliseconds(), maxTookMillis)),
	}
	out.Page.HasMore = res.HasMore
	if res.NextCursor != "" {
		out.Page.NextCursor = &res.NextCursor
	}
	return out, nil
}

// searchQuery maps the parameters of searchContent to an index query, or returns the 400 that
// names every parameter at fault.
func searchQuery(p searchapi.SearchContentParams) (index.Query, error) {
	var (
		q      index.Query
		fields []apierror.FieldError
	)
	bad := func(field, message, code string) {
		fields = append(fields, apierror.FieldError{Field: "query." + field, Message: message, Code: code})
	}
	if p.Q != nil && *p.Q != "" && strings.TrimSpace(*p.Q) == "" {
		p.Q = nil // only white space: no words to look for, as if q were absent
	}
	if p.Q != nil {
		switch q.Text = *p.Q; {
		case !validText(q.Text):
			bad("q", "must be valid UTF-8 text without NUL", "invalid")
		case q.Text == "":
			bad("q", "must not be empty", "min_length")
		case utf8.RuneCountInString(q.Text) > maxQueryRunes:
			bad("q", fmt.Sprintf("must be at most %d characters", maxQueryRunes), "max_length")
		}
	}
	if p.Type != nil {
		if !p.Type.Valid() {
			bad("type", "must be program or episode", "enum")
		}
		q.Type = string(*p.Type)
	}
	if p.Category != nil {
		if !validSlug(*p.Category) {
			bad("category", "must be a category slug: lowercase letters and digits in words joined by -", "pattern")
		}
		q.Category = *p.Category
	}
	if p.Language != nil {
		if !validLanguage(*p.Language) {
			bad("language", "must be an ISO 639-1 code such as ar or en", "pattern")
		}
		q.Language = *p.Language
	}
	if p.Kind != nil {
		if !p.Kind.Valid() {
			bad("kind", "must be series, podcast, documentary or show", "enum")
		}
		q.Kind = string(*p.Kind)
	}
	duration := func(field string, v *int32) *int {
		if v == nil {
			return nil
		}
		if *v < 0 || *v > maxDuration {
			bad(field, fmt.Sprintf("must be 0 to %d seconds", maxDuration), "range")
		}
		n := int(*v)
		return &n
	}
	q.DurationMin = duration("duration_min", p.DurationMin)
	q.DurationMax = duration("duration_max", p.DurationMax)
	if q.DurationMin != nil && q.DurationMax != nil && *q.DurationMin > *q.DurationMax {
		bad("duration_min", "must not exceed duration_max", "range")
	}
	q.PublishedFrom, q.PublishedTo = p.PublishedFrom, p.PublishedTo
	if q.PublishedFrom != nil && q.PublishedTo != nil && q.PublishedFrom.After(*q.PublishedTo) {
		bad("published_from", "must not be after published_to", "range")
	}
	if p.Facets != nil {
		for _, f := range *p.Facets {
			if !f.Valid() {
				bad("facets", "must list category, language, kind or type", "enum")
				break
			}
			q.Facets = append(q.Facets, string(f))
		}
	}
	if p.Sort != nil {
		if !p.Sort.Valid() {
			bad("sort", "must be relevance or latest", "enum")
		}
		q.Sort = string(*p.Sort)
	}
	if p.Limit != nil {
		if *p.Limit < 1 || *p.Limit > index.MaxLimit {
			bad("limit", fmt.Sprintf("must be 1 to %d", index.MaxLimit), "range")
		}
		q.Limit = int(*p.Limit)
	}
	if p.Cursor != nil {
		if len(*p.Cursor) > index.MaxCursorLength {
			bad("cursor", "is not a cursor of this search", "invalid")
		}
		q.Cursor = *p.Cursor
	}
	if p.Q == nil && !hasFilter(p) {
		bad("q", "required when no filter is given", "required")
	}
	if len(fields) > 0 {
		return index.Query{}, apierror.BadRequest(problemDetail(fields, "give q or at least one filter"), fields...)
	}
	return q, nil
}

// hasFilter reports whether p has one of the filters that, like q, make a search (facets, sort,
// cursor and limit do not).
func hasFilter(p searchapi.SearchContentParams) bool {
	return p.Type != nil || p.Category != nil || p.Language != nil || p.Kind != nil ||
		p.DurationMin != nil || p.DurationMax != nil || p.PublishedFrom != nil || p.PublishedTo != nil
}

// problemDetail is the detail of a 400: the one that names why a search is missing, or the
// fields at fault.
func problemDetail(fields []apierror.FieldError, missing string) string {
	if len(fields) == 1 && fields[0].Code == "required" {
		return missing
	}
	parts := make([]string, len(fields))
	for i, f := range fields {
		parts[i] = f.Field + ": " + f.Message
	}
	return strings.Join(parts, "; ")
}

// indexError maps an error of the index to the API: a bad cursor and an invalid query are 400s
// (the latter naming textField when the index does not tell which parameter it refused), anything
// else stays an error (a 500, or a 503 while the database or the search engine is unreachable).
func indexError(err error, textField string) error {
	switch {
	case errors.Is(err, index.ErrBadCursor):
		const why = "is not a cursor of this search: pass page.next_cursor back with the same query and filters"
		return apierror.BadRequest("query.cursor: "+why, apierror.FieldError{Field: "query.cursor", Message: why, Code: "invalid"})
	case errors.Is(err, index.ErrInvalidQuery):
		msg := strings.TrimPrefix(err.Error(), index.ErrInvalidQuery.Error()+": ")
		return apierror.BadRequest(textField+": "+msg, apierror.FieldError{Field: textField, Message: msg, Code: "invalid"})
	case errors.Is(err, index.ErrUnavailable):
		return apierror.Unavailable("the search engine is unavailable; try again shortly", 5*time.Second)
	}
	return fmt.Errorf("search the index: %w", err)
}

// validSlug reports whether s matches the contract's CategorySlug: ^[a-z0-9]+(-[a-z0-9]+)*$, at
// most 64 bytes.
func validSlug(s string) bool {
	if s == "" || len(s) > maxSlugBytes || s[0] == '-' || s[len(s)-1] == '-' || strings.Contains(s, "--") {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// validText reports whether s is valid UTF-8 without NUL, which no indexed text holds.
func validText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// validLanguage reports whether s matches the contract's LanguageCode: two lowercase letters.
func validLanguage(s string) bool {
	return len(s) == 2 && s[0] >= 'a' && s[0] <= 'z' && s[1] >= 'a' && s[1] <= 'z'
}
