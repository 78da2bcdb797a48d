// Package cmsapi is generated from specs/openapi/cms.yaml. Do not edit; run `make generate`.
package cmsapi

//go:generate go tool oapi-codegen -config cfg.yaml ../../../specs/openapi/cms.yaml
