// Package discoveryapi is generated from specs/openapi/discovery.yaml. Do not edit; run `make generate`.
package discoveryapi

//go:generate go tool oapi-codegen -config cfg.yaml ../../../specs/openapi/discovery.yaml
//go:generate go run ../../../tools/servergen -in discovery.gen.go -out server.gen.go
