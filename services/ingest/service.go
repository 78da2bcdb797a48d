// Package ingest is the ingest service: sources (RSS/Atom feeds, YouTube playlists and channels,
// generic JSON APIs) polled on a schedule, and the runs that turn their items into draft programs
// and episodes in the CMS. It implements the generated strict server of specs/openapi/ingest.yaml.
//
// Run schedules due sources (with jitter, backing off after failures) and executes queued runs:
// fetch (SSRF-safe, conditional), parse, de-duplicate by the item's source GUID, create or update
// drafts through the CMS service's generated client, store cover images and thumbnails through the
// media service's, and record the run with its counts and an ingest.completed or ingest.failed
// event. Source credentials are sealed with AES-256-GCM and never returned.
package ingest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/mediamesh/mediamesh/ent/ingestdb"
	"github.com/mediamesh/mediamesh/gen/openapi/cmsapi"
	"github.com/mediamesh/mediamesh/gen/openapi/ingestapi"
	"github.com/mediamesh/mediamesh/gen/openapi/mediaapi"
	"github.com/mediamesh/mediamesh/internal/apierror"
	"github.com/mediamesh/mediamesh/internal/authn"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/httpserver"
	"github.com/mediamesh/mediamesh/services/ingest/fetch"
)

// Fetcher gets upstream documents and images; *fetch.Client is the SSRF-safe implementation.
type Fetcher interface {
	Get(ctx context.Context, r fetch.Request) (*fetch.Response, error)
}

// CMS is what the service needs of the CMS service; the generated cmsapi client satisfies it.
type CMS interface {
	CreateProgramWithResponse(ctx context.Context, params *cmsapi.CreateProgramParams, body cmsapi.CreateProgramJSONRequestBody, reqEditors ...cmsapi.RequestEditorFn) (*cmsapi.CreateProgramResponse, error)
	GetProgramWithResponse(ctx context.Context, programId cmsapi.ProgramId, reqEditors ...cmsapi.RequestEditorFn) (*cmsapi.GetProgramResponse, error)
	CreateEpisodeWithResponse(ctx context.Context, programId cmsapi.ProgramId, params *cmsapi.CreateEpisodeParams, body cmsapi.CreateEpisodeJSONRequestBody, reqEditors ...cmsapi.RequestEditorFn) (*cmsapi.CreateEpisodeResponse, error)
	UpdateProgramWithBodyWithResponse(ctx context.Context, programId cmsapi.ProgramId, params *cmsapi.UpdateProgramParams, contentType string, body io.Reader, reqEditors ...cmsapi.RequestEditorFn) (*cmsapi.UpdateProgramResponse, error)
	ListEpisodesWithResponse(ctx context.Context, programId cmsapi.ProgramId, params *cmsapi.ListEpisodesParams, reqEditors ...cmsapi.RequestEditorFn) (*cmsapi.ListEpisodesResponse, error)
	GetEpisodeWithResponse(ctx context.Context, episodeId cmsapi.EpisodeId, reqEditors ...cmsapi.RequestEditorFn) (*cmsapi.GetEpisodeResponse, error)
	UpdateEpisodeWithBodyWithResponse(ctx context.Context, episodeId cmsapi.EpisodeId, params *cmsapi.UpdateEpisodeParams, contentType string, body io.Reader, reqEditors ...cmsapi.RequestEditorFn) (*cmsapi.UpdateEpisodeResponse, error)
}

// Media is what the service needs of the media service; the generated mediaapi client satisfies it.
type Media interface {
	UploadAssetWithBodyWithResponse(ctx context.Context, params *mediaapi.UploadAssetParams, contentType string, body io.Reader, reqEditors ...mediaapi.RequestEditorFn) (*mediaapi.UploadAssetResponse, error)
}

// Config configures the ingest service.
type Config struct {
	CredentialsKey []byte        // 32 bytes: the AES-256 key that seals source credentials
	YouTubeBaseURL string        // default https://www.googleapis.com/youtube/v3
	PollInterval   time.Duration // how often Run looks for due sources and queued runs; default 5s
	Jitter         float64       // spread of the next scheduled run, as a share of the interval; default 0.1
	Lease          time.Duration // how long a worker holds a run before another may take it over; default 10m
}

// Deps are what the ingest service works with.
type Deps struct {
	DB      *database.DB // migrated: Migrations and the outbox's
	Fetcher Fetcher
	CMS     CMS
	Media   Media
	Log     *slog.Logger     // nil: discard
	Now     func() time.Time // nil: time.Now
}

// Service implements ingestapi.StrictServerInterface.
type Service struct {
	cfg  Config
	deps Deps
	db   *database.DB
	read *ingestdb.Client
	seal *sealer
	log  *slog.Logger
	now  func() time.Time
	wake chan struct{}
}

var _ ingestapi.StrictServerInterface = (*Service)(nil)

// New checks the configuration and returns the service.
func New(cfg Config, d Deps) (*Service, error) {
	if d.DB == nil || d.Fetcher == nil || d.CMS == nil || d.Media == nil {
		return nil, errors.New("ingest: a database, a fetcher, and CMS and media clients are required")
	}
	seal, err := newSealer(cfg.CredentialsKey)
	if err != nil {
		return nil, err
	}
	if cfg.YouTubeBaseURL == "" {
		cfg.YouTubeBaseURL = "https://www.googleapis.com/youtube/v3"
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 5 * time.Second
	}
	if cfg.Jitter < 0 || cfg.Jitter >= 1 {
		return nil, fmt.Errorf("ingest: jitter %v is not in [0, 1)", cfg.Jitter)
	}
	if cfg.Jitter == 0 {
		cfg.Jitter = 0.1
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 10 * time.Minute
	}
	s := &Service{cfg: cfg, deps: d, db: d.DB, seal: seal, log: d.Log, now: d.Now, wake: make(chan struct{}, 1)}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.read = ingestdb.NewClient(ingestdb.Driver(d.DB.Ent()))
	return s, nil
}

// Handler serves the service's operations, each guarded by the policy its contract declares.
func (s *Service) Handler(log *slog.Logger, v authn.Verifier) (http.Handler, error) {
	return httpserver.API(log, ingestapi.GetSpec, v, func(e *echo.Echo, mws httpserver.OperationMiddlewares) {
		ingestapi.RegisterHandlersWithOptions(e, ingestapi.NewStrictHandler(s, nil), ingestapi.RegisterHandlersOptions{OperationMiddlewares: mws})
	})
}

func (s *Service) txClient(tx *sql.Tx) *ingestdb.Client {
	return ingestdb.NewClient(ingestdb.Driver(s.db.EntTx(tx)))
}

// clock is the current time at the precision both databases store.
func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// poke wakes Run at once, for a run queued by hand.
func (s *Service) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// storeError keeps API errors and wraps the rest.
func storeError(what string, err error) error {
	var ae *apierror.Error
	if errors.As(err, &ae) {
		return err
	}
	var ve *ingestdb.ValidationError
	if errors.As(err, &ve) {
		return apierror.Validation(ve.Name+": "+ve.Error(), apierror.FieldError{Field: ve.Name, Message: ve.Error(), Code: "invalid"})
	}
	return fmt.Errorf("ingest: %s: %w", what, err)
}

func fieldError(field, msg, code string) error {
	return apierror.Validation(field+": "+msg, apierror.FieldError{Field: field, Message: msg, Code: code})
}
