package cms

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/ent/cmsdb"
	"github.com/mediamesh/mediamesh/ent/cmsdb/auditentry"
	"github.com/mediamesh/mediamesh/ent/cmsdb/schema"
	"github.com/mediamesh/mediamesh/gen/events/contentevents"
)

// maxAuditValue is the longest before/after value of an audit change, in characters.
const maxAuditValue = 4000

// content is a program or an episode as its events and its audit trail see it.
type content struct {
	entity      auditentry.EntityType
	id          uuid.UUID
	programID   *uuid.UUID // the program of an episode
	status      string
	deleted     bool // soft-deleted
	version     int32
	scheduledAt *time.Time
	snapshot    contentevents.ContentSnapshot
	fields      []auditField // the editable fields, rendered for the audit trail
}

// auditField is one editable field rendered as an audit value; nil when unset.
type auditField struct {
	name  string
	value *string
}

func programContent(p *cmsdb.Program) *content {
	kind := string(p.Kind)
	slug := p.Slug
	return &content{
		entity:      auditentry.EntityTypeProgram,
		id:          p.ID,
		status:      string(p.Status),
		deleted:     p.DeletedAt != nil,
		version:     p.Version,
		scheduledAt: p.ScheduledPublishAt,
		snapshot: contentevents.ContentSnapshot{
			ID: p.ID.String(), Kind: &kind, Status: string(p.Status), Title: p.Title, Slug: &slug,
			Summary: p.Summary, Language: p.Language, CategoryID: uuidString(p.CategoryID), Tags: nonNil(p.Tags), Extra: snapshotExtra(p.Extra),
			PublishedAt:  snapshotPublishedAt(string(p.Status), p.ScheduledPublishAt, p.PublishedAt),
			CoverAssetID: uuidString(p.CoverAssetID), Version: int64(p.Version),
		},
		fields: []auditField{
			{"kind", &kind},
			{"title", &p.Title},
			{"slug", &slug},
			{"summary", p.Summary},
			{"language", &p.Language},
			{"category_id", uuidString(p.CategoryID)},
			{"tags", jsonValue(nonNil(p.Tags))},
			{"extra", extraValue(p.Extra)},
			{"cover_asset_id", uuidString(p.CoverAssetID)},
		},
	}
}

func episodeContent(e *cmsdb.Episode) *content {
	programID := e.ProgramID
	number := int(e.EpisodeNumber)
	return &content{
		entity:      auditentry.EntityTypeEpisode,
		id:          e.ID,
		programID:   &programID,
		status:      string(e.Status),
		deleted:     e.DeletedAt != nil,
		version:     e.Version,
		scheduledAt: e.ScheduledPublishAt,
		snapshot: contentevents.ContentSnapshot{
			ID: e.ID.String(), ProgramID: uuidString(&programID), Status: string(e.Status), Title: e.Title,
			Summary: e.Summary, Language: e.Language, Tags: []string{}, Extra: snapshotExtra(e.Extra), SeasonNumber: intPtr(e.SeasonNumber),
			EpisodeNumber: &number, DurationSeconds: intPtr(e.DurationSeconds),
			PublishedAt:      snapshotPublishedAt(string(e.Status), e.ScheduledPublishAt, e.PublishedAt),
			ThumbnailAssetID: uuidString(e.ThumbnailAssetID), MediaAssetID: uuidString(e.MediaAssetID), Version: int64(e.Version),
		},
		fields: []auditField{
			{"season_number", int32String(e.SeasonNumber)},
			{"episode_number", int32String(&e.EpisodeNumber)},
			{"title", &e.Title},
			{"summary", e.Summary},
			{"language", &e.Language},
			{"duration_seconds", int32String(e.DurationSeconds)},
			{"extra", extraValue(e.Extra)},
			{"media_asset_id", uuidString(e.MediaAssetID)},
			{"thumbnail_asset_id", uuidString(e.ThumbnailAssetID)},
		},
	}
}

// snapshotPublishedAt is a snapshot's published_at: when the content was, or is scheduled to be,
// published.
func snapshotPublishedAt(status string, scheduledAt, publishedAt *time.Time) *time.Time {
	at := publishedAt
	if status == statusScheduled && scheduledAt != nil {
		at = scheduledAt
	}
	if at == nil {
		return nil
	}
	utc := at.UTC()
	return &utc
}

// diff returns the audit changes from before to after, field by field; with before nil (a
// creation) every field that is set.
func diff(before, after []auditField) []schema.AuditChange {
	old := make(map[string]*string, len(before))
	for _, f := range before {
		old[f.name] = f.value
	}
	changes := []schema.AuditChange{}
	for _, f := range after {
		b := old[f.name]
		if equalPtr(b, f.value) {
			continue
		}
		changes = append(changes, schema.AuditChange{Field: f.name, Before: clip(b), After: clip(f.value)})
	}
	return changes
}

// clip shortens an audit value to maxAuditValue characters.
func clip(v *string) *string {
	if v == nil || utf8.RuneCountInString(*v) <= maxAuditValue {
		return v
	}
	r := []rune(*v)
	s := string(r[:maxAuditValue-1]) + "…"
	return &s
}

// timeString renders an instant for the audit trail.
func timeString(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := t.UTC().Format(time.RFC3339Nano)
	return &s
}

func uuidString(id *uuid.UUID) *string {
	if id == nil {
		return nil
	}
	s := id.String()
	return &s
}

func int32String(v *int32) *string {
	if v == nil {
		return nil
	}
	s := strconv.FormatInt(int64(*v), 10)
	return &s
}

func intPtr(v *int32) *int {
	if v == nil {
		return nil
	}
	n := int(*v)
	return &n
}

// jsonValue renders a list as JSON, without HTML escaping.
func jsonValue(v []string) *string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // a []string always encodes
	s := string(bytes.TrimRight(b.Bytes(), "\n"))
	return &s
}

// snapshotExtra is the extra list of a content snapshot: never nil.
func snapshotExtra(in []schema.ExtraField) []contentevents.ExtraAttribute {
	out := make([]contentevents.ExtraAttribute, len(in))
	for i, e := range in {
		out[i] = contentevents.ExtraAttribute{Key: e.Key, Value: e.Value}
	}
	return out
}

// extraValue renders extra for the audit trail: nil when empty (an empty list is none).
func extraValue(in []schema.ExtraField) *string {
	if len(in) == 0 {
		return nil
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(in) // plain strings always encode
	s := string(bytes.TrimRight(b.Bytes(), "\n"))
	return &s
}

func nonNilExtra(v []schema.ExtraField) []schema.ExtraField {
	if v == nil {
		return []schema.ExtraField{}
	}
	return v
}

func nonNil(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}
