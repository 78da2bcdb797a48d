package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/app"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/testenv"
)

// ranked is what the tests read of listTrending and listPopular.
type ranked struct {
	Items []struct {
		ContentType string  `json:"content_type"`
		Score       float64 `json:"score"`
		Plays       int64   `json:"plays"`
		Program     *struct{ ID string }
		Episode     *struct{ ID string }
	}
}

func (r ranked) ids() []string {
	var out []string
	for _, it := range r.Items {
		switch {
		case it.Program != nil:
			out = append(out, it.Program.ID)
		case it.Episode != nil:
			out = append(out, it.Episode.ID)
		}
	}
	return out
}

// engagementClient sends engagement events to the discovery gateway as one client (with a
// user's token, when signed in).
type engagementClient struct {
	t            *testing.T
	disc, id     string
	token, agent string
}

// send posts events (JSON objects without event_id: each gets a new one) and returns how many
// were accepted.
func (c engagementClient) send(events ...string) int {
	c.t.Helper()
	parts := make([]string, len(events))
	for i, e := range events {
		parts[i] = fmt.Sprintf(`{"event_id":%q,%s}`, uuid.Must(uuid.NewV7()), e)
	}
	agent := c.agent
	if agent == "" {
		agent = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
	}
	code, body, _ := callWith(c.t, "POST", c.disc+"/api/v1/discovery/events", c.token,
		fmt.Sprintf(`{"client_id":%q,"events":[%s]}`, c.id, strings.Join(parts, ",")), "User-Agent", agent)
	if code != 202 {
		c.t.Fatalf("POST /api/v1/discovery/events: %d %s", code, body)
	}
	var r struct{ Accepted int }
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		c.t.Fatal(err)
	}
	return r.Accepted
}

func playAt(episode string, at time.Time, position int) string {
	return fmt.Sprintf(`"type":"play","content_type":"episode","content_id":%q,"occurred_at":%q,"position_seconds":%d`, episode, at.UTC().Format(time.RFC3339Nano), position)
}

// getJSON reads path from base with token and decodes a 200 answer into v.
func getJSON(t *testing.T, base, path, token string, v any) {
	t.Helper()
	code, body, _ := callWith(t, "GET", base+path, token, "")
	if code != 200 {
		t.Fatalf("GET %s: %d %s", path, code, body)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("GET %s: %v: %s", path, err, body)
	}
}

// gqlJSON runs a GraphQL query at base's /graphql with token and vars, and decodes its data into v,
// failing on any error.
func gqlJSON(t *testing.T, base, token, query string, vars map[string]any, v any) {
	t.Helper()
	req, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	code, body, _ := callWith(t, "POST", base+"/graphql", token, string(req))
	var res struct {
		Data   json.RawMessage
		Errors []any
	}
	if err := json.Unmarshal([]byte(body), &res); code != 200 || err != nil || len(res.Errors) != 0 {
		t.Fatalf("GraphQL %s: %d %s", query, code, body)
	}
	if err := json.Unmarshal(res.Data, v); err != nil {
		t.Fatalf("GraphQL %s: %v: %s", query, err, res.Data)
	}
}

