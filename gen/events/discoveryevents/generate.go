// Package discoveryevents holds the discovery events (topic discovery.events), generated from
// specs/avro/discovery: avrogen writes the structs (events.gen.go), tools/eventgen the event types,
// topic, schemas and fingerprints (registry.gen.go). Do not edit; run `make generate`.
package discoveryevents

// List every schema of specs/avro/discovery below, sorted; registry.gen.go does not compile without its struct.
//go:generate go tool avrogen -pkg discoveryevents -o events.gen.go -tags json:snake ../../../specs/avro/discovery/engagement.recorded.avsc ../../../specs/avro/discovery/popularity.changed.avsc
//go:generate go run ../../../tools/eventgen -pkg discoveryevents -o registry.gen.go -released ../../../specs/released/avro/discovery ../../../specs/avro/discovery
