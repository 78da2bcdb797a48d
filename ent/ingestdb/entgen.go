// Package ingestdb is the ent client of the ingest service's database. Its schema package is generated
// from specs/openapi/ingest.yaml (the x-ent annotations) by tools/entgen, and the client from the
// schema by ent; neither is edited by hand. Migrations live in services/ingest/migrations.
package ingestdb

//go:generate go run ../../tools/entgen -spec ../../specs/openapi/ingest.yaml -out schema
//go:generate go tool ent generate --feature sql/upsert ./schema
