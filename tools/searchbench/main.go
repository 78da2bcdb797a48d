// Command searchbench measures the three search engines on one corpus in one run (issue 18): it
// indexes the same episodes (1,000,000 by default) into the in-memory engine, PostgreSQL and
// OpenSearch through index.Index, and reports for each the indexing rate (documents/s), then serves
// searches over HTTP from this process and loads them from 32 connections, reporting q/s, p50 and
// p99, beside a bare echo handler served and loaded the same way (the ratio makes figures from a
// busy, shared machine comparable).
//
//	go run ./tools/searchbench [-episodes 1000000] [-engines memory,postgres,opensearch] [-connections 32] [-duration 20s]
//
// `make bench-search-1m` runs it; it is heavy (several GB of memory and minutes of both cores) and
// never part of CI. The corpus has the shape of tools/loadgen's seeding with -vocabulary 20000:
// programs of 100 episodes, alternately Arabic and English, each program's title three words, its
// summary twelve and one tag, each episode's title three words and summary twenty, drawn from
// 20,000 generated words per language with a Zipf distribution (-vocabulary 0: loadgen's 40 fixed
// words, every one in 10 to 40% of the documents, the worst case). The searches are loadgen's too:
// two words of one language, drawn the same way, first page of 20. PostgreSQL runs when
// MEDIAMESH_TEST_POSTGRES_URL is set (in a schema of its own, dropped afterwards), OpenSearch when
// MEDIAMESH_TEST_OPENSEARCH_URL is set (behind an alias of its own, dropped afterwards).
//
// Indexing: -writers goroutines each send batches of -batch documents (UpsertBatch); OpenSearch is
// loaded as a rebuild (mediamesh replay) is: into a new index without periodic refreshes, with
// refresh=false, committed at the end (settings restored, refreshed, alias moved: inside the measured
// time); PostgreSQL is analysed after the load (outside it, as autovacuum would do it).
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/services/search/index"
	"github.com/mediamesh/mediamesh/tools/internal/words"
)

const (
	envPostgres   = "MEDIAMESH_TEST_POSTGRES_URL"
	envOpenSearch = "MEDIAMESH_TEST_OPENSEARCH_URL"
)

// Targets of the issue, on this machine.
const (
	targetIndexRate = 10_000 // documents/s
	targetQPS       = 800
	targetP99       = 50 * time.Millisecond
)

type options struct {
	episodes, perProgram, vocabulary int
	engines                          []string
	connections, writers, batch      int
	duration, warmup                 time.Duration
	queries, samples                 int
	// keep names the PostgreSQL schema and the OpenSearch alias of the corpus ("" for throwaway
	// ones): kept after the run, and searched again without indexing when they hold the whole corpus.
	keep string
	// cpuProfile is where the CPU profile of each engine's measured search load goes
	// (PATH.ENGINE), "" for none.
	cpuProfile string
}

func main() {
	var o options
	var engines string
	flag.IntVar(&o.episodes, "episodes", 1_000_000, "episodes to index (plus one program per -per-program of them)")
	flag.IntVar(&o.perProgram, "per-program", 100, "episodes per program")
	flag.IntVar(&o.vocabulary, "vocabulary", 20_000, "generated words per language, drawn from a Zipf distribution (0: tools/loadgen's 40 fixed words)")
	flag.StringVar(&engines, "engines", "memory,postgres,opensearch", "engines to measure, comma-separated")
	flag.IntVar(&o.connections, "connections", 32, "concurrent HTTP connections of the search load")
	flag.IntVar(&o.writers, "writers", 2, "concurrent writers while indexing")
	flag.IntVar(&o.batch, "batch", 1010, "documents per UpsertBatch")
	flag.DurationVar(&o.duration, "duration", 20*time.Second, "measured time of each search load")
	flag.DurationVar(&o.warmup, "warmup", 3*time.Second, "unmeasured load before each measurement")
	flag.IntVar(&o.queries, "queries", 20_000, "distinct queries, cycled through")
	flag.IntVar(&o.samples, "samples", 200, "queries searched one at a time before the load, for the hits per query (and a fifth as many misspelt words, for the typo fallback)")
	flag.StringVar(&o.keep, "keep", "", "keep the PostgreSQL schema mm_searchbench_NAME and the OpenSearch alias mediamesh-searchbench-NAME after the run, and reuse them without indexing when they already hold the whole corpus (letters, digits, _)")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write the CPU profile of each engine's measured search load to FILE.ENGINE (the whole process: the engine, the HTTP server and the load)")
	flag.Parse()
	o.engines = strings.Split(engines, ",")
	if strings.Trim(o.keep, "abcdefghijklmnopqrstuvwxyz0123456789_") != "" {
		fmt.Fprintln(os.Stderr, "searchbench: -keep takes lower-case letters, digits and _")
		os.Exit(2)
	}
	if err := run(context.Background(), os.Stdout, o); err != nil {
		fmt.Fprintln(os.Stderr, "searchbench:", err)
		os.Exit(1)
	}
}

