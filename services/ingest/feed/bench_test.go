package feed

import (
	"testing"

	"github.com/mediamesh/mediamesh/services/ingest/feed/feedtest"
)

// BenchmarkParseFeed parses the six-item podcast fixture (iTunes tags, CDATA descriptions).
func BenchmarkParseFeed(b *testing.B) {
	data := feedtest.PodcastFeed()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := ParseFeed(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseJSON maps the talks fixture with its declarative mapping.
func BenchmarkParseJSON(b *testing.B) {
	data, m := feedtest.TalksJSON(), Mapping(feedtest.TalksMapping)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := ParseJSON(data, m); err != nil {
			b.Fatal(err)
		}
	}
}
