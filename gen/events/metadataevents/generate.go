// Package metadataevents holds the metadata events (topic metadata.events), generated from
// specs/avro/metadata: avrogen writes the structs (events.gen.go), tools/eventgen the event types,
// topic, schemas and fingerprints (registry.gen.go). Do not edit; run `make generate`.
package metadataevents

// List every schema of specs/avro/metadata below, sorted; registry.gen.go does not compile without its struct.
//go:generate go tool avrogen -pkg metadataevents -o events.gen.go -tags json:snake ../../../specs/avro/metadata/category.deleted.avsc ../../../specs/avro/metadata/category.upserted.avsc ../../../specs/avro/metadata/metadata.updated.avsc
//go:generate go run ../../../tools/eventgen -pkg metadataevents -o registry.gen.go -released ../../../specs/released/avro/metadata ../../../specs/avro/metadata
