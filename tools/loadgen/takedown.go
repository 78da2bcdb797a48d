package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// runTakedowns measures how long an unpublished program stays public while writers create and
// publish episodes at full speed: rounds times it publishes a program with a unique word in its
// title, waits until discovery and search show it, unpublishes it, and times from the CMS's answer
// until the program page answers 404 and a search for the word finds nothing (polling every 5 ms).
func runTakedowns(cms, disc, email, password string, rounds, writers int) error {
	token, err := login(cms, email, password)
	if err != nil {
		return err
	}
	var target struct{ ID string }
	body, _ := json.Marshal(map[string]any{"kind": "show", "title": "takedown load target", "slug": fmt.Sprintf("takedown-load-%d", time.Now().UnixNano()), "language": "en"})
	if err := send("POST", cms+"/api/v1/cms/programs", token, body, 201, &target); err != nil {
		return err
	}
	if err := send("POST", cms+"/api/v1/cms/programs/"+target.ID+"/publish", token, nil, 200, nil); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var written, writeErrs atomic.Int64
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() { // create and publish episodes of the target program as fast as the CMS answers
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 3))
			for n := 1 + w; ctx.Err() == nil; n += writers {
				body, _ := json.Marshal(map[string]any{"episode_number": 1 + n%99999, "title": text.Title(r, "en"), "summary": text.Sentence(r, "en", 20)})
				var ep struct{ ID string }
				if send("POST", cms+"/api/v1/cms/programs/"+target.ID+"/episodes", token, body, 201, &ep) != nil ||
					send("POST", cms+"/api/v1/cms/episodes/"+ep.ID+"/publish", token, nil, 200, nil) != nil {
					writeErrs.Add(1)
					continue
				}
				written.Add(2)
			}
		}()
	}
	start := time.Now()
	var took []time.Duration
	for i := 0; i < rounds; i++ {
		word := fmt.Sprintf("takedown%dx%d", time.Now().UnixNano()%1_000_000, i)
		var p struct{ ID string }
		body, _ := json.Marshal(map[string]any{"kind": "show", "title": "Takedown " + word, "slug": fmt.Sprintf("takedown-%d-%d", time.Now().UnixNano(), i), "language": "en"})
		if err := send("POST", cms+"/api/v1/cms/programs", token, body, 201, &p); err != nil {
			cancel()
			wg.Wait()
			return err
		}
		if err := send("POST", cms+"/api/v1/cms/programs/"+p.ID+"/publish", token, nil, 200, nil); err != nil {
			cancel()
			wg.Wait()
			return err
		}
		page, search := disc+"/api/v1/discovery/programs/"+p.ID, disc+"/api/v1/discovery/search?q="+url.QueryEscape(word)
		if !poll(10*time.Second, func() bool { return status(page) == http.StatusOK && found(search) }) {
			cancel()
			wg.Wait()
			return fmt.Errorf("takedown: program %s never became public", p.ID)
		}
		if err := send("POST", cms+"/api/v1/cms/programs/"+p.ID+"/unpublish", token, nil, 200, nil); err != nil {
			cancel()
			wg.Wait()
			return err
		}
		t0 := time.Now()
		if !poll(30*time.Second, func() bool { return status(page) == http.StatusNotFound && !found(search) }) {
			cancel()
			wg.Wait()
			return fmt.Errorf("takedown: program %s still public after 30 s", p.ID)
		}
		took = append(took, time.Since(t0))
	}
	cancel()
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(took)
	fmt.Printf("%d takedowns while %d writers created and published (%.0f writes/s, %d failed):\n", rounds, writers, float64(written.Load())/elapsed.Seconds(), writeErrs.Load())
	fmt.Printf("  gone from discovery and search after: p50 %v, p99 %v, max %v\n",
		took[len(took)/2].Round(time.Millisecond), took[(len(took)*99)/100].Round(time.Millisecond), took[len(took)-1].Round(time.Millisecond))
	row(fmt.Sprintf("takedown, gone from browse and search (%d writers writing)", writers), float64(written.Load())/elapsed.Seconds(), "writes/s", took[len(took)/2], took[(len(took)*99)/100])
	return nil
}

// poll calls cond every 5 ms until it holds (true) or d has passed (false).
func poll(d time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return false
}

// status returns the status of GET u, 0 when it fails.
func status(u string) int {
	resp, err := client.Get(u)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// found reports whether the search u has a hit.
func found(u string) bool {
	var res struct {
		Items []json.RawMessage `json:"items"`
	}
	return send("GET", u, "", nil, 200, &res) == nil && len(res.Items) > 0
}
