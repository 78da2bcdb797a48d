package eventbus

import (
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/mediamesh/mediamesh/gen/events/contentevents"
)

// releasedContentPublished is the fingerprint of content.published as released in v1 (before
// snapshots carried asset ids): specs/released/avro/content/content.published.avsc.
const releasedContentPublished uint64 = 0xb3d02607f5cece75

// TestDecodeReleasedVersion reads a message written with the released version of a schema into the
// current struct: fields the old writer did not have take their defaults, the rest survive.
func TestDecodeReleasedVersion(t *testing.T) {
	ev := &contentevents.ContentPublished{
		EventID: "01a2146b-4fc7-7138-82ea-0187f3c2b74e", OccurredAt: time.UnixMilli(1764000000000).UTC(),
		AggregateID: "01a2146b-4fc7-7138-82ea-0187f3c2b74f", AggregateType: contentevents.AggregateTypeProgram,
		PublishedAt: time.UnixMilli(1764000000000).UTC(),
		Snapshot: contentevents.ContentSnapshot{ID: "01a2146b-4fc7-7138-82ea-0187f3c2b74f", Status: contentevents.ContentStatusPublished,
			Title: "Old message", Language: "en", Tags: []string{"a"}, Version: 3},
	}
	old, ok := ev.WriterSchema(releasedContentPublished)
	if !ok {
		t.Fatal("the registry does not know the released content.published")
	}
	body, err := avro.Marshal(old, ev)
	if err != nil {
		t.Fatal(err)
	}
	msg := append([]byte{0xC3, 0x01, 0, 0, 0, 0, 0, 0, 0, 0}, body...)
	binary.LittleEndian.PutUint64(msg[2:10], releasedContentPublished)

	cover := "not reset"
	got := contentevents.ContentPublished{Snapshot: contentevents.ContentSnapshot{CoverAssetID: &cover}}
	if err := Decode(msg, got.AvroSchema(), &got); err != nil {
		t.Fatal(err)
	}
	if got.Snapshot.Title != "Old message" || got.Snapshot.Version != 3 || got.EventID != ev.EventID || got.Snapshot.CoverAssetID != nil {
		t.Fatalf("decoded %+v", got.Snapshot)
	}
	if typ, ok := contentevents.EventTypeForFingerprint(releasedContentPublished); !ok || typ != contentevents.TypeContentPublished {
		t.Fatalf("event type of the released fingerprint: %q %v", typ, ok)
	}

	// A fingerprint that is neither the current schema nor its released version is refused.
	binary.LittleEndian.PutUint64(msg[2:10], 0x1234)
	if err := Decode(msg, got.AvroSchema(), &got); err == nil || !strings.Contains(err.Error(), "neither") {
		t.Fatalf("unknown writer schema: %v", err)
	}
}

// FuzzDecode feeds arbitrary payloads to the decoding path a consumer runs on untrusted input.
func FuzzDecode(f *testing.F) {
	ev := &contentevents.ContentCreated{EventID: "01a2146b-4fc7-7138-82ea-0187f3c2b74e", AggregateID: "01a2146b-4fc7-7138-82ea-0187f3c2b74f",
		AggregateType: contentevents.AggregateTypeProgram, OccurredAt: time.UnixMilli(1764000000000).UTC(),
		Snapshot: contentevents.ContentSnapshot{ID: "01a2146b-4fc7-7138-82ea-0187f3c2b74f", Status: contentevents.ContentStatusDraft, Title: "T", Language: "en", Version: 1}}
	data, err := Encode(ev.AvroSchema(), ev)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte{0xC3, 0x01})
	schemas := contentevents.Schemas()
	f.Fuzz(func(t *testing.T, data []byte) {
		fp, _, err := ParseSingleObject(data)
		if err != nil {
			return
		}
		eventType, ok := contentevents.EventTypeForFingerprint(fp)
		if !ok {
			return
		}
		v, _ := contentevents.New(eventType)
		_ = Decode(data, schemas[eventType], v)
	})
}
