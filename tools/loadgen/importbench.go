package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"time"
)

// runImport measures the bulk import (POST /api/v1/cms/imports): an NDJSON body of items
// published programs with 99 published episodes each (their titles and summaries drawn from the
// vocabulary) is sent once through the CMS gateway, and once to the bare echo handler at echoURL,
// which reads the body and splits its lines (the ceiling of receiving it on this machine). It
// prints items/s of each and their ratio; the import must finish with no item failed.
func runImport(cms, echoURL, email, password string, items int) error {
	token, err := login(cms, email, password)
	if err != nil {
		return err
	}
	body := importBody(items, time.Now().UnixNano())
	fmt.Printf("%-36s %10s %8s %10s %8s\n", "scenario", "items/s", "ratio", "time", "failed")
	echoTook, _, err := postImport(echoURL+"/import", "", body)
	if err != nil {
		return fmt.Errorf("echo: %w", err)
	}
	echoRate := float64(items) / echoTook.Seconds()
	fmt.Printf("%-36s %10.0f %8s %10v %8d\n", "bare echo handler (reads NDJSON)", echoRate, "1.000", echoTook.Round(time.Millisecond), 0)
	took, last, err := postImport(cms+"/api/v1/cms/imports", token, body)
	if err != nil {
		return err
	}
	var done struct {
		Kind                          string
		Total, Created, Failed        int
		Updated, Unchanged, Processed int
	}
	if err := json.Unmarshal(last, &done); err != nil || done.Kind != "done" || done.Total != items || done.Created != items {
		return fmt.Errorf("the import did not create every item: %s", last)
	}
	rate := float64(items) / took.Seconds()
	fmt.Printf("%-36s %10.0f %8.3f %10v %8d\n", fmt.Sprintf("import, %d items (NDJSON)", items), rate, rate/echoRate, took.Round(time.Millisecond), done.Failed)
	row(fmt.Sprintf("bulk import, %d items (NDJSON)", items), rate, "items/s", 0, 0)
	return nil
}

// importBody is items NDJSON lines: a published program, then 99 published episodes of it, and
// so on; unique names the slugs.
func importBody(items int, unique int64) []byte {
	r := rand.New(rand.NewPCG(uint64(unique), 11))
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	var slug string
	for i := range items {
		if i%100 == 0 {
			slug = fmt.Sprintf("import-%d-%d", unique, i/100)
			lang := []string{"ar", "en"}[r.IntN(2)]
			_ = enc.Encode(map[string]any{"type": "program", "slug": slug, "kind": "podcast", "title": text.Title(r, lang), "summary": text.Sentence(r, lang, 12), "language": lang, "publish": true})
			continue
		}
		lang := []string{"ar", "en"}[r.IntN(2)]
		_ = enc.Encode(map[string]any{"type": "episode", "program_slug": slug, "season_number": 1, "episode_number": i % 100, "title": text.Title(r, lang), "summary": text.Sentence(r, lang, 12),
			"language": lang, "duration_seconds": 60 + r.IntN(7200), "publish": true})
	}
	return b.Bytes()
}

// postImport sends an NDJSON body and reads the answer to its end: how long that took and the
// answer's last line.
func postImport(url, token string, body []byte) (time.Duration, []byte, error) {
	req, err := http.NewRequest("POST", url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	start := time.Now()
	resp, err := (&http.Client{}).Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(resp.Body)
		return 0, nil, fmt.Errorf("%s: %d %s", url, resp.StatusCode, msg)
	}
	var last []byte
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		last = append(last[:0], sc.Bytes()...)
	}
	if err := sc.Err(); err != nil {
		return 0, nil, err
	}
	return time.Since(start), last, nil
}
