// Command relevance measures the search quality of each index engine on a fixed, hand-judged
// Arabic and English query set: it loads the corpus (corpus_ar.txt, corpus_en.txt) into every
// engine it can reach through the index.Index interface, runs each query of judgments.txt, and
// prints recall@10, MRR@10 and nDCG@10 per engine and per category side by side.
//
//	go run ./tools/relevance [-engines memory,postgres,opensearch] [-misses] [-check]
//
// The in-memory engine always runs; PostgreSQL when MEDIAMESH_TEST_POSTGRES_URL is set (in a
// schema of its own, dropped afterwards), OpenSearch when MEDIAMESH_TEST_OPENSEARCH_URL is set
// (behind an alias of its own, dropped afterwards). An engine that is not configured is skipped
// with a note. -misses lists, per engine, the queries that missed relevant items; -check exits
// 1 when an engine misses a target (recall@10 of 0.95 on every morphological category; OpenSearch
// within 0.02 nDCG@10 of the in-memory engine). `make bench-relevance` runs it.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"math"
	"net/url"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/services/search/index"
)

// Targets of the issue: recall@10 on the morphological variants, and how far the nDCG@10 of
// OpenSearch may be from that of the in-memory engine.
const (
	recallTarget = 0.95
	ndcgSpread   = 0.02
)

// Environment variables naming the servers of the optional engines (the tests' own).
const (
	envPostgres   = "MEDIAMESH_TEST_POSTGRES_URL"
	envOpenSearch = "MEDIAMESH_TEST_OPENSEARCH_URL"
)

func main() {
	engines := flag.String("engines", "memory,postgres,opensearch", "engines to measure, comma-separated")
	misses := flag.Bool("misses", false, "list the queries that missed relevant items, per engine")
	check := flag.Bool("check", false, "exit 1 when an engine misses a target")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	ok, err := run(ctx, os.Stdout, strings.Split(*engines, ","), *misses)
	if err != nil {
		fmt.Fprintln(os.Stderr, "relevance:", err)
		os.Exit(2)
	}
	if *check && !ok {
		os.Exit(1)
	}
}

// engine is an index under measurement and how to let it go.
type engine struct {
	name  string
	index index.Index
	close func()
}

// openEngine opens the engine called name, or returns a reason to skip it.
func openEngine(ctx context.Context, name string) (*engine, string, error) {
	switch name {
	case "memory":
		return &engine{name: name, index: index.NewMemory(), close: func() {}}, "", nil
	case "postgres":
		raw := os.Getenv(envPostgres)
		if raw == "" {
			return nil, envPostgres + " is not set", nil
		}
		ix, closeFn, err := openPostgres(ctx, raw)
		if err != nil {
			return nil, "", err
		}
		return &engine{name: name, index: ix, close: closeFn}, "", nil
	case "opensearch":
		raw := os.Getenv(envOpenSearch)
		if raw == "" {
			return nil, envOpenSearch + " is not set (bash tools/opensearch/start.sh)", nil
		}
		ix, err := index.NewOpenSearch(ctx, index.OpenSearchConfig{URLs: strings.Split(raw, ","), Alias: "mediamesh-relevance-" + randomHex()})
		if err != nil {
			return nil, "", err
		}
		return &engine{name: name, index: ix, close: func() { _ = ix.Drop(context.Background()) }}, "", nil
	}
	return nil, "", fmt.Errorf("unknown engine %q (memory, postgres, opensearch)", name)
}

// openPostgres creates a schema of its own in the database at raw, applies the index migrations
// in it and returns the Postgres index there, with a function that drops the schema.
func openPostgres(ctx context.Context, raw string) (index.Index, func(), error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, nil, fmt.Errorf("%s is not a URL", envPostgres)
	}
	admin, err := database.Open(ctx, raw)
	if err != nil {
		return nil, nil, err
	}
	schema := "mm_relevance_" + randomHex()
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		_ = admin.Close()
		return nil, nil, fmt.Errorf("create schema: %w", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	db, err := database.Open(ctx, u.String())
	drop := func() {
		if db != nil {
			_ = db.Close()
		}
		_, _ = admin.ExecContext(context.Background(), "DROP SCHEMA IF EXISTS "+schema+" CASCADE")
		_ = admin.Close()
	}
	if err != nil {
		db = nil
		drop()
		return nil, nil, err
	}
	if err := db.Migrate(ctx, index.PostgresMigrations.Component, index.PostgresMigrations.FS); err != nil {
		drop()
		return nil, nil, fmt.Errorf("migrate: %w", err)
	}
	ix, err := index.NewPostgres(ctx, db)
	if err != nil {
		drop()
		return nil, nil, err
	}
	return ix, drop, nil
}

func randomHex() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// outcome is what one engine scored.
type outcome struct {
	name       string
	byCategory map[string]*total
	all        total
	misses     []string
}