// row is what one engine measured.
type row struct {
	engine         string
	docs           int
	indexRate      float64
	indexTook      time.Duration
	load           loadResult
	echo           loadResult
	hitsPerQuery   float64
	zeroHitQueries float64
	typoP50        time.Duration
	typoFound      float64
	loaded         bool // the index was kept from an earlier run (-keep): indexing not measured
}

func run(ctx context.Context, w io.Writer, o options) error {
	v, err := words.New(o.vocabulary)
	if err != nil {
		return err
	}
	c := corpus{v: v, episodes: o.episodes, perProgram: o.perProgram, epoch: time.Now().UTC().Truncate(time.Second)}
	qs := make([]string, o.queries)
	r := mrand.New(mrand.NewPCG(42, 42))
	for i := range qs {
		qs[i] = v.Query(r)
	}
	fmt.Fprintf(w, "corpus: %d episodes in %d programs (%d documents), %s; %d distinct two-word queries; GOMAXPROCS %d\n",
		o.episodes, c.programs(), c.documents(), v.Describe(), len(qs), runtime.GOMAXPROCS(0))
	var rows []row
	for _, name := range o.engines {
		name = strings.TrimSpace(name)
		e, skip, err := openEngine(ctx, name, o.keep, c.documents())
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if e == nil {
			fmt.Fprintf(w, "skipping %s: %s\n", name, skip)
			continue
		}
		res, err := measure(ctx, w, e, c, qs, o)
		e.close()
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		rows = append(rows, res)
		runtime.GC()
		debug.FreeOSMemory()
	}
	printTable(w, rows, o)
	return nil
}

// engine is an index under measurement: where the load writes (write; ix when nil), what runs
// after it (after: OpenSearch's commit, PostgreSQL's statistics) and how to let it go; loaded
// when it already holds the corpus (-keep), and is then not indexed again.
type engine struct {
	name   string
	ix     index.Index
	write  index.Index
	after  func(ctx context.Context) error
	close  func()
	loaded bool
}

func openEngine(ctx context.Context, name, keep string, documents int) (*engine, string, error) {
	none := func(context.Context) error { return nil }
	switch name {
	case "memory":
		return &engine{name: name, ix: index.NewMemory(), after: none, close: func() {}}, "", nil
	case "postgres":
		raw := os.Getenv(envPostgres)
		if raw == "" {
			return nil, envPostgres + " is not set", nil
		}
		return openPostgres(ctx, raw, keep, documents)
	case "opensearch":
		raw := os.Getenv(envOpenSearch)
		if raw == "" {
			return nil, envOpenSearch + " is not set (bash tools/opensearch/start.sh)", nil
		}
		urls := strings.Split(raw, ",")
		alias := "mediamesh-searchbench-" + randomHex()
		if keep != "" {
			alias = "mediamesh-searchbench-" + keep
		}
		// AcceptOtherSchema: a kept index of an older schema is rebuilt below.
		ix, err := index.NewOpenSearch(ctx, index.OpenSearchConfig{URLs: urls, Alias: alias, Refresh: "false", Timeout: time.Minute,
			AcceptOtherSchema: keep != ""})
		if err != nil {
			return nil, "", err
		}
		drop := func() { _ = ix.Drop(context.Background()) }
		if keep != "" {
			drop = func() {}
			if n, schema, err := osCount(ctx, urls[0], alias); err == nil && n == documents && schema == index.OpenSearchSchemaVersion {
				return &engine{name: name, ix: ix, after: func(context.Context) error { return nil }, close: drop, loaded: true}, "", nil
			}
		}
		// Loaded as `mediamesh replay` loads it: a rebuild beside the (empty) serving index, committed
		// at the end (which refreshes it and moves the alias).
		rb, err := ix.BeginRebuild(ctx)
		if err != nil {
			_ = ix.Drop(context.Background())
			return nil, "", err
		}
		return &engine{name: name, ix: ix, write: rb, after: rb.Commit, close: drop}, "", nil
	}
	return nil, "", fmt.Errorf("unknown engine %q (memory, postgres, opensearch)", name)
}

