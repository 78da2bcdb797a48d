package auth

import (
	"errors"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/internal/cursor"
)

// The lists of users and of API keys page by id (time-ordered UUID v7s); a cursor is the id of a
// page's last item, under a name of its list's own, so that one list refuses the other's cursor.

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
		return "", errBadCursor
	}
	return c.User.String(), nil
}

func encodeKeyCursor(id string) string {
	k := uuid.MustParse(id)
	return cursor.Encode(keyCursor{Key: &k})
}

func decodeKeyCursor(raw string) (string, error) {
	var c keyCursor
	if err := cursor.Decode(raw, &c); err != nil || c.Key == nil {
		return "", errBadCursor
	}
	return c.Key.String(), nil
}
