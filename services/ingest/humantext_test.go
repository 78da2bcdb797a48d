package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/mediamesh/mediamesh/gen/openapi/ingestapi"
	"github.com/mediamesh/mediamesh/internal/apierror"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
	"github.com/mediamesh/mediamesh/internal/humantext"
	"github.com/mediamesh/mediamesh/internal/humantext/humantexttest"
)

// TestSourceNames: a source's name follows the one rule for human text (internal/humantext)
// through the contract and in the handlers themselves: only invisible or space characters (U+200B
// used to pass, as did NBSP and U+3000), or a control character, is a 422 naming name.
func TestSourceNames(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		src := f.createSource(rssSource("Feed", "https://feeds.example.com/a.xml"))
		writes := map[string]func(name string) *response{
			"createSource": func(name string) *response {
				return f.do(http.MethodPost, "/api/v1/ingest/sources", "admin", rssSource(name, "https://feeds.example.com/b.xml"))
			},
			"updateSource": func(name string) *response {
				return f.do(http.MethodPatch, sourcePath(src.Id), "admin", map[string]any{"name": name})
			},
		}
		for op, write := range writes {
			for code, names := range map[string][]string{humantext.CodeBlank: humantexttest.Blank, humantext.CodeInvalidCharacter: humantexttest.Control} {
				for _, name := range names {
					r := write(name)
					var p problemBody
					_ = json.Unmarshal(r.body, &p)
					if r.code != http.StatusUnprocessableEntity || len(p.Errors) != 1 || p.Errors[0].Field != "name" || p.Errors[0].Code != code {
						t.Errorf("%s %q: %d %s, want 422 %s on name", op, name, r.code, r.body, code)
					}
				}
			}
		}
		if n := f.count("sources"); n != 1 {
			t.Fatalf("%d sources after refused writes", n)
		}
		for _, name := range humantexttest.Valid {
			var s ingestapi.Source
			writes["updateSource"](name).must(t, http.StatusOK, &s)
			if s.Name != name {
				t.Errorf("%q stored as %q", name, s.Name)
			}
		}

		// Called directly, past the contract, the handlers apply the same rule.
		ctx := context.Background()
		for _, c := range []struct{ name, code string }{{"\u200b\u202e\u00a0\u3000", humantext.CodeBlank}, {"a\u0017", humantext.CodeInvalidCharacter}, {"", humantext.CodeBlank}} {
			name := c.name
			_, err1 := f.svc.CreateSource(ctx, ingestapi.CreateSourceRequestObject{Body: &ingestapi.SourceCreate{
				Name: name, Type: ingestapi.Rss, Url: "https://feeds.example.com/c.xml", Target: ingestapi.SourceTarget{DefaultKind: "podcast", DefaultLanguage: "ar"},
			}})
			_, err2 := f.svc.UpdateSource(ctx, ingestapi.UpdateSourceRequestObject{SourceId: src.Id, Body: &ingestapi.SourceUpdate{Name: &name}})
			for i, err := range []error{err1, err2} {
				var pe *apierror.Error
				if !errors.As(err, &pe) || pe.Status != http.StatusUnprocessableEntity || len(pe.Errors) != 1 || pe.Errors[0].Field != "name" || pe.Errors[0].Code != c.code {
					t.Errorf("call %d with %q directly: %v", i+1, name, err)
				}
			}
		}
	})
}

// TestPipelineInvisibleText: ingest cleans what a feed sends rather than failing the run. A title
// that shows nothing (zero-width space, right-to-left override, no-break and ideographic spaces)
// is a missing_title item error, as is one that shows nothing within the CMS's 200 characters; a
// channel title that shows nothing gives way to the source's name, and a description that shows
// nothing is left out. Nothing reaches the CMS that it would refuse, and no run fails.
func TestPipelineInvisibleText(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		doc := &feedDoc{}
		up := doc.server(t)
		blank := "&#8203;&#8238;&#160;&#12288;"
		doc.set(200, []byte(`<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>`+blank+`</title><link>https://example.com/</link><description>&#8203;</description>
<item><guid>g-blank</guid><title>`+blank+`</title><description>x</description></item>
<item><guid>g-long</guid><title>`+strings.Repeat("&#8203;", 250)+`late</title></item>
<item><guid>g-ok</guid><title>می&#8204;خواهم</title><description>`+blank+`</description></item>
<item><guid>g-c1</guid><title>Bell`+"\u0085"+`s</title><description>one`+"\u0085"+`two</description></item>
</channel></rss>`))
		src := f.createSource(rssSource("Invisible feed", up.URL+"/feed.xml"))
		r := f.runOnce(f.trigger(src.Id, true).Id)
		checkCounts(t, r, ingestapi.Partial, 4, 2, 0, 0, 2)
		codes := map[string]string{}
		for _, e := range r.Errors {
			codes[deref(e.ItemGuid)] = e.Code
		}
		if codes["g-blank"] != "missing_title" || codes["g-long"] != "missing_title" {
			t.Errorf("item errors %+v, want g-blank and g-long missing_title", r.Errors)
		}
		episodes, programs := f.cms.snapshot()
		for _, p := range programs {
			if p.Title != "Invisible feed" || p.Summary != nil {
				t.Errorf("program %q summary %v: want the source's name and no summary", p.Title, p.Summary)
			}
		}
		titles := map[string]*string{}
		for _, e := range episodes {
			titles[e.Title] = e.Summary
		}
		if s, ok := titles["می\u200cخواهم"]; !ok || s != nil {
			t.Errorf("episodes %v: want the title with its zero-width non-joiner, without a summary", titles)
		}
		if s, ok := titles["Bells"]; !ok || s == nil || *s != "onetwo" {
			t.Errorf("episodes %v: want the control character dropped from title and summary", titles)
		}
	})
}
