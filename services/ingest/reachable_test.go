package ingest

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
	"github.com/mediamesh/mediamesh/services/ingest/fetch"
)

// TestSourceURLReachable: a source whose URL points to an address the fetcher never connects to is
// refused when it is created or its URL changed (422 naming url, and ingest.allow_loopback for a
// loopback one), not at its first run; a name that does not resolve now is left to the run.
func TestSourceURLReachable(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		for _, allowLoopback := range []bool{false, true} {
			f := newFixture(t, db, func(c *setup) {
				c.Fetcher = fetch.New(fetch.Config{AllowLoopback: allowLoopback, Timeout: 5 * time.Second})
			})
			for _, c := range []struct {
				url    string
				refuse string // the reason the message names, "" for accepted
			}{
				{"http://127.0.0.1:9/feed.xml", "loopback address"},
				{"http://localhost:9/feed.xml", "loopback address"},
				{"http://[::1]:9/feed.xml", "loopback address"},
				{"http://10.1.2.3/feed.xml", "private network address"},
				{"http://169.254.169.254/latest/meta-data", "link-local address"},
				{"http://93.184.216.34/feed.xml", ""},
				{"https://feeds.invalid/feed.xml", ""}, // does not resolve now: judged by the run
			} {
				want := c.refuse
				if allowLoopback && want == "loopback address" {
					want = ""
				}
				u := c.url + "?loopback=" + strconv.FormatBool(allowLoopback) // one database for both runs
				r := f.do(http.MethodPost, "/api/v1/ingest/sources", "admin", rssSource("Feed "+u, u))
				if want == "" {
					if r.code != http.StatusCreated {
						t.Errorf("allow_loopback=%v: create %s: %d %s, want 201", allowLoopback, c.url, r.code, r.body)
					}
					continue
				}
				var p struct {
					Errors []struct{ Field, Message string }
				}
				_ = json.Unmarshal(r.body, &p)
				if r.code != http.StatusUnprocessableEntity || len(p.Errors) != 1 || p.Errors[0].Field != "url" ||
					!strings.Contains(p.Errors[0].Message, want) {
					t.Errorf("allow_loopback=%v: create %s: %d %s, want 422 on url naming a %s", allowLoopback, c.url, r.code, r.body, want)
				}
				if want == "loopback address" && !strings.Contains(p.Errors[0].Message, "ingest.allow_loopback") {
					t.Errorf("create %s: %q does not name ingest.allow_loopback", c.url, p.Errors[0].Message)
				}
			}
			src := f.createSource(rssSource("Public feed", "https://feeds.example.com/ok.xml?loopback="+strconv.FormatBool(allowLoopback)))
			r := f.do(http.MethodPatch, sourcePath(src.Id), "admin", map[string]any{"url": "http://10.0.0.7/feed.xml"})
			if r.code != http.StatusUnprocessableEntity || !strings.Contains(string(r.body), "private network address") {
				t.Errorf("update to a private address: %d %s, want 422 on url", r.code, r.body)
			}
		}
	})
}
