package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// openLoop sends the requests of next at rate a second for d, each at its own scheduled moment
// whatever the answers before it did, from as many workers as that takes, and measures each
// latency from the scheduled moment (so a server that stalls is charged for the requests that
// queued behind the stall: no coordinated omission). ok says whether an answer counts and what it
// is worth (1 for a read; the events a post carried). It returns what the counted answers were
// worth a second, their latencies, and how many did not count.
func openLoop(next func(*rand.Rand) (*http.Request, error), rate float64, d time.Duration, ok func(*http.Response, []byte) (int64, bool)) result {
	n := int(rate * d.Seconds())
	interval := time.Duration(float64(time.Second) / rate)
	jobs := make(chan time.Time, n)
	start := time.Now()
	go func() {
		defer close(jobs)
		for i := 0; i < n; {
			now := time.Now()
			for ; i < n && !start.Add(time.Duration(i)*interval).After(now); i++ {
				jobs <- start.Add(time.Duration(i) * interval)
			}
			time.Sleep(100 * time.Microsecond)
		}
	}()
	var (
		mu        sync.Mutex
		latencies []time.Duration
		errs      atomic.Int64
		counted   atomic.Int64
		wg        sync.WaitGroup
	)
	for w := range 512 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
			var mine []time.Duration
			for at := range jobs {
				req, err := next(r)
				if err != nil {
					errs.Add(1)
					continue
				}
				resp, err := client.Do(req)
				if err != nil {
					errs.Add(1)
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				worth, good := ok(resp, body)
				if !good {
					errs.Add(1)
					continue
				}
				counted.Add(worth)
				mine = append(mine, time.Since(at))
			}
			mu.Lock()
			latencies = append(latencies, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if len(latencies) == 0 {
		return result{errors: errs.Load()}
	}
	slices.Sort(latencies)
	return result{rate: float64(counted.Load()) / elapsed.Seconds(), p50: latencies[len(latencies)/2], p99: latencies[len(latencies)*99/100], errors: errs.Load()}
}

// runEngagementAtRate is the -engagement scenario with -browse-rate: the cached browse read at a
// fixed rate below what the machine can serve, alone and then while play events are posted at
// eventsRate a second (batches of batch), each load open-loop (see openLoop). A closed-loop read
// (wrk's, or -engagement without -browse-rate) takes every core by itself, so any other work
// raises its p99; at a fixed rate the p99 says what the events cost the readers.
func runEngagementAtRate(disc string, episodes []string, d time.Duration, browseRate, eventsRate float64, batch int) error {
	browse := func(*rand.Rand) (*http.Request, error) {
		return http.NewRequest("GET", disc+"/api/v1/discovery/programs?limit=20", nil)
	}
	read := func(resp *http.Response, _ []byte) (int64, bool) { return 1, resp.StatusCode == http.StatusOK }
	var seq atomic.Int64
	post := func(r *rand.Rand) (*http.Request, error) {
		return playsRequest(r, disc, fmt.Sprintf("loadgen-rate-%d", seq.Add(1)%64), episodes, batch)
	}
	accepted := func(resp *http.Response, body []byte) (int64, bool) {
		var got struct{ Accepted int64 }
		if resp.StatusCode != http.StatusAccepted || json.Unmarshal(body, &got) != nil {
			return 0, false
		}
		return got.Accepted, true
	}

	alone := openLoop(browse, browseRate, d, read)
	var during, events result
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); during = openLoop(browse, browseRate, d, read) }()
	go func() { defer wg.Done(); events = openLoop(post, eventsRate/float64(batch), d, accepted) }()
	wg.Wait()
	fmt.Printf("fixed rates: browse %.0f req/s, events %.0f/s offered (posts of %d plays)\n", browseRate, eventsRate, batch)
	fmt.Printf("%-44s %10s %10s %10s %8s\n", "scenario", "rate", "p50", "p99", "errors")
	for _, l := range []struct {
		name string
		res  result
	}{{"cached browse alone (req)", alone}, {"engagement posts (events taken)", events}, {"cached browse beside them (req)", during}} {
		fmt.Printf("%-44s %8.0f/s %10v %10v %8d\n", l.name, l.res.rate, l.res.p50.Round(10*time.Microsecond), l.res.p99.Round(10*time.Microsecond), l.res.errors)
	}
	row(fmt.Sprintf("cached browse at %.0f req/s, alone", browseRate), alone.rate, "req/s", alone.p50, alone.p99)
	row(fmt.Sprintf("engagement events at %.0f/s offered", eventsRate), events.rate, "events/s", events.p50, events.p99)
	row(fmt.Sprintf("cached browse at %.0f req/s, beside the events", browseRate), during.rate, "req/s", during.p50, during.p99)
	if alone.p99 > 0 {
		fmt.Printf("browse p99 with engagement: %+.0f%%\n", 100*(float64(during.p99)/float64(alone.p99)-1))
	}
	return nil
}
