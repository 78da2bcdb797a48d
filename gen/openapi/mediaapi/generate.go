// Package mediaapi is generated from specs/openapi/media.yaml. Do not edit; run `make generate`.
package mediaapi

//go:generate go tool oapi-codegen -config cfg.yaml ../../../specs/openapi/media.yaml
