// Command loadgen seeds a running MediaMesh with generated content through the CMS gateway and then
// measures the public side under load, wrk-style: a fixed number of concurrent connections, each
// sending its next request as soon as the previous one is answered, for a fixed duration.
//
//	go run ./tools/loadgen -cms http://127.0.0.1:8081 -discovery http://127.0.0.1:8080 \
//	    -admin-password ... -programs 1000 -episodes 100 -duration 15s -connections 16
//
// Scenarios: cached browse (the programs list, served from the gateway cache), uncached search (a
// different query on every request, so every one misses the cache and reaches the index), and the
// GraphQL programs-with-episodes query; -engagement posts play events beside the browse read. For
// each it prints requests/s, p50, p99 and errors. Run it
// against a gateway whose rate limits are off (--gateway.rate-limits=false), or it measures 429s;
// `make bench` does all of this on a fresh `--target=all`.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mediamesh/mediamesh/tools/internal/words"
)

func main() {
	cms := flag.String("cms", "http://127.0.0.1:8081", "CMS gateway")
	disc := flag.String("discovery", "http://127.0.0.1:8080", "discovery gateway")
	email := flag.String("admin-email", "admin@mediamesh.local", "an ADMIN or EDITOR account")
	password := flag.String("admin-password", "", "its password")
	programs := flag.Int("programs", 1000, "programs to create")
	episodes := flag.Int("episodes", 100, "published episodes per program")
	writers := flag.Int("writers", 8, "concurrent seeding requests")
	duration := flag.Duration("duration", 15*time.Second, "how long each scenario runs")
	connections := flag.Int("connections", 16, "concurrent connections per scenario")
	mix := flag.Bool("mix", false, "instead of seeding: the cache hit ratio of a Zipf-distributed read mix over the content already there, while episodes are published at -publish-rate")
	publishRate := flag.Float64("publish-rate", 10, "with -mix: episodes created and published per second")
	takedowns := flag.Int("takedowns", 0, "instead of seeding: this many takedowns (unpublish until gone from discovery and search) timed while -writers create and publish")
	vocabularySize := flag.Int("vocabulary", 0, "0: the 40 fixed words, drawn uniformly (the worst case for search); N (at least 20000): N generated words per language, drawn from a Zipf distribution, for text and queries alike")
	importItems := flag.Int("import", 0, "instead of seeding: import this many items (published programs of 99 published episodes) in one NDJSON request, beside the bare echo handler at -echo")
	echoURL := flag.String("echo", "http://127.0.0.1:18198", "with -import: the bare echo handler (tools/loadgen/echo)")
	engagement := flag.Int("engagement", 0, "instead of seeding: post batches of this many play events (recordEngagement) from -connections clients beside the cached browse read, and compare the browse p99 with and without them")
	browseRate := flag.Float64("browse-rate", 0, "with -engagement: read the browse list at this fixed rate a second (open loop) instead of as fast as it is answered, and post events at -events-rate")
	eventsRate := flag.Float64("events-rate", 5000, "with -engagement and -browse-rate: play events posted a second (open loop)")
	firstReads := flag.Int("first-reads", 0, "instead of seeding: this many publishes, each followed (after -settle) by one timed read of the program's page, its episodes and the home list (what the first reader after a change waits, with or without cache warming)")
	settle := flag.Duration("settle", 300*time.Millisecond, "with -first-reads: how long after each publish the reads are made")
	flag.StringVar(&rowsPath, "rows", "", "append every figure to this file too, a tab-separated line each (tools/loadgen/bench.sh makes one table of them)")
	flag.StringVar(&rowsLabel, "label", "", "with -rows: a prefix for the scenario of every row")
	queries := flag.Int("queries", 0, "instead of seeding: print this many search queries (URL-escaped q values) drawn from the vocabulary, one a line")
	flag.Parse()
	var err error
	if text, err = words.New(*vocabularySize); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(2)
	}
	if *queries > 0 {
		r := rand.New(rand.NewPCG(7, 7))
		for range *queries {
			fmt.Println(url.QueryEscape(text.Query(r)))
		}
		return
	}
	if *engagement > 0 {
		err = runEngagement(*cms, *disc, *email, *password, *duration, *connections, *engagement, *browseRate, *eventsRate)
	} else if *firstReads > 0 {
		err = runFirstReads(*cms, *disc, *email, *password, *firstReads, *settle)
	} else if *importItems > 0 {
		err = runImport(*cms, *echoURL, *email, *password, *importItems)
	} else if *takedowns > 0 {
		err = runTakedowns(*cms, *disc, *email, *password, *takedowns, *writers)
	} else if *mix {
		err = runMix(*cms, *disc, *email, *password, *duration, *connections, *publishRate)
	} else {
		err = run(*cms, *disc, *email, *password, *programs, *episodes, *writers, *duration, *connections)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

var client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}

