package metadata

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/ent/metadatadb"
	"github.com/mediamesh/mediamesh/ent/metadatadb/schema"
	"github.com/mediamesh/mediamesh/gen/openapi/metadataapi"
)

// content is the part of a metadata version that its author wrote: what a PUT replaces and what
// version summaries and diffs compare.
type content struct {
	ContentType     string
	Title           string
	Description     *string
	CategoryID      *uuid.UUID
	Language        string
	DurationSeconds *int32
	PublishDate     *time.Time
	Tags            []string            // never nil
	Extra           []schema.ExtraField // never nil
}

// contentOf returns what version v records.
func contentOf(v *metadatadb.MetadataVersion) content {
	c := content{
		ContentType:     string(v.ContentType),
		Title:           v.Title,
		Description:     v.Description,
		CategoryID:      v.CategoryID,
		Language:        v.Language,
		DurationSeconds: v.DurationSeconds,
		PublishDate:     v.PublishDate,
		Tags:            v.Tags,
		Extra:           v.Extra,
	}
	if c.Tags == nil {
		c.Tags = []string{}
	}
	if c.Extra == nil {
		c.Extra = []schema.ExtraField{}
	}
	return c
}

// fieldOrder is the order of the metadata fields in the contract (MetadataInput); changed_fields
// and diffs list fields in it.
var fieldOrder = []metadataapi.MetadataFieldName{
	metadataapi.MetadataFieldNameContentType,
	metadataapi.MetadataFieldNameTitle,
	metadataapi.MetadataFieldNameDescription,
	metadataapi.MetadataFieldNameCategoryId,
	metadataapi.MetadataFieldNameLanguage,
	metadataapi.MetadataFieldNameDurationSeconds,
	metadataapi.MetadataFieldNamePublishDate,
	metadataapi.MetadataFieldNameTags,
	metadataapi.MetadataFieldNameExtra,
}

// render returns each field of c as a diff shows it, nil when the field is not set: text as is;
// ids, numbers and timestamps as their JSON scalar text (a UUID, 3600, 2026-12-01T06:00:00Z, in
// UTC as the API renders it); tags and extra as compact JSON arrays. Empty tags and extra count as
// not set: a PUT without them stores them empty. Comparing the rendered values is the definition
// of "changed" for summaries, diffs and the no-op PUT alike.
func (c content) render() map[metadataapi.MetadataFieldName]*string {
	text := func(s string) *string {
		if s == "" { // only the zero content, the "previous version" of version 1
			return nil
		}
		return &s
	}
	out := map[metadataapi.MetadataFieldName]*string{
		metadataapi.MetadataFieldNameContentType: text(c.ContentType),
		metadataapi.MetadataFieldNameTitle:       text(c.Title),
		metadataapi.MetadataFieldNameDescription: c.Description,
		metadataapi.MetadataFieldNameLanguage:    text(c.Language),
	}
	if c.CategoryID != nil {
		s := c.CategoryID.String()
		out[metadataapi.MetadataFieldNameCategoryId] = &s
	}
	if c.DurationSeconds != nil {
		s := strconv.FormatInt(int64(*c.DurationSeconds), 10)
		out[metadataapi.MetadataFieldNameDurationSeconds] = &s
	}
	if c.PublishDate != nil {
		s := c.PublishDate.UTC().Format(time.RFC3339Nano)
		out[metadataapi.MetadataFieldNamePublishDate] = &s
	}
	if len(c.Tags) > 0 {
		s := jsonText(c.Tags)
		out[metadataapi.MetadataFieldNameTags] = &s
	}
	if len(c.Extra) > 0 {
		s := jsonText(c.Extra)
		out[metadataapi.MetadataFieldNameExtra] = &s
	}
	return out
}

// jsonText returns v as compact JSON, with <, > and & left as they are (the text is shown, not
// embedded in HTML).
func jsonText(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil { // string slices and ExtraField slices always encode
		panic(err)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// changes lists the fields that differ from from to to, with their rendered values.
func changes(from, to content) []metadataapi.FieldChange {
	before, after := from.render(), to.render()
	out := []metadataapi.FieldChange{}
	for _, f := range fieldOrder {
		b, a := before[f], after[f]
		if b == nil && a == nil || b != nil && a != nil && *b == *a {
			continue
		}
		out = append(out, metadataapi.FieldChange{Field: f, Before: b, After: a})
	}
	return out
}

// changedFields lists the names of the fields that differ from from to to.
func changedFields(from, to content) []metadataapi.MetadataFieldName {
	ch := changes(from, to)
	out := make([]metadataapi.MetadataFieldName, len(ch))
	for i, c := range ch {
		out[i] = c.Field
	}
	return out
}
