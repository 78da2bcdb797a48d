package contract

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mediamesh/mediamesh/internal/apierror"
	"github.com/mediamesh/mediamesh/internal/humantext"
)

// humanTextSpec has fields as the contracts write them: a $ref to a shared text schema in allOf,
// with the field's own maxLength beside it.
func humanTextSpec(t *testing.T) []byte {
	t.Helper()
	spec := map[string]any{
		"openapi": "3.0.3", "info": map[string]any{"title": "t", "version": "1.0.0"},
		"paths": map[string]any{"/things": map[string]any{"post": map[string]any{
			"operationId": "createThing", "security": []any{},
			"requestBody": map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{"schema": map[string]any{
				"type": "object", "additionalProperties": false,
				"properties": map[string]any{
					"title":   map[string]any{"type": "string", "allOf": []any{map[string]any{"$ref": "#/components/schemas/HumanText"}}, "minLength": 1, "maxLength": 10},
					"summary": map[string]any{"type": "string", "allOf": []any{map[string]any{"$ref": "#/components/schemas/HumanTextBlock"}}, "maxLength": 100},
					"tags":    map[string]any{"type": "array", "items": map[string]any{"$ref": "#/components/schemas/Tag"}},
					"code":    map[string]any{"type": "string", "pattern": "^[a-z]+$"},
				},
			}}}},
			"responses": map[string]any{"201": map[string]any{"description": "ok"}},
		}}},
		"components": map[string]any{"schemas": map[string]any{
			"HumanText":      map[string]any{"type": "string", "pattern": humantext.LinePattern},
			"HumanTextBlock": map[string]any{"type": "string", "pattern": humantext.BlockPattern},
			"Tag":            map[string]any{"type": "string", "minLength": 1, "maxLength": 50, "pattern": humantext.TagPattern},
		}},
	}
	b, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestHumanTextFields: a field that breaks a shared text pattern is named with the code and
// message the services give (internal/humantext), not kin-openapi's allOf wrapper or the pattern
// quoted back; the field's own keywords beside the allOf still apply.
func TestHumanTextFields(t *testing.T) {
	c, err := Load(humanTextSpec(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		body  map[string]any
		field string
		code  string
	}{
		{"valid text with invisible characters inside", map[string]any{"title": "می\u200cخواهم", "summary": "a\r\n\tb", "tags": []string{"\u200fخبر"}}, "", ""},
		{"zero-width space title", map[string]any{"title": "\u200b"}, "title", humantext.CodeBlank},
		{"no-break and ideographic spaces", map[string]any{"title": "\u00a0\u3000"}, "title", humantext.CodeBlank},
		{"right-to-left override", map[string]any{"title": "\u202e"}, "title", humantext.CodeBlank},
		{"U+0017", map[string]any{"title": "a\u0017"}, "title", humantext.CodeInvalidCharacter},
		{"line feed in a title", map[string]any{"title": "a\nb"}, "title", humantext.CodeInvalidCharacter},
		{"blank summary", map[string]any{"title": "t", "summary": "\r\n\u200b"}, "summary", humantext.CodeBlank},
		{"blank tag", map[string]any{"title": "t", "tags": []string{"ok", "\u200b"}}, "tags.1", humantext.CodeBlank},
		{"too long beside the allOf", map[string]any{"title": strings.Repeat("a", 11)}, "title", "maxLength"},
		{"empty beside the allOf", map[string]any{"title": ""}, "title", "minLength"},
		{"another pattern", map[string]any{"title": "t", "code": "A"}, "code", "pattern"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw, _ := json.Marshal(tc.body)
			r := httptest.NewRequest(http.MethodPost, "/things", strings.NewReader(string(raw)))
			r.Header.Set("Content-Type", "application/json")
			m, err := c.Match(r)
			if err != nil {
				t.Fatal(err)
			}
			err = c.Validate(r, m)
			if tc.field == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var pe *apierror.Error
			if !errors.As(err, &pe) || pe.Status != http.StatusUnprocessableEntity || len(pe.Errors) != 1 {
				t.Fatalf("got %v, want one 422 field error", err)
			}
			fe := pe.Errors[0]
			if fe.Field != tc.field || fe.Code != tc.code || strings.Contains(fe.Message, `\u`) || strings.Contains(fe.Message, "allOf") {
				t.Fatalf("field error %+v, want %s on %s in plain words", fe, tc.code, tc.field)
			}
			kinds := map[string]humantext.Kind{"title": humantext.Line, "summary": humantext.Block}
			if kind, ok := kinds[tc.field]; ok && tc.code != "maxLength" && tc.code != "minLength" {
				if want := humantext.Check(tc.field, tc.body[tc.field].(string), kind); want == nil || *want != fe {
					t.Fatalf("field error %+v, want the services' %+v", fe, want)
				}
			}
		})
	}
}
