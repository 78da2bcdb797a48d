// Package discoveryapi is generated from specs/openapi/discovery.yaml. Do not edit; run `make generate`.
package discoveryapi

//go:generate go tool oapi-codegen -config cfg.yaml ../../../specs/openapi/discovery.yaml
//go:generate go run ../../../tools/unimplgen -in discovery.gen.go -out unimplemented.gen.go
