package media

import (
	"errors"
	"fmt"
	"net/url"
	"time"
)

// Settings are the service's settings and its store's: the `media` section of the configuration
// (flags --media.*, variables MEDIAMESH_MEDIA_*), which the composition root turns into its Config
// and its store. The store is S3-compatible when s3.endpoint is set, else files under data_dir/media
// served with signed URLs by the discovery gateway (all mode) or the media service's own listener
// (split) at local_base_url.
type Settings struct {
	PublicBaseURL    string        `yaml:"public_base_url" help:"CDN base URL of public assets (public_url = this + / + storage key); empty: local_base_url"`
	LocalBaseURL     string        `yaml:"local_base_url" help:"absolute URL where the local store is served; empty: the /media path of the discovery gateway's address (of the media service's when it runs without the gateway)"`
	SigningKey       string        `yaml:"signing_key" secret:"true" help:"HMAC key (32+ bytes) of the local store's signed URLs; empty: generated once under data_dir"`
	UploadSessionTTL time.Duration `yaml:"upload_session_ttl" help:"how long a pre-signed upload URL is valid"`
	OnContentPurge   string        `yaml:"on_content_purge" help:"what happens to the assets of purged content: orphan (reclaimed after orphan_grace) or delete"`
	OrphanGrace      time.Duration `yaml:"orphan_grace" help:"how long orphaned assets are kept before the cleanup deletes them"`
	S3               S3Settings    `yaml:"s3"`
}

// S3Settings select an S3-compatible media store.
type S3Settings struct {
	Endpoint        string `yaml:"endpoint" help:"S3 service URL, e.g. http://127.0.0.1:7070; empty: local disk"`
	PresignEndpoint string `yaml:"presign_endpoint" help:"URL clients reach S3 at, for pre-signed URLs; empty: endpoint"`
	Region          string `yaml:"region" help:"S3 region"`
	Bucket          string `yaml:"bucket" help:"bucket of the media store (created when missing)"`
	AccessKey       string `yaml:"access_key" secret:"true" help:"S3 access key"`
	SecretKey       string `yaml:"secret_key" secret:"true" help:"S3 secret key"`
	// PublicReadPolicy makes the media process put, at start, the bucket policy statement that lets
	// anyone GET the objects under the public prefix (public/) and nothing else
	// (objectstore.S3.SetPublicRead). A refusal is logged once and the process goes on; the policy
	// is then the operator's (deploy/README.md shows it).
	PublicReadPolicy bool `yaml:"public_read_policy" help:"at start, put the bucket policy statement that lets anyone GET objects under public/ (only); false: the bucket policy is left to you (deploy/README.md)"`
}

// DefaultSettings are the settings of a configuration that sets none.
func DefaultSettings() Settings {
	return Settings{
		UploadSessionTTL: time.Hour, OnContentPurge: OnPurgeOrphan, OrphanGrace: 24 * time.Hour,
		S3: S3Settings{Region: "us-east-1", Bucket: "mediamesh-media", PublicReadPolicy: true},
	}
}

func httpURL(v string) bool {
	u, err := url.Parse(v)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// Validate refuses settings the service cannot work with, naming each by its key. An empty
// local_base_url is valid: the composition root derives it.
func (s Settings) Validate() error {
	var errs []error
	if s.LocalBaseURL != "" && !httpURL(s.LocalBaseURL) {
		errs = append(errs, fmt.Errorf("media.local_base_url: %q is not an http(s) URL", s.LocalBaseURL))
	}
	if s.PublicBaseURL != "" && !httpURL(s.PublicBaseURL) {
		errs = append(errs, fmt.Errorf("media.public_base_url: %q is not an http(s) URL", s.PublicBaseURL))
	}
	if s.SigningKey != "" && len(s.SigningKey) < 32 {
		errs = append(errs, errors.New("media.signing_key: must be at least 32 bytes"))
	}
	if s.OnContentPurge != OnPurgeOrphan && s.OnContentPurge != OnPurgeDelete {
		errs = append(errs, fmt.Errorf("media.on_content_purge: %q is not orphan or delete", s.OnContentPurge))
	}
	if s.UploadSessionTTL < time.Minute || s.UploadSessionTTL > 7*24*time.Hour || s.OrphanGrace <= 0 {
		errs = append(errs, errors.New("media.upload_session_ttl must be between 1m and 168h and media.orphan_grace positive"))
	}
	if s3 := s.S3; s3.Endpoint != "" {
		if !httpURL(s3.Endpoint) || (s3.PresignEndpoint != "" && !httpURL(s3.PresignEndpoint)) {
			errs = append(errs, errors.New("media.s3.endpoint and presign_endpoint: want http(s)://host:port"))
		}
		if s3.Bucket == "" || s3.AccessKey == "" || s3.SecretKey == "" {
			errs = append(errs, errors.New("media.s3: bucket, access_key and secret_key are required with an endpoint"))
		}
	}
	return errors.Join(errs...)
}
