// Package authapi is generated from specs/openapi/auth.yaml. Do not edit; run `make generate`.
package authapi

//go:generate go tool oapi-codegen -config cfg.yaml ../../../specs/openapi/auth.yaml