// evaluate loads the corpus into e and runs every query.
func evaluate(ctx context.Context, e *engine, docs []index.Doc, qs []judgedQuery) (*outcome, error) {
	if err := e.index.Reset(ctx); err != nil {
		return nil, fmt.Errorf("%s: reset: %w", e.name, err)
	}
	if err := e.index.UpsertBatch(ctx, docs); err != nil {
		return nil, fmt.Errorf("%s: load the corpus: %w", e.name, err)
	}
	o := &outcome{name: e.name, byCategory: map[string]*total{}}
	for _, q := range qs {
		res, err := e.index.Search(ctx, index.Query{Text: q.text, Limit: cutoff})
		if err != nil {
			return nil, fmt.Errorf("%s: query %q: %w", e.name, q.text, err)
		}
		ranked := make([]string, len(res.Hits))
		for i, h := range res.Hits {
			ranked[i] = h.ID
		}
		s := measure(ranked, q.grades)
		t := o.byCategory[q.category]
		if t == nil {
			t = &total{}
			o.byCategory[q.category] = t
		}
		t.add(s)
		o.all.add(s)
		if s.recall < 1 {
			var missing []string
			for id := range q.grades {
				if !slices.Contains(ranked, id) {
					missing = append(missing, id)
				}
			}
			slices.Sort(missing)
			o.misses = append(o.misses, fmt.Sprintf("%-13s %-28q recall %.2f, missing %s; got %s",
				q.category, q.text, s.recall, strings.Join(missing, " "), strings.Join(ranked, " ")))
		}
	}
	return o, nil
}

// run measures the engines and prints the report; it reports whether every engine met the
// targets.
func run(ctx context.Context, w io.Writer, names []string, listMisses bool) (bool, error) {
	docs, err := loadCorpus()
	if err != nil {
		return false, err
	}
	qs, err := loadJudgments(docs)
	if err != nil {
		return false, err
	}
	var outcomes []*outcome
	for _, name := range names {
		name = strings.TrimSpace(name)
		e, skip, err := openEngine(ctx, name)
		if err != nil {
			return false, fmt.Errorf("%s: %w", name, err)
		}
		if e == nil {
			fmt.Fprintf(w, "skipping %s: %s\n", name, skip)
			continue
		}
		o, err := evaluate(ctx, e, docs, qs)
		e.close()
		if err != nil {
			return false, err
		}
		outcomes = append(outcomes, o)
	}
	fmt.Fprintf(w, "%d items (%d Arabic, %d English), %d judged queries; R = recall@10, MRR = MRR@10, nDCG = nDCG@10\n\n",
		len(docs), countLanguage(docs, "ar"), countLanguage(docs, "en"), len(qs))
	printTable(w, outcomes)
	ok := checkTargets(w, outcomes)
	if listMisses {
		for _, o := range outcomes {
			fmt.Fprintf(w, "\n%s: %d queries missed relevant items\n", o.name, len(o.misses))
			for _, m := range o.misses {
				fmt.Fprintln(w, "  "+m)
			}
		}
	}
	return ok, nil
}

func countLanguage(docs []index.Doc, language string) int {
	n := 0
	for _, d := range docs {
		if d.Language == language {
			n++
		}
	}
	return n
}

// printTable prints one row per category and one for all queries, with R, MRR and nDCG of each
// engine side by side.
func printTable(w io.Writer, outcomes []*outcome) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	header := "category\tqueries\t"
	for _, o := range outcomes {
		header += o.name + " R\tMRR\tnDCG\t"
	}
	fmt.Fprintln(tw, header)
	row := func(label string, get func(o *outcome) total) {
		line := label + "\t" + fmt.Sprint(get(outcomes[0]).n) + "\t"
		for _, o := range outcomes {
			m := get(o).mean()
			line += fmt.Sprintf("%.3f\t%.3f\t%.3f\t", m.recall, m.rr, m.ndcg)
		}
		fmt.Fprintln(tw, line)
	}
	if len(outcomes) == 0 {
		return
	}
	for _, c := range categories {
		row(c.name, func(o *outcome) total {
			if t := o.byCategory[c.name]; t != nil {
				return *t
			}
			return total{}
		})
	}
	row("all", func(o *outcome) total { return o.all })
	_ = tw.Flush()
}

// checkTargets prints the targets each engine misses and reports whether all were met.
func checkTargets(w io.Writer, outcomes []*outcome) bool {
	ok := true
	var memory, opensearch *outcome
	for _, o := range outcomes {
		for _, c := range categories {
			t := o.byCategory[c.name]
			if c.morphological && t != nil && t.mean().recall < recallTarget {
				fmt.Fprintf(w, "target missed: %s recall@10 on %s is %.3f, below %.2f\n", o.name, c.name, t.mean().recall, recallTarget)
				ok = false
			}
		}
		switch o.name {
		case "memory":
			memory = o
		case "opensearch":
			opensearch = o
		}
	}
	if memory != nil && opensearch != nil {
		d := math.Abs(memory.all.mean().ndcg - opensearch.all.mean().ndcg)
		if d > ndcgSpread {
			fmt.Fprintf(w, "target missed: nDCG@10 of opensearch and memory differ by %.3f, more than %.2f\n", d, ndcgSpread)
			ok = false
		}
	}
	if ok {
		fmt.Fprintln(w, "\nevery engine measured meets the targets")
	}
	return ok
}