// osCount returns how many documents the index behind alias holds and its schema version (the
// mapping's _meta).
func osCount(ctx context.Context, base, alias string) (int, int, error) {
	get := func(path string, out any) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(base, "/")+"/"+alias+path, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer func() { _ = resp.Body.Close() }()
		if resp.StatusCode != http.StatusOK {
			return errors.New(resp.Status)
		}
		return json.NewDecoder(resp.Body).Decode(out)
	}
	var count struct {
		Count int `json:"count"`
	}
	if err := get("/_count", &count); err != nil {
		return 0, 0, err
	}
	var mappings map[string]struct {
		Mappings struct {
			Meta struct {
				Schema int `json:"mediamesh_schema"`
			} `json:"_meta"`
		} `json:"mappings"`
	}
	if err := get("/_mapping", &mappings); err != nil {
		return 0, 0, err
	}
	for _, v := range mappings {
		return count.Count, v.Mappings.Meta.Schema, nil
	}
	return count.Count, 0, nil
}

// openPostgres creates a schema of its own in the database at raw (mm_searchbench_KEEP, kept, when
// keep is set, and reused as it is when it holds the whole corpus), applies the index migrations
// in it and returns the Postgres index there; closing drops a schema that is not kept.
func openPostgres(ctx context.Context, raw, keep string, documents int) (*engine, string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, "", fmt.Errorf("%s is not a URL", envPostgres)
	}
	admin, err := database.Open(ctx, raw)
	if err != nil {
		return nil, "", err
	}
	schema := "mm_searchbench_" + randomHex()
	if keep != "" {
		schema = "mm_searchbench_" + keep
	}
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA IF NOT EXISTS "+schema); err != nil {
		_ = admin.Close()
		return nil, "", fmt.Errorf("create schema: %w", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	db, err := database.Open(ctx, u.String())
	drop := func() {
		if db != nil {
			_ = db.Close()
		}
		if keep == "" {
			_, _ = admin.ExecContext(context.Background(), "DROP SCHEMA IF EXISTS "+schema+" CASCADE")
		}
		_ = admin.Close()
	}
	if err != nil {
		db = nil
		drop()
		return nil, "", err
	}
	if err := db.Migrate(ctx, index.PostgresMigrations.Component, index.PostgresMigrations.FS); err != nil {
		drop()
		return nil, "", fmt.Errorf("migrate: %w", err)
	}
	ix, err := index.NewPostgres(ctx, db)
	if err != nil {
		drop()
		return nil, "", err
	}
	analyse := func(ctx context.Context) error {
		_, err := db.ExecContext(ctx, "ANALYZE search_documents")
		return err
	}
	loaded := false
	if keep != "" {
		var n int
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM search_documents").Scan(&n); err != nil {
			drop()
			return nil, "", err
		}
		if loaded = n == documents; !loaded && n > 0 {
			if err := ix.Reset(ctx); err != nil {
				drop()
				return nil, "", err
			}
		}
	}
	return &engine{name: "postgres", ix: ix, after: analyse, close: drop, loaded: loaded}, "", nil
}

