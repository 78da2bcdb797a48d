// Package contentevents holds the content events (topic content.events), generated from specs/avro/content:
// avrogen writes the structs (events.gen.go), tools/eventgen the event types, topic, schemas
// and fingerprints (registry.gen.go). Do not edit; run `make generate`.
package contentevents

// List every schema of specs/avro/content below, sorted; registry.gen.go does not compile without its struct.
//go:generate go tool avrogen -pkg contentevents -o events.gen.go -tags json:snake ../../../specs/avro/content/content.created.avsc ../../../specs/avro/content/content.deleted.avsc ../../../specs/avro/content/content.published.avsc ../../../specs/avro/content/content.unpublished.avsc ../../../specs/avro/content/content.updated.avsc
//go:generate go run ../../../tools/eventgen -pkg contentevents -o registry.gen.go -released ../../../specs/released/avro/content -released ../../../specs/unreleased/avro/content ../../../specs/avro/content
