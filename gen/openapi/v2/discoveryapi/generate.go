// Package discoveryapi is generated from specs/openapi/v2/discovery.yaml, major version 2 of the
// discovery contract (v1 is gen/openapi/discoveryapi). Do not edit; run `make generate`.
package discoveryapi

//go:generate go tool oapi-codegen -config cfg.yaml ../../../../specs/openapi/v2/discovery.yaml
