package public

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/gen/events/contentevents"
	"github.com/mediamesh/mediamesh/gen/events/discoveryevents"
	"github.com/mediamesh/mediamesh/internal/authn"
	"github.com/mediamesh/mediamesh/internal/cache"
	"github.com/mediamesh/mediamesh/internal/gateway"
)

// tokens is a verifier of fixed bearer tokens, for the discovery service under test.
type tokens map[string]*authn.Principal

func (v tokens) Verify(_ context.Context, token string) (*authn.Principal, error) {
	if p, ok := v[token]; ok {
		return p, nil
	}
	return nil, errors.New("unknown token")
}

// longEpisode publishes an hour-long episode of programID.
func (c *catalogue) longEpisode(programID string, number int) string {
	id, at, duration := newID(), base.Add(time.Duration(number)*time.Hour), 3600
	c.apply(&contentevents.ContentPublished{EventID: newID(), OccurredAt: at, AggregateID: id, AggregateType: contentevents.AggregateTypeEpisode, PublishedAt: at,
		Snapshot: contentevents.ContentSnapshot{ID: id, ProgramID: &programID, Status: contentevents.ContentStatusPublished, Title: "episode " + id[len(id)-4:],
			Language: "ar", Tags: []string{}, EpisodeNumber: &number, DurationSeconds: &duration, PublishedAt: &at, Version: 1}})
	return id
}

// played delivers user's play of episodeID (of programID) at position seconds.
func (c *catalogue) played(user, programID, episodeID string, position int) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	c.apply(&discoveryevents.EngagementRecorded{EventID: newID(), OccurredAt: now, AggregateID: programID, Action: "play", ContentType: "episode",
		ContentID: episodeID, UserID: &user, ClientKey: "test", PositionSeconds: &position, ReceivedAt: now})
}