func run(cms, disc, email, password string, programs, episodes, writers int, duration time.Duration, connections int) error {
	token, err := login(cms, email, password)
	if err != nil {
		return err
	}
	start := time.Now()
	ids, err := seed(cms, token, programs, episodes, writers)
	if err != nil {
		return err
	}
	total := programs * episodes
	fmt.Printf("seeded %d programs and %d published episodes through the CMS gateway in %v (%.0f episodes/s)\n",
		programs, total, time.Since(start).Round(time.Second), float64(total)/time.Since(start).Seconds())
	row(fmt.Sprintf("writes, %d writers (create + publish of %d episodes)", writers, total), 2*float64(total)/time.Since(start).Seconds(), "writes/s", 0, 0)
	wait := time.Now()
	if err := awaitPublic(disc, ids[len(ids)-1], total); err != nil {
		return err
	}
	fmt.Printf("the public side caught up %v after the last write\n\n", time.Since(wait).Round(time.Millisecond))
	row("read models behind the last write", time.Since(wait).Seconds(), "s", 0, 0)

	fmt.Printf("%-34s %10s %10s %10s %8s\n", "scenario", "req/s", "p50", "p99", "errors")
	graphQL := `{"query":"{ programs(first: 10) { edges { node { id title episodes(first: 5) { edges { node { id title } } } } } } }"}`
	scenarios := []struct {
		name string
		req  func(r *rand.Rand) (*http.Request, error)
	}{
		{"cached browse (programs list)", func(*rand.Rand) (*http.Request, error) {
			return http.NewRequest("GET", disc+"/api/v1/discovery/programs?limit=20", nil)
		}},
		{"uncached search (a new query each request)", func(r *rand.Rand) (*http.Request, error) {
			q := text.Query(r)
			u := fmt.Sprintf("%s/api/v1/discovery/search?q=%s&duration_max=%d", disc, url.QueryEscape(q), 3600+r.IntN(169_000))
			return http.NewRequest("GET", u, nil)
		}},
		{"GraphQL programs + 5 episodes each", func(*rand.Rand) (*http.Request, error) {
			req, err := http.NewRequest("POST", disc+"/graphql", strings.NewReader(graphQL))
			if err == nil {
				req.Header.Set("Content-Type", "application/json")
			}
			return req, err
		}},
	}
	for _, sc := range scenarios {
		res := load(sc.req, duration, connections)
		fmt.Printf("%-34s %10.0f %10v %10v %8d\n", sc.name, res.rate, res.p50.Round(10*time.Microsecond), res.p99.Round(10*time.Microsecond), res.errors)
		row("loadgen: "+sc.name, res.rate, "req/s", res.p50, res.p99)
	}
	return nil
}

func login(cms, email, password string) (string, error) {
	var out struct {
		AccessToken string `json:"access_token"`
	}
	body, _ := json.Marshal(map[string]string{"email": email, "password": password})
	if err := send("POST", cms+"/api/v1/auth/login", "", body, 200, &out); err != nil {
		return "", fmt.Errorf("login: %w", err)
	}
	return out.AccessToken, nil
}

