package index

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// cursorVersion is the version of the cursor format; a cursor of another version is bad.
const cursorVersion = 1

// cursor is the position of the last hit of a page, the keyset that the next page starts
// after. It travels as base64url-encoded JSON.
type cursor struct {
	// Version is cursorVersion.
	Version int `json:"v"`
	// Query is the fingerprint of the query the cursor belongs to.
	Query string `json:"q"`
	// Sort is the sort order of the query, SortRelevance or SortLatest.
	Sort string `json:"o"`
	// Score is the last hit's score (relevance order).
	Score float64 `json:"s,omitempty"`
	// Published is the last hit's publication time in unix microseconds (latest order).
	Published int64 `json:"p,omitempty"`
	// ID is the last hit's id, the tie breaker of both orders.
	ID string `json:"id"`
	// Now is the reference time of freshness in unix seconds (relevance order).
	Now int64 `json:"n,omitempty"`
}

// fingerprint identifies a query for its cursors: the text, the filters and the sort, not the
// page size or facets, which may change from page to page.
func fingerprint(q Query, sort string) string {
	var b strings.Builder
	field := func(s string) {
		b.WriteString(strconv.Itoa(len(s)))
		b.WriteByte(':')
		b.WriteString(s)
	}
	optInt := func(v *int) {
		if v == nil {
			field("-")
			return
		}
		field(strconv.Itoa(*v))
	}
	field(strings.TrimSpace(q.Text))
	field(q.Type)
	field(q.Category)
	field(q.Language)
	field(q.Kind)
	optInt(q.DurationMin)
	optInt(q.DurationMax)
	for _, t := range []*int64{unixMicros(q.PublishedFrom), unixMicros(q.PublishedTo)} {
		if t == nil {
			field("-")
		} else {
			field(strconv.FormatInt(*t, 10))
		}
	}
	field(sort)
	sum := sha256.Sum256([]byte(b.String()))
	return base64.RawURLEncoding.EncodeToString(sum[:9])
}

// cursorAfter returns the cursor of the page that follows hit.
func (p *plan) cursorAfter(h Hit) string {
	c := cursor{Version: cursorVersion, Query: p.fingerprint, Sort: p.sort, ID: h.ID}
	if p.sort == SortRelevance {
		c.Score = h.Score
		c.Now = p.now
	} else {
		c.Published = h.PublishedAt.UnixMicro()
	}
	b, err := json.Marshal(c)
	if err != nil { // a cursor holds only strings and finite numbers
		panic("index: encode cursor: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor decodes s, checking that it belongs to the query with fingerprint fp and sort
// order. Every failure wraps ErrBadCursor.
func decodeCursor(s, fp, sort string) (*cursor, error) {
	if len(s) > MaxCursorLength {
		return nil, fmt.Errorf("%w: longer than %d characters", ErrBadCursor, MaxCursorLength)
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: not base64url", ErrBadCursor)
	}
	var c cursor
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("%w: malformed", ErrBadCursor)
	}
	switch {
	case c.Version != cursorVersion:
		return nil, fmt.Errorf("%w: unknown version", ErrBadCursor)
	case c.Query != fp || c.Sort != sort:
		return nil, fmt.Errorf("%w: it belongs to another query; pass the cursor with the same query and filters", ErrBadCursor)
	case c.ID == "":
		return nil, fmt.Errorf("%w: no position", ErrBadCursor)
	case math.IsNaN(c.Score) || math.IsInf(c.Score, 0) || c.Score < 0:
		return nil, fmt.Errorf("%w: bad score", ErrBadCursor)
	}
	return &c, nil
}

// unixMicros returns t in unix microseconds, or nil for nil.
func unixMicros(t *time.Time) *int64 {
	if t == nil {
		return nil
	}
	v := t.UnixMicro()
	return &v
}
