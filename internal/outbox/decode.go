package outbox

import (
	"github.com/hamba/avro/v2"

	"github.com/mediamesh/mediamesh/internal/eventbus"
)

// Decode is eventbus.Decode, kept only for services/auth's tests, which the move of auth to ent is
// rewriting now: decoding is eventbus's (eventbus.EventType, eventbus.Decode); this package writes
// and relays events. Delete it once nothing calls it.
func Decode(data []byte, schema avro.Schema, v any) error { return eventbus.Decode(data, schema, v) }
