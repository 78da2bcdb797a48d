package metadata

import (
	"github.com/mediamesh/mediamesh/internal/cursor"

	"encoding/base64"
	"testing"
)

func TestCursorsRoundTrip(t *testing.T) {
	v := int32(42)
	if got, err := decodeVersionCursor(cursor.Encode(versionCursor{Version: &v})); err != nil || got != v {
		t.Fatalf("version cursor: %d, %v", got, err)
	}
	slug := "sports-news"
	if got, err := decodeCategoryCursor(cursor.Encode(categoryCursor{Slug: &slug})); err != nil || got != slug {
		t.Fatalf("category cursor: %q, %v", got, err)
	}
	// The contract's examples are cursors of this shape.
	if got, err := decodeVersionCursor("eyJ2ZXJzaW9uIjoyfQ"); err != nil || got != 2 {
		t.Fatalf("example version cursor: %d, %v", got, err)
	}
	if got, err := decodeCategoryCursor("eyJzbHVnIjoic3BvcnRzLW5ld3MifQ"); err != nil || got != slug {
		t.Fatalf("example category cursor: %q, %v", got, err)
	}
}

// FuzzCursors feeds untrusted cursors to both decoders: they never panic, and what they accept
// encodes back to a cursor that decodes to the same position.
func FuzzCursors(f *testing.F) {
	for _, s := range []string{"", "e30", "eyJ2ZXJzaW9uIjoyfQ", "eyJzbHVnIjoic3BvcnRzLW5ld3MifQ", "!!",
		base64.RawURLEncoding.EncodeToString([]byte(`{"version":-1}`)), base64.RawURLEncoding.EncodeToString([]byte(`{"slug":"a--b"}`))} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if v, err := decodeVersionCursor(raw); err == nil {
			if v < 1 {
				t.Fatalf("accepted version %d", v)
			}
			if again, err := decodeVersionCursor(cursor.Encode(versionCursor{Version: &v})); err != nil || again != v {
				t.Fatalf("version %d does not round-trip: %d, %v", v, again, err)
			}
		}
		if slug, err := decodeCategoryCursor(raw); err == nil {
			if !slugRE.MatchString(slug) {
				t.Fatalf("accepted slug %q", slug)
			}
			if again, err := decodeCategoryCursor(cursor.Encode(categoryCursor{Slug: &slug})); err != nil || again != slug {
				t.Fatalf("slug %q does not round-trip: %q, %v", slug, again, err)
			}
		}
	})
}
