package cms

import (
	"strings"
	"time"
	"unicode/utf8"

	entsql "entgo.io/ent/dialect/sql"
	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/gen/openapi/commonapi"
	"github.com/mediamesh/mediamesh/internal/apierror"
	pagecursor "github.com/mediamesh/mediamesh/internal/cursor"
)

// Page sizes and the longest cursor, as the contract's Limit and Cursor parameters declare them.
const (
	defaultLimit   = 20
	maxLimit       = 100
	maxCursorBytes = 512
)

// cursor is the position after the last item of a page: the sort order it belongs to, that
// item's sort key (one of At, Title, or Season and Number) and its id, which breaks ties. It
// travels as an opaque cursor of internal/cursor (base64url JSON). A title too long for the cursor
// parameter is left out (Title nil); the list then reads it again by id.
type cursor struct {
	Sort   string    `json:"s"`
	At     time.Time `json:"t,omitzero"`
	Title  *string   `json:"x,omitempty"`
	Season int32     `json:"a,omitempty"`
	Number int32     `json:"n,omitempty"`
	ID     uuid.UUID `json:"i"`
}

// encode returns the cursor as the opaque string clients pass back, at most maxCursorBytes.
func (c cursor) encode() string {
	if enc := pagecursor.Encode(c); len(enc) <= maxCursorBytes || c.Title == nil {
		return enc
	}
	c.Title = nil
	return c.encode()
}

// decodeCursor reads the cursor parameter of a list sorted by sort; nil without one. A cursor
// that does not decode, or that another sort order produced, is 400 on query.cursor. Padding
// ('=') is tolerated, as it always was.
func decodeCursor(raw *string, sort string) (*cursor, error) {
	if raw == nil || *raw == "" {
		return nil, nil
	}
	var c cursor
	if err := pagecursor.Decode(strings.TrimRight(*raw, "="), &c); err != nil || c.ID == uuid.Nil {
		return nil, badCursor("is not a cursor this service issued")
	}
	if c.Sort != sort {
		return nil, badCursor("belongs to another sort order; start again without a cursor")
	}
	if c.Title != nil && (!utf8.ValidString(*c.Title) || strings.ContainsRune(*c.Title, 0)) {
		return nil, badCursor("is not a cursor this service issued")
	}
	c.At = c.At.UTC()
	return &c, nil
}

func badCursor(msg string) error {
	return apierror.BadRequest("query.cursor: "+msg, apierror.FieldError{Field: "query.cursor", Message: msg, Code: "invalid"})
}

// pageLimit is the page size asked for, defaulted and bounded as the contract declares.
func pageLimit(limit *int32) int {
	if limit == nil {
		return defaultLimit
	}
	return int(min(max(*limit, 1), maxLimit))
}

// paginate cuts rows, read with limit+1, to a page and says where the next one starts.
func paginate[T any](rows []T, limit int, key func(T) cursor) ([]T, commonapi.PageInfo, error) {
	if len(rows) <= limit {
		return rows, commonapi.PageInfo{HasMore: false}, nil
	}
	rows = rows[:limit]
	next := key(rows[limit-1]).encode()
	return rows, commonapi.PageInfo{HasMore: true, NextCursor: &next}, nil
}

// after is the keyset predicate of the rows that come after the position (keys..., id) in the
// order of the expressions cols, then the id column, all ascending or all descending:
// (c1 > k1) OR (c1 = k1 AND c2 > k2) OR ... OR (c1 = k1 AND ... AND id > id0).
func after(s *entsql.Selector, cols []string, keys []any, id uuid.UUID, desc bool) *entsql.Predicate {
	op := entsql.OpGT
	if desc {
		op = entsql.OpLT
	}
	cols = append(cols[:len(cols):len(cols)], s.C("id"))
	keys = append(keys[:len(keys):len(keys)], id)
	ors := make([]*entsql.Predicate, len(cols))
	for i := range cols {
		ands := make([]*entsql.Predicate, 0, i+1)
		for j := range i {
			ands = append(ands, compare(cols[j], entsql.OpEQ, keys[j]))
		}
		ors[i] = entsql.And(append(ands, compare(cols[i], op, keys[i]))...)
	}
	return entsql.Or(ors...)
}

func compare(col string, op entsql.Op, v any) *entsql.Predicate {
	return entsql.P(func(b *entsql.Builder) { b.WriteString(col).WriteOp(op).Arg(v) })
}
