// Package mediadb is the ent client of the media service's database. Its schema package is generated
// from specs/openapi/media.yaml (the x-ent annotations) by tools/entgen, and the client from the
// schema by ent; neither is edited by hand. Migrations live in services/media/migrations.
package mediadb

//go:generate go run ../../tools/entgen -spec ../../specs/openapi/media.yaml -out schema
//go:generate go tool ent generate ./schema
