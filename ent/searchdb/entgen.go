// Package searchdb is the ent client of the search service's database: the published programs,
// episodes and categories it builds index documents from, the tombstones of removed content and
// the clock that versions index writes. Its schema package is generated from
// specs/openapi/search.yaml (the x-ent annotations of the storage-only *Record schemas) by
// tools/entgen, and the client from the schema by ent (with upserts); neither is edited by hand.
// Migrations live in services/search/migrations.
package searchdb

//go:generate go run ../../tools/entgen -spec ../../specs/openapi/search.yaml -out schema
//go:generate go tool ent generate --feature sql/upsert --template ../../tools/entgen/readmodel.tmpl ./schema
