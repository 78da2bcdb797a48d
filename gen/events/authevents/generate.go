// Package authevents holds the auth events (topic auth.events), generated from specs/avro/auth:
// avrogen writes the structs (events.gen.go), tools/eventgen the event types, topic, schemas
// and fingerprints (registry.gen.go). Do not edit; run `make generate`.
package authevents

// List every schema of specs/avro/auth below, sorted; registry.gen.go does not compile without its struct.
//go:generate go tool avrogen -pkg authevents -o events.gen.go -tags json:snake ../../../specs/avro/auth/api_key.created.avsc ../../../specs/avro/auth/api_key.revoked.avsc ../../../specs/avro/auth/role.scopes_reduced.avsc ../../../specs/avro/auth/user.registered.avsc ../../../specs/avro/auth/user.role_changed.avsc ../../../specs/avro/auth/user.tokens_revoked.avsc
//go:generate go run ../../../tools/eventgen -pkg authevents -o registry.gen.go -released ../../../specs/released/avro/auth ../../../specs/avro/auth
