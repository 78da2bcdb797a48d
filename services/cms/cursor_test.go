package cms

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestCursorWireFormat holds the cursors to the format clients already hold: base64url JSON
// (internal/cursor), padded or not, and too long a title left out.
func TestCursorWireFormat(t *testing.T) {
	id := uuid.MustParse("0193a4c2-7b1e-7c3a-9f7e-2d1c5b8a9e01")
	at := time.Date(2026, 12, 7, 20, 0, 0, 123000000, time.UTC)
	enc := cursor{Sort: "created_at", At: at, ID: id}.encode()
	raw, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil || string(raw) != `{"s":"created_at","t":"2026-12-07T20:00:00.123Z","i":"0193a4c2-7b1e-7c3a-9f7e-2d1c5b8a9e01"}` {
		t.Fatalf("encoded %s (%v)", raw, err)
	}
	// A cursor an earlier build issued, padded as standard base64url would be, still decodes.
	for _, s := range []string{enc, base64.URLEncoding.EncodeToString(raw)} {
		c, err := decodeCursor(&s, "created_at")
		if err != nil || c.ID != id || !c.At.Equal(at) {
			t.Errorf("decodeCursor(%s) = %+v, %v", s, c, err)
		}
	}
	if _, err := decodeCursor(&enc, "title"); err == nil {
		t.Error("a cursor of another sort order was accepted")
	}
	long := strings.Repeat("é", 400)
	enc = cursor{Sort: "title", Title: &long, ID: id}.encode()
	if len(enc) > maxCursorBytes {
		t.Fatalf("cursor of %d bytes, want at most %d", len(enc), maxCursorBytes)
	}
	if c, err := decodeCursor(&enc, "title"); err != nil || c.Title != nil || c.ID != id {
		t.Errorf("a long title's cursor = %+v, %v; want the id alone", c, err)
	}
}
