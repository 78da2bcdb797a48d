// Package metadataapi is generated from specs/openapi/metadata.yaml. Do not edit; run `make generate`.
package metadataapi

//go:generate go tool oapi-codegen -config cfg.yaml ../../../specs/openapi/metadata.yaml
