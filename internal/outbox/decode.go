package outbox

import (
	"github.com/hamba/avro/v2"

	"github.com/mediamesh/mediamesh/internal/eventbus"
)

// Decoding is eventbus's (eventbus.EventType, eventbus.Decode, eventbus.ParseSingleObject): this
// package writes and relays events. These forwards keep the callers that have not moved yet
// building (the composition root's revocation feed and some services' tests, which other changes
// are rewriting now); delete them once nothing calls them.

// Decode is eventbus.Decode.
func Decode(data []byte, schema avro.Schema, v any) error { return eventbus.Decode(data, schema, v) }

// EventType is eventbus.EventType.
func EventType(m eventbus.Message, lookups ...func(fingerprint uint64) (string, bool)) (string, error) {
	return eventbus.EventType(m, lookups...)
}

// ParseSingleObject is eventbus.ParseSingleObject.
func ParseSingleObject(data []byte) (fingerprint uint64, body []byte, err error) {
	return eventbus.ParseSingleObject(data)
}
