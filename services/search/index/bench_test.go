package index

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mediamesh/mediamesh/internal/database/databasetest"
)

// benchDocCount is how many episodes the benchmark indexes (a tenth with -short).
const benchDocCount = 100_000

// benchEpoch is the newest publication time of the generated episodes.
var benchEpoch = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

var arabicWords = strings.Fields(`صباح مساء أخبار حوار ثقافة فنون موسيقى رياضة كرة سياسة اقتصاد تاريخ علوم
	صحة طب تقنية برنامج حلقة ضيف لقاء قصة رواية شعر أدب مدينة قرية بحر نهر جبل صحراء سفر رحلة طعام
	مطبخ وصفة عائلة أطفال شباب تعليم مدرسة جامعة طالب معلم كتاب مكتبة فيلم سينما مسرح غناء لحن تراث
	حضارة عالم وطن أرض سماء شمس قمر نجوم ليل نهار يوم أسبوع شهر عام ذكريات أحلام أمل حب صداقة سلام
	تحقيق وثائقي حكاية أسرار إبداع فن رسم تصوير طبيعة حيوان نبات مناخ بيئة طاقة مستقبل ماضي حاضر إنسان
	مجتمع قضية نقاش رأي تحليل سوق عمل مهنة مشروع نجاح سؤال جواب مغامرة بطولة مباراة لاعب فريق جمهور`)

var englishWords = strings.Fields(`morning evening news talk culture arts music sport football politics economy
	history science health medicine technology program episode guest interview story novel poetry
	literature city village sea river mountain desert travel journey food kitchen recipe family
	children youth education school university student teacher book library film cinema theatre
	singing melody heritage civilisation world homeland earth sky sun moon stars night day week month
	year memories dreams hope love friendship peace investigation documentary tale secrets creativity
	art painting photography nature animals plants climate environment energy future past present
	people society issue debate opinion analysis market work career project success question answer
	adventure championship match player team audience running podcasts deep ocean space`)

var frenchWords = strings.Fields(`matin soir nouvelles culture musique sport histoire science santé voyage
	cuisine famille école livre film théâtre monde terre ciel soleil lune nuit jour amour paix`)

var benchCategories = []string{"news", "culture", "sport", "science", "music", "kids", "history",
	"economy", "health", "travel", "food", "technology"}

var benchKinds = []string{"series", "podcast", "documentary", "show"}

// arabicVariant returns w as Arabic text writes it: often with an article or particle, now
// and then with a diacritic.
func arabicVariant(r *rand.Rand, w string) string {
	switch n := r.IntN(100); {
	case n < 30:
		w = "ال" + w
	case n < 35:
		w = "وال" + w
	case n < 38:
		w = "بال" + w
	}
	if r.IntN(20) == 0 {
		runes := []rune(w)
		w = string(runes[:1]) + "\u064E" + string(runes[1:])
	}
	return w
}

// phrase returns n random words of the language.
func phrase(r *rand.Rand, lang string, n int) string {
	words := make([]string, n)
	for i := range words {
		switch lang {
		case "ar":
			words[i] = arabicVariant(r, arabicWords[r.IntN(len(arabicWords))])
		case "en":
			words[i] = englishWords[r.IntN(len(englishWords))]
		default:
			words[i] = frenchWords[r.IntN(len(frenchWords))]
		}
	}
	return strings.Join(words, " ")
}

// benchDocs generates the episodes of the benchmark, the same on every run.
var benchDocs = sync.OnceValue(func() []Doc {
	n := benchDocCount
	if testing.Short() {
		n /= 10
	}
	r := rand.New(rand.NewPCG(20260601, 1))
	docs := make([]Doc, n)
	for i := range docs {
		program := i % 1000
		lang := "ar"
		switch l := program % 20; {
		case l >= 19:
			lang = "fr"
		case l >= 10:
			lang = "en"
		}
		title := phrase(r, lang, 3+r.IntN(4))
		if lang == "en" {
			title = strings.ToUpper(title[:1]) + title[1:]
		}
		d := Doc{
			ID:           fmt.Sprintf("ep-%06d", i),
			Type:         TypeEpisode,
			ProgramID:    fmt.Sprintf("prog-%04d", program),
			Kind:         benchKinds[program%len(benchKinds)],
			Title:        title,
			Summary:      phrase(r, lang, 15+r.IntN(16)) + ".",
			Language:     lang,
			CategorySlug: benchCategories[program%len(benchCategories)],
			PublishedAt:  benchEpoch.Add(-time.Duration(r.Int64N(int64(3 * 365 * 24 * time.Hour)))).Truncate(time.Second),
			Popularity:   float64(r.IntN(1000)) * r.Float64(),
			Version:      1,
		}
		for range 2 + r.IntN(3) {
			d.Tags = append(d.Tags, phrase(r, lang, 1))
		}
		if r.IntN(10) > 0 {
			d.DurationSeconds = 300 + r.IntN(7200)
		}
		docs[i] = d
	}
	return docs
})

