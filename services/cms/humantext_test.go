package cms

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/mediamesh/mediamesh/gen/openapi/cmsapi"
	"github.com/mediamesh/mediamesh/internal/apierror"
	"github.com/mediamesh/mediamesh/internal/authn"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
	"github.com/mediamesh/mediamesh/internal/humantext"
	"github.com/mediamesh/mediamesh/internal/humantext/humantexttest"
)

// TestHumanText: titles, summaries and tags follow the one text rule (internal/humantext), through
// the contract and in the handlers themselves: a title of only invisible or space characters, or
// any control character, is a 422 naming the field (a U+0017 in a title used to be stored), and
// text with such characters inside words is kept as sent.
func TestHumanText(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db, Config{})
		p := f.createProgram("text", nil)
		e := f.createEpisode(p.Id, nil, 1, nil)
		type write struct {
			name, method, path string
			body               func(field string, v any) map[string]any
		}
		writes := []write{
			{"createProgram", http.MethodPost, "/api/v1/cms/programs", func(k string, v any) map[string]any {
				b := map[string]any{"kind": "show", "title": "t", "slug": "s", "language": "en"}
				b[k] = v
				return b
			}},
			{"updateProgram", http.MethodPatch, programPath(p.Id), func(k string, v any) map[string]any { return map[string]any{k: v} }},
			{"createEpisode", http.MethodPost, programPath(p.Id, "episodes"), func(k string, v any) map[string]any {
				b := map[string]any{"episode_number": 2, "title": "t"}
				b[k] = v
				return b
			}},
			{"updateEpisode", http.MethodPatch, episodePath(e.Id), func(k string, v any) map[string]any { return map[string]any{k: v} }},
		}
		refused := func(t *testing.T, w write, field, code string, v any) {
			t.Helper()
			r := f.do(w.method, w.path, "editor", w.body(field, v))
			var pr problem
			r.must(t, http.StatusUnprocessableEntity, &pr)
			want := field
			if _, ok := v.([]string); ok {
				want = field + ".0"
			}
			for _, fe := range pr.Errors {
				if fe.Field == want && (fe.Code == code || code == "") {
					return
				}
			}
			t.Errorf("%s %s %q: %s, want %s on %s", w.name, field, v, r.body, code, want)
		}
		for _, w := range writes {
			fields := []string{"title", "summary"}
			if w.name == "createProgram" || w.name == "updateProgram" {
				fields = append(fields, "tags")
			}
			for _, field := range fields {
				for _, s := range humantexttest.Blank {
					if field == "tags" { // a tag refuses spaces other than U+0020 as characters
						refused(t, w, field, "", []string{s})
						continue
					}
					refused(t, w, field, humantext.CodeBlank, s)
				}
				for _, s := range humantexttest.Control {
					var v any = s
					if field == "tags" {
						v = []string{s}
					}
					refused(t, w, field, humantext.CodeInvalidCharacter, v)
				}
			}
			refused(t, w, "title", humantext.CodeInvalidCharacter, humantexttest.Multiline)
		}
		for tag, code := range map[string]string{"a\u00a0b": humantext.CodeInvalidCharacter, "a,b": humantext.CodeInvalidCharacter, "a  b": humantext.CodeBlank, " a": humantext.CodeBlank} {
			refused(t, writes[0], "tags", code, []string{tag})
		}
		if n := f.count("programs"); n != 1 {
			t.Fatalf("%d programs after refused writes", n)
		}

		// Valid text keeps its invisible characters.
		for i, s := range humantexttest.Valid {
			var got cmsapi.Program
			f.do(http.MethodPost, "/api/v1/cms/programs", "editor", map[string]any{
				"kind": "show", "title": s, "summary": s, "slug": "valid-" + string(rune('a'+i)), "language": "fa", "tags": []string{"می\u200cخواهم", "\u200fخبر"},
			}).must(t, http.StatusCreated, &got)
			if got.Title != s || got.Summary == nil || *got.Summary != s || len(got.Tags) != 2 || got.Tags[0] != "می\u200cخواهم" {
				t.Fatalf("%q stored as %+v", s, got)
			}
			var ep cmsapi.Episode
			f.do(http.MethodPatch, episodePath(e.Id), "editor", map[string]any{"title": s, "summary": humantexttest.Multiline}).must(t, http.StatusOK, &ep)
			if ep.Title != s || *ep.Summary != humantexttest.Multiline {
				t.Fatalf("%q stored as %+v", s, ep)
			}
		}
		var emptied cmsapi.Program
		f.do(http.MethodPatch, programPath(p.Id), "editor", map[string]any{"summary": ""}).must(t, http.StatusOK, &emptied)

		// Called directly, past the contract, the handlers apply the same rule.
		ctx := authn.WithPrincipal(context.Background(), &authn.Principal{Subject: editorID.String(), Roles: []string{"EDITOR"}})
		direct := func(name, field string, call func(v string) error) {
			t.Helper()
			blank := "\u200b\u202e\u00a0\u3000"
			if field == "tags.0" {
				blank = "\u200b\u202e\u2060"
			}
			for _, c := range []struct{ v, code string }{{blank, humantext.CodeBlank}, {"a\u0017", humantext.CodeInvalidCharacter}} {
				var pe *apierror.Error
				if err := call(c.v); !errors.As(err, &pe) || pe.Status != http.StatusUnprocessableEntity || len(pe.Errors) != 1 ||
					pe.Errors[0].Field != field || pe.Errors[0].Code != c.code {
					t.Errorf("%s %s %q directly: %v %+v", name, field, c.v, err, pe)
				}
			}
		}
		direct("createProgram", "title", func(v string) error {
			_, err := f.svc.CreateProgram(ctx, cmsapi.CreateProgramRequestObject{Body: &cmsapi.ProgramCreate{Kind: cmsapi.Show, Title: v, Slug: "direct", Language: "en"}})
			return err
		})
		direct("createProgram", "summary", func(v string) error {
			_, err := f.svc.CreateProgram(ctx, cmsapi.CreateProgramRequestObject{Body: &cmsapi.ProgramCreate{Kind: cmsapi.Show, Title: "t", Summary: &v, Slug: "direct", Language: "en"}})
			return err
		})
		direct("createProgram", "tags.0", func(v string) error {
			_, err := f.svc.CreateProgram(ctx, cmsapi.CreateProgramRequestObject{Body: &cmsapi.ProgramCreate{Kind: cmsapi.Show, Title: "t", Slug: "direct", Language: "en", Tags: &[]string{v}}})
			return err
		})
		direct("updateProgram", "title", func(v string) error {
			_, err := f.svc.UpdateProgram(ctx, cmsapi.UpdateProgramRequestObject{ProgramId: p.Id, Body: &cmsapi.ProgramUpdate{Title: &v}})
			return err
		})
		direct("createEpisode", "title", func(v string) error {
			_, err := f.svc.CreateEpisode(ctx, cmsapi.CreateEpisodeRequestObject{ProgramId: p.Id, Body: &cmsapi.EpisodeCreate{EpisodeNumber: 9, Title: v}})
			return err
		})
		direct("updateEpisode", "summary", func(v string) error {
			_, err := f.svc.UpdateEpisode(ctx, cmsapi.UpdateEpisodeRequestObject{EpisodeId: e.Id, Body: &cmsapi.EpisodeUpdate{Summary: &v}})
			return err
		})
		var pe *apierror.Error
		_, err := f.svc.CreateProgram(ctx, cmsapi.CreateProgramRequestObject{Body: &cmsapi.ProgramCreate{Kind: cmsapi.Show, Title: "", Slug: "direct", Language: "en"}})
		if !errors.As(err, &pe) || len(pe.Errors) != 1 || pe.Errors[0].Field != "title" || pe.Errors[0].Code != humantext.CodeBlank {
			t.Errorf("an empty title directly: %v", err) // the contract's minLength refuses it through HTTP
		}
	})
}
