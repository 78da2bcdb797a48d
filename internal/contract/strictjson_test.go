package contract

import (
	"encoding/json"
	"errors"
	"fmt"
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

// TestStrictJSONFastPath: the one-pass check (json.Valid, duplicateKeys) lets through exactly the
// bodies that the token-by-token check does, including keys spelled with escapes, objects of more
// keys than it compares one by one, keys that equal string values, and nested objects.
func TestStrictJSONFastPath(t *testing.T) {
	many := func(dup bool) string {
		var b strings.Builder
		b.WriteString(`{"nested": {"a": 1, "a2": {"a": [1, {"a": "a"}]}}`)
		for i := range 40 {
			fmt.Fprintf(&b, `, "k%d": {"k%d": "k%d"}`, i, i, i)
		}
		if dup {
			b.WriteString(`, "k7": 0`)
		}
		return b.String() + "}"
	}
	for _, tc := range []struct {
		body string
		ok   bool
	}{
		{`{"title": "a", "tags": [{"k": 1}, {"k": 2}]}`, true},
		{`{"title": "title", "x": "title"}`, true},
		{`{"a": {"b": 1}, "b": {"a": 1}}`, true},
		{`{"a": 1, "b": {"a": 1, "a": 2}}`, false},
		{`{"a": 1, "b": 2, "a": 3}`, false},
		{`{"a": 1, "\u0061": 2}`, false},
		{`{"a\"b": 1, "a\"c": 2}`, true},
		{`{"a\\": 1, "a\\" : 2}`, false},
		{`[{"a": 1}, {"a": 1}, [{"a": {"a": {"a": 1}}}]]`, true},
		{"{\"a\"\n :1, \"b\"\t: 2, \"a\"\r\n:3}", false},
		{`{"a": "x:y", "b": ":", "c": [":", "a"]}`, true},
		{many(false), true},
		{many(true), false},
		{`"just a string"`, true},
		{`{"a": 1} {"a": 1}`, false},
		{`{"a": 1`, false},
		{``, false},
	} {
		fast := json.Valid([]byte(tc.body)) && !duplicateKeys([]byte(tc.body))
		slow := strictTokens([]byte(tc.body)) == nil
		if got := strictJSON([]byte(tc.body)) == nil; got != tc.ok || slow != tc.ok {
			t.Errorf("%.60s: strictJSON %v, token by token %v, want %v", tc.body, got, slow, tc.ok)
		}
		if fast && !tc.ok {
			t.Errorf("%.60s: the one-pass check let a bad body through", tc.body)
		}
		if !fast && tc.ok && !strings.Contains(tc.body, `\`) {
			t.Errorf("%.60s: the one-pass check refused a good body without escapes", tc.body)
		}
	}
}

// BenchmarkStrictJSON: the check of an engagement batch of 50 events, in one pass and token by
// token.
func BenchmarkStrictJSON(b *testing.B) {
	var body strings.Builder
	body.WriteString(`{"client_id":"bench-client","events":[`)
	for i := range 50 {
		if i > 0 {
			body.WriteByte(',')
		}
		fmt.Fprintf(&body, `{"event_id":"0193a4c2-7b1e-7c3a-9f7e-2d1c5b8a%04d","type":"play","content_type":"episode","content_id":"0193a4c2-7b1e-7c3a-9f7e-2d1c5b8a9e30","position_seconds":%d}`, i, i)
	}
	body.WriteString("]}")
	data := []byte(body.String())
	for _, c := range []struct {
		name  string
		check func([]byte) error
	}{{"one pass", strictJSON}, {"token by token", strictTokens}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := c.check(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
