// Package discoverydb is the ent client of the discovery service's database, its read model of
// published content. Its schema package is generated from specs/openapi/discovery.yaml (the x-ent
// annotations of the storage-only *Record schemas) by tools/entgen, and the client from the schema
// by ent (with upserts); neither is edited by hand. Migrations live in services/discovery/migrations.
package discoverydb

//go:generate go run ../../tools/entgen -spec ../../specs/openapi/discovery.yaml -out schema
//go:generate go tool ent generate --feature sql/upsert --template ../../tools/entgen/readmodel.tmpl ./schema
