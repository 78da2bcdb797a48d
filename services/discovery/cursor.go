package discovery

import (
	"encoding/hex"
	"time"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/internal/apierror"
	pagecursor "github.com/mediamesh/mediamesh/internal/cursor"
)

// cursor is the position after the last item of a page in one list order: the item's sort key and
// its id. Clients see it as opaque base64url JSON (internal/cursor).
type cursor struct {
	Order  string     `json:"o"`           // the list and sort it belongs to
	Time   *time.Time `json:"t,omitempty"` // published_at orders
	Key    string     `json:"k,omitempty"` // title order: the title's collation key (hex)
	Season *int32     `json:"s,omitempty"` // episode_number orders: the season key
	Number *int32     `json:"n,omitempty"` // episode_number orders: the episode number
	ID     uuid.UUID  `json:"i"`
}

// The list orders a cursor can belong to.
const (
	orderProgramsLatest  = "programs.latest"
	orderProgramsTitle   = "programs.title"
	orderEpisodesNumber  = "episodes.episode_number"
	orderEpisodesReverse = "episodes.-episode_number"
	orderEpisodesLatest  = "episodes.latest"
	orderLatestEpisodes  = "latest"
)

// encode returns the cursor as the opaque string clients pass back.
func (c cursor) encode() string { return encodeCursor(c) }

// encodeCursor returns a cursor (a struct of plain fields) as the opaque string clients pass back
// (internal/cursor: base64url JSON).
func encodeCursor(c any) string { return pagecursor.Encode(c) }

// decodeCursor decodes raw, a cursor of type C that encodeCursor wrote for order (orderOf reads
// its order back); nil or empty raw means the first page. Anything else that is not such a cursor
// is a 400 naming query.cursor. The caller checks that the fields its order needs are there.
func decodeCursor[C any](raw *string, order string, orderOf func(*C) string) (*C, error) {
	if raw == nil || *raw == "" {
		return nil, nil
	}
	var c C
	if err := pagecursor.Decode(*raw, &c); err != nil {
		return nil, badCursor("is not a cursor of this list")
	}
	if orderOf(&c) != order {
		return nil, badCursor("belongs to another list or sort order")
	}
	return &c, nil
}

// parseCursor decodes a cursor of order (see decodeCursor).
func parseCursor(raw *string, order string) (*cursor, error) {
	c, err := decodeCursor(raw, order, func(c *cursor) string { return c.Order })
	if c == nil || err != nil {
		return nil, err
	}
	ok := c.ID != uuid.Nil
	switch order {
	case orderProgramsLatest, orderEpisodesLatest, orderLatestEpisodes:
		ok = ok && c.Time != nil
		if ok {
			*c.Time = c.Time.UTC() // stored times are UTC; SQLite compares them as text
		}
	case orderProgramsTitle:
		_, err := hex.DecodeString(c.Key)
		ok = ok && err == nil && len(c.Key) <= 2*maxTitleKeyBytes
	case orderEpisodesNumber, orderEpisodesReverse:
		ok = ok && c.Season != nil && c.Number != nil
	}
	if !ok {
		return nil, badCursor("is incomplete")
	}
	return c, nil
}

func badCursor(why string) error {
	return apierror.BadRequest("query.cursor: "+why, apierror.FieldError{Field: "query.cursor", Message: why, Code: "invalid"})
}

// pageSize returns the requested page size, or def, within [1, upper]. The contract bounds the
// limit before the handler runs; the clamp keeps a direct call as strict.
func pageSize(limit *int32, def, upper int) int {
	if limit == nil {
		return def
	}
	return min(max(int(*limit), 1), upper)
}
