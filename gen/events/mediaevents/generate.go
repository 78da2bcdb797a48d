// Package mediaevents holds the media events (topic media.events), generated from
// specs/avro/media: avrogen writes the structs (events.gen.go), tools/eventgen the event types,
// topic, schemas and fingerprints (registry.gen.go). Do not edit; run `make generate`.
package mediaevents

// List every schema of specs/avro/media below, sorted; registry.gen.go does not compile without its struct.
//go:generate go tool avrogen -pkg mediaevents -o events.gen.go -tags json:snake ../../../specs/avro/media/asset.deleted.avsc ../../../specs/avro/media/asset.updated.avsc
//go:generate go run ../../../tools/eventgen -pkg mediaevents -o registry.gen.go -released ../../../specs/released/avro/media ../../../specs/avro/media
