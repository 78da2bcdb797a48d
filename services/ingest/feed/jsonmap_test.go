package feed

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/mediamesh/mediamesh/services/ingest/feed/feedtest"
)

func TestParseJSONFixture(t *testing.T) {
	res, errs, err := ParseJSON(feedtest.TalksJSON(), Mapping(feedtest.TalksMapping))
	if err != nil {
		t.Fatal(err)
	}
	want := &Result{Items: []Item{
		{
			GUID:            "1001",
			Title:           "Designing for Arabic-first audiences",
			Description:     "Right-to-left layouts, fonts and numerals.\n\nLessons from three product launches.",
			PublishedAt:     at("2025-05-20T14:00:00Z"),
			DurationSeconds: 2710,
			MediaURL:        "https://video.talks.example/1001.mp4",
			ImageURL:        fx + "/images/talks/1001.jpg",
		},
		{
			GUID:            "talk-1002",
			Title:           "البحث في النصوص العربية",
			Description:     "مقدمة عملية إلى التجذيع وإزالة التشكيل.",
			PublishedAt:     at("2025-05-22T12:00:00Z"),
			DurationSeconds: 2530,
			MediaURL:        "https://video.talks.example/1002.mp4",
			ImageURL:        fx + "/images/talks/1002.jpg",
		},
		{
			GUID:            "1003",
			Title:           "Caching at the edge",
			PublishedAt:     at("2025-05-14T09:30:00Z"),
			DurationSeconds: 1800,
			MediaURL:        "https://video.talks.example/1003.mp4",
		},
		{
			GUID:            "1004",
			Title:           "Event sourcing in practice",
			Description:     "Outboxes, idempotent consumers & replays.",
			PublishedAt:     at("2025-05-01T00:00:00Z"),
			DurationSeconds: 3605,
			MediaURL:        "https://video.talks.example/1004.mp4",
		},
	}}
	wantErrs := []ItemError{
		{GUID: "1005", Code: "missing_title", Message: `title at "attributes.title" is empty`},
		{GUID: "1006", Code: "invalid_date", Message: `published_at at "attributes.published": "next Tuesday" is not an RFC 3339, RFC 1123 or YYYY-MM-DD date or unix seconds`},
	}
	checkResult(t, res, errs, want, wantErrs)
}