// send makes one request and decodes the answer into out when it has the wanted status.
func send(method, url, token string, body []byte, want int, out any) error {
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: %d: %s", method, url, resp.StatusCode, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// seed creates and publishes the programs and their episodes with a pool of writers and returns the
// program ids in creation order.
func seed(cms, token string, programs, episodes, writers int) ([]string, error) {
	ids := make([]string, programs)
	jobs := make(chan func() error)
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	for i := 0; i < writers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for job := range jobs {
				if err := job(); err != nil {
					once.Do(func() { firstErr = err })
				}
			}
		}()
	}
	stamp := time.Now().UnixNano()
	for p := 0; p < programs && firstErr == nil; p++ {
		r := rand.New(rand.NewPCG(uint64(p), 7))
		lang := []string{"ar", "en"}[p%2]
		var prog struct{ ID string }
		body, _ := json.Marshal(map[string]any{"kind": []string{"series", "podcast", "documentary", "show"}[p%4], "title": text.Title(r, lang),
			"slug": fmt.Sprintf("load-%d-%d", stamp, p), "language": lang, "summary": text.Sentence(r, lang, 12), "tags": []string{text.Word(r, lang)}})
		if err := send("POST", cms+"/api/v1/cms/programs", token, body, 201, &prog); err != nil {
			return nil, err
		}
		ids[p] = prog.ID
		if err := send("POST", cms+"/api/v1/cms/programs/"+prog.ID+"/publish", token, nil, 200, nil); err != nil {
			return nil, err
		}
		for e := 1; e <= episodes; e++ {
			body, _ := json.Marshal(map[string]any{"episode_number": e, "title": text.Title(r, lang), "summary": text.Sentence(r, lang, 20), "duration_seconds": 300 + r.IntN(7200)})
			jobs <- func() error {
				var ep struct{ ID string }
				if err := send("POST", cms+"/api/v1/cms/programs/"+prog.ID+"/episodes", token, body, 201, &ep); err != nil {
					return err
				}
				return send("POST", cms+"/api/v1/cms/episodes/"+ep.ID+"/publish", token, nil, 200, nil)
			}
		}
	}
	close(jobs)
	wg.Wait()
	return ids, firstErr
}

// awaitPublic waits until the last program is browsable and the search index counts total
// episodes (the type facet; a fresh duration_min each time keeps the gateway cache out of it).
func awaitPublic(disc, lastProgram string, total int) error {
	deadline := time.Now().Add(10 * time.Minute)
	for i := 0; time.Now().Before(deadline); i++ {
		var res struct {
			Facets struct {
				Type []struct {
					Value string
					Count int
				}
			}
		}
		if send("GET", disc+"/api/v1/discovery/programs/"+lastProgram, "", nil, 200, nil) == nil &&
			send("GET", fmt.Sprintf("%s/api/v1/discovery/search?type=episode&limit=1&facets=type&duration_min=%d", disc, i%2), "", nil, 200, &res) == nil {
			for _, b := range res.Facets.Type {
				if b.Value == "episode" && b.Count >= total {
					return nil
				}
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	return errors.New("the public side did not catch up within 10 minutes")
}

type result struct {
	rate     float64
	p50, p99 time.Duration
	errors   int64
}

// load runs connections loops of next requests for d and summarises their latencies.
func load(next func(*rand.Rand) (*http.Request, error), d time.Duration, connections int) result {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var mu sync.Mutex
	var all []time.Duration
	var errs atomic.Int64
	var wg sync.WaitGroup
	for c := 0; c < connections; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(c), uint64(time.Now().UnixNano())))
			var mine []time.Duration
			for ctx.Err() == nil {
				req, err := next(r)
				if err != nil {
					errs.Add(1)
					continue
				}
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					errs.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					errs.Add(1)
					continue
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(all) == 0 {
		return result{errors: errs.Load()}
	}
	slices.Sort(all)
	return result{rate: float64(len(all)) / d.Seconds(), p50: all[len(all)/2], p99: all[len(all)*99/100], errors: errs.Load()}
}
