package public

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"

	"github.com/mediamesh/mediamesh/gen/graphql/discoverygql/model"
	"github.com/mediamesh/mediamesh/gen/openapi/commonapi"
)

// Page sizes of the connections, as the SDL documents them (and the REST Limit parameter bounds them).
const (
	defaultFirst = 20
	maxFirst     = 100
)

// The REST lists hand out one cursor per page, after its last item; a connection needs one per
// edge. An edge cursor is therefore the REST cursor of the edge's page followed by how many items
// of that page to skip: "edge:" and base64url JSON, which no REST cursor (base64url, no colon) can
// be mistaken for. The last edge of a page that has a successor carries the REST cursor itself,
// so pageInfo.endCursor is exactly the REST next_cursor and `after` takes REST cursors too.
const edgeCursorPrefix = "edge:"

// position is where a page starts: skip items after the REST cursor after ("": the list's start).
type position struct {
	After string `json:"a,omitempty"`
	Skip  int    `json:"s"`
}

// cursor returns the edge cursor of the position.
func (p position) cursor() string {
	b, _ := json.Marshal(p) // cannot fail: plain fields
	return edgeCursorPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// parseAfter reads an `after` argument: an edge cursor, or a REST cursor, passed on as it is for
// the service to judge.
func parseAfter(after *string) (position, error) {
	if after == nil {
		return position{}, nil
	}
	raw, ok := strings.CutPrefix(*after, edgeCursorPrefix)
	if !ok {
		return position{After: *after}, nil
	}
	var p position
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err == nil {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		err = dec.Decode(&p)
	}
	if err != nil || p.Skip < 1 || p.Skip > maxFirst || strings.HasPrefix(p.After, edgeCursorPrefix) {
		return position{}, badInput("after", "is not a cursor of this connection")
	}
	return p, nil
}

// pageSize checks a connection's `first` (nil: the default).
func pageSize(first *int) (int, error) {
	if first == nil {
		return defaultFirst, nil
	}
	if *first < 1 || *first > maxFirst {
		return 0, badInput("first", "must be from 1 to 100")
	}
	return *first, nil
}

// fetchPage calls a REST list: limit items after cursor (nil: from the start).
type fetchPage[T any] func(ctx context.Context, cursor *string, limit int) ([]T, commonapi.PageInfo, error)

// page is one page of a connection: its items, each edge's cursor, and the page info.
type page[T any] struct {
	items   []T
	cursors []string
	info    *model.PageInfo
}

// paginate reads the page of first items from the position after (see parseAfter), in one REST
// call, or two when the skip and first together exceed a REST page.
func paginate[T any](ctx context.Context, after *string, first int, fetch fetchPage[T]) (page[T], error) {
	at, err := parseAfter(after)
	if err != nil {
		return page[T]{}, err
	}
	var rest *string
	if at.After != "" {
		rest = &at.After
	}
	if at.Skip > 0 && at.Skip+first > maxFirst { // skip a page of its own, then read from its cursor
		_, info, err := fetch(ctx, rest, at.Skip)
		if err != nil {
			return page[T]{}, err
		}
		if !info.HasMore || info.NextCursor == nil {
			return restPage[T](at, nil, commonapi.PageInfo{}), nil
		}
		at, rest = position{After: *info.NextCursor}, info.NextCursor
	}
	items, info, err := fetch(ctx, rest, at.Skip+first)
	if err != nil {
		return page[T]{}, err
	}
	items = items[min(at.Skip, len(items)):]
	return restPage(at, items, info), nil
}

// restPage describes items, read from the position at, as a connection page: one cursor per edge,
// the REST next_cursor on the last edge when there is one.
func restPage[T any](at position, items []T, info commonapi.PageInfo) page[T] {
	p := page[T]{items: items, cursors: make([]string, len(items)), info: &model.PageInfo{HasNextPage: info.HasMore}}
	for i := range items {
		p.cursors[i] = position{After: at.After, Skip: at.Skip + i + 1}.cursor()
	}
	if n := len(items); n > 0 {
		if info.HasMore && info.NextCursor != nil {
			p.cursors[n-1] = *info.NextCursor
		}
		p.info.StartCursor, p.info.EndCursor = &p.cursors[0], &p.cursors[n-1]
	}
	return p
}
