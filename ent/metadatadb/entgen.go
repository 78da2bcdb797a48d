// Package metadatadb is the ent client of the metadata service's database. Its schema package is
// generated from specs/openapi/metadata.yaml (the x-ent annotations) by tools/entgen, and the
// client from the schema by ent; neither is edited by hand. Migrations live in
// services/metadata/migrations.
package metadatadb

//go:generate go run ../../tools/entgen -spec ../../specs/openapi/metadata.yaml -out schema
//go:generate go tool ent generate ./schema
