package index

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mediamesh/mediamesh/internal/database"
)

//go:embed migrations
var migrationFiles embed.FS

// PostgresMigrations are the migrations of the Postgres index: its table search_documents
// (migrations/postgres/; the in-memory index needs none). NewPostgres does not apply them: the
// caller applies them to the database, with database.DB.Migrate, before it builds the index (the
// composition root does so with the search service's own migrations).
var PostgresMigrations = database.Migrations{Component: "search.index", FS: migrationFiles}

// rankWeights are the ts_rank_cd weights of {D, C, B, A}: prefix matches, tags, summary, title.
const rankWeights = `'{0.1, 0.2, 0.4, 1.0}'::float4[]`

// pgRankCandidates bounds the rows that a search by relevance ranks: the first rows that match
// the text and the filters, in the order the bitmap scan of the full-text index finds them (storage
// order), up to this many. The rank (ts_rank_cd, freshness, popularity) needs each row's tsvector
// from the heap, and over a million documents two common words match a fifth of them: 2 s to rank
// 200,000 rows, 0.25 s for 2,000 (EXPLAIN ANALYZE, docs/search-scale.md). A query that matches more
// rows than this is ranked, and paged, within these; one that matches fewer is ranked whole, as
// before. The other engines have no such bound: PostgreSQL is for catalogues up to about 100,000
// items, or to be filtered (language, type, category) before it ranks.
const pgRankCandidates = 1000

// pgUpsertChunk is how many documents one INSERT statement of UpsertBatch carries.
const pgUpsertChunk = 500

// Postgres is an Index kept in PostgreSQL full text search, in the table search_documents. It
// is safe for concurrent use.
type Postgres struct {
	db *database.DB
}

var _ Index = (*Postgres)(nil)

// NewPostgres returns the index kept in db, a PostgreSQL database that PostgresMigrations have
// been applied to; it checks that none of them is pending. The caller keeps ownership of db.
func NewPostgres(ctx context.Context, db *database.DB) (*Postgres, error) {
	if db == nil || db.Dialect != database.Postgres {
		return nil, errors.New("index: the Postgres index needs a PostgreSQL database")
	}
	pending, err := db.Pending(ctx, PostgresMigrations.Component, PostgresMigrations.FS)
	if err != nil {
		return nil, fmt.Errorf("index: check migrations: %w", err)
	}
	if len(pending) > 0 {
		return nil, fmt.Errorf("index: migrations of %s not applied: %s (apply index.PostgresMigrations first)",
			PostgresMigrations.Component, strings.Join(pending, ", "))
	}
	return &Postgres{db: db}, nil
}

// textSearchConfig returns the PostgreSQL text search configuration of a language group.
func textSearchConfig(group string) string {
	switch group {
	case groupArabic:
		return "arabic"
	case groupEnglish:
		return "english"
	default:
		return "simple"
	}
}

// Upsert implements Index.
func (pg *Postgres) Upsert(ctx context.Context, doc Doc) error {
	return pg.UpsertBatch(ctx, []Doc{doc})
}

// upsertSQL inserts the documents given as parallel arrays, replacing a stored document only
// by a newer version. The text arrives normalised (see analysis.go): the _n columns as it is, for
// prefixes and suggestions, the _l ones with the plurals of the lexicon made singular, for the
// language configuration (see languageText).
const upsertSQL = `
INSERT INTO search_documents AS d (id, doc_type, program_id, kind, language, category, duration_seconds,
	published_at, popularity, version, ts_config, title_norm, tsv, tsv_title, doc)
SELECT u.id, u.doc_type, u.program_id, u.kind, u.language, u.category, NULLIF(u.duration, 0),
	u.published_at, u.popularity, u.version, u.ts_config, u.title_n,
	setweight(to_tsvector(u.ts_config::regconfig, u.title_l), 'A') ||
	setweight(to_tsvector(u.ts_config::regconfig, u.summary_l), 'B') ||
	setweight(to_tsvector(u.ts_config::regconfig, u.tags_l), 'C') ||
	to_tsvector('simple', u.title_n || ' ' || u.summary_n || ' ' || u.tags_n),
	to_tsvector('simple', u.title_n),
	u.doc
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int4[],
	$8::timestamptz[], $9::float8[], $10::int8[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[],
	$16::text[], $17::text[], $18::text[])
	AS u(id, doc_type, program_id, kind, language, category, duration, published_at, popularity, version,
	ts_config, title_n, summary_n, tags_n, doc, title_l, summary_l, tags_l)
ON CONFLICT (id) DO UPDATE SET
	doc_type = EXCLUDED.doc_type, program_id = EXCLUDED.program_id, kind = EXCLUDED.kind,
	language = EXCLUDED.language, category = EXCLUDED.category, duration_seconds = EXCLUDED.duration_seconds,
	published_at = EXCLUDED.published_at, popularity = EXCLUDED.popularity, version = EXCLUDED.version,
	ts_config = EXCLUDED.ts_config, title_norm = EXCLUDED.title_norm, tsv = EXCLUDED.tsv,
	tsv_title = EXCLUDED.tsv_title, doc = EXCLUDED.doc
WHERE d.version < EXCLUDED.version`

