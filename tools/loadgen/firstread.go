package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"time"
)

// runFirstReads measures what the first public reader after a publish waits: rounds times it
// creates and publishes an episode of a program that readers have been reading (its page, its
// episodes and the home list), lets the change reach the read models (settle), and times one read
// of each of those three pages, noting whether the gateway answered it from its cache. With cache
// warming (gateway.cache_warm) the gateway has recomputed them in the background; without it each
// is a miss that waits for the service.
func runFirstReads(cms, disc, email, password string, rounds int, settle time.Duration) error {
	token, err := login(cms, email, password)
	if err != nil {
		return err
	}
	var p struct{ ID string }
	body, _ := json.Marshal(map[string]any{"kind": "show", "title": "First reads", "slug": fmt.Sprintf("first-reads-%d", time.Now().UnixNano()), "language": "en"})
	if err := send("POST", cms+"/api/v1/cms/programs", token, body, 201, &p); err != nil {
		return err
	}
	if err := send("POST", cms+"/api/v1/cms/programs/"+p.ID+"/publish", token, nil, 200, nil); err != nil {
		return err
	}
	pages := []string{"/api/v1/discovery/programs?limit=20", "/api/v1/discovery/programs/" + p.ID, "/api/v1/discovery/programs/" + p.ID + "/episodes?limit=20"}
	time.Sleep(settle)
	for range 5 { // readers make them hot
		for _, page := range pages {
			if _, _, err := timedRead(disc + page); err != nil {
				return err
			}
		}
	}
	r := rand.New(rand.NewPCG(5, 5))
	var took []time.Duration
	hits := 0
	for i := range rounds {
		body, _ := json.Marshal(map[string]any{"episode_number": i + 1, "title": text.Title(r, "en"), "summary": text.Sentence(r, "en", 20)})
		var ep struct{ ID string }
		if err := send("POST", cms+"/api/v1/cms/programs/"+p.ID+"/episodes", token, body, 201, &ep); err != nil {
			return err
		}
		if err := send("POST", cms+"/api/v1/cms/episodes/"+ep.ID+"/publish", token, nil, 200, nil); err != nil {
			return err
		}
		time.Sleep(settle)
		for _, page := range pages {
			d, hit, err := timedRead(disc + page)
			if err != nil {
				return err
			}
			took = append(took, d)
			if hit {
				hits++
			}
		}
	}
	slices.Sort(took)
	fmt.Printf("first reads after a publish (%d publishes x %d pages, %s after each): p50 %s, p99 %s, max %s; %d of %d answered from the cache\n",
		rounds, len(pages), settle, took[len(took)/2].Round(10*time.Microsecond), took[len(took)*99/100].Round(10*time.Microsecond), took[len(took)-1].Round(10*time.Microsecond), hits, len(took))
	row("first reads after a publish, from the cache", 100*float64(hits)/float64(len(took)), "%", took[len(took)/2], took[len(took)*99/100])
	return nil
}

// timedRead GETs url and returns how long it took and whether the gateway answered from its cache.
func timedRead(url string) (time.Duration, bool, error) {
	start := time.Now()
	resp, err := http.Get(url)
	if err != nil {
		return 0, false, err
	}
	defer resp.Body.Close()
	var discard json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&discard); err != nil || resp.StatusCode != http.StatusOK {
		return 0, false, fmt.Errorf("GET %s: status %d %v", url, resp.StatusCode, err)
	}
	return time.Since(start), resp.Header.Get("X-Cache") == "HIT", nil
}