// TestPersonalGraphQL: a signed-in caller follows and unfollows programs, reads its continue
// watching, history and feed, and deletes its history through GraphQL, seeing what the REST
// operations show; an anonymous caller gets UNAUTHENTICATED and nothing personal is cached.
func TestPersonalGraphQL(t *testing.T) {
	c := newCatalogue(t)
	alice, bob := uuid.NewString(), uuid.NewString()
	log := slog.New(slog.DiscardHandler)
	disco, err := c.svc.Handler(log, tokens{
		"alice": {Subject: alice, Roles: []string{"USER"}, Scopes: []string{"account:read", "account:write"}},
		"bob":   {Subject: bob, Roles: []string{"USER"}, Scopes: []string{"account:read", "account:write"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	followed := c.program("Harbour lights", 1, nil)
	other := c.program("Desert winds", 2, nil)
	e1, e2 := c.longEpisode(followed, 1), c.longEpisode(followed, 2)
	e3 := c.longEpisode(other, 1)

	d := &recorder{next: disco}
	ups := map[string]http.Handler{serviceDiscovery: d, serviceSearch: problem(http.StatusNotImplemented, ""), "auth": problem(http.StatusNotImplemented, "")}
	mux, err := New(gateway.Config{Upstreams: ups, Log: log, Cache: cache.NewMemory()})
	if err != nil {
		t.Fatal(err)
	}
	as := func(token string) []string {
		if token == "" {
			return nil
		}
		return []string{"Authorization", "Bearer " + token}
	}
	run := func(token, q string, vars map[string]any, v any) gqlResult {
		t.Helper()
		res := send(t, mux, map[string]any{"query": q, "variables": vars}, as(token)...)
		if v != nil {
			if len(res.Errors) > 0 {
				t.Fatalf("%s: %+v", q, res.Errors)
			}
			if err := json.Unmarshal(res.Data, v); err != nil {
				t.Fatalf("%v in %s", err, res.Data)
			}
		}
		return res
	}
	rest := func(token, path string, v any) {
		t.Helper()
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		disco.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body)
		}
		if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
			t.Fatal(err)
		}
	}

	// Anonymous: every personal field and mutation is UNAUTHENTICATED, and never cached.
	for _, q := range []string{`{ myFollows { edges { cursor } } }`, `{ myContinueWatching { edges { cursor } } }`,
		`{ myHistory { edges { cursor } } }`, `{ myFeed { recommendations { id } } }`,
		`mutation { followProgram(id: "` + followed + `") { followedAt } }`, `mutation { deleteHistory }`} {
		for range 2 {
			if res := run("", q, nil, nil); res.codes() != "UNAUTHENTICATED" {
				t.Fatalf("anonymous %s: %s %+v", q, res.Data, res.Errors)
			}
		}
		if n := len(d.take()); n != 2 {
			t.Fatalf("anonymous %s twice reached the service %d times, want 2 (never from the cache)", q, n)
		}
	}

	// A new account: nothing followed or played; the feed recommends programs.
	const feedQ = `{ myFeed(first: 10) { episodes { edges { node { id } } pageInfo { hasNextPage } } recommendations { id title } } }`
	var feed struct {
		MyFeed struct {
			Episodes struct {
				Edges []struct{ Node struct{ ID string } }
			}
			Recommendations []struct{ ID, Title string }
		}
	}
	run("alice", feedQ, nil, &feed)
	if len(feed.MyFeed.Episodes.Edges) != 0 || len(feed.MyFeed.Recommendations) != 2 {
		t.Fatalf("a new account's feed: %+v", feed)
	}

	// Follow, by mutation; following again answers the same.
	const followQ = `mutation F($id: ID!) { followProgram(id: $id) { followedAt program { id title } } }`
	var f1, f2 struct {
		FollowProgram struct {
			FollowedAt time.Time
			Program    struct{ ID, Title string }
		}
	}
	run("alice", followQ, map[string]any{"id": followed}, &f1)
	run("alice", followQ, map[string]any{"id": followed}, &f2)
	if f1.FollowProgram.Program.Title != "Harbour lights" || !f1.FollowProgram.FollowedAt.Equal(f2.FollowProgram.FollowedAt) {
		t.Fatalf("follow: %+v then %+v", f1, f2)
	}
	if res := run("alice", followQ, map[string]any{"id": newID()}, nil); res.codes() != "NOT_FOUND" {
		t.Fatalf("following an unknown program: %+v", res.Errors)
	}
	if res := run("alice", followQ, map[string]any{"id": "x"}, nil); res.codes() != "BAD_USER_INPUT" {
		t.Fatalf("following a bad id: %+v", res.Errors)
	}
	var follows struct {
		MyFollows struct {
			Edges []struct {
				Node struct {
					FollowedAt time.Time
					Program    struct{ ID string }
				}
			}
		}
	}
	run("alice", `{ myFollows { edges { node { followedAt program { id } } } } }`, nil, &follows)
	var restFollows struct {
		Items []struct {
			FollowedAt time.Time `json:"followed_at"`
			Program    struct {
				ID string `json:"id"`
			} `json:"program"`
		} `json:"items"`
	}
	rest("alice", "/api/v1/discovery/me/follows", &restFollows)
	if len(follows.MyFollows.Edges) != 1 || len(restFollows.Items) != 1 || follows.MyFollows.Edges[0].Node.Program.ID != followed ||
		restFollows.Items[0].Program.ID != followed || !follows.MyFollows.Edges[0].Node.FollowedAt.Equal(restFollows.Items[0].FollowedAt) {
		t.Fatalf("follows: GraphQL %+v, REST %+v", follows, restFollows)
	}

	// Plays: e1 part-way, e2 to the end, e3 (another program) part-way; bob plays too.
	c.played(alice, followed, e1, 600)
	c.played(alice, followed, e2, 3590)
	c.played(alice, other, e3, 120)
	c.played(bob, followed, e2, 30)
	type watchPage struct {
		Edges []struct {
			Node struct {
				PositionSeconds int
				Completed       bool
				Episode         struct {
					ID      string
					Program struct{ Title string }
				}
			}
		}
	}
	var watching struct{ MyContinueWatching watchPage }
	run("alice", `{ myContinueWatching { edges { node { positionSeconds completed episode { id program { title } } } } } }`, nil, &watching)
	got := map[string]int{}
	for _, e := range watching.MyContinueWatching.Edges {
		got[e.Node.Episode.ID] = e.Node.PositionSeconds
	}
	if len(got) != 2 || got[e1] != 600 || got[e3] != 120 || watching.MyContinueWatching.Edges[0].Node.Episode.Program.Title == "" {
		t.Fatalf("alice's continue watching: %+v", watching)
	}
	var restWatching struct {
		Items []struct {
			Episode struct {
				ID string `json:"id"`
			} `json:"episode"`
		} `json:"items"`
	}
	rest("alice", "/api/v1/discovery/me/continue-watching", &restWatching)
	for i, it := range restWatching.Items {
		if i >= len(watching.MyContinueWatching.Edges) || watching.MyContinueWatching.Edges[i].Node.Episode.ID != it.Episode.ID {
			t.Fatalf("continue watching: REST %+v, GraphQL %+v", restWatching, watching)
		}
	}
	var history struct{ MyHistory watchPage }
	run("alice", `{ myHistory(first: 2) { edges { node { completed episode { id } } } } }`, nil, &history)
	if len(history.MyHistory.Edges) != 2 {
		t.Fatalf("alice's history, first 2: %+v", history)
	}
	var all struct {
		MyHistory struct {
			watchPage
			PageInfo struct{ EndCursor *string }
		}
	}
	run("alice", `{ myHistory(first: 2) { pageInfo { endCursor } } }`, nil, &all)
	var rest2 struct{ MyHistory watchPage }
	run("alice", `query H($after: String) { myHistory(first: 2, after: $after) { edges { node { completed episode { id } } } } }`, map[string]any{"after": *all.MyHistory.PageInfo.EndCursor}, &rest2)
	seen := map[string]bool{}
	for _, e := range append(history.MyHistory.Edges, rest2.MyHistory.Edges...) {
		seen[e.Node.Episode.ID] = e.Node.Completed
	}
	if len(seen) != 3 || !seen[e2] || seen[e1] {
		t.Fatalf("alice's history over two pages: %+v", seen)
	}

	// The feed: the followed program's episodes, newest first.
	run("alice", feedQ, nil, &feed)
	if len(feed.MyFeed.Episodes.Edges) != 2 || feed.MyFeed.Episodes.Edges[0].Node.ID != e2 || feed.MyFeed.Episodes.Edges[1].Node.ID != e1 {
		t.Fatalf("alice's feed: %+v", feed)
	}
	for _, r := range feed.MyFeed.Recommendations {
		if r.ID == followed {
			t.Fatalf("the feed recommends a followed program: %+v", feed)
		}
	}
	// Bob's data is his own.
	var bobs struct{ MyContinueWatching watchPage }
	run("bob", `{ myContinueWatching { edges { node { positionSeconds episode { id } } } } }`, nil, &bobs)
	if len(bobs.MyContinueWatching.Edges) != 1 || bobs.MyContinueWatching.Edges[0].Node.Episode.ID != e2 {
		t.Fatalf("bob's continue watching: %+v", bobs)
	}

	// Delete the history; unfollow.
	var deleted struct{ DeleteHistory bool }
	run("alice", `mutation { deleteHistory }`, nil, &deleted)
	run("alice", `{ myHistory { edges { node { episode { id } } } } }`, nil, &history)
	if !deleted.DeleteHistory || len(history.MyHistory.Edges) != 0 {
		t.Fatalf("after deleteHistory: %v %+v", deleted, history)
	}
	run("bob", `{ myContinueWatching { edges { node { episode { id } } } } }`, nil, &bobs)
	if len(bobs.MyContinueWatching.Edges) != 1 {
		t.Fatalf("alice's deleteHistory deleted bob's: %+v", bobs)
	}
	var unfollowed struct{ UnfollowProgram bool }
	run("alice", `mutation U($id: ID!) { unfollowProgram(id: $id) }`, map[string]any{"id": followed}, &unfollowed)
	run("alice", `mutation U($id: ID!) { unfollowProgram(id: $id) }`, map[string]any{"id": followed}, &unfollowed)
	run("alice", `{ myFollows { edges { node { program { id } } } } }`, nil, &follows)
	if !unfollowed.UnfollowProgram || len(follows.MyFollows.Edges) != 0 {
		t.Fatalf("after unfollowProgram: %v %+v", unfollowed, follows)
	}

	// A mutation is not served by GET.
	req := httptest.NewRequest(http.MethodGet, "/graphql?query="+strings.ReplaceAll(`mutation { deleteHistory }`, " ", "+"), nil)
	req.Header.Set("Authorization", "Bearer alice")
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	if rec.Code == http.StatusOK && !strings.Contains(rec.Body.String(), `"errors"`) {
		t.Fatalf("a mutation by GET: %d %s", rec.Code, rec.Body)
	}
}

// TestPersonalNotCachedWithAPIKey: a caller with an X-API-Key header is forwarded it and never
// answered from, or stored in, the anonymous cache.
func TestPersonalNotCachedWithAPIKey(t *testing.T) {
	c := newCatalogue(t)
	c.program("Harbour lights", 1, nil)
	d := &recorder{next: c.h}
	log := slog.New(slog.DiscardHandler)
	ups := map[string]http.Handler{serviceDiscovery: d, serviceSearch: problem(http.StatusNotImplemented, ""), "auth": problem(http.StatusNotImplemented, "")}
	mux, err := New(gateway.Config{Upstreams: ups, Log: log, Cache: cache.NewMemory()})
	if err != nil {
		t.Fatal(err)
	}
	q := map[string]any{"query": `{ programs { edges { node { title } } } }`}
	for range 2 {
		if res := send(t, mux, q, "X-API-Key", "mmk_test"); len(res.Errors) != 0 {
			t.Fatalf("errors: %+v", res.Errors)
		}
	}
	calls := d.take()
	if len(calls) != 2 {
		t.Fatalf("two requests with an API key reached the service %d times, want 2", len(calls))
	}
	for _, r := range calls {
		if r.Header.Get("X-API-Key") != "mmk_test" {
			t.Fatalf("the API key was not forwarded: %v", r.Header)
		}
	}
}