func TestMappingValidate(t *testing.T) {
	good := Mapping{ItemsPath: "$.data.items[*]", GUID: "id", Title: "attributes.title"}
	tests := []struct {
		name string
		edit func(*Mapping)
		want string // "" valid
	}{
		{"minimal", func(m *Mapping) {}, ""},
		{"top-level array", func(m *Mapping) { m.ItemsPath = "$" }, ""},
		{"top-level array with [*]", func(m *Mapping) { m.ItemsPath = "$[*]" }, ""},
		{"no [*]", func(m *Mapping) { m.ItemsPath = "$.data.items" }, ""},
		{"all optional", func(m *Mapping) {
			m.Description, m.PublishedAt, m.Duration, m.MediaURL, m.ImageURL = "a.b", "c", "d.0", "media.0.url", "e"
		}, ""},
		{"unicode key", func(m *Mapping) { m.Title = "بيانات.العنوان" }, ""},
		{"items_path empty", func(m *Mapping) { m.ItemsPath = "" }, "items_path: is required"},
		{"items_path no $", func(m *Mapping) { m.ItemsPath = "data.items" }, `items_path: "data.items" must start with $ (for example $ or $.data.items[*])`},
		{"items_path bad after $", func(m *Mapping) { m.ItemsPath = "$data" }, `items_path: "$data": after $ comes .key (for example $.data.items[*])`},
		{"items_path empty segment", func(m *Mapping) { m.ItemsPath = "$.data..items" }, `items_path: "$.data..items" has an empty segment`},
		{"items_path trailing dot", func(m *Mapping) { m.ItemsPath = "$.data." }, `items_path: "$.data." has an empty segment`},
		{"items_path inner wildcard", func(m *Mapping) { m.ItemsPath = "$.pages[*].items" }, `items_path: "$.pages[*].items": only object keys separated by dots, with an optional [*] at the end, are supported`},
		{"items_path index", func(m *Mapping) { m.ItemsPath = "$.data[0]" }, `items_path: "$.data[0]": only object keys separated by dots, with an optional [*] at the end, are supported`},
		{"items_path filter", func(m *Mapping) { m.ItemsPath = "$..items" }, `items_path: "$..items" has an empty segment`},
		{"items_path space", func(m *Mapping) { m.ItemsPath = "$.my items" }, `items_path: "$.my items" contains whitespace or control characters`},
		{"items_path too long", func(m *Mapping) { m.ItemsPath = "$." + strings.Repeat("a", 199) }, "items_path: is longer than 200 characters"},
		{"items_path too many segments", func(m *Mapping) { m.ItemsPath = "$" + strings.Repeat(".a", 33) }, `has more than 32 segments`},
		{"guid missing", func(m *Mapping) { m.GUID = "" }, "guid: is required"},
		{"title missing", func(m *Mapping) { m.Title = "" }, "title: is required"},
		{"guid absolute", func(m *Mapping) { m.GUID = "$.id" }, `guid: "$.id": field paths are relative to the item (write "id")`},
		{"title brackets", func(m *Mapping) { m.Title = "media[0].title" }, `title: "media[0].title": write array indexes as segments (media.0.url), without brackets or wildcards`},
		{"description empty segment", func(m *Mapping) { m.Description = "a..b" }, `description: "a..b" has an empty segment`},
		{"published_at leading dot", func(m *Mapping) { m.PublishedAt = ".date" }, `published_at: ".date" has an empty segment`},
		{"duration space", func(m *Mapping) { m.Duration = "len secs" }, `duration: "len secs" contains whitespace or control characters`},
		{"media_url wildcard", func(m *Mapping) { m.MediaURL = "media.*.url" }, `media_url: "media.*.url": write array indexes as segments (media.0.url), without brackets or wildcards`},
		{"image_url too long", func(m *Mapping) { m.ImageURL = strings.Repeat("a", 201) }, "image_url: is longer than 200 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := good
			tt.edit(&m)
			err := m.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("error %v, want %q", err, tt.want)
			}
			if err != nil {
				var me *MappingError
				if !errors.As(err, &me) || me.Field == "" {
					t.Fatalf("%v is not a *MappingError", err)
				}
			}
		})
	}

	err := Mapping{ItemsPath: "x", Title: "a b", Duration: "c..d"}.Validate()
	var fields []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		fields = append(fields, e.(*MappingError).Field)
	}
	if strings.Join(fields, ",") != "items_path,guid,title,duration" {
		t.Fatalf("fields %v", fields)
	}
	if _, _, err := ParseJSON([]byte(`[]`), Mapping{ItemsPath: "$"}); err == nil || err.Error() != "json mapping: guid: is required\ntitle: is required" {
		t.Fatalf("ParseJSON with a bad mapping: %v", err)
	}
}