// UpsertBatch implements Index. All documents are written in one transaction.
func (pg *Postgres) UpsertBatch(ctx context.Context, docs []Doc) error {
	docs, err := newestVersions(docs)
	if err != nil {
		return err
	}
	if len(docs) == 0 {
		return nil
	}
	return pg.db.InTx(ctx, func(tx *sql.Tx) error {
		for start := 0; start < len(docs); start += pgUpsertChunk {
			args, err := upsertArgs(docs[start:min(start+pgUpsertChunk, len(docs))])
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, upsertSQL, args...); err != nil {
				return fmt.Errorf("index: upsert documents: %w", err)
			}
		}
		return nil
	})
}

// upsertArgs returns the array arguments of upsertSQL for docs.
func upsertArgs(docs []Doc) ([]any, error) {
	n := len(docs)
	var (
		ids, types, programs, kinds, langs, cats = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		durations                                = make([]int32, n)
		published                                = make([]time.Time, n)
		popularity                               = make([]float64, n)
		versions                                 = make([]int64, n)
		configs, titles, summaries, tags, srcs   = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		titlesL, summariesL, tagsL               = make([]string, n), make([]string, n), make([]string, n)
	)
	for i, d := range docs {
		d = storedDoc(d)
		src, err := json.Marshal(d)
		if err != nil {
			return nil, fmt.Errorf("index: encode document %q: %w", d.ID, err)
		}
		ids[i], types[i], programs[i], kinds[i], langs[i], cats[i] = d.ID, d.Type, d.ProgramID, d.Kind, d.Language, d.CategorySlug
		if d.Type == TypeEpisode && d.DurationSeconds > 0 {
			durations[i] = int32(min(d.DurationSeconds, 1<<31-1))
		}
		published[i], popularity[i], versions[i] = d.PublishedAt, d.Popularity, d.Version
		configs[i] = textSearchConfig(languageGroup(d.Language))
		titles[i], summaries[i] = normalizedText(d.Title), normalizedText(d.Summary)
		var tagWords []string
		for _, t := range d.Tags {
			tagWords = normalizeWords(tagWords, t)
		}
		tags[i] = strings.Join(tagWords, " ")
		srcs[i] = string(src)
		g := languageGroup(d.Language)
		titlesL[i], summariesL[i], tagsL[i] = languageText(g, titles[i]), languageText(g, summaries[i]), languageText(g, tags[i])
	}
	return []any{ids, types, programs, kinds, langs, cats, durations, published, popularity, versions,
		configs, titles, summaries, tags, srcs, titlesL, summariesL, tagsL}, nil
}

