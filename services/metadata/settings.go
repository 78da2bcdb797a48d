package metadata

import (
	"errors"
	"fmt"

	"github.com/mediamesh/mediamesh/internal/language"
)

// Settings are the service's settings: the `metadata` section of the configuration (flags
// --metadata.*, variables MEDIAMESH_METADATA_*), which the composition root turns into its Config.
type Settings struct {
	Languages []string `yaml:"languages" help:"ISO 639-1 codes content may be written in"`
}

// DefaultSettings are the settings of a configuration that sets none.
func DefaultSettings() Settings { return Settings{Languages: []string{"ar", "en"}} }

// Validate refuses settings the service cannot work with, naming each by its key.
func (s Settings) Validate() error {
	var errs []error
	if len(s.Languages) == 0 {
		errs = append(errs, errors.New("metadata.languages: name at least one ISO 639-1 code"))
	}
	for _, code := range s.Languages {
		if _, err := language.Lookup(code); err != nil {
			errs = append(errs, fmt.Errorf("metadata.languages: %w", err))
		}
	}
	return errors.Join(errs...)
}