func TestParseJSONValues(t *testing.T) {
	m := Mapping{ItemsPath: "$", GUID: "id", Title: "t", Description: "d", PublishedAt: "p", Duration: "len", MediaURL: "m.0.url", ImageURL: "img"}
	tests := []struct {
		name    string
		item    string
		want    *Item
		wantErr *ItemError
	}{
		{"integer id", `{"id": 42, "t": "x"}`, &Item{GUID: "42", Title: "x"}, nil},
		{"big integer id", `{"id": 123456789012345678901234567890, "t": "x"}`, &Item{GUID: "123456789012345678901234567890", Title: "x"}, nil},
		{"float id", `{"id": 1.0, "t": "x"}`, &Item{GUID: "1", Title: "x"}, nil},
		{"exponent id", `{"id": 2.5e3, "t": "x"}`, &Item{GUID: "2500", Title: "x"}, nil},
		{"fraction id", `{"id": 1.25, "t": "x"}`, &Item{GUID: "1.25", Title: "x"}, nil},
		{"negative id", `{"id": -7, "t": "x"}`, &Item{GUID: "-7", Title: "x"}, nil},
		{"string id trimmed", `{"id": "  abc  ", "t": " x "}`, &Item{GUID: "abc", Title: "x"}, nil},
		{"numeric title", `{"id": "a", "t": 2025}`, &Item{GUID: "a", Title: "2025"}, nil},
		{"missing id", `{"t": "x"}`, nil, &ItemError{Code: "missing_guid", Message: `item 0: no value at guid path "id"`}},
		{"null id", `{"id": null, "t": "x"}`, nil, &ItemError{Code: "missing_guid", Message: `item 0: no value at guid path "id"`}},
		{"empty id", `{"id": "  ", "t": "x"}`, nil, &ItemError{Code: "missing_guid", Message: `item 0: guid at "id" is empty`}},
		{"object id", `{"id": {"v": 1}, "t": "x"}`, nil, &ItemError{Code: "missing_guid", Message: `item 0: guid at "id" is an object, not a string or number`}},
		{"bool id", `{"id": true, "t": "x"}`, nil, &ItemError{Code: "missing_guid", Message: `item 0: guid at "id" is a boolean, not a string or number`}},
		{"long id", `{"id": "` + strings.Repeat("z", 513) + `", "t": "x"}`, nil, &ItemError{GUID: strings.Repeat("z", 512), Code: "invalid_guid", Message: "GUID is 513 characters long (at most 512)"}},
		{"item not an object", `"just a string"`, nil, &ItemError{Code: "missing_guid", Message: `item 0: no value at guid path "id"`}},
		{"missing title", `{"id": "a"}`, nil, &ItemError{GUID: "a", Code: "missing_title", Message: `no value at title path "t"`}},
		{"array title", `{"id": "a", "t": ["x"]}`, nil, &ItemError{GUID: "a", Code: "missing_title", Message: `title at "t" is an array, not a string`}},
		{"html description", `{"id": "a", "t": "x", "d": "<p>one</p><p>two &amp; three</p>"}`, &Item{GUID: "a", Title: "x", Description: "one\n\ntwo & three"}, nil},
		{"ill-typed description ignored", `{"id": "a", "t": "x", "d": {"html": "x"}}`, &Item{GUID: "a", Title: "x"}, nil},
		{"rfc3339", `{"id": "a", "t": "x", "p": "2025-05-20T17:00:00+03:00"}`, &Item{GUID: "a", Title: "x", PublishedAt: at("2025-05-20T14:00:00Z")}, nil},
		{"rfc1123", `{"id": "a", "t": "x", "p": "Wed, 14 May 2025 09:30:00 GMT"}`, &Item{GUID: "a", Title: "x", PublishedAt: at("2025-05-14T09:30:00Z")}, nil},
		{"rfc1123z", `{"id": "a", "t": "x", "p": "Wed, 14 May 2025 12:30:00 +0300"}`, &Item{GUID: "a", Title: "x", PublishedAt: at("2025-05-14T09:30:00Z")}, nil},
		{"date only", `{"id": "a", "t": "x", "p": "2025-05-01"}`, &Item{GUID: "a", Title: "x", PublishedAt: at("2025-05-01T00:00:00Z")}, nil},
		{"unix seconds", `{"id": "a", "t": "x", "p": 1747915200}`, &Item{GUID: "a", Title: "x", PublishedAt: at("2025-05-22T12:00:00Z")}, nil},
		{"null date", `{"id": "a", "t": "x", "p": null}`, &Item{GUID: "a", Title: "x"}, nil},
		{"bad date", `{"id": "a", "t": "x", "p": "05/20/2025"}`, nil, &ItemError{GUID: "a", Code: "invalid_date", Message: `published_at at "p": "05/20/2025" is not an RFC 3339, RFC 1123 or YYYY-MM-DD date or unix seconds`}},
		{"unix as string", `{"id": "a", "t": "x", "p": "1747915200"}`, nil, &ItemError{GUID: "a", Code: "invalid_date", Message: `published_at at "p": "1747915200" is not an RFC 3339, RFC 1123 or YYYY-MM-DD date or unix seconds`}},
		{"negative unix", `{"id": "a", "t": "x", "p": -5}`, nil, &ItemError{GUID: "a", Code: "invalid_date", Message: `published_at at "p": -5 is not an RFC 3339, RFC 1123 or YYYY-MM-DD date or unix seconds`}},
		{"bool date", `{"id": "a", "t": "x", "p": true}`, nil, &ItemError{GUID: "a", Code: "invalid_date", Message: `published_at at "p": true is not an RFC 3339, RFC 1123 or YYYY-MM-DD date or unix seconds`}},
		{"seconds", `{"id": "a", "t": "x", "len": 2710}`, &Item{GUID: "a", Title: "x", DurationSeconds: 2710}, nil},
		{"fractional seconds", `{"id": "a", "t": "x", "len": 59.9}`, &Item{GUID: "a", Title: "x", DurationSeconds: 59}, nil},
		{"hh:mm:ss", `{"id": "a", "t": "x", "len": "01:02:03"}`, &Item{GUID: "a", Title: "x", DurationSeconds: 3723}, nil},
		{"mm:ss", `{"id": "a", "t": "x", "len": "47:15"}`, &Item{GUID: "a", Title: "x", DurationSeconds: 2835}, nil},
		{"iso", `{"id": "a", "t": "x", "len": "PT1H2M3S"}`, &Item{GUID: "a", Title: "x", DurationSeconds: 3723}, nil},
		{"digit string", `{"id": "a", "t": "x", "len": "95"}`, &Item{GUID: "a", Title: "x", DurationSeconds: 95}, nil},
		{"negative duration", `{"id": "a", "t": "x", "len": -1}`, nil, &ItemError{GUID: "a", Code: "invalid_duration", Message: `duration at "len": -1: duration out of range`}},
		{"huge duration", `{"id": "a", "t": "x", "len": 1e20}`, nil, &ItemError{GUID: "a", Code: "invalid_duration", Message: `duration at "len": 1e20: duration out of range`}},
		{"text duration", `{"id": "a", "t": "x", "len": "an hour"}`, nil, &ItemError{GUID: "a", Code: "invalid_duration", Message: `duration at "len": "an hour": not a duration (want seconds, MM:SS, HH:MM:SS or ISO 8601 like PT1H2M3S)`}},
		{"object duration", `{"id": "a", "t": "x", "len": {}}`, nil, &ItemError{GUID: "a", Code: "invalid_duration", Message: `duration at "len": an object: want a number of seconds or a duration string`}},
		{"media by index", `{"id": "a", "t": "x", "m": [{"url": "https://v.example/a.mp4"}, {"url": "https://v.example/b.mp4"}]}`, &Item{GUID: "a", Title: "x", MediaURL: "https://v.example/a.mp4"}, nil},
		{"media missing index", `{"id": "a", "t": "x", "m": []}`, &Item{GUID: "a", Title: "x"}, nil},
		{"media object with key 0", `{"id": "a", "t": "x", "m": {"0": {"url": "https://v.example/0.mp4"}}}`, &Item{GUID: "a", Title: "x", MediaURL: "https://v.example/0.mp4"}, nil},
		{"relative media", `{"id": "a", "t": "x", "m": [{"url": "/a.mp4"}]}`, nil, &ItemError{GUID: "a", Code: "invalid_media_url", Message: `media_url at "m.0.url": "/a.mp4" is not an absolute http(s) URL`}},
		{"numeric media", `{"id": "a", "t": "x", "m": [{"url": 5}]}`, nil, &ItemError{GUID: "a", Code: "invalid_media_url", Message: `media_url at "m.0.url": 5 is not an absolute http(s) URL`}},
		{"image kept", `{"id": "a", "t": "x", "img": "https://i.example/a.jpg"}`, &Item{GUID: "a", Title: "x", ImageURL: "https://i.example/a.jpg"}, nil},
		{"bad image dropped", `{"id": "a", "t": "x", "img": "data:image/png;base64,AAAA"}`, &Item{GUID: "a", Title: "x"}, nil},
		{"first problem wins", `{"t": "", "p": "bad"}`, nil, &ItemError{Code: "missing_guid", Message: `item 0: no value at guid path "id"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, errs, err := ParseJSON([]byte("["+tt.item+"]"), m)
			if err != nil {
				t.Fatal(err)
			}
			want := &Result{}
			var wantErrs []ItemError
			if tt.want != nil {
				want.Items = []Item{*tt.want}
			}
			if tt.wantErr != nil {
				wantErrs = []ItemError{*tt.wantErr}
			}
			checkResult(t, res, errs, want, wantErrs)
		})
	}
}

func TestParseJSONDocument(t *testing.T) {
	m := Mapping{ItemsPath: "$.data.items", GUID: "id", Title: "title"}
	tests := []struct {
		name, doc, want string
	}{
		{"empty", "", "json: the document is empty"},
		{"syntax", `{"data": {"items": [}`, "json: malformed document at byte 21: invalid character '}' looking for beginning of value"},
		{"truncated", `{"data": {"items": [`, "json: malformed document: unexpected end of input"},
		{"trailing", `{"data": {"items": []}} {}`, "json: malformed document: data after the top-level value at byte 24"},
		{"missing key", `{"data": {}}`, `json: items_path $.data.items: $.data has no key "items"`},
		{"through a scalar", `{"data": 5}`, "json: items_path $.data.items: $.data is a number, not an object"},
		{"not an array", `{"data": {"items": {"a": 1}}}`, "json: items_path $.data.items leads to an object, not an array"},
		{"top is array", `[1]`, "json: items_path $.data.items: $ is an array, not an object"},
		{"too deep", `{"data": {"items": [` + strings.Repeat("[", 70) + strings.Repeat("]", 70) + `]}}`, "json: document nested deeper than 64 levels (at byte 81)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, errs, err := ParseJSON([]byte(tt.doc), m)
			if err == nil || err.Error() != tt.want || res != nil || errs != nil {
				t.Fatalf("got %v, %v, %v; want error %q", res, errs, err, tt.want)
			}
		})
	}

	// Exactly at the limit is fine; brackets inside strings do not count.
	deep := `{"data": {"items": [` + strings.Repeat("[", 61) + strings.Repeat("]", 61) + `, {"id": "[[[[{{{{", "title": "\"[["}]}}`
	res, errs, err := ParseJSON([]byte(deep), m)
	if err != nil {
		t.Fatal(err)
	}
	checkResult(t, res, errs, &Result{Items: []Item{{GUID: "[[[[{{{{", Title: `"[[`}}},
		[]ItemError{{Code: "missing_guid", Message: `item 0: no value at guid path "id"`}})

	// A BOM and surrounding whitespace are accepted.
	res, _, err = ParseJSON([]byte("\ufeff \n[{\"id\": 1, \"title\": \"a\"}]\n"), Mapping{ItemsPath: "$[*]", GUID: "id", Title: "title"})
	if err != nil || len(res.Items) != 1 {
		t.Fatalf("%v %v", res, err)
	}
}

func TestParseJSONMaxItems(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"items": [`)
	for i := range MaxItems + 3 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id": %d, "title": "t"}`, i)
	}
	b.WriteString(`]}`)
	res, errs, err := ParseJSON([]byte(b.String()), Mapping{ItemsPath: "$.items[*]", GUID: "id", Title: "title"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Items) != MaxItems || !res.Truncated || len(errs) != 0 || res.Items[MaxItems-1].GUID != fmt.Sprint(MaxItems-1) {
		t.Fatalf("%d items, truncated %v, %d errors", len(res.Items), res.Truncated, len(errs))
	}
}
