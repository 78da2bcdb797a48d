package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// runMix measures the gateway cache under editorial writes: connections readers send a
// Zipf-distributed mix of public reads (program pages, their episode lists, episode pages and a
// few browse lists; a few programs are read far more than the rest, as on a real site) for d,
// while one writer creates and publishes publishRate episodes a second in programs drawn from the
// same distribution. It prints the reads' hit ratio from their X-Cache headers.
func runMix(cms, disc, email, password string, d time.Duration, connections int, publishRate float64) error {
	token, err := login(cms, email, password)
	if err != nil {
		return err
	}
	programs, episodes, err := catalogue(disc)
	if err != nil {
		return err
	}
	if len(programs) < 2 {
		return fmt.Errorf("mix: the public side has %d programs; seed it first", len(programs))
	}
	zipf := func(r *rand.Rand) *rand.Zipf { return rand.NewZipf(r, 1.1, 1, uint64(len(programs)-1)) }
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()

	var published, writeErrs atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the writer
		defer wg.Done()
		r := rand.New(rand.NewPCG(1, 2))
		z := zipf(r)
		tick := time.NewTicker(time.Duration(float64(time.Second) / publishRate))
		defer tick.Stop()
		base := 1000 + int(time.Now().Unix()%90000) // episode numbers of this run: base, base+1, ...
		for n := 0; ; n++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			prog := programs[z.Uint64()]
			body, _ := json.Marshal(map[string]any{"episode_number": 1000 + (base+n)%99000, "title": text.Title(r, "en"), "summary": text.Sentence(r, "en", 20)})
			var ep struct{ ID string }
			if err := send("POST", cms+"/api/v1/cms/programs/"+prog+"/episodes", token, body, 201, &ep); err != nil {
				writeErrs.Add(1)
				continue
			}
			if err := send("POST", cms+"/api/v1/cms/episodes/"+ep.ID+"/publish", token, nil, 200, nil); err != nil {
				writeErrs.Add(1)
				continue
			}
			published.Add(1)
		}
	}()
	var hits, misses, errs atomic.Int64
	for c := 0; c < connections; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(c), 9))
			z := zipf(r)
			for ctx.Err() == nil {
				i := z.Uint64()
				var path string
				switch k := r.IntN(100); {
				case k < 40:
					path = "/api/v1/discovery/programs/" + programs[i]
				case k < 70:
					path = "/api/v1/discovery/programs/" + programs[i] + "/episodes?limit=20"
				case k < 90 && len(episodes[i]) > 0:
					path = "/api/v1/discovery/episodes/" + episodes[i][r.IntN(len(episodes[i]))]
				default:
					path = []string{"/api/v1/discovery/programs?limit=20", "/api/v1/discovery/latest?limit=20", "/api/v1/discovery/categories"}[r.IntN(3)]
				}
				resp, err := client.Get(disc + path)
				if err != nil {
					errs.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				switch {
				case resp.StatusCode != http.StatusOK:
					errs.Add(1)
				case resp.Header.Get("X-Cache") == "HIT":
					hits.Add(1)
				default:
					misses.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	reads := hits.Load() + misses.Load()
	if reads == 0 {
		return fmt.Errorf("mix: no read succeeded (%d errors)", errs.Load())
	}
	fmt.Printf("Zipf read mix over %d programs for %v with %d connections, %.1f publishes/s (%d episodes published, %d failed writes):\n",
		len(programs), d, connections, float64(published.Load())/d.Seconds(), published.Load(), writeErrs.Load())
	fmt.Printf("  %d reads (%.0f/s), hit ratio %.1f%%, %d errors\n", reads, float64(reads)/d.Seconds(), 100*float64(hits.Load())/float64(reads), errs.Load())
	row(fmt.Sprintf("cache hit ratio, Zipf reads, %.0f publishes/s", float64(published.Load())/d.Seconds()), 100*float64(hits.Load())/float64(reads), "%", 0, 0)
	return nil
}

// catalogue returns the public programs (newest first) and the ids of the first page of episodes
// of each.
func catalogue(disc string) (programs []string, episodes [][]string, err error) {
	cursor := ""
	for {
		var page struct {
			Items []struct{ ID string } `json:"items"`
			Page  struct {
				NextCursor *string `json:"next_cursor"`
			} `json:"page"`
		}
		if err := send("GET", disc+"/api/v1/discovery/programs?limit=100"+cursor, "", nil, 200, &page); err != nil {
			return nil, nil, err
		}
		for _, p := range page.Items {
			programs = append(programs, p.ID)
		}
		if page.Page.NextCursor == nil || len(programs) >= 5000 {
			break
		}
		cursor = "&cursor=" + *page.Page.NextCursor
	}
	episodes = make([][]string, len(programs))
	for i, p := range programs {
		var page struct {
			Items []struct{ ID string } `json:"items"`
		}
		if err := send("GET", disc+"/api/v1/discovery/programs/"+p+"/episodes?limit=20", "", nil, 200, &page); err != nil {
			return nil, nil, err
		}
		for _, e := range page.Items {
			episodes[i] = append(episodes[i], e.ID)
		}
	}
	return programs, episodes, nil
}