// benchQueries returns a deterministic, varied list of searches: Arabic and English words,
// two-word queries, as-you-type prefixes, filters, facets, both sort orders and browsing.
func benchQueries() []Query {
	r := rand.New(rand.NewPCG(7, 7))
	ar := func() string { return arabicWords[r.IntN(len(arabicWords))] }
	en := func() string { return englishWords[r.IntN(len(englishWords))] }
	short, long := 600, 3600
	from := benchEpoch.AddDate(-1, 0, 0)
	allFacets := []string{FacetCategory, FacetLanguage, FacetKind, FacetType}
	qs := make([]Query, 0, 400)
	for i := range cap(qs) {
		var q Query
		switch i % 10 {
		case 0:
			q.Text = "ال" + ar()
		case 1:
			q.Text = en()
		case 2:
			q.Text = ar() + " " + arabicVariant(r, ar())
		case 3:
			q.Text = en() + " " + en()
		case 4:
			w := en()
			q.Text = w[:min(len(w), 3+r.IntN(2))]
		case 5:
			q.Text = "ال" + string([]rune(ar())[:2])
		case 6:
			q.Text, q.Language, q.Facets = en(), "en", allFacets
		case 7:
			q.Text, q.Category, q.Sort = ar(), benchCategories[r.IntN(len(benchCategories))], SortLatest
		case 8:
			q.Category, q.Type, q.Facets = benchCategories[r.IntN(len(benchCategories))], TypeEpisode, allFacets
		case 9:
			q.Text, q.DurationMin, q.DurationMax, q.PublishedFrom = en(), &short, &long, &from
		}
		q.Limit = 20
		qs = append(qs, q)
	}
	return qs
}

// loadBench indexes the benchmark episodes into ix and reports how long it took.
func loadBench(b *testing.B, ix Index) time.Duration {
	b.Helper()
	docs := benchDocs()
	start := time.Now()
	const chunk = 5000
	for i := 0; i < len(docs); i += chunk {
		if err := ix.UpsertBatch(b.Context(), docs[i:min(i+chunk, len(docs))]); err != nil {
			b.Fatalf("UpsertBatch: %v", err)
		}
	}
	took := time.Since(start)
	b.Logf("indexed %d episodes in %v (%.0f docs/s)", len(docs), took.Round(time.Millisecond), float64(len(docs))/took.Seconds())
	return took
}

// runSearches measures Search over the varied queries and reports the median and 99th
// percentile latency besides ns/op.
func runSearches(b *testing.B, ix Index, loaded time.Duration) {
	qs := benchQueries()
	var lat []time.Duration
	hits := 0
	i := 0
	for b.Loop() {
		q := qs[i%len(qs)]
		i++
		start := time.Now()
		r, err := ix.Search(b.Context(), q)
		lat = append(lat, time.Since(start))
		if err != nil {
			b.Fatalf("Search(%+v): %v", q, err)
		}
		hits += len(r.Hits)
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
	b.ReportMetric(float64(hits)/float64(len(lat)), "hits/op")
	b.ReportMetric(loaded.Seconds(), "load-s")
}

// BenchmarkSearch indexes 100,000 generated Arabic, English and French episodes (10,000 with
// -short) once per backend, then measures varied searches: the in-memory index always, Postgres when
// MEDIAMESH_TEST_POSTGRES_URL is set. Besides ns/op it reports p50-ns and p99-ns (latency
// percentiles), hits/op and load-s (the seconds indexing took).
func BenchmarkSearch(b *testing.B) {
	b.Run("memory", func(b *testing.B) {
		ix := NewMemory()
		loaded := loadBench(b, ix)
		runSearches(b, ix, loaded)
	})
	b.Run("postgres", func(b *testing.B) {
		db := databasetest.Postgres(b)
		if err := db.Migrate(b.Context(), PostgresMigrations.Component, PostgresMigrations.FS); err != nil {
			b.Fatal(err)
		}
		ix, err := NewPostgres(b.Context(), db)
		if err != nil {
			b.Fatal(err)
		}
		loaded := loadBench(b, ix)
		// Fresh statistics, as autovacuum would gather them after a bulk load.
		if _, err := db.ExecContext(b.Context(), `ANALYZE search_documents`); err != nil {
			b.Fatal(err)
		}
		runSearches(b, ix, loaded)
	})
}
