package search

import (
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/gen/events/discoveryevents"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
	"github.com/mediamesh/mediamesh/internal/eventbus"
)

func popularityMsg(t *testing.T, contentType, contentID, programID string, popularity float64) eventbus.Message {
	id := newID()
	return message(t, &discoveryevents.PopularityChanged{EventID: id, OccurredAt: time.Now().Truncate(time.Millisecond), AggregateID: programID,
		ContentType: contentType, ContentID: contentID, Popularity: popularity}, id)
}

// TestPopularityFeedsRanking: discovery's popularity.changed raises a document among equal
// matches, whether it comes before or after the content, survives a restart (the popularity is
// stored), and never lowers what it raised.
func TestPopularityFeedsRanking(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		ranked := func() []string { return hitIDs(f.search("q", "harbour", "type", "program").Items) }
		a, b, c := programSnap(1, "Harbour stories", "en"), programSnap(1, "Harbour stories", "en"), programSnap(1, "Harbour stories", "en")
		// c's popularity comes before c itself.
		f.feed(popularityMsg(t, discoveryevents.PopularityContentTypeProgram, c.ID, c.ID, 64))
		f.feed(publishedMsg(t, a), publishedMsg(t, b), publishedMsg(t, c))
		if got := ranked(); len(got) != 3 || got[0] != c.ID {
			t.Fatalf("found %v, want the popular %s first", got, c.ID)
		}
		plain := ranked()[1:]
		last := plain[len(plain)-1]
		f.feed(popularityMsg(t, discoveryevents.PopularityContentTypeProgram, last, last, 4096))
		if got := ranked(); got[0] != last {
			t.Fatalf("found %v, want %s first now", got, last)
		}
		f.feed(popularityMsg(t, discoveryevents.PopularityContentTypeProgram, last, last, 2)) // late, lower: ignored
		f.restart()
		if got := ranked(); len(got) != 3 || got[0] != last || got[1] != c.ID {
			t.Fatalf("found %v after a restart, want %s, %s first", got, last, c.ID)
		}
	})
}
