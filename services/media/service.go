// Package media is the media service: media assets (images, video, audio) of programs and episodes,
// their uploads, checksums, thumbnails and delivery URLs. It implements the generated strict server
// of specs/openapi/media.yaml.
//
// The bytes live in an objectstore.Store (local disk embedded, S3-compatible split); the asset rows
// in the service's database. Small files are uploaded through the API; large ones straight to the
// store with a pre-signed URL and then completed. Run makes the thumbnails of images and reclaims
// expired uploads and orphans. HandleEvent consumes content.events: when a program or episode is
// purged its assets are orphaned (and reclaimed after a grace period) or deleted at once, by policy.
// An upload's attach_as makes the asset a program's cover or an episode's thumbnail or media
// through the CMS's client, as the caller (attach.go).
package media

import (
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mediamesh/mediamesh/ent/mediadb"
	"github.com/mediamesh/mediamesh/gen/openapi/mediaapi"
	"github.com/mediamesh/mediamesh/internal/apierror"
	"github.com/mediamesh/mediamesh/internal/authn"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/httpserver"
	"github.com/mediamesh/mediamesh/internal/objectstore"
	"github.com/mediamesh/mediamesh/services/media/thumbnail"
)

// Policies for the assets of purged content.
const (
	OnPurgeOrphan = "orphan" // detach and reclaim after Config.OrphanGrace
	OnPurgeDelete = "delete" // delete at once
)

// Config configures the media service.
type Config struct {
	// PublicBaseURL is the CDN (or the local store's public path) that serves public assets:
	// public_url = PublicBaseURL + "/" + storage key.
	PublicBaseURL    string
	MaxDirectUpload  int64            // largest file of uploadAsset; default 25 MiB
	MaxUpload        int64            // largest file of an upload session; default 5 GiB
	UploadSessionTTL time.Duration    // how long a pre-signed upload URL is valid; default 1h
	ThumbnailSizes   []thumbnail.Size // default thumbnail.DefaultSizes
	OnContentPurge   string           // OnPurgeOrphan (default) or OnPurgeDelete
	OrphanGrace      time.Duration    // how long an orphan is kept before the cleanup deletes it; default 24h
	WorkInterval     time.Duration    // how often Run looks for thumbnails to make and assets to reclaim; default 2s
}

// Deps are what the media service works with.
type Deps struct {
	DB    *database.DB      // already migrated (Migrations, the outbox's and the inbox's)
	Store objectstore.Store // where the bytes live
	CMS   CMSClient         // the CMS, to set an upload's attach_as (attach.go)
	Log   *slog.Logger      // nil: discard
	Now   func() time.Time  // nil: time.Now
	// Registerer receives the service's metrics (mediamesh_media_layout_migrated_total); nil
	// exports none.
	Registerer prometheus.Registerer
}

// ConsumerGroup is the consumer group of the service's subscription, and its inbox consumer name.
const ConsumerGroup = "media"

const (
	defaultMaxDirectUpload = 25 << 20
	defaultMaxUpload       = 5 << 30
)

// Service implements mediaapi.StrictServerInterface.
type Service struct {
	cfg   Config
	db    *database.DB
	read  *mediadb.Client
	store objectstore.Store
	cms   CMSClient
	log   *slog.Logger
	now   func() time.Time
	wake  chan struct{} // a commit happened: there may be thumbnails to make

	relayouts *prometheus.CounterVec // assets the layout migration moved or failed to move
}

var _ mediaapi.StrictServerInterface = (*Service)(nil)

// New checks the configuration and returns the service.
func New(cfg Config, d Deps) (*Service, error) {
	if d.DB == nil || d.Store == nil || d.CMS == nil {
		return nil, errors.New("media: a database, an object store and a CMS client are required")
	}
	if cfg.PublicBaseURL == "" || !(strings.HasPrefix(cfg.PublicBaseURL, "http://") || strings.HasPrefix(cfg.PublicBaseURL, "https://")) {
		return nil, fmt.Errorf("media: the public base URL %q is not an http(s) URL", cfg.PublicBaseURL)
	}
	cfg.PublicBaseURL = strings.TrimRight(cfg.PublicBaseURL, "/")
	if cfg.MaxDirectUpload <= 0 {
		cfg.MaxDirectUpload = defaultMaxDirectUpload
	}
	if cfg.MaxUpload <= 0 {
		cfg.MaxUpload = defaultMaxUpload
	}
	if cfg.UploadSessionTTL <= 0 {
		cfg.UploadSessionTTL = time.Hour
	}
	if len(cfg.ThumbnailSizes) == 0 {
		cfg.ThumbnailSizes = thumbnail.DefaultSizes
	}
	switch cfg.OnContentPurge {
	case "":
		cfg.OnContentPurge = OnPurgeOrphan
	case OnPurgeOrphan, OnPurgeDelete:
	default:
		return nil, fmt.Errorf("media: on_content_purge must be %s or %s, not %q", OnPurgeOrphan, OnPurgeDelete, cfg.OnContentPurge)
	}
	if cfg.OrphanGrace <= 0 {
		cfg.OrphanGrace = 24 * time.Hour
	}
	if cfg.WorkInterval <= 0 {
		cfg.WorkInterval = 2 * time.Second
	}
	s := &Service{cfg: cfg, db: d.DB, store: d.Store, cms: d.CMS, log: d.Log, now: d.Now, wake: make(chan struct{}, 1), relayouts: relayoutMetric()}
	if d.Registerer != nil {
		if err := d.Registerer.Register(s.relayouts); err != nil {
			return nil, fmt.Errorf("media: metrics: %w", err)
		}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.read = mediadb.NewClient(mediadb.Driver(d.DB.Ent()))
	// Any commit may have made an asset ready for thumbnails: Run looks at once instead of at its
	// next tick.
	d.DB.AfterCommit(s.kick)
	return s, nil
}

// kick wakes Run at once (a commit or an upload may have made thumbnail work); it never blocks.
func (s *Service) kick() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Handler serves the service's operations, each guarded by the policy its contract declares.
func (s *Service) Handler(log *slog.Logger, v authn.Verifier) (http.Handler, error) {
	return httpserver.API(log, mediaapi.GetSpec, v, func(e *echo.Echo, mws httpserver.OperationMiddlewares) {
		e.Use(captureCaller)
		mediaapi.RegisterHandlersWithOptions(e, mediaapi.NewStrictHandler(s, nil), mediaapi.RegisterHandlersOptions{OperationMiddlewares: mws})
	})
}

// txClient is the ent client of transaction tx.
func (s *Service) txClient(tx *sql.Tx) *mediadb.Client {
	return mediadb.NewClient(mediadb.Driver(s.db.EntTx(tx)))
}

// clock is the current time at the precision both databases store.
func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// storeError keeps API errors and wraps the rest.
func storeError(what string, err error) error {
	var ae *apierror.Error
	if errors.As(err, &ae) {
		return err
	}
	var ve *mediadb.ValidationError
	if errors.As(err, &ve) {
		return apierror.Validation(ve.Name+": "+ve.Error(), apierror.FieldError{Field: ve.Name, Message: ve.Error(), Code: "invalid"})
	}
	return fmt.Errorf("media: %s: %w", what, err)
}