// Empty reports whether the index holds no document: after a migration that emptied it, its
// owner fills it again (the search service with LoadIndex).
func (pg *Postgres) Empty(ctx context.Context) (bool, error) {
	var any bool
	if err := pg.db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM search_documents)`).Scan(&any); err != nil {
		return false, fmt.Errorf("index: %w", err)
	}
	return !any, nil
}

// Delete implements Index.
func (pg *Postgres) Delete(ctx context.Context, id string) error {
	if _, err := pg.db.ExecContext(ctx, `DELETE FROM search_documents WHERE id = $1`, id); err != nil {
		return fmt.Errorf("index: delete %q: %w", id, err)
	}
	return nil
}

// DeleteProgram implements Index.
func (pg *Postgres) DeleteProgram(ctx context.Context, programID string) error {
	_, err := pg.db.ExecContext(ctx,
		`DELETE FROM search_documents WHERE id = $1 OR (program_id = $1 AND program_id <> '')`, programID)
	if err != nil {
		return fmt.Errorf("index: delete program %q: %w", programID, err)
	}
	return nil
}

// Reset implements Index.
func (pg *Postgres) Reset(ctx context.Context) error {
	if _, err := pg.db.ExecContext(ctx, `DELETE FROM search_documents`); err != nil {
		return fmt.Errorf("index: reset: %w", err)
	}
	return nil
}

// sqlQuery accumulates the text and arguments of a statement.
type sqlQuery struct {
	args []any
}

// arg adds an argument and returns its placeholder.
func (s *sqlQuery) arg(v any) string {
	s.args = append(s.args, v)
	return "$" + strconv.Itoa(len(s.args))
}

// tsLexeme quotes w as a tsquery operand, followed by suffix (weights, prefix mark).
func tsLexeme(w, suffix string) string {
	w = strings.ReplaceAll(w, `\`, `\\`)
	return "'" + strings.ReplaceAll(w, "'", "''") + "'" + suffix
}

// tsAnd returns the tsquery text that requires every word, each with suffix.
func tsAnd(words []string, suffix string) string {
	parts := make([]string, len(words))
	for i, w := range words {
		parts[i] = tsLexeme(w, suffix)
	}
	return strings.Join(parts, " & ")
}

// textTSQueries returns, for each text search configuration to search (only that of language
// when it is set), the SQL expression of the tsquery of t: every word in the title, summary or
// tags (weights A, B, C) as the configuration analyses it, stop words left out, and the last
// word alternatively as a prefix of an unstemmed normalised word (weight D).
func textTSQueries(s *sqlQuery, t textQuery, language string) map[string]string {
	gs := groups
	if language != "" {
		gs = []string{languageGroup(language)}
	}
	var prefix string
	if t.prefix != "" {
		prefix = s.arg(tsLexeme(t.prefix, ":*D"))
	}
	out := make(map[string]string, len(gs))
	for _, g := range gs {
		var head, last string
		if h := t.head(); len(h) > 0 {
			words := make([]string, len(h))
			for i, w := range h {
				words[i] = languageWord(g, w)
			}
			head = s.arg(tsAnd(words, ":ABC"))
		}
		if t.prefix != "" {
			last = s.arg(tsLexeme(languageWord(g, t.last()), ":ABC"))
		}
		cfg := textSearchConfig(g)
		var q string
		switch {
		case prefix == "":
			q = fmt.Sprintf("to_tsquery('%s', %s)", cfg, head)
		case head == "":
			q = fmt.Sprintf("(to_tsquery('%s', %s) || to_tsquery('simple', %s))", cfg, last, prefix)
		default:
			q = fmt.Sprintf("(to_tsquery('%s', %s) && (to_tsquery('%s', %s) || to_tsquery('simple', %s)))", cfg, head, cfg, last, prefix)
		}
		out[cfg] = q
	}
	return out
}

// whereClause joins conditions into a WHERE clause ("" for none).
func whereClause(conds []string) string {
	if len(conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(conds, " AND ")
}

// searchSQL is the shape of a search statement: an optional CTE q that computes the tsquery
// of each text search configuration once (a generic plan of a prepared statement would
// otherwise evaluate to_tsquery for every row), the FROM list, the WHERE conditions and, when
// the search has text, the SQL expression of the text rank of a row d.
type searchSQL struct {
	with  string
	from  string
	conds []string
	rank  string
}

// where returns the WHERE clause of the search, with extra conditions.
func (q *searchSQL) where(extra ...string) string {
	return whereClause(append(q.conds[:len(q.conds):len(q.conds)], extra...))
}

// newSearchSQL returns the statement shape of p, adding its arguments to s.
func newSearchSQL(s *sqlQuery, p *plan) *searchSQL {
	q := &searchSQL{from: "search_documents d"}
	eq := func(column, v string) {
		if v != "" {
			q.conds = append(q.conds, column+" = "+s.arg(v))
		}
	}
	eq("d.doc_type", p.Type)
	eq("d.category", p.Category)
	eq("d.language", p.Language)
	eq("d.kind", p.Kind)
	if p.DurationMin != nil {
		q.conds = append(q.conds, "d.duration_seconds >= "+s.arg(int64(*p.DurationMin)))
	}
	if p.DurationMax != nil {
		q.conds = append(q.conds, "d.duration_seconds <= "+s.arg(int64(*p.DurationMax)))
	}
	if p.PublishedFrom != nil {
		q.conds = append(q.conds, "d.published_at >= "+s.arg(p.PublishedFrom.UTC()))
	}
	if p.PublishedTo != nil {
		q.conds = append(q.conds, "d.published_at < "+s.arg(p.PublishedTo.UTC()))
	}
	if p.text.empty() {
		return q
	}
	queries := textTSQueries(s, p.text, p.Language)
	var columns, match, cases []string
	for _, g := range groups {
		cfg := textSearchConfig(g)
		expr, ok := queries[cfg]
		if !ok {
			continue
		}
		columns = append(columns, expr+" AS "+cfg)
		match = append(match, fmt.Sprintf("(d.ts_config = '%s' AND d.tsv @@ q.%s)", cfg, cfg))
		cases = append(cases, fmt.Sprintf("WHEN '%s' THEN ts_rank_cd(%s, d.tsv, q.%s)", cfg, rankWeights, cfg))
	}
	q.with = "WITH q AS MATERIALIZED (SELECT " + strings.Join(columns, ", ") + ") "
	q.from = "q CROSS JOIN search_documents d"
	q.conds = append(q.conds, "("+strings.Join(match, " OR ")+")")
	q.rank = "(CASE d.ts_config " + strings.Join(cases, " ") + " ELSE 0 END)::float8"
	return q
}

// Search implements Index.
func (pg *Postgres) Search(ctx context.Context, q Query) (Result, error) {
	p, err := newPlan(q, time.Now())
	if err != nil {
		return Result{}, err
	}
	if p.matchesNothing() {
		return p.result(nil, nil), nil
	}
	res, err := pg.search(ctx, p)
	if err != nil || len(res.Hits) > 0 || p.text.empty() {
		return res, err
	}
	// Nothing found: try once more with the words the index does not know corrected (see
	// typo.go).
	t, ok, err := pg.correct(ctx, p.text)
	if err != nil || !ok {
		return res, err
	}
	p.text = t
	return pg.search(ctx, p)
}

// typoSQL counts, for each tsquery of a word of weight D (the unstemmed normalised words), the
// documents that have it, up to $2: enough to tell the frequent from the rare (1,000), or the known
// from the unknown (1), without walking every document of a frequent word.
// The rows are sought in the index of each text search configuration (see
// migrations/postgres/0003_tsv_per_config.sql).
const typoSQL = `SELECT u.i, (SELECT count(*) FROM (SELECT 1 FROM search_documents d WHERE
	(d.ts_config = 'arabic' AND d.tsv @@ u.q) OR (d.ts_config = 'english' AND d.tsv @@ u.q) OR (d.ts_config = 'simple' AND d.tsv @@ u.q)
	LIMIT $2) x)