// eventually polls check (which reports what it saw and whether it holds) for up to 15 s.
func eventually(t *testing.T, what string, check func() (string, bool)) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		seen, ok := check()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still %s", what, seen)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestEngagementEndToEnd plays episodes as several anonymous clients and signed-in users through
// the real composed process (gateways with their cache, the discovery outbox, relay and consumer)
// and watches trending, popular, more like this, continue watching and the feed change; then it
// rebuilds the counts with `mediamesh replay` from discovery.events, and deletes an account.
func TestEngagementEndToEnd(t *testing.T) {
	cfg := app.Default()
	cfg.Gateway.DiscoveryAddr, cfg.Gateway.CMSAddr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.Auth.AdminPassword = "engagement admin password"
	cfg.Gateway.RateLimits = false // the test polls
	urls, stop, done := start(t, cfg)
	a := &api{t: t, cms: urls["cms gateway"], disc: urls["discovery gateway"], unique: fmt.Sprint(time.Now().UnixNano())}
	a.token = login(t, a.cms, "admin@mediamesh.local", cfg.Auth.AdminPassword)

	var cat struct{ ID string }
	a.do("POST", "/api/v1/metadata/categories", fmt.Sprintf(`{"slug":"drama-%s","names":{"en":"Drama"}}`, a.unique), 201, &cat)
	newProgram := func(slug string, category bool, episodes int) (string, []string) {
		var p struct{ ID string }
		extra := ""
		if category {
			extra = fmt.Sprintf(`,"category_id":%q`, cat.ID)
		}
		a.do("POST", "/api/v1/cms/programs", fmt.Sprintf(`{"kind":"series","title":"%s story","slug":"%s-%s","language":"en","tags":["drama"]%s}`, slug, slug, a.unique, extra), 201, &p)
		var eps []string
		for i := 1; i <= episodes; i++ {
			var e struct{ ID string }
			a.do("POST", "/api/v1/cms/programs/"+p.ID+"/episodes", fmt.Sprintf(`{"episode_number":%d,"title":"%s %d","duration_seconds":1800}`, i, slug, i), 201, &e)
			eps = append(eps, e.ID)
		}
		a.do("POST", "/api/v1/cms/programs/"+p.ID+"/publish?with_episodes=true", "", 200, nil)
		a.await("/api/v1/discovery/programs/"+p.ID+"/episodes", 200, eps[len(eps)-1])
		return p.ID, eps
	}
	classic, classicEps := newProgram("classic", true, 1)
	hit, hitEps := newProgram("hit", true, 2)
	other, _ := newProgram("other", false, 1)

	// Anonymous clients played the classic a lot five days ago; a crawler's plays do not count.
	now := time.Now()
	for c := range 3 {
		client := engagementClient{t: t, disc: a.disc, id: fmt.Sprintf("anon-classic-%d-%s", c, a.unique)}
		var plays []string
		for i := range 15 {
			plays = append(plays, playAt(classicEps[0], now.Add(-5*24*time.Hour+time.Duration(i)*time.Minute), 60*i))
		}
		if n := client.send(plays...); n != 15 {
			t.Fatalf("accepted %d of 15", n)
		}
	}
	bot := engagementClient{t: t, disc: a.disc, id: "crawler-" + a.unique, agent: "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"}
	if n := bot.send(playAt(hitEps[0], now, 1)); n != 0 {
		t.Fatalf("a crawler's play was accepted: %d", n)
	}
	var popular ranked
	eventually(t, "popular all time", func() (string, bool) {
		getJSON(t, a.disc, "/api/v1/discovery/popular?period=all_time", "", &popular)
		return fmt.Sprint(popular.ids()), len(popular.Items) == 1 && popular.Items[0].Plays == 45
	})

	// Now the hit is played by two anonymous clients and two signed-in users, a few times each.
	users := make([]string, 2)
	for i := range users {
		email := fmt.Sprintf("viewer%d-%s@example.com", i, a.unique)
		if code, body := call(t, "POST", a.disc+"/api/v1/auth/signup", "", fmt.Sprintf(`{"email":%q,"password":"viewer password %d","display_name":"Viewer %d"}`, email, i, i)); code != 201 {
			t.Fatalf("sign up: %d %s", code, body)
		}
		users[i] = login(t, a.disc, email, fmt.Sprintf("viewer password %d", i))
	}
	for c := range 2 {
		client := engagementClient{t: t, disc: a.disc, id: fmt.Sprintf("anon-hit-%d-%s", c, a.unique)}
		client.send(playAt(hitEps[0], now.Add(-10*time.Minute), 10), playAt(hitEps[0], now.Add(-9*time.Minute), 70), playAt(hitEps[1], now.Add(-5*time.Minute), 30))
	}
	viewer0 := engagementClient{t: t, disc: a.disc, id: "viewer0-phone-" + a.unique, token: users[0]}
	viewer1 := engagementClient{t: t, disc: a.disc, id: "viewer1-tv-" + a.unique, token: users[1]}
	viewer0.send(playAt(hitEps[0], now.Add(-3*time.Minute), 300), playAt(classicEps[0], now.Add(-2*time.Minute), 600))
	viewer1.send(playAt(hitEps[1], now.Add(-time.Minute), 120))

	// Trending: the new hit beats the old classic; popular of all time is still the classic.
	var trending ranked
	eventually(t, "trending", func() (string, bool) {
		getJSON(t, a.disc, "/api/v1/discovery/trending", "", &trending)
		return fmt.Sprint(trending.ids()), fmt.Sprint(trending.ids()) == fmt.Sprint([]string{hit, classic})
	})
	eventually(t, "trending episodes", func() (string, bool) {
		getJSON(t, a.disc, "/api/v1/discovery/trending?type=episode&window=hour", "", &trending)
		ids := trending.ids()
		return fmt.Sprint(ids), len(ids) == 3 && ids[2] == classicEps[0]
	})
	// (The rankings are cached; counted engagement invalidates them at most once a second.)
	eventually(t, "popular all time: the classic (46 plays), then the hit (8)", func() (string, bool) {
		getJSON(t, a.disc, "/api/v1/discovery/popular?period=all_time", "", &popular)
		ids := popular.ids()
		return fmt.Sprintf("%+v", popular), fmt.Sprint(ids) == fmt.Sprint([]string{classic, hit}) && popular.Items[0].Plays == 46 && popular.Items[1].Plays == 8
	})
	getJSON(t, a.disc, "/api/v1/discovery/popular?category=drama-"+a.unique+"&type=episode", "", &popular)
	if len(popular.Items) != 3 {
		t.Fatalf("popular drama episodes = %v", popular.ids())
	}
	var graphql struct {
		Data struct {
			Trending struct {
				Edges []struct {
					Node struct{ Program struct{ ID string } }
				}
			}
		}
	}
	code, body, _ := callWith(t, "POST", a.disc+"/graphql", "", `{"query":"{ trending(first: 1) { edges { node { score program { id title } } } } }"}`)
	if err := json.Unmarshal([]byte(body), &graphql); code != 200 || err != nil || len(graphql.Data.Trending.Edges) != 1 || graphql.Data.Trending.Edges[0].Node.Program.ID != hit {
		t.Fatalf("GraphQL trending: %d %s", code, body)
	}

	var gqlPopular struct {
		Popular struct {
			Edges []struct {
				Node struct{ Episode struct{ ID string } }
			}
		}
	}
	gqlJSON(t, a.disc, "", `query P($c: String) { popular(type: EPISODE, filter: {categorySlug: $c}) { edges { node { episode { id } } } } }`,
		map[string]any{"c": "drama-" + a.unique}, &gqlPopular)
	var gqlIDs, restIDs []string
	for _, e := range gqlPopular.Popular.Edges {
		gqlIDs = append(gqlIDs, e.Node.Episode.ID)
	}
	for _, it := range popular.Items {
		if it.Episode != nil {
			restIDs = append(restIDs, it.Episode.ID)
		}
	}
	if len(restIDs) != 3 || fmt.Sprint(gqlIDs) != fmt.Sprint(restIDs) {
		t.Fatalf("GraphQL popular drama episodes = %v, REST %v", gqlIDs, restIDs)
	}

	// Search ranks equal matches by popularity (discovery's popularity.changed events): the
	// classic, then the hit, then the program nobody played.
	eventually(t, "search by popularity", func() (string, bool) {
		var found struct{ Items []struct{ ID string } }
		getJSON(t, a.disc, "/api/v1/discovery/search?q=story&type=program", "", &found)
		var ids []string
		for _, it := range found.Items {
			ids = append(ids, it.ID)
		}
		return fmt.Sprint(ids), fmt.Sprint(ids) == fmt.Sprint([]string{classic, hit, other})
	})

	// More like this: the other drama first, then the program without a category.
	var similar struct{ Items []struct{ ID string } }
	getJSON(t, a.disc, "/api/v1/discovery/programs/"+hit+"/similar", "", &similar)
	if len(similar.Items) < 2 || similar.Items[0].ID != classic || similar.Items[1].ID != other {
		t.Fatalf("more like the hit = %+v, want the classic, then the other", similar.Items)
	}
	var gqlSimilar struct {
		SimilarPrograms []struct{ ID string }
		SimilarEpisodes []struct{ ID string }
	}
	gqlJSON(t, a.disc, "", `query S($p: ID!, $e: ID!) { similarPrograms(id: $p) { id } similarEpisodes(id: $e) { id } }`,
		map[string]any{"p": hit, "e": hitEps[0]}, &gqlSimilar)
	if fmt.Sprint(gqlSimilar.SimilarPrograms) != fmt.Sprint(similar.Items) {
		t.Fatalf("GraphQL more like the hit = %+v, REST %+v", gqlSimilar.SimilarPrograms, similar.Items)
	}
	getJSON(t, a.disc, "/api/v1/discovery/episodes/"+hitEps[0]+"/similar", "", &similar)
	if len(similar.Items) < 2 || similar.Items[0].ID != hitEps[1] || similar.Items[1].ID != classicEps[0] {
		t.Fatalf("more like the hit's first episode = %+v, want its second, then the classic's", similar.Items)
	}
	if fmt.Sprint(gqlSimilar.SimilarEpisodes) != fmt.Sprint(similar.Items) {
		t.Fatalf("GraphQL more like the hit's first episode = %+v, REST %+v", gqlSimilar.SimilarEpisodes, similar.Items)
	}

	// Continue watching: viewer 0 is in both episodes, the classic played last; finishing it
	// leaves the hit's.
	type watchList struct {
		Items []struct {
			PositionSeconds int `json:"position_seconds"`
			Completed       bool
			Episode         struct{ ID string }
		}
	}
	var cw watchList
	eventually(t, "continue watching", func() (string, bool) {
		getJSON(t, a.disc, "/api/v1/discovery/me/continue-watching", users[0], &cw)
		return fmt.Sprint(cw), len(cw.Items) == 2 && cw.Items[0].Episode.ID == classicEps[0] && cw.Items[0].PositionSeconds == 600
	})
	viewer0.send(fmt.Sprintf(`"type":"complete","content_type":"episode","content_id":%q,"position_seconds":1800`, classicEps[0]))
	eventually(t, "continue watching after the end", func() (string, bool) {
		getJSON(t, a.disc, "/api/v1/discovery/me/continue-watching", users[0], &cw)
		return fmt.Sprint(cw), len(cw.Items) == 1 && cw.Items[0].Episode.ID == hitEps[0] && cw.Items[0].PositionSeconds == 300
	})
	var history watchList
	getJSON(t, a.disc, "/api/v1/discovery/me/history", users[0], &history)
	if len(history.Items) != 2 || !history.Items[0].Completed {
		t.Fatalf("history = %+v", history)
	}
	// GraphQL shows the viewer the same continue watching and history.
	type gqlWatch struct {
		Edges []struct {
			Node struct {
				PositionSeconds int
				Completed       bool
				Episode         struct{ ID string }
			}
		}
	}
	var mine struct{ MyContinueWatching, MyHistory gqlWatch }
	gqlJSON(t, a.disc, users[0], `{ myContinueWatching { edges { node { positionSeconds completed episode { id } } } } myHistory { edges { node { positionSeconds completed episode { id } } } } }`, nil, &mine)
	asREST := func(g gqlWatch) watchList {
		var w watchList
		for _, e := range g.Edges {
			w.Items = append(w.Items, struct {
				PositionSeconds int `json:"position_seconds"`
				Completed       bool
				Episode         struct{ ID string }
			}{e.Node.PositionSeconds, e.Node.Completed, e.Node.Episode})
		}
		return w
	}
	if fmt.Sprint(asREST(mine.MyContinueWatching)) != fmt.Sprint(cw) || fmt.Sprint(asREST(mine.MyHistory)) != fmt.Sprint(history) {
		t.Fatalf("GraphQL continue watching %+v and history %+v, REST %+v and %+v", mine.MyContinueWatching, mine.MyHistory, cw, history)
	}
	if code, body := call(t, "GET", a.disc+"/api/v1/discovery/me/history", "", ""); code != 401 {
		t.Fatalf("history without a token: %d %s", code, body)
	}

	// The feed: a new account has no episodes and gets what is trending; following the hit
	// brings its episodes, and a new episode leads it.
	fresh := "newcomer-" + a.unique + "@example.com"
	if code, body := call(t, "POST", a.disc+"/api/v1/auth/signup", "", fmt.Sprintf(`{"email":%q,"password":"newcomer password","display_name":"Newcomer"}`, fresh)); code != 201 {
		t.Fatalf("sign up: %d %s", code, body)
	}
	newcomer := login(t, a.disc, fresh, "newcomer password")
	type feedPage struct {
		Items           []struct{ ID string }
		Recommendations []struct{ ID string }
	}
	var feed feedPage
	getJSON(t, a.disc, "/api/v1/discovery/me/feed", newcomer, &feed)
	if len(feed.Items) != 0 || len(feed.Recommendations) == 0 || feed.Recommendations[0].ID != hit {
		t.Fatalf("a new account's feed = %+v, want no episodes and the trending hit recommended first", feed)
	}
	// GraphQL's feed is the REST feed.
	gqlFeed := func() feedPage {
		t.Helper()
		var res struct {
			MyFeed struct {
				Episodes struct {
					Edges []struct{ Node struct{ ID string } }
				}
				Recommendations []struct{ ID string }
			}
		}
		gqlJSON(t, a.disc, newcomer, `{ myFeed { episodes { edges { node { id } } } recommendations { id } } }`, nil, &res)
		f := feedPage{Items: []struct{ ID string }{}, Recommendations: res.MyFeed.Recommendations}
		for _, e := range res.MyFeed.Episodes.Edges {
			f.Items = append(f.Items, e.Node)
		}
		return f
	}
	if g := gqlFeed(); fmt.Sprint(g) != fmt.Sprint(feed) {
		t.Fatalf("a new account's GraphQL feed = %+v, REST %+v", g, feed)
	}
	call(t, "PUT", a.disc+"/api/v1/discovery/me/follows/"+hit, newcomer, "")
	getJSON(t, a.disc, "/api/v1/discovery/me/feed", newcomer, &feed)
	if g := gqlFeed(); fmt.Sprint(g) != fmt.Sprint(feed) {
		t.Fatalf("GraphQL feed after following the hit = %+v, REST %+v", g, feed)
	}
	var follows struct {
		MyFollows struct {
			Edges []struct {
				Node struct{ Program struct{ ID string } }
			}
		}
	}
	gqlJSON(t, a.disc, newcomer, `{ myFollows { edges { node { program { id } } } } }`, nil, &follows)
	if len(follows.MyFollows.Edges) != 1 || follows.MyFollows.Edges[0].Node.Program.ID != hit {
		t.Fatalf("GraphQL follows after following the hit = %+v", follows)
	}
	if len(feed.Items) != 2 || feed.Items[0].ID != hitEps[1] {
		t.Fatalf("feed after following the hit = %+v", feed)
	}
	for _, r := range feed.Recommendations {
		if r.ID == hit {
			t.Fatalf("the feed recommends a followed program: %+v", feed)
		}
	}
	if len(feed.Recommendations) == 0 || feed.Recommendations[0].ID != classic {
		t.Fatalf("feed recommendations = %+v, want the other drama first", feed.Recommendations)
	}
	var third struct{ ID string }
	a.do("POST", "/api/v1/cms/programs/"+hit+"/episodes", `{"episode_number":3,"title":"hit 3","duration_seconds":1800}`, 201, &third)
	a.do("POST", "/api/v1/cms/episodes/"+third.ID+"/publish", "", 200, nil)
	eventually(t, "feed with the new episode", func() (string, bool) {
		getJSON(t, a.disc, "/api/v1/discovery/me/feed", newcomer, &feed)
		return fmt.Sprint(feed.Items), len(feed.Items) == 3 && feed.Items[0].ID == third.ID
	})

	// A replay rebuilds the counts and the history from discovery.events.
	getJSON(t, a.disc, "/api/v1/discovery/popular?period=all_time&type=episode", "", &popular)
	before := popular
	stop()
	<-done
	var out bytes.Buffer
	if err := app.Replay(context.Background(), cfg, quiet, &out); err != nil {
		t.Fatalf("replay: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "of discovery.events from discovery outbox") {
		t.Fatalf("the replay did not read discovery.events:\n%s", out.String())
	}
	urls, _, _ = start(t, cfg)
	a.disc, a.cms = urls["discovery gateway"], urls["cms gateway"]
	getJSON(t, a.disc, "/api/v1/discovery/popular?period=all_time&type=episode", "", &popular)
	if fmt.Sprint(popular) != fmt.Sprint(before) {
		t.Fatalf("popular after the replay = %+v, before %+v", popular, before)
	}
	getJSON(t, a.disc, "/api/v1/discovery/me/history", users[0], &history)
	if len(history.Items) != 2 {
		t.Fatalf("history after the replay = %+v", history)
	}

	// Deleting viewer 0's history empties it for good; deleting viewer 1's account takes its
	// history and follows.
	var followed struct {
		FollowProgram struct{ Program struct{ ID string } }
	}
	gqlJSON(t, a.disc, users[1], `mutation F($id: ID!) { followProgram(id: $id) { program { id } } }`, map[string]any{"id": classic}, &followed)
	if followed.FollowProgram.Program.ID != classic {
		t.Fatalf("GraphQL followProgram = %+v", followed)
	}
	var deleted struct{ DeleteHistory bool }
	gqlJSON(t, a.disc, users[0], `mutation { deleteHistory }`, nil, &deleted)
	getJSON(t, a.disc, "/api/v1/discovery/me/history", users[0], &history)
	if !deleted.DeleteHistory || len(history.Items) != 0 {
		t.Fatalf("history after deleting it = %+v", history)
	}
	var me struct{ ID string }
	getJSON(t, a.disc, "/api/v1/auth/me", users[1], &me)
	db, err := database.Open(context.Background(), "sqlite:"+filepath.Join(cfg.DataDir, "discovery.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	kept := func() (watches, follows int) {
		t.Helper()
		err := db.QueryRowContext(t.Context(), `SELECT (SELECT COUNT(*) FROM watches WHERE user_id = ?), (SELECT COUNT(*) FROM follows WHERE user_id = ?)`, me.ID, me.ID).Scan(&watches, &follows)
		if err != nil {
			t.Fatal(err)
		}
		return watches, follows
	}
	if w, f := kept(); w != 1 || f != 1 {
		t.Fatalf("viewer 1 has %d positions and %d follows, want 1 and 1", w, f)
	}
	a.do("DELETE", "/api/v1/auth/users/"+me.ID, "", 204, nil)
	eventually(t, "the deleted account's history and follows", func() (string, bool) {
		w, f := kept()
		return fmt.Sprintf("%d positions, %d follows", w, f), w == 0 && f == 0
	})
}

// TestEngagementSplit counts engagement with discovery in a process of its own on PostgreSQL,
// events over Kafka and the gateways' cache in Redis: plays posted to the discovery gateway reach
// trending, a signed-in viewer's continue watching, and search's popularity.
func TestEngagementSplit(t *testing.T) {
	brokers := testenv.Get(t, "MEDIAMESH_TEST_KAFKA_BROKERS", "a Kafka broker (bash tools/kafka/start.sh; e.g. 127.0.0.1:9092)")
	redisURL := testenv.Get(t, "MEDIAMESH_TEST_REDIS_URL", "a Redis server, e.g. redis://127.0.0.1:6379/0")
	base := app.Default()
	base.Kafka.Brokers = strings.Split(brokers, ",")
	base.Redis.URL = redisURL
	base.Auth.AdminPassword = "split engagement admin password"
	base.Gateway.RateLimits = false
	base.Auth.AdminEmail = fmt.Sprintf("admin-%d@engagement.test", time.Now().UnixNano())
	base.Ingest.AccountPassword = "split ingest account password"
	base.Ingest.CredentialsKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
	urls := startSplit(t, base, []string{app.ServiceAuth, app.ServiceMetadata, app.ServiceCMS, app.ServiceDiscovery, app.ServiceSearch, app.ServiceMedia}, app.GatewayDiscovery, app.GatewayCMS)
	a := &api{t: t, cms: urls["cms gateway"], disc: urls["discovery gateway"], unique: fmt.Sprint(time.Now().UnixNano())}
	a.token = login(t, a.cms, base.Auth.AdminEmail, base.Auth.AdminPassword)
	var ids [2]string
	var eps [2]string
	for i := range ids {
		var p, e struct{ ID string }
		a.do("POST", "/api/v1/cms/programs", fmt.Sprintf(`{"kind":"podcast","title":"Split tale %d","slug":"split-%d-%s","language":"en"}`, i, i, a.unique), 201, &p)
		a.do("POST", "/api/v1/cms/programs/"+p.ID+"/episodes", `{"episode_number":1,"title":"Split tale","duration_seconds":600}`, 201, &e)
		a.do("POST", "/api/v1/cms/programs/"+p.ID+"/publish?with_episodes=true", "", 200, nil)
		a.await("/api/v1/discovery/programs/"+p.ID+"/episodes", 200, e.ID)
		ids[i], eps[i] = p.ID, e.ID
	}
	email := "split-viewer-" + a.unique + "@example.com"
	if code, body := call(t, "POST", a.disc+"/api/v1/auth/signup", "", fmt.Sprintf(`{"email":%q,"password":"split viewer password","display_name":"Viewer"}`, email)); code != 201 {
		t.Fatalf("sign up: %d %s", code, body)
	}
	viewer := engagementClient{t: t, disc: a.disc, id: "split-viewer-" + a.unique, token: login(t, a.disc, email, "split viewer password")}
	anon := engagementClient{t: t, disc: a.disc, id: "split-anon-" + a.unique}
	// The first program, the older one, is played: only its popularity can put it first in search.
	now := time.Now()
	anon.send(playAt(eps[0], now.Add(-time.Minute), 10), playAt(eps[0], now.Add(-50*time.Second), 20), playAt(eps[0], now.Add(-40*time.Second), 30))
	viewer.send(playAt(eps[0], now, 240))
	var trending ranked
	eventually(t, "trending over Kafka", func() (string, bool) {
		getJSON(t, a.disc, "/api/v1/discovery/trending?type=episode", "", &trending)
		return fmt.Sprint(trending.ids()), len(trending.Items) == 1 && trending.Items[0].Plays == 4 && trending.ids()[0] == eps[0]
	})
	var cw struct {
		Items []struct {
			PositionSeconds int `json:"position_seconds"`
		}
	}
	getJSON(t, a.disc, "/api/v1/discovery/me/continue-watching", viewer.token, &cw)
	if len(cw.Items) != 1 || cw.Items[0].PositionSeconds != 240 {
		t.Fatalf("continue watching = %+v", cw)
	}
	eventually(t, "search by popularity over Kafka", func() (string, bool) {
		var found struct{ Items []struct{ ID string } }
		getJSON(t, a.disc, "/api/v1/discovery/search?q=split&type=program", "", &found)
		var got []string
		for _, it := range found.Items {
			got = append(got, it.ID)
		}
		return fmt.Sprint(got), len(got) == 2 && got[0] == ids[0]
	})
}
