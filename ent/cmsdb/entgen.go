// Package cmsdb is the ent client of the cms service's database. Its schema package is generated
// from specs/openapi/cms.yaml (the x-ent annotations) by tools/entgen, and the client from the
// schema by ent; neither is edited by hand. Migrations live in services/cms/migrations.
package cmsdb

//go:generate go run ../../tools/entgen -spec ../../specs/openapi/cms.yaml -out schema
//go:generate go tool ent generate ./schema
