// Package searchevents holds the search events (topic discovery.events), generated from specs/avro/search:
// avrogen writes the structs (events.gen.go), tools/eventgen the event types, topic, schemas
// and fingerprints (registry.gen.go). Do not edit; run `make generate`.
package searchevents

// List every schema of specs/avro/search below, sorted; registry.gen.go does not compile without its struct.
//go:generate go tool avrogen -pkg searchevents -o events.gen.go -tags json:snake ../../../specs/avro/search/search.index.requested.avsc
//go:generate go run ../../../tools/eventgen -pkg searchevents -o registry.gen.go -released ../../../specs/released/avro/search ../../../specs/avro/search
