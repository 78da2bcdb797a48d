package contract

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mediamesh/mediamesh/internal/apierror"
)

const strictSpec = `{
  "openapi": "3.0.3",
  "info": {"title": "t", "version": "1.0.0"},
  "paths": {
    "/things": {
      "post": {"operationId": "createThing", "security": [],
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object",
          "properties": {"title": {"type": "string"}, "tags": {"type": "array", "items": {"type": "object"}}}}}}},
        "responses": {"201": {"description": "ok"}}}
    }
  }
}`

// TestStrictJSON: a JSON body must be one value with no key twice in an object; anything else is a
// 400 Problem (naming the duplicate key) before the schema is looked at.
func TestStrictJSON(t *testing.T) {
	c, err := Load([]byte(strictSpec))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, body string
		status     int
		field      string
	}{
		{"valid", `{"title": "a", "tags": [{"k": 1}, {"k": 2}]}`, 0, ""},
		{"trailing data", `{"title": "a"} xx`, 400, "body"},
		{"a second value", `{"title": "a"}{"title": "b"}`, 400, "body"},
		{"duplicate key", `{"title": "a", "title": "b"}`, 400, "title"},
		{"nested duplicate key", `{"tags": [{"k": 1}, {"k": 2, "k": 3}]}`, 400, "tags[1].k"},
		{"trailing white space", "{\"title\": \"a\"}\n  ", 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/things", strings.NewReader(tc.body))
			r.Header.Set("Content-Type", "application/json")
			m, err := c.Match(r)
			if err != nil {
				t.Fatal(err)
			}
			err = c.Validate(r, m)
			if tc.status == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var pe *apierror.Error
			if !errors.As(err, &pe) || pe.Status != tc.status {
				t.Fatalf("got %v, want %d", err, tc.status)
			}
			if tc.field != "" && (len(pe.Errors) != 1 || pe.Errors[0].Field != tc.field) {
				t.Fatalf("fields %+v, want %s", pe.Errors, tc.field)
			}
		})
	}
}