func randomHex() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// measure indexes the corpus into e, then loads its searches and the echo handler over HTTP.
func measure(ctx context.Context, w io.Writer, e *engine, c corpus, qs []string, o options) (row, error) {
	res := row{engine: e.name, docs: c.documents(), loaded: e.loaded}
	fmt.Fprintf(w, "\n%s: indexing %d documents (%d writers, batches of %d)\n", e.name, c.documents(), o.writers, o.batch)
	if e.loaded {
		fmt.Fprintf(w, "%s: the kept index holds the corpus already: not indexed again\n", e.name)
	} else {
		start := time.Now()
		if err := index1(ctx, w, e, c, o); err != nil {
			return res, err
		}
		if e.name == "opensearch" {
			if err := e.after(ctx); err != nil {
				return res, err
			}
		}
		res.indexTook = time.Since(start)
		res.indexRate = float64(c.documents()) / res.indexTook.Seconds()
		fmt.Fprintf(w, "%s: indexed in %v: %.0f documents/s\n", e.name, res.indexTook.Round(time.Millisecond), res.indexRate)
		if e.name == "postgres" {
			if err := e.after(ctx); err != nil {
				return res, err
			}
		}
	}

	// How many hits the queries find (a sample, direct).
	var hits, zero int
	sample := qs[:min(o.samples, len(qs))]
	for _, q := range sample {
		r, err := e.ix.Search(ctx, index.Query{Text: q, Limit: 20})
		if err != nil {
			return res, fmt.Errorf("search %q: %w", q, err)
		}
		hits += len(r.Hits)
		if len(r.Hits) == 0 {
			zero++
		}
	}
	res.hitsPerQuery = float64(hits) / float64(max(1, len(sample)))
	res.zeroHitQueries = float64(zero) / float64(max(1, len(sample)))

	// The typo fallback: one word of a query with a letter swapped for its neighbour, searched alone
	// (it finds nothing as typed, so the engine corrects it), one at a time.
	var typoLat []time.Duration
	found := 0
	for _, q := range qs[:min(o.samples/5, len(qs))] {
		w := []rune(strings.Fields(q)[0])
		if len(w) < 5 {
			continue
		}
		w[2], w[3] = w[3], w[2]
		t := time.Now()
		r, err := e.ix.Search(ctx, index.Query{Text: string(w), Limit: 20})
		if err != nil {
			return res, fmt.Errorf("search %q: %w", string(w), err)
		}
		typoLat = append(typoLat, time.Since(t))
		if len(r.Hits) > 0 {
			found++
		}
	}
	if len(typoLat) > 0 {
		slices.Sort(typoLat)
		res.typoP50, res.typoFound = typoLat[len(typoLat)/2], float64(found)/float64(len(typoLat))
	}

	srv, base, err := serve(e.ix)
	if err != nil {
		return res, err
	}
	defer func() { _ = srv.Close() }()
	fmt.Fprintf(w, "%s: loading searches (%d connections, %v after %v of warm-up)\n", e.name, o.connections, o.duration, o.warmup)
	searchURL := func(i int) string { return base + "/search?q=" + url.QueryEscape(qs[i%len(qs)]) }
	if _, err := load(searchURL, o.connections, o.warmup); err != nil {
		return res, err
	}
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile + "." + e.name)
		if err != nil {
			return res, err
		}
		defer func() { _ = f.Close() }()
		if err := pprof.StartCPUProfile(f); err != nil {
			return res, err
		}
	}
	res.load, err = load(searchURL, o.connections, o.duration)
	if o.cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	if err != nil {
		return res, err
	}
	echoURL := func(int) string { return base + "/echo" }
	if _, err := load(echoURL, o.connections, o.warmup); err != nil {
		return res, err
	}
	if res.echo, err = load(echoURL, o.connections, o.duration); err != nil {
		return res, err
	}
	fmt.Fprintf(w, "%s: %.0f q/s, p50 %v, p99 %v, %d errors; echo %.0f q/s (ratio %.3f)\n", e.name, res.load.rate,
		res.load.p50.Round(10*time.Microsecond), res.load.p99.Round(10*time.Microsecond), res.load.errors, res.echo.rate, res.load.rate/res.echo.rate)
	return res, nil
}

// index1 writes the corpus into e's index from o.writers goroutines.
func index1(ctx context.Context, w io.Writer, e *engine, c corpus, o options) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	programsPerBatch := max(1, o.batch/(c.perProgram+1))
	var next atomic.Int64
	var done atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	for range o.writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var docs []index.Doc
			for {
				from := int(next.Add(int64(programsPerBatch))) - programsPerBatch
				if from >= c.programs() || ctx.Err() != nil {
					return
				}
				docs = docs[:0]
				for p := from; p < min(from+programsPerBatch, c.programs()); p++ {
					docs = c.program(p, docs)
				}
				w := e.write
				if w == nil {
					w = e.ix
				}
				if err := w.UpsertBatch(ctx, docs); err != nil {
					once.Do(func() { firstErr = err; cancel() })
					return
				}
				done.Add(int64(len(docs)))
			}
		}()
	}
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	start := time.Now()
	for {
		select {
		case <-finished:
			return firstErr
		case <-tick.C:
			n := done.Load()
			fmt.Fprintf(w, "  %s: %d documents, %.0f/s\n", e.name, n, float64(n)/time.Since(start).Seconds())
		}
	}
}

