package metadata

import (
	"fmt"
	"strings"
	"time"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"

	"github.com/mediamesh/mediamesh/ent/metadatadb/schema"
	"github.com/mediamesh/mediamesh/gen/openapi/metadataapi"
	"github.com/mediamesh/mediamesh/internal/humantext"
)

// The range of publish_date, in UTC: the years 1900 to 2100. The contract only says date-time;
// outside these years a value is a typing mistake (or a fuzzer) rather than a publication date, and
// the 422 says so instead of storing it.
var (
	minPublishDate = time.Date(1900, time.January, 1, 0, 0, 0, 0, time.UTC)
	maxPublishDate = time.Date(2101, time.January, 1, 0, 0, 0, 0, time.UTC) // exclusive
)

// input is a normalised PUT body and the time it is recorded at.
type input struct {
	content
	now time.Time
}

// normalize checks what the contract cannot express about a PUT body and returns the content it
// describes: publish_date in UTC to the microsecond (what both dialects store), tags without
// case-insensitive duplicates (the first spelling wins), empty tags and extra when left out. The
// category is checked in the write transaction.
func (s *Service) normalize(b *metadataapi.MetadataInput) (input, fieldErrors) {
	var errs fieldErrors
	in := input{now: s.clock(), content: content{
		ContentType:     string(b.ContentType),
		Title:           b.Title,
		Description:     b.Description,
		CategoryID:      b.CategoryId,
		Language:        b.Language,
		DurationSeconds: b.DurationSeconds,
		Tags:            []string{},
		Extra:           []schema.ExtraField{},
	}}
	if !b.ContentType.Valid() {
		errs.add("content_type", "enum", "must be program or episode")
	}
	errs.checkText("title", b.Title, humantext.Line, true)
	if b.Description != nil {
		errs.checkText("description", *b.Description, humantext.Block, false)
	}
	if !s.supported[b.Language] {
		codes := make([]string, len(s.languages))
		for i, l := range s.languages {
			codes[i] = l.Code
		}
		errs.add("language", "unsupported", "must be one of the supported languages: "+strings.Join(codes, ", "))
	}
	if b.PublishDate != nil {
		t := b.PublishDate.UTC().Truncate(time.Microsecond)
		if t.Before(minPublishDate) || !t.Before(maxPublishDate) {
			errs.add("publish_date", "out_of_range", "must be in the years 1900 to 2100 (1900-01-01T00:00:00Z to 2100-12-31T23:59:59Z)")
		}
		in.PublishDate = &t
	}
	if b.Tags != nil {
		seen := map[string]bool{}
		for i, tag := range *b.Tags {
			errs.checkTag(elem("tags", i, ""), tag)
			key := cases.Fold().String(norm.NFC.String(tag))
			if !seen[key] {
				seen[key] = true
				in.Tags = append(in.Tags, tag)
			}
		}
	}
	if b.Extra != nil {
		first := map[string]int{}
		for i, e := range *b.Extra {
			if j, dup := first[e.Key]; dup {
				errs.add(elem("extra", i, "key"), "duplicate", fmt.Sprintf("duplicate key %q (first at %s)", e.Key, elem("extra", j, "key")))
			} else {
				first[e.Key] = i
			}
			errs.checkText(elem("extra", i, "key"), e.Key, humantext.Line, true)
			errs.checkText(elem("extra", i, "value"), e.Value, humantext.Block, true)
			in.Extra = append(in.Extra, schema.ExtraField{Key: e.Key, Value: e.Value})
		}
	}
	return in, errs
}
