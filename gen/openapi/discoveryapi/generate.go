// Package discoveryapi is generated from specs/openapi/discovery.yaml. Do not edit; run `make generate`.
package discoveryapi

//go:generate go tool oapi-codegen -config cfg.yaml ../../../specs/openapi/discovery.yaml
