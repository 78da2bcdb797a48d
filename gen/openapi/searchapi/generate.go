// Package searchapi is generated from specs/openapi/search.yaml. Do not edit; run `make generate`.
package searchapi

//go:generate go tool oapi-codegen -config cfg.yaml ../../../specs/openapi/search.yaml
