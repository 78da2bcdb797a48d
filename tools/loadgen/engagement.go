package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// runEngagement is the -engagement scenario (issue 15): the cached browse read alone, then the same
// read while connections clients post batches of batch play events (recordEngagement) as fast as
// they are answered. It prints the events/s taken, the posts' latencies, and the browse p99 with
// and without the events. It uses the published episodes already there (make bench seeds them;
// else it seeds 20 programs of 10 episodes).
//
// With browseRate (events at eventsRate), both loads run at fixed rates instead (runEngagementAtRate).
func runEngagement(cms, disc, email, password string, d time.Duration, connections, batch int, browseRate, eventsRate float64) error {
	episodes, err := publishedEpisodes(disc, 500)
	if err != nil {
		return err
	}
	if len(episodes) == 0 {
		token, err := login(cms, email, password)
		if err != nil {
			return err
		}
		ids, err := seed(cms, token, 20, 10, 4)
		if err != nil {
			return err
		}
		if err := awaitPublic(disc, ids[len(ids)-1], 200); err != nil {
			return err
		}
		if episodes, err = publishedEpisodes(disc, 500); err != nil {
			return err
		}
	}
	if browseRate > 0 {
		return runEngagementAtRate(disc, episodes, d, browseRate, eventsRate, batch)
	}
	browse := func(*rand.Rand) (*http.Request, error) {
		return http.NewRequest("GET", disc+"/api/v1/discovery/programs?limit=20", nil)
	}
	readers := max(connections/2, 1)
	alone := load(browse, d, readers)
	var during result
	var events engagementResult
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); during = load(browse, d, readers) }()
	go func() { defer wg.Done(); events = postEngagement(disc, episodes, d, connections, batch) }()
	wg.Wait()
	fmt.Printf("%-44s %10s %10s %10s %8s\n", "scenario", "rate", "p50", "p99", "errors")
	fmt.Printf("%-44s %8.0f/s %10v %10v %8d\n", "cached browse alone (req)", alone.rate, alone.p50.Round(10*time.Microsecond), alone.p99.Round(10*time.Microsecond), alone.errors)
	fmt.Printf("%-44s %8.0f/s %10v %10v %8d\n", fmt.Sprintf("engagement posts of %d plays (events)", batch), events.rate, events.p50.Round(10*time.Microsecond), events.p99.Round(10*time.Microsecond), events.errors)
	fmt.Printf("%-44s %8.0f/s %10v %10v %8d\n", "cached browse beside them (req)", during.rate, during.p50.Round(10*time.Microsecond), during.p99.Round(10*time.Microsecond), during.errors)
	if alone.p99 > 0 {
		fmt.Printf("browse p99 with engagement: %+.0f%%\n", 100*(float64(during.p99)/float64(alone.p99)-1))
	}
	return nil
}

// publishedEpisodes returns up to n published episode ids, newest first.
func publishedEpisodes(disc string, n int) ([]string, error) {
	var ids []string
	cursor := ""
	for len(ids) < n {
		var page struct {
			Items []struct{ ID string }
			Page  struct {
				NextCursor *string `json:"next_cursor"`
			}
		}
		u := disc + "/api/v1/discovery/latest?limit=100"
		if cursor != "" {
			u += "&cursor=" + cursor
		}
		if err := send("GET", u, "", nil, 200, &page); err != nil {
			return nil, err
		}
		for _, it := range page.Items {
			ids = append(ids, it.ID)
		}
		if page.Page.NextCursor == nil {
			break
		}
		cursor = *page.Page.NextCursor
	}
	return ids[:min(n, len(ids))], nil
}

type engagementResult struct {
	rate     float64 // events accepted a second
	p50, p99 time.Duration
	errors   int64
}

// postEngagement posts batches of plays of episodes from connections clients for d.
func postEngagement(disc string, episodes []string, d time.Duration, connections, batch int) engagementResult {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var mu sync.Mutex
	var all []time.Duration
	var errs, accepted atomic.Int64
	var wg sync.WaitGroup
	for c := range connections {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(c), uint64(time.Now().UnixNano())))
			clientID := fmt.Sprintf("loadgen-%d-%d", c, r.Uint32())
			var mine []time.Duration
			for ctx.Err() == nil {
				req, err := playsRequest(r, disc, clientID, episodes, batch)
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
				var got struct{ Accepted int64 }
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted || json.Unmarshal(b, &got) != nil {
					errs.Add(1)
					continue
				}
				accepted.Add(got.Accepted)
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(all) == 0 {
		return engagementResult{errors: errs.Load()}
	}
	slices.Sort(all)
	return engagementResult{rate: float64(accepted.Load()) / d.Seconds(), p50: all[len(all)/2], p99: all[len(all)*99/100], errors: errs.Load()}
}

// playsRequest is a post of batch play events of clientID, of episodes drawn Zipf-wise, to the
// event endpoint.
func playsRequest(r *rand.Rand, disc, clientID string, episodes []string, batch int) (*http.Request, error) {
	var body strings.Builder
	fmt.Fprintf(&body, `{"client_id":%q,"events":[`, clientID)
	for i := range batch {
		if i > 0 {
			body.WriteByte(',')
		}
		fmt.Fprintf(&body, `{"event_id":%q,"type":"play","content_type":"episode","content_id":%q,"position_seconds":%d}`,
			uuid.Must(uuid.NewV7()), episodes[zipfIndex(r, len(episodes))], r.IntN(3600))
	}
	body.WriteString("]}")
	req, err := http.NewRequest("POST", disc+"/api/v1/discovery/events", strings.NewReader(body.String()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "MediaMeshLoadgen/1.0 (player)")
	return req, nil
}

// zipfIndex draws an index below n, the low ones far more often (a few hits, a long tail).
func zipfIndex(r *rand.Rand, n int) int {
	return min(int(float64(n)*math.Pow(r.Float64(), 2.5)), n-1)
}
