package auth

import (
	"encoding/base64"
	"errors"
	"strings"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/internal/cursor"
)

// The lists of users and of API keys page by id (time-ordered UUID v7s); a cursor is the id of a
// page's last item, under a name of its list's own, so that one list refuses the other's cursor.
// The cursors of the hand-written format before internal/cursor (base64url "u:<id>", and "k" before
// that for keys) are still read, so that a page a client was walking through an upgrade goes on.

type userCursor struct {
	User *uuid.UUID `json:"user"`
}

type keyCursor struct {
	Key *uuid.UUID `json:"key"`
}

var errBadCursor = errors.New("not a cursor from this list")

func encodeUserCursor(id string) string {
	u := uuid.MustParse(id)
	return cursor.Encode(userCursor{User: &u})
}

func decodeUserCursor(raw string) (string, error) {
	var c userCursor
	if err := cursor.Decode(raw, &c); err != nil || c.User == nil {
		return legacyCursor(raw)
	}
	return c.User.String(), nil
}

// legacyCursor reads a cursor of the format before internal/cursor: base64url of "u:" and the id.
func legacyCursor(raw string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil {
		return "", errBadCursor
	}
	rest, ok := strings.CutPrefix(string(b), "u:")
	if !ok {
		return "", errBadCursor
	}
	id, err := uuid.Parse(rest)
	if err != nil {
		return "", errBadCursor
	}
	return id.String(), nil
}

func encodeKeyCursor(id string) string {
	k := uuid.MustParse(id)
	return cursor.Encode(keyCursor{Key: &k})
}

func decodeKeyCursor(raw string) (string, error) {
	var c keyCursor
	if err := cursor.Decode(raw, &c); err != nil || c.Key == nil {
		if rest, ok := strings.CutPrefix(raw, "k"); ok {
			return legacyCursor(rest)
		}
		return "", errBadCursor
	}
	return c.Key.String(), nil
}
