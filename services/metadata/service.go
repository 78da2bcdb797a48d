// Package metadata is the metadata service: versioned metadata of every content item and the managed
// category taxonomy. It implements the generated strict server of specs/openapi/metadata.yaml; the
// operations it does not define yet answer 501 through the embedded metadataapi.Unimplemented.
package metadata

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sort"

	"github.com/labstack/echo/v4"

	"github.com/mediamesh/mediamesh/gen/openapi/metadataapi"
	"github.com/mediamesh/mediamesh/internal/authn"
	"github.com/mediamesh/mediamesh/internal/httpserver"
	"github.com/mediamesh/mediamesh/internal/language"
)

// Config configures the metadata service.
type Config struct {
	Languages []string // ISO 639-1 codes content may be written in
}

// Service implements metadataapi.StrictServerInterface.
type Service struct {
	metadataapi.Unimplemented
	languages []language.Info // sorted by code
}

var _ metadataapi.StrictServerInterface = (*Service)(nil)

// New checks the configured languages and returns the service.
func New(cfg Config) (*Service, error) {
	if len(cfg.Languages) == 0 {
		return nil, fmt.Errorf("metadata: no languages configured")
	}
	s := &Service{}
	seen := map[string]bool{}
	for _, code := range cfg.Languages {
		info, err := language.Lookup(code)
		if err != nil {
			return nil, fmt.Errorf("metadata: languages: %w", err)
		}
		if !seen[code] {
			seen[code] = true
			s.languages = append(s.languages, info)
		}
	}
	sort.Slice(s.languages, func(i, j int) bool { return s.languages[i].Code < s.languages[j].Code })
	return s, nil
}

// Handler serves the service's operations, each guarded by the policy its contract declares.
func (s *Service) Handler(log *slog.Logger, v authn.Verifier) (http.Handler, error) {
	return httpserver.API(log, metadataapi.GetSpec, v, func(e *echo.Echo, mws httpserver.OperationMiddlewares) {
		metadataapi.Register(e, s, mws)
	})
}

// ListLanguages implements metadataapi.StrictServerInterface: the configured languages, by code.
func (s *Service) ListLanguages(context.Context, metadataapi.ListLanguagesRequestObject) (metadataapi.ListLanguagesResponseObject, error) {
	out := metadataapi.ListLanguages200JSONResponse{Items: make([]metadataapi.Language, 0, len(s.languages))}
	for _, l := range s.languages {
		out.Items = append(out.Items, metadataapi.Language{Code: l.Code, Name: l.Name, NativeName: l.NativeName, Direction: metadataapi.LanguageDirection(l.Direction)})
	}
	return out, nil
}