// serve serves GET /search?q= (the first page of 20, as JSON) from ix and GET /echo (a fixed 1 KB
// JSON document, tools/loadgen/echo's) on a loopback port.
func serve(ix index.Index) (*http.Server, string, error) {
	body := []byte(`{"items":[` + strings.TrimSuffix(strings.Repeat(`{"id":"01a24fb5-65b2-7b79-a737-fcc6b0f65aca","title":"weekly interview kitchen"},`, 13), ",") + `]}`)
	type hit struct {
		ID           string  `json:"id"`
		Type         string  `json:"type"`
		Title        string  `json:"title"`
		ProgramTitle string  `json:"program_title,omitempty"`
		Score        float64 `json:"score"`
		Snippet      string  `json:"snippet,omitempty"`
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.GET("/echo", func(c echo.Context) error { return c.JSONBlob(http.StatusOK, body) })
	e.GET("/search", func(c echo.Context) error {
		r, err := ix.Search(c.Request().Context(), index.Query{Text: c.QueryParam("q"), Limit: 20})
		if err != nil {
			return echo.NewHTTPError(http.StatusServiceUnavailable, err.Error())
		}
		out := struct {
			Hits    []hit `json:"hits"`
			HasMore bool  `json:"has_more"`
		}{Hits: make([]hit, len(r.Hits)), HasMore: r.HasMore}
		for i, h := range r.Hits {
			out.Hits[i] = hit{ID: h.ID, Type: h.Type, Title: h.Title, ProgramTitle: h.ProgramTitle, Score: h.Score, Snippet: h.Snippet}
		}
		return c.JSON(http.StatusOK, out)
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	srv := &http.Server{Handler: e, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	return srv, "http://" + l.Addr().String(), nil
}

type loadResult struct {
	requests, errors int64
	rate             float64
	p50, p99         time.Duration
}

// load sends GETs of target(i) from connections loops for d and summarises their latencies.
func load(target func(i int) string, connections int, d time.Duration) (loadResult, error) {
	tr := &http.Transport{MaxIdleConnsPerHost: connections, MaxConnsPerHost: connections, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var mu sync.Mutex
	var lat []time.Duration
	var errs atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for k := range connections {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for i := k * 7919; ctx.Err() == nil; i++ {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, target(i), nil)
				t := time.Now()
				resp, err := client.Do(req)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
					if err == nil && resp.StatusCode != http.StatusOK {
						err = errors.New(resp.Status)
					}
				}
				if ctx.Err() != nil {
					break // cut off by the end of the run
				}
				if err != nil {
					errs.Add(1)
					continue
				}
				mine = append(mine, time.Since(t))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	took := time.Since(start)
	if len(lat) == 0 {
		return loadResult{errors: errs.Load()}, fmt.Errorf("no request succeeded (%d errors)", errs.Load())
	}
	slices.Sort(lat)
	return loadResult{
		requests: int64(len(lat)), errors: errs.Load(), rate: float64(len(lat)) / took.Seconds(),
		p50: lat[len(lat)/2], p99: lat[len(lat)*99/100],
	}, nil
}

// printTable prints the figures of every engine, with the targets.
func printTable(w io.Writer, rows []row, o options) {
	fmt.Fprintf(w, "\n| engine | documents | indexing docs/s | search q/s (%d conn.) | p50 | p99 | errors | echo q/s | ratio | hits/query | queries without hits | typo alone: p50, found |\n", o.connections)
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range rows {
		rate := fmt.Sprintf("%.0f", r.indexRate)
		if r.loaded {
			rate = "(kept)"
		}
		fmt.Fprintf(w, "| %s | %d | %s | %.0f | %v | %v | %d | %.0f | %.3f | %.1f | %.0f%% | %v, %.0f%% |\n", r.engine, r.docs, rate, r.load.rate,
			r.load.p50.Round(10*time.Microsecond), r.load.p99.Round(10*time.Microsecond), r.load.errors, r.echo.rate, r.load.rate/r.echo.rate,
			r.hitsPerQuery, 100*r.zeroHitQueries, r.typoP50.Round(10*time.Microsecond), 100*r.typoFound)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "\ntargets: indexing >= %d docs/s; search >= %d q/s with p99 < %v\n", targetIndexRate, targetQPS, targetP99)
	for _, r := range rows {
		verdict := func(ok bool) string {
			if ok {
				return "met"
			}
			return "MISSED"
		}
		indexing := verdict(r.indexRate >= targetIndexRate)
		if r.loaded {
			indexing = "not measured (kept)"
		}
		fmt.Fprintf(tw, "%s\tindexing %s\tq/s %s\tp99 %s\n", r.engine, indexing, verdict(r.load.rate >= targetQPS), verdict(r.load.p99 < targetP99))
	}
	_ = tw.Flush()
}
