// Package ingestapi is generated from specs/openapi/ingest.yaml. Do not edit; run `make generate`.
package ingestapi

//go:generate go tool oapi-codegen -config cfg.yaml ../../../specs/openapi/ingest.yaml
