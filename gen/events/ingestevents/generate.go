// Package ingestevents holds the ingest events (topic ingest.events), generated from specs/avro/ingest:
// avrogen writes the structs (events.gen.go), tools/eventgen the event types, topic, schemas
// and fingerprints (registry.gen.go). Do not edit; run `make generate`.
package ingestevents

// List every schema of specs/avro/ingest below, sorted; registry.gen.go does not compile without its struct.
//go:generate go tool avrogen -pkg ingestevents -o events.gen.go -tags json:snake ../../../specs/avro/ingest/ingest.completed.avsc ../../../specs/avro/ingest/ingest.failed.avsc
//go:generate go run ../../../tools/eventgen -pkg ingestevents -o registry.gen.go -released ../../../specs/released/avro/ingest ../../../specs/avro/ingest
