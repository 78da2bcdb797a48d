package cms

import (
	"errors"
	"time"
)

// Settings are the service's settings: the `cms` section of the configuration (flags --cms.*,
// variables MEDIAMESH_CMS_*), which the composition root turns into its Config.
type Settings struct {
	SchedulerInterval time.Duration `yaml:"scheduler_interval" help:"how often scheduled programs and episodes that are due get published"`
	PurgeAfter        time.Duration `yaml:"purge_after" help:"soft-deleted content older than this is purged for good; 0 keeps it until an ADMIN purges it"`
	ImportMaxBytes    int           `yaml:"import_max_bytes" help:"size limit in bytes of one NDJSON import body (POST /api/v1/cms/imports, mediamesh import); larger ones get 413"`
}

// DefaultSettings are the settings of a configuration that sets none.
func DefaultSettings() Settings {
	return Settings{SchedulerInterval: time.Second, PurgeAfter: 30 * 24 * time.Hour, ImportMaxBytes: 64 << 20}
}

// Validate refuses settings the service cannot work with, naming each by its key.
func (s Settings) Validate() error {
	var errs []error
	if s.SchedulerInterval <= 0 || s.PurgeAfter < 0 {
		errs = append(errs, errors.New("cms.scheduler_interval must be positive and cms.purge_after not negative"))
	}
	if s.ImportMaxBytes <= 0 {
		errs = append(errs, errors.New("cms.import_max_bytes must be positive"))
	}
	return errors.Join(errs...)
}
