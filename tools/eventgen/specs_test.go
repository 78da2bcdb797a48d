package main

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/hamba/avro/v2/soe"

	"github.com/mediamesh/mediamesh/gen/events/authevents"
	"github.com/mediamesh/mediamesh/gen/events/contentevents"
	"github.com/mediamesh/mediamesh/gen/events/discoveryevents"
	"github.com/mediamesh/mediamesh/gen/events/ingestevents"
	"github.com/mediamesh/mediamesh/gen/events/mediaevents"
	"github.com/mediamesh/mediamesh/gen/events/metadataevents"
	"github.com/mediamesh/mediamesh/gen/events/searchevents"
)

const repoRoot = "../.."

// generatedEvent is the method set tools/eventgen adds to every event struct.
type generatedEvent interface {
	EventType() string
	Topic() string
	AvroSchema() avro.Schema
	SchemaFingerprint() uint64
	MessageKey() string
}

// domainPackage describes one gen/events package through its generated functions.
type domainPackage struct {
	topic      string
	eventTypes func() []string
	schemas    func() map[string]avro.Schema
	newEvent   func(string) (any, bool)
	byFP       func(uint64) (string, bool)
}

var domains = map[string]domainPackage{
	"content":   {contentevents.TopicContentEvents, contentevents.EventTypes, contentevents.Schemas, contentevents.New, contentevents.EventTypeForFingerprint},
	"ingest":    {ingestevents.TopicIngestEvents, ingestevents.EventTypes, ingestevents.Schemas, ingestevents.New, ingestevents.EventTypeForFingerprint},
	"discovery": {discoveryevents.TopicDiscoveryEvents, discoveryevents.EventTypes, discoveryevents.Schemas, discoveryevents.New, discoveryevents.EventTypeForFingerprint},
	"search":    {searchevents.TopicDiscoveryEvents, searchevents.EventTypes, searchevents.Schemas, searchevents.New, searchevents.EventTypeForFingerprint},
	"auth":      {authevents.TopicAuthEvents, authevents.EventTypes, authevents.Schemas, authevents.New, authevents.EventTypeForFingerprint},
	"media":     {mediaevents.TopicMediaEvents, mediaevents.EventTypes, mediaevents.Schemas, mediaevents.New, mediaevents.EventTypeForFingerprint},
	"metadata":  {metadataevents.TopicMetadataEvents, metadataevents.EventTypes, metadataevents.Schemas, metadataevents.New, metadataevents.EventTypeForFingerprint},
}

// TestRegistriesAreCurrent fails when a committed registry.gen.go no longer matches specs/avro.
func TestRegistriesAreCurrent(t *testing.T) {
	entries, err := os.ReadDir(filepath.Join(repoRoot, "specs", "avro"))
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		domain := e.Name()
		found = append(found, domain)
		t.Run(domain, func(t *testing.T) {
			got, err := Generate(filepath.Join(repoRoot, "specs", "avro", domain), domain+"events",
				filepath.Join(repoRoot, "specs", "released", "avro", domain), filepath.Join(repoRoot, "specs", "unreleased", "avro", domain))
			if err != nil {
				t.Fatal(err)
			}
			committed := filepath.Join(repoRoot, "gen", "events", domain+"events", "registry.gen.go")
			want, err := os.ReadFile(committed)
			if err != nil {
				t.Fatalf("%v (add gen/events/%sevents with a generate.go and run make generate)", err, domain)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s is stale: run make generate", committed)
			}
		})
	}
	slices.Sort(found)
	if want := []string{"auth", "content", "discovery", "ingest", "media", "metadata", "search"}; !slices.Equal(found, want) {
		t.Errorf("specs/avro domains %v, this test knows %v: update the domains table", found, want)
	}
}

