// Package cms is the cms service: programs and episodes, their lifecycle from draft to scheduled,
// published and archived, soft deletes and purges, and the audit trail of every change. It
// implements the generated strict server of specs/openapi/cms.yaml.
//
// Every change runs in one database transaction that writes the entity (a compare-and-swap on its
// version), its content event to the outbox and its audit entry, so none of them exists without
// the others. Run publishes scheduled content when it comes due and purges old soft-deleted
// content. HandleEvent consumes media.events: a deleted asset is dropped from the content that
// referenced it.
package cms

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/mediamesh/mediamesh/ent/cmsdb"
	"github.com/mediamesh/mediamesh/gen/openapi/cmsapi"
	"github.com/mediamesh/mediamesh/gen/openapi/mediaapi"
	"github.com/mediamesh/mediamesh/gen/openapi/metadataapi"
	"github.com/mediamesh/mediamesh/internal/authn"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/httpserver"
)

// defaultSchedulerInterval is how often Run looks for due schedules when Config leaves it zero.
const defaultSchedulerInterval = time.Second

// ProblemEpisodeNumberTaken is the problem type of a 409 for an episode number (within its season)
// that the program already has, so a client can pick another number.
const ProblemEpisodeNumberTaken = "https://mediamesh.dev/problems/episode-number-taken"

// Config configures the cms service.
type Config struct {
	SchedulerInterval time.Duration // how often Run publishes due content and purges; default 1s when zero
	PurgeAfter        time.Duration // soft-deleted content older than this is purged; 0 never
	ImportMaxBytes    int64         // the size limit of an import body; DefaultImportMaxBytes when zero
}

// MetadataClient is what the service needs of the metadata service: looking a category up. The
// generated metadataapi.ClientWithResponsesInterface satisfies it.
type MetadataClient interface {
	GetCategoryWithResponse(ctx context.Context, categoryId metadataapi.CategoryId, reqEditors ...metadataapi.RequestEditorFn) (*metadataapi.GetCategoryResponse, error)
}

// MediaClient is what the service needs of the media service: looking an asset up. The generated
// mediaapi.ClientWithResponsesInterface satisfies it.
type MediaClient interface {
	GetAssetWithResponse(ctx context.Context, assetId mediaapi.AssetId, reqEditors ...mediaapi.RequestEditorFn) (*mediaapi.GetAssetResponse, error)
}

// ConsumerGroup is the consumer group of the service's subscription (media.events), and its inbox
// consumer name.
const ConsumerGroup = "cms"

// Deps are the service's dependencies.
type Deps struct {
	DB       *database.DB     // already migrated by the caller: Migrations, the outbox's and the inbox's
	Metadata MetadataClient   // the metadata service, to check category references
	Media    MediaClient      // the media service, to check asset references
	Log      *slog.Logger     // nil: discard
	Now      func() time.Time // nil: time.Now
}

// Service implements cmsapi.StrictServerInterface.
type Service struct {
	cfg   Config
	db    *database.DB
	read  *cmsdb.Client // reads outside a transaction
	meta  MetadataClient
	media MediaClient
	log   *slog.Logger
	now   func() time.Time
	// imports are the contract's schemas of an import line (importContent).
	imports importSchemas
}

var _ cmsapi.StrictServerInterface = (*Service)(nil)

// New checks the configuration and dependencies and returns the service.
func New(cfg Config, d Deps) (*Service, error) {
	if d.DB == nil {
		return nil, errors.New("cms: no database")
	}
	if d.Metadata == nil {
		return nil, errors.New("cms: no metadata client")
	}
	if d.Media == nil {
		return nil, errors.New("cms: no media client")
	}
	if cfg.SchedulerInterval < 0 || cfg.PurgeAfter < 0 || cfg.ImportMaxBytes < 0 {
		return nil, errors.New("cms: the scheduler interval, purge delay and import size limit must not be negative")
	}
	if cfg.ImportMaxBytes == 0 {
		cfg.ImportMaxBytes = DefaultImportMaxBytes
	}
	imports, err := loadImportSchemas()
	if err != nil {
		return nil, err
	}
	if cfg.SchedulerInterval == 0 {
		cfg.SchedulerInterval = defaultSchedulerInterval
	}
	log := d.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := d.Now
	if now == nil {
		now = time.Now
	}
	return &Service{
		cfg:     cfg,
		db:      d.DB,
		read:    cmsdb.NewClient(cmsdb.Driver(d.DB.ReadEnt())),
		meta:    d.Metadata,
		media:   d.Media,
		log:     log,
		now:     now,
		imports: imports,
	}, nil
}

// Handler serves the service's operations, each guarded by the policy its contract declares.
func (s *Service) Handler(log *slog.Logger, v authn.Verifier) (http.Handler, error) {
	return httpserver.API(log, cmsapi.GetSpec, v, func(e *echo.Echo, mws httpserver.OperationMiddlewares) {
		e.Use(captureRequest)
		cmsapi.RegisterHandlersWithOptions(e, cmsapi.NewStrictHandler(s, nil), cmsapi.RegisterHandlersOptions{OperationMiddlewares: mws})
	})
}

// clock returns the current instant as the database stores it: UTC, to the microsecond (the
// precision of PostgreSQL timestamps), so values read back compare equal to the ones written.
func (s *Service) clock() time.Time { return dbTime(s.now()) }

// dbTime returns t in UTC truncated to the microsecond.
func dbTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }
