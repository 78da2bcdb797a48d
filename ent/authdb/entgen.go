// Package authdb is the ent client of the auth service's database. Its schema package is generated
// from specs/openapi/auth.yaml (the x-ent annotations) by tools/entgen, and the client from the
// schema by ent; neither is edited by hand. Migrations live in services/auth/migrations.
package authdb

//go:generate go run ../../tools/entgen -spec ../../specs/openapi/auth.yaml -out schema
//go:generate go tool ent generate ./schema
