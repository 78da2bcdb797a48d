package eventbus

import (
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/hamba/avro/v2"
)

// The wire format of events: Avro single-object encoding, so a reader can tell the schema of any
// payload from its first ten bytes. Writers (the outbox) encode with Encode, consumers read with
// EventType and Decode.

// SingleObjectHeaderLen is the length of the single-object encoding header: the marker C3 01 and the
// schema's 8-byte CRC-64-AVRO fingerprint.
const SingleObjectHeaderLen = 10

// Encode returns v in Avro single-object encoding with schema: the marker C3 01, the CRC-64-AVRO
// fingerprint of the schema (of its Parsing Canonical Form) in little-endian order, then the Avro
// binary encoding of v.
func Encode(schema avro.Schema, v any) ([]byte, error) {
	fp, err := Fingerprint(schema)
	if err != nil {
		return nil, err
	}
	body, err := avro.Marshal(schema, v)
	if err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	out := make([]byte, SingleObjectHeaderLen, SingleObjectHeaderLen+len(body))
	out[0], out[1] = 0xC3, 0x01
	binary.LittleEndian.PutUint64(out[2:], fp)
	return append(out, body...), nil
}

// Fingerprint returns the CRC-64-AVRO fingerprint of schema's Parsing Canonical Form, the
// number the generated Fingerprint* constants hold.
func Fingerprint(schema avro.Schema) (uint64, error) {
	b, err := schema.FingerprintUsing(avro.CRC64AvroLE)
	if err != nil {
		return 0, fmt.Errorf("schema fingerprint: %w", err)
	}
	if len(b) != 8 {
		return 0, fmt.Errorf("schema fingerprint has %d bytes, want 8", len(b))
	}
	return binary.LittleEndian.Uint64(b), nil
}

// ParseSingleObject splits an Avro single-object encoded message into its schema fingerprint
// (CRC-64-AVRO, as in the generated Fingerprint* constants) and its Avro binary body. The body
// shares data's memory.
func ParseSingleObject(data []byte) (fingerprint uint64, body []byte, err error) {
	if len(data) < SingleObjectHeaderLen {
		return 0, nil, fmt.Errorf("eventbus: single-object message too short (%d bytes)", len(data))
	}
	if data[0] != 0xC3 || data[1] != 0x01 {
		return 0, nil, fmt.Errorf("eventbus: not an Avro single-object message (marker %02X %02X, want C3 01)", data[0], data[1])
	}
	return binary.LittleEndian.Uint64(data[2:SingleObjectHeaderLen]), data[SingleObjectHeaderLen:], nil
}

// EventType returns the event type of m: its event_type header, or else the type that one of
// lookups (the generated EventTypeForFingerprint functions of the topics a consumer reads) gives
// the schema fingerprint of its single-object payload; "" when none knows it.
func EventType(m Message, lookups ...func(fingerprint uint64) (string, bool)) (string, error) {
	if t := m.Headers[HeaderEventType]; t != "" {
		return t, nil
	}
	fp, _, err := ParseSingleObject(m.Value)
	if err != nil {
		return "", err
	}
	for _, lookup := range lookups {
		if t, ok := lookup(fp); ok {
			return t, nil
		}
	}
	return "", nil
}

// writerSchemas is what a generated event struct knows of the schemas its messages may have been
// written with: its current schema and its released version.
type writerSchemas interface {
	WriterSchema(fingerprint uint64) (avro.Schema, bool)
}

// resolved caches the composite schemas that read one writer schema as another, by fingerprints.
var resolved sync.Map // [2]uint64{writer, reader} -> avro.Schema

// Decode decodes the single-object encoded data into v (a pointer, typically to a generated
// event struct) with schema. Data written with another schema is read through Avro schema
// resolution when v knows that writer schema (a generated event's WriterSchema: an earlier
// released version), so that messages written before a compatible change stay readable; any
// other writer schema is an error.
func Decode(data []byte, schema avro.Schema, v any) error {
	fp, body, err := ParseSingleObject(data)
	if err != nil {
		return err
	}
	want, err := Fingerprint(schema)
	if err != nil {
		return fmt.Errorf("eventbus: %w", err)
	}
	read := schema
	if fp != want {
		if read, err = resolve(fp, want, schema, v); err != nil {
			return err
		}
	}
	if err := avro.Unmarshal(read, body, v); err != nil {
		return fmt.Errorf("eventbus: decode: %w", err)
	}
	return nil
}

// resolve returns the schema that reads data written with the writer schema of fingerprint fp
// into reader (fingerprint want).
func resolve(fp, want uint64, reader avro.Schema, v any) (avro.Schema, error) {
	key := [2]uint64{fp, want}
	if s, ok := resolved.Load(key); ok {
		return s.(avro.Schema), nil
	}
	ws, ok := v.(writerSchemas)
	if !ok {
		return nil, fmt.Errorf("eventbus: message written with schema %016x, not %016x", fp, want)
	}
	writer, ok := ws.WriterSchema(fp)
	if !ok {
		return nil, fmt.Errorf("eventbus: message written with schema %016x, which is neither %016x nor a released version of it", fp, want)
	}
	s, err := avro.NewSchemaCompatibility().Resolve(reader, writer)
	if err != nil {
		return nil, fmt.Errorf("eventbus: schema %016x cannot be read as %016x: %w", fp, want, err)
	}
	resolved.Store(key, s)
	return s, nil
}
