// Package commonapi is generated from specs/openapi/common.yaml. Do not edit; run `make generate`.
package commonapi

//go:generate go tool oapi-codegen -config cfg.yaml ../../../specs/openapi/common.yaml
