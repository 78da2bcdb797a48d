package ingest

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Settings are the service's settings: the `ingest` section of the configuration (flags
// --ingest.*, variables MEDIAMESH_INGEST_*), which the composition root turns into its Config. The
// service writes drafts through the CMS and media services as a service account that the auth
// service keeps in line with account_email and account_password.
type Settings struct {
	AccountEmail    string        `yaml:"account_email" help:"the EDITOR account ingest works as"`
	AccountPassword string        `yaml:"account_password" secret:"true" help:"its password, the same in the auth and ingest processes; empty in all mode: a new random one at each start"`
	CredentialsKey  string        `yaml:"credentials_key" secret:"true" help:"base64 of the 32-byte key that seals source credentials; empty in all mode: generated once under data_dir"`
	YouTubeBaseURL  string        `yaml:"youtube_base_url" help:"YouTube Data API v3 root"`
	PollInterval    time.Duration `yaml:"poll_interval" help:"how often due sources and queued runs are looked for"`
	FetchTimeout    time.Duration `yaml:"fetch_timeout" help:"time limit of one upstream request, body included"`
	MaxFetchBytes   int           `yaml:"max_fetch_bytes" help:"size limit of one upstream response"`
	AllowLoopback   bool          `yaml:"allow_loopback" help:"let ingest fetch from loopback addresses; for tests only (private, link-local and metadata addresses stay refused)"`
}

// DefaultSettings are the settings of a configuration that sets none.
func DefaultSettings() Settings {
	return Settings{
		AccountEmail: "ingest@mediamesh.local", YouTubeBaseURL: "https://www.googleapis.com/youtube/v3",
		PollInterval: 5 * time.Second, FetchTimeout: 30 * time.Second, MaxFetchBytes: 20 << 20,
	}
}

// Validate refuses settings the service cannot work with, naming each by its key. What depends on
// where the service runs (a password when auth is in another process, a key with a shared
// database) is the composition root's to check.
func (s Settings) Validate() error {
	var errs []error
	if !strings.Contains(s.AccountEmail, "@") {
		errs = append(errs, fmt.Errorf("ingest.account_email: %q is not an email address", s.AccountEmail))
	}
	if s.AccountPassword != "" && len(s.AccountPassword) < 12 {
		errs = append(errs, errors.New("ingest.account_password: must be at least 12 characters"))
	}
	if s.CredentialsKey != "" {
		if k, err := base64.StdEncoding.DecodeString(s.CredentialsKey); err != nil || len(k) != 32 {
			errs = append(errs, errors.New("ingest.credentials_key: want the base64 of 32 bytes (openssl rand -base64 32)"))
		}
	}
	if u, err := url.Parse(s.YouTubeBaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("ingest.youtube_base_url: %q is not an http(s) URL", s.YouTubeBaseURL))
	}
	if s.PollInterval <= 0 || s.FetchTimeout <= 0 || s.MaxFetchBytes <= 0 {
		errs = append(errs, errors.New("ingest.poll_interval, fetch_timeout and max_fetch_bytes must be positive"))
	}
	return errors.Join(errs...)
}