FROM unnest($1::tsquery[]) WITH ORDINALITY AS u(q, i)`

// correct returns t with each word that no document has replaced by the word one edit away that
// the most documents have (ties: the first in byte order; the counts stop at 1,000), and reports
// whether it replaced any. The unknown words and their candidates are counted in two statements.
func (pg *Postgres) correct(ctx context.Context, t textQuery) (textQuery, bool, error) {
	count := func(words []string, limit int) ([]int, error) {
		qs := make([]string, len(words))
		for i, w := range words {
			qs[i] = tsLexeme(w, ":D")
		}
		rows, err := pg.db.QueryContext(ctx, typoSQL, qs, limit)
		if err != nil {
			return nil, fmt.Errorf("index: correct typos: %w", err)
		}
		defer rows.Close()
		out := make([]int, len(words))
		for rows.Next() {
			var i, n int
			if err := rows.Scan(&i, &n); err != nil {
				return nil, fmt.Errorf("index: correct typos: %w", err)
			}
			out[i-1] = n
		}
		return out, rows.Err()
	}
	candidates := typoWords(t, func(string) bool { return false }) // positions in t.words; known ones are told below
	if len(candidates) == 0 {
		return t, false, nil
	}
	words := make([]string, len(candidates))
	for k, i := range candidates {
		words[k] = t.words[i]
	}
	known, err := count(words, 1)
	if err != nil {
		return t, false, err
	}
	var variants []string
	var owner []int // the word of each variant, a position in t.words
	for k, i := range candidates {
		if known[k] > 0 {
			continue
		}
		for _, v := range editVariants(t.words[i]) {
			variants = append(variants, v)
			owner = append(owner, i)
		}
	}
	if len(variants) == 0 {
		return t, false, nil
	}
	counts, err := count(variants, 1000)
	if err != nil {
		return t, false, err
	}
	fix := map[int]string{}
	best := map[int]int{}
	for k, v := range variants {
		i, n := owner[k], counts[k]
		if n == 0 {
			continue
		}
		if cur, ok := fix[i]; !ok || n > best[i] || n == best[i] && v < cur {
			fix[i], best[i] = v, n
		}
	}
	if len(fix) == 0 {
		return t, false, nil
	}
	return t.withCorrections(fix), true, nil
}

// search runs the plan p.
func (pg *Postgres) search(ctx context.Context, p *plan) (Result, error) {
	var s sqlQuery
	shape := newSearchSQL(&s, p)
	filterArgs := len(s.args)

	var stmt string
	if p.sort == SortRelevance {
		now := s.arg(float64(p.now))
		score := fmt.Sprintf(
			"%s * (1 + %g / (1 + GREATEST(0, %s::float8 - EXTRACT(EPOCH FROM d.published_at)::float8) / %d)) * (1 + %g * ln(1 + GREATEST(d.popularity, 0)))",
			shape.rank, freshnessWeight, now, freshnessScale, popularityWeight)
		keyset := ""
		if p.after != nil {
			sc, id := s.arg(p.after.Score), s.arg(p.after.ID)
			keyset = fmt.Sprintf(" WHERE m.score < %s OR (m.score = %s AND m.id > %s)", sc, sc, id)
		}
		// The text rank reads each candidate's tsvector from the heap: only the first
		// pgRankCandidates matching rows are ranked (see pgRankCandidates).
		from := shape.from
		if shape.rank != "" {
			from = fmt.Sprintf("q CROSS JOIN LATERAL (SELECT * FROM search_documents d%s LIMIT %d) d", shape.where(), pgRankCandidates)
		} else {
			from += shape.where()
		}
		stmt = fmt.Sprintf("%sSELECT m.doc, m.score FROM (SELECT d.id, d.doc, %s AS score FROM %s) m%s ORDER BY m.score DESC, m.id LIMIT %s",
			shape.with, score, from, keyset, s.arg(p.limit+1))
	} else {
		var keyset []string
		if p.after != nil {
			pub, id := s.arg(time.UnixMicro(p.after.Published).UTC()), s.arg(p.after.ID)
			keyset = append(keyset, fmt.Sprintf("(d.published_at < %s OR (d.published_at = %s AND d.id > %s))", pub, pub, id))
		}
		stmt = fmt.Sprintf("%sSELECT d.doc, 0::float8 FROM %s%s ORDER BY d.published_at DESC, d.id LIMIT %s",
			shape.with, shape.from, shape.where(keyset...), s.arg(p.limit+1))
	}
	hits, err := pg.hits(ctx, stmt, s.args)
	if err != nil {
		return Result{}, err
	}
	var facets map[string][]FacetCount
	if len(p.facets) > 0 {
		if facets, err = pg.facets(ctx, p.facets, shape, s.args[:filterArgs]); err != nil {
			return Result{}, err
		}
	}
	return p.result(hits, facets), nil
}

// hits runs a page query whose rows are (doc, score).
func (pg *Postgres) hits(ctx context.Context, stmt string, args []any) ([]Hit, error) {
	rows, err := pg.db.QueryContext(ctx, stmt, args...)
	if err != nil {
		return nil, fmt.Errorf("index: search: %w", err)
	}
	defer rows.Close()
	var hits []Hit
	for rows.Next() {
		var src string
		var score float64
		if err := rows.Scan(&src, &score); err != nil {
			return nil, fmt.Errorf("index: search: %w", err)
		}
		var d Doc
		if err := json.Unmarshal([]byte(src), &d); err != nil {
			return nil, fmt.Errorf("index: decode stored document: %w", err)
		}
		hits = append(hits, Hit{Doc: d, Score: score})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("index: search: %w", err)
	}
	return hits, nil
}

// facetColumns maps each facet to its column.
var facetColumns = map[string]string{
	FacetCategory: "d.category",
	FacetLanguage: "d.language",
	FacetKind:     "d.kind",
	FacetType:     "d.doc_type",
}

// facets counts the values of each facet over the rows that the search matches, in one
// statement with a grouping set per facet.
func (pg *Postgres) facets(ctx context.Context, names []string, shape *searchSQL, args []any) (map[string][]FacetCount, error) {
	cols := make([]string, len(names))
	sets := make([]string, len(names))
	groupings := make([]string, len(names))
	for i, f := range names {
		cols[i] = facetColumns[f]
		sets[i] = "(" + cols[i] + ")"
		groupings[i] = "GROUPING(" + cols[i] + ")"
	}
	stmt := fmt.Sprintf("%sSELECT %s, %s, count(*) FROM %s%s GROUP BY GROUPING SETS (%s)",
		shape.with, strings.Join(cols, ", "), strings.Join(groupings, ", "), shape.from, shape.where(), strings.Join(sets, ", "))
	rows, err := pg.db.QueryContext(ctx, stmt, args...)
	if err != nil {
		return nil, fmt.Errorf("index: count facets: %w", err)
	}
	defer rows.Close()
	out := make(map[string][]FacetCount, len(names))
	values := make([]sql.NullString, len(names))
	grouped := make([]int, len(names))
	var count int64
	dest := make([]any, 0, 2*len(names)+1)
	for i := range names {
		dest = append(dest, &values[i])
	}
	for i := range names {
		dest = append(dest, &grouped[i])
	}
	dest = append(dest, &count)
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("index: count facets: %w", err)
		}
		for i, f := range names {
			if grouped[i] == 0 { // this row groups by the facet's column
				out[f] = append(out[f], FacetCount{Value: values[i].String, Count: count})
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("index: count facets: %w", err)
	}
	return out, nil
}

// Suggest implements Index.
func (pg *Postgres) Suggest(ctx context.Context, prefix, language string, limit int) ([]Suggestion, error) {
	r, err := newSuggestRequest(prefix, language, limit)
	if err != nil {
		return nil, err
	}
	if len(r.words) == 0 {
		return []Suggestion{}, nil
	}
	var s sqlQuery
	n := len(r.words)
	tsq := tsAnd(r.words[:n-1], "")
	if tsq != "" {
		tsq += " & "
	}
	tsq += tsLexeme(r.words[n-1], ":*")
	conds := []string{"d.tsv_title @@ to_tsquery('simple', " + s.arg(tsq) + ")"}
	if r.language != "" {
		conds = append(conds, "d.language = "+s.arg(r.language))
	}
	stmt := fmt.Sprintf("SELECT d.doc FROM search_documents d%s ORDER BY starts_with(d.title_norm, %s) DESC, d.popularity DESC, d.published_at DESC, d.id LIMIT %s",
		whereClause(conds), s.arg(r.startsWith), s.arg(r.limit))
	rows, err := pg.db.QueryContext(ctx, stmt, s.args...)
	if err != nil {
		return nil, fmt.Errorf("index: suggest: %w", err)
	}
	defer rows.Close()
	out := []Suggestion{}
	for rows.Next() {
		var src string
		if err := rows.Scan(&src); err != nil {
			return nil, fmt.Errorf("index: suggest: %w", err)
		}
		var d Doc
		if err := json.Unmarshal([]byte(src), &d); err != nil {
			return nil, fmt.Errorf("index: decode stored document: %w", err)
		}
		out = append(out, Suggestion{Text: d.Title, Type: d.Type, ID: d.ID, Language: d.Language})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("index: suggest: %w", err)
	}
	return out, nil
}
