package discovery

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/internal/database/databasetest"
)

// BenchmarkPublicReads measures the uncached public reads on SQLite, as the gateway's miss calls
// them in process: a page of 20 programs out of 200, one program, and a page of 20 of a program's
// 100 episodes (the corpus shape of tools/loadgen).
func BenchmarkPublicReads(b *testing.B) {
	f := newFixture(b, databasetest.SQLite(b))
	var programs []string
	for p := range 200 {
		id := newID()
		programs = append(programs, id)
		snap := programSnap(id, 1, fmt.Sprintf("Program %d", p), "en")
		snap.Tags = []string{"news", fmt.Sprint("tag", p%7)}
		f.feed(publishedMsg(b, snap))
		for e := range 100 {
			f.feed(publishedMsg(b, episodeSnap(newID(), id, 1, nil, e+1, base.Add(time.Duration(p*100+e)*time.Minute))))
		}
	}
	for _, c := range []struct{ name, path string }{
		{"programs", "/api/v1/discovery/programs?limit=20"},
		{"program", "/api/v1/discovery/programs/%s"},
		{"episodes", "/api/v1/discovery/programs/%s/episodes?limit=20"},
	} {
		b.Run(c.name, func(b *testing.B) {
			i := 0
			for b.Loop() {
				path := c.path
				if c.name != "programs" {
					path = fmt.Sprintf(c.path, programs[i%len(programs)])
				}
				i++
				if rec := f.record(path); rec.Code != http.StatusOK {
					b.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body)
				}
			}
		})
	}
}