// TestDomainRegistries checks every event type of every package: a struct, a schema, a
// fingerprint that matches the single-object encoding one, and the generated methods.
func TestDomainRegistries(t *testing.T) {
	for domain, pkg := range domains {
		t.Run(domain, func(t *testing.T) {
			types := pkg.eventTypes()
			if len(types) == 0 || !slices.IsSorted(types) {
				t.Fatalf("event types %v: want a sorted, non-empty list", types)
			}
			schemas := pkg.schemas()
			if len(schemas) != len(types) {
				t.Errorf("%d schemas for %d event types", len(schemas), len(types))
			}
			for _, typ := range types {
				v, ok := pkg.newEvent(typ)
				if !ok {
					t.Fatalf("New(%q) found nothing", typ)
				}
				ev, ok := v.(generatedEvent)
				if !ok {
					t.Fatalf("%T lacks the generated event methods", v)
				}
				if ev.EventType() != typ || ev.Topic() != pkg.topic || ev.AvroSchema() != schemas[typ] {
					t.Errorf("%T: type %q topic %q, want %q %q and the registry schema", v, ev.EventType(), ev.Topic(), typ, pkg.topic)
				}
				le, err := soe.ComputeFingerprint(ev.AvroSchema())
				if err != nil {
					t.Fatal(err)
				}
				if got := binary.LittleEndian.Uint64(le); got != ev.SchemaFingerprint() {
					t.Errorf("%s: fingerprint const %#x, schema has %#x", typ, ev.SchemaFingerprint(), got)
				}
				if back, ok := pkg.byFP(ev.SchemaFingerprint()); !ok || back != typ {
					t.Errorf("%s: fingerprint lookup gave %q", typ, back)
				}
			}
			if _, ok := pkg.newEvent("no.such.event"); ok {
				t.Error("New accepted an unknown event type")
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// TestRoundTrip encodes a sample of every event with Avro single-object encoding and decodes it
// into a fresh struct found by the header's fingerprint.
func TestRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 25, 10, 0, 0, 123_000_000, time.UTC)
	const (
		id1 = "0193a4c2-7b1e-7c3a-9f7e-2d1c5b8a9e01"
		id2 = "0193a4c2-7b1e-7c3a-9f7e-2d1c5b8a9e02"
		id3 = "0193a4c2-7b1e-7c3a-9f7e-2d1c5b8a9e03"
	)
	episode := contentevents.ContentSnapshot{
		ID: id2, ProgramID: ptr(id1), Status: contentevents.ContentStatusPublished,
		Title: "برنامج الصباح: الحلقة الأولى", Slug: ptr("barnamaj-alsabah-1"), Summary: ptr("حلقة عن القهوة"),
		Language: "ar", CategoryID: ptr(id3), Tags: []string{"coffee", "morning"}, Extra: []contentevents.ExtraAttribute{{Key: "presenter", Value: "سارة"}},
		SeasonNumber: ptr(1), EpisodeNumber: ptr(1), DurationSeconds: ptr(1800), PublishedAt: ptr(at), Version: 3,
	}
	program := contentevents.ContentSnapshot{
		ID: id1, Kind: ptr(contentevents.ContentKindPodcast), Status: contentevents.ContentStatusDraft,
		Title: "Morning Show", Language: "en", Tags: []string{}, Extra: []contentevents.ExtraAttribute{}, Version: 1,
	}
	samples := map[string][]generatedEvent{
		"content": {
			&contentevents.ContentCreated{EventID: id3, OccurredAt: at, AggregateID: id1, AggregateType: contentevents.AggregateTypeProgram, Snapshot: program},
			&contentevents.ContentUpdated{EventID: id3, OccurredAt: at, AggregateID: id2, AggregateType: contentevents.AggregateTypeEpisode,
				TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", ActorID: ptr(id3), Snapshot: episode, ChangedFields: []string{"tags", "title"}},
			&contentevents.ContentPublished{EventID: id3, OccurredAt: at, AggregateID: id2, AggregateType: contentevents.AggregateTypeEpisode, Snapshot: episode, PublishedAt: at},
			&contentevents.ContentUnpublished{EventID: id3, OccurredAt: at, AggregateID: id2, AggregateType: contentevents.AggregateTypeEpisode, ProgramID: ptr(id1), Reason: ptr("rights expired"), Version: 4},
			&contentevents.ContentDeleted{EventID: id3, OccurredAt: at, AggregateID: id1, AggregateType: contentevents.AggregateTypeProgram, Soft: true, Version: 2},
		},
		"ingest": {
			&ingestevents.IngestCompleted{EventID: id3, OccurredAt: at, AggregateID: id1, RunID: id2, SourceID: id1, SourceType: ingestevents.SourceTypeRss, Trigger: ingestevents.IngestRunTriggerManual,
				ItemsSeen: 10, ItemsCreated: 3, ItemsUpdated: 2, ItemsSkipped: 5, StartedAt: at.Add(-time.Minute), FinishedAt: at},
			&ingestevents.IngestFailed{EventID: id3, OccurredAt: at, AggregateID: id1, RunID: id2, SourceID: id1, SourceType: ingestevents.SourceTypeYoutube, Trigger: ingestevents.IngestRunTriggerSchedule,
				ErrorCode: "http_error", ErrorMessage: "upstream answered 503", HTTPStatus: ptr(503), StartedAt: at},
		},
		"discovery": {
			&discoveryevents.EngagementRecorded{EventID: id3, OccurredAt: at, AggregateID: id1, Action: discoveryevents.EngagementActionPlay,
				ContentType: discoveryevents.EngagementContentTypeEpisode, ContentID: id2, UserID: ptr(id3), ClientKey: "0123456789abcdef0123456789abcdef",
				PositionSeconds: ptr(1260), ReceivedAt: at},
			&discoveryevents.PopularityChanged{EventID: id3, OccurredAt: at, AggregateID: id1, ContentType: discoveryevents.PopularityContentTypeProgram,
				ContentID: id1, Popularity: 1024},
		},
		"search": {
			&searchevents.SearchIndexRequested{EventID: id3, OccurredAt: at, AggregateID: id2, Reason: searchevents.IndexRequestReasonContentChanged, ContentID: ptr(id2)},
		},
		"auth": {
			&authevents.UserRegistered{EventID: id3, OccurredAt: at, AggregateID: id1, UserID: id1, Email: "editor@example.com",
				Roles: []string{authevents.RoleEditor}, Source: authevents.RegistrationSourceAdmin},
			&authevents.UserRoleChanged{EventID: id3, OccurredAt: at, AggregateID: id1, UserID: id1,
				OldRoles: []string{authevents.RoleUser}, NewRoles: []string{authevents.RoleAdmin, authevents.RoleUser}, ChangedBy: ptr(id2)},
			&authevents.UserTokensRevoked{EventID: id3, OccurredAt: at, AggregateID: id1, UserID: id1, RevokedAt: at,
				Reason: authevents.RevocationReasonDisabled},
			&authevents.APIKeyCreated{EventID: id3, OccurredAt: at, AggregateID: id2, KeyID: id2, OwnerID: id1, Name: "ingest robot",
				Prefix: "mmk_0123abcd", Scopes: []string{"ingest:run", "ingest:read"}, ExpiresAt: ptr(at.Add(time.Hour)), CreatedBy: id1,
				Rotated: true, PreviousValidUntil: ptr(at.Add(time.Minute))},
			&authevents.APIKeyRevoked{EventID: id3, OccurredAt: at, AggregateID: id2, KeyID: id2, OwnerID: id1, RevokedAt: at, RevokedBy: ptr(id1)},
			&authevents.RoleScopesReduced{EventID: id3, OccurredAt: at, AggregateID: authevents.RoleEditor, Role: authevents.RoleEditor,
				RemovedScopes: []string{"content:publish"}, RevokedAt: at},
		},
	}
	for domain, events := range samples {
		pkg := domains[domain]
		covered := map[string]bool{}
		for _, ev := range events {
			covered[ev.EventType()] = true
			t.Run(ev.EventType(), func(t *testing.T) {
				codec, err := soe.NewCodec(ev.AvroSchema())
				if err != nil {
					t.Fatal(err)
				}
				data, err := codec.Encode(ev)
				if err != nil {
					t.Fatal(err)
				}
				fp, _, err := soe.ParseHeader(data)
				if err != nil {
					t.Fatal(err)
				}
				typ, ok := pkg.byFP(binary.LittleEndian.Uint64(fp))
				if !ok || typ != ev.EventType() {
					t.Fatalf("header fingerprint %x resolves to %q, want %q", fp, typ, ev.EventType())
				}
				back, _ := pkg.newEvent(typ)
				if err := codec.Decode(data, back); err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(back, ev) {
					t.Errorf("round trip changed the event:\n got %+v\nwant %+v", back, ev)
				}
				if back.(generatedEvent).MessageKey() != reflect.ValueOf(ev).Elem().FieldByName("AggregateID").String() {
					t.Error("MessageKey is not the aggregate id")
				}
			})
		}
		for _, typ := range pkg.eventTypes() {
			if !covered[typ] {
				t.Errorf("no round-trip sample for %s", typ)
			}
		}
	}
}

// TestEnumDefaults checks that a reader maps an enum symbol it does not know to the declared
// default, so that adding a symbol stays backward compatible.
func TestEnumDefaults(t *testing.T) {
	writer := avro.MustParse(`{"type": "record", "name": "R", "fields": [
		{"name": "status", "type": {"type": "enum", "name": "ContentStatus", "symbols": ["draft", "published", "retracted"]}}]}`)
	reader := avro.MustParse(`{"type": "record", "name": "R", "fields": [
		{"name": "status", "type": {"type": "enum", "name": "ContentStatus", "symbols": ["draft", "published"], "default": "draft"}}]}`)
	data, err := avro.Marshal(writer, map[string]any{"status": "retracted"})
	if err != nil {
		t.Fatal(err)
	}
	resolved, err := avro.NewSchemaCompatibility().Resolve(reader, writer)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Status string `avro:"status"`
	}
	if err := avro.Unmarshal(resolved, data, &got); err != nil {
		t.Fatal(err)
	}
	if got.Status != contentevents.ContentStatusDraft {
		t.Errorf("unknown symbol read as %q, want the default draft", got.Status)
	}
}
