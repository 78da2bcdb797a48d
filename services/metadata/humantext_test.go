package metadata

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/mediamesh/mediamesh/gen/openapi/metadataapi"
	"github.com/mediamesh/mediamesh/internal/apierror"
	"github.com/mediamesh/mediamesh/internal/authn"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/database/databasetest"
	"github.com/mediamesh/mediamesh/internal/humantext"
	"github.com/mediamesh/mediamesh/internal/humantext/humantexttest"
)

// TestHumanText: titles, descriptions, tags, extra values and category names follow the one text
// rule (internal/humantext), through the contract and in the handlers themselves: only invisible or
// space characters, or a control character, is a 422 naming the field with the same code either
// way, and text with such characters inside words is kept as sent.
func TestHumanText(t *testing.T) {
	databasetest.Each(t, func(t *testing.T, db *database.DB) {
		f := newFixture(t, db)
		cat := f.createCategory("texts", nil)
		ep := f.episode(f.program("Program", "en"), "Episode 1", "en")
		item := func(field string, v any) map[string]any {
			b := map[string]any{"content_type": "episode", "title": "Episode 1", "language": "en"}
			switch field {
			case "tags.0":
				b["tags"] = []any{v}
			case "extra.0.value":
				b["extra"] = []map[string]any{{"key": "presenter", "value": v}}
			default:
				b[field] = v
			}
			return b
		}
		names := func(field string, v any) map[string]any {
			n := map[string]any{"en": "Name"}
			n[field[len("names."):]] = v
			return map[string]any{"slug": "new-category", "names": n}
		}
		writes := []struct {
			name, method, path string
			fields             []string
			body               func(field string, v any) map[string]any
		}{
			{"putMetadata", http.MethodPut, itemPath(ep), []string{"title", "description", "extra.0.value"}, item},
			{"createCategory", http.MethodPost, categories, []string{"names.en", "names.ar"}, names},
			{"updateCategory", http.MethodPatch, categoryPath(cat.Id), []string{"names.en", "names.ar"}, func(field string, v any) map[string]any {
				b := names(field, v)
				delete(b, "slug")
				return b
			}},
		}
		refused := func(t *testing.T, name, method, path, field, code string, body map[string]any) {
			t.Helper()
			r := f.do(admin, method, path, body)
			var p problem
			r.want(t, http.StatusUnprocessableEntity, &p)
			if len(p.Errors) != 1 || p.Errors[0].Field != field || code != "" && p.Errors[0].Code != code {
				t.Errorf("%s %s: %s, want %s on %s", name, field, r.body, code, field)
			}
		}
		for _, w := range writes {
			for _, field := range w.fields {
				for _, s := range humantexttest.Blank {
					code := humantext.CodeBlank
					if field == "tags.0" {
						code = "" // a tag refuses spaces other than U+0020 as characters
					}
					refused(t, w.name, w.method, w.path, field, code, w.body(field, s))
				}
				for _, s := range humantexttest.Control {
					refused(t, w.name, w.method, w.path, field, humantext.CodeInvalidCharacter, w.body(field, s))
				}
			}
		}
		refused(t, "putMetadata", http.MethodPut, itemPath(ep), "title", humantext.CodeInvalidCharacter, item("title", humantexttest.Multiline))
		refused(t, "createCategory", http.MethodPost, categories, "names.en", humantext.CodeInvalidCharacter, names("names.en", "a\nb"))
		refused(t, "putMetadata", http.MethodPut, itemPath(ep), "description", humantext.CodeBlank, item("description", " \r\n\t\u200b"))

		// Valid text keeps its invisible characters; an empty description is no description.
		for _, s := range humantexttest.Valid {
			b := item("title", s)
			b["description"] = humantexttest.Multiline + s
			b["extra"] = []map[string]any{{"key": "presenter", "value": s}}
			m := f.put(ep, b, http.StatusOK)
			if m.Title != s || *m.Description != humantexttest.Multiline+s || m.Extra[0].Value != s {
				t.Fatalf("%q stored as %+v", s, m)
			}
			var c metadataapi.Category
			f.do(admin, http.MethodPatch, categoryPath(cat.Id), map[string]any{"names": map[string]any{"en": s, "ar": s}}).want(t, http.StatusOK, &c)
			if c.Names.En != s || *c.Names.Ar != s {
				t.Fatalf("%q stored as %+v", s, c.Names)
			}
		}
		if m := f.put(ep, item("description", ""), http.StatusOK); m.Description != nil {
			t.Fatalf("an empty description stored as %q", *m.Description)
		}

		// Called directly, past the contract, the handlers apply the same rule.
		ctx := authn.WithPrincipal(context.Background(), verifier[admin])
		for _, c := range []struct{ v, code string }{{"\u200b\u202e\u00a0\u3000", humantext.CodeBlank}, {"a\u0017", humantext.CodeInvalidCharacter}} {
			check := func(name, field string, err error) {
				t.Helper()
				var pe *apierror.Error
				if !errors.As(err, &pe) || pe.Status != http.StatusUnprocessableEntity || len(pe.Errors) != 1 || pe.Errors[0].Field != field || pe.Errors[0].Code != c.code {
					t.Errorf("%s %s %q directly: %v", name, field, c.v, err)
				}
			}
			v := c.v
			_, err := f.svc.PutMetadata(ctx, metadataapi.PutMetadataRequestObject{ContentId: ep, Body: &metadataapi.MetadataInput{ContentType: metadataapi.Episode, Title: v, Language: "en"}})
			check("putMetadata", "title", err)
			_, err = f.svc.PutMetadata(ctx, metadataapi.PutMetadataRequestObject{ContentId: ep, Body: &metadataapi.MetadataInput{ContentType: metadataapi.Episode, Title: "t", Description: &v, Language: "en"}})
			check("putMetadata", "description", err)
			_, err = f.svc.CreateCategory(ctx, metadataapi.CreateCategoryRequestObject{Body: &metadataapi.CategoryCreate{Slug: "direct", Names: metadataapi.LocalizedName{En: "Direct", Ar: &v}}})
			check("createCategory", "names.ar", err)
			_, err = f.svc.UpdateCategory(ctx, metadataapi.UpdateCategoryRequestObject{CategoryId: cat.Id, Body: &metadataapi.CategoryUpdate{Names: &metadataapi.LocalizedName{En: v}}})
			check("updateCategory", "names.en", err)
		}
	})
}
