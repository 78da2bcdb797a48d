package index_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/mediamesh/mediamesh/internal/testenv"
	"github.com/mediamesh/mediamesh/services/search/index"
)

// TestOpenSearchArabicAnalyzerIsTheGoStemmer checks that OpenSearch's Arabic analyzer (mm_ar)
// makes of each word the terms that the Go analysis makes (index.ArabicTerms), on words built of
// stems of one to five letters followed by up to three of the light stemmer's suffixes in any
// order: the same words must meet in every engine.
func TestOpenSearchArabicAnalyzerIsTheGoStemmer(t *testing.T) {
	ix := openOpenSearch(t)
	stems := []string{"ب", "كت", "كتب", "مدرس", "مكتبت", "سلامي", "بيوت", "ها", "ون", "يه"}
	suffixes := index.ArabicSuffixes()
	var words []string
	var tails func(prefix string, depth int)
	tails = func(prefix string, depth int) {
		words = append(words, prefix)
		if depth == 3 {
			return
		}
		for _, s := range suffixes {
			tails(prefix+s, depth+1)
		}
	}
	for _, s := range stems {
		tails(s, 0)
	}
	base := strings.Split(testenv.Get(t, EnvOpenSearchURL, ""), ",")[0]
	for start := 0; start < len(words); start += 500 {
		batch := words[start:min(start+500, len(words))]
		body, _ := json.Marshal(map[string]any{"analyzer": "mm_ar", "text": batch})
		resp, err := http.Post(base+"/"+ix.Alias()+"/_analyze", "application/json", strings.NewReader(string(body)))
		if err != nil {
			t.Fatal(err)
		}
		var out struct {
			Tokens []struct {
				Token    string `json:"token"`
				Position int    `json:"position"`
			} `json:"tokens"`
		}
		err = json.NewDecoder(resp.Body).Decode(&out)
		_ = resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("_analyze: %v (%s)", err, resp.Status)
		}
		// The array's texts are analysed as one text with a position gap of 100 between them.
		got := make([][]string, len(batch))
		for _, tok := range out.Tokens {
			got[tok.Position/101] = append(got[tok.Position/101], tok.Token)
		}
		for i, w := range batch {
			want := index.ArabicTerms(w)
			if !slices.Equal(got[i], want) && !(len(got[i]) == 0 && len(want) == 0) {
				t.Errorf("%q: OpenSearch %q, Go %q", w, got[i], want)
			}
		}
	}
	t.Logf("%d words compared", len(words))
}
