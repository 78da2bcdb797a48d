package search

import (
	"context"
	"fmt"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/gen/openapi/searchapi"
	"github.com/mediamesh/mediamesh/internal/apierror"
	"github.com/mediamesh/mediamesh/services/search/index"
)

// SuggestContent implements searchapi.StrictServerInterface: the titles of published programs
// and episodes that complete the typed prefix, best first.
func (s *Service) SuggestContent(ctx context.Context, req searchapi.SuggestContentRequestObject) (searchapi.SuggestContentResponseObject, error) {
	p := req.Params
	var fields []apierror.FieldError
	bad := func(field, message, code string) {
		fields = append(fields, apierror.FieldError{Field: "query." + field, Message: message, Code: code})
	}
	prefix := p.Q
	if !validText(prefix) {
		bad("q", "must be valid UTF-8 text without NUL", "invalid")
	} else if prefix == "" || utf8.RuneCountInString(prefix) > maxSuggestRunes {
		bad("q", fmt.Sprintf("must be 1 to %d characters", maxSuggestRunes), "length")
	}
	language := ""
	if p.Language != nil {
		if !validLanguage(*p.Language) {
			bad("language", "must be an ISO 639-1 code such as ar or en", "pattern")
		}
		language = *p.Language
	}
	limit := index.DefaultSuggestLimit
	if p.Limit != nil {
		if *p.Limit < 1 || *p.Limit > index.MaxSuggestLimit {
			bad("limit", fmt.Sprintf("must be 1 to %d", index.MaxSuggestLimit), "range")
		}
		limit = int(*p.Limit)
	}
	if len(fields) > 0 {
		return nil, apierror.BadRequest(problemDetail(fields, ""), fields...)
	}
	suggestions, err := s.index.Suggest(ctx, prefix, language, limit)
	if err != nil {
		return nil, indexError(err, "query.q")
	}
	items := make([]searchapi.Suggestion, 0, len(suggestions))
	for _, sg := range suggestions {
		id, err := uuid.Parse(sg.ID)
		if err != nil {
			return nil, fmt.Errorf("indexed document %q: id: %w", sg.ID, err)
		}
		items = append(items, searchapi.Suggestion{Id: id, Text: sg.Text, Type: searchapi.HitType(sg.Type)})
	}
	return searchapi.SuggestContent200JSONResponse{Items: items}, nil
}
