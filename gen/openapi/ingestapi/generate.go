// Package ingestapi is generated from specs/openapi/ingest.yaml. Do not edit; run `make generate`.
package ingestapi

//go:generate go tool oapi-codegen -config cfg.yaml ../../../specs/openapi/ingest.yaml
//go:generate go run ../../../tools/servergen -in ingest.gen.go -out server.gen.go
