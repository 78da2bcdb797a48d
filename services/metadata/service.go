// Package metadata is the metadata service: versioned metadata of every content item and the managed
// category taxonomy. It implements the generated strict server of specs/openapi/metadata.yaml.
//
// Metadata is stored as one immutable row per version (ent MetadataVersion); the current metadata of
// a content item is its highest version. Categories form a tree (ent Category, parent/children) at
// most maxDepth levels deep.
package metadata

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/mediamesh/mediamesh/ent/metadatadb"
	"github.com/mediamesh/mediamesh/gen/openapi/cmsapi"
	"github.com/mediamesh/mediamesh/gen/openapi/metadataapi"
	"github.com/mediamesh/mediamesh/internal/apierror"
	"github.com/mediamesh/mediamesh/internal/authn"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/httpserver"
	"github.com/mediamesh/mediamesh/internal/language"
)

// Config configures the metadata service.
type Config struct {
	Languages []string // ISO 639-1 codes content may be written in
}

// CMS is what the service needs of the CMS, which owns the descriptive fields: writing those of
// a program or an episode. The generated cmsapi.ClientWithResponsesInterface satisfies it.
type CMS interface {
	UpdateProgramWithResponse(ctx context.Context, programId cmsapi.ProgramId, params *cmsapi.UpdateProgramParams, body cmsapi.UpdateProgramJSONRequestBody, reqEditors ...cmsapi.RequestEditorFn) (*cmsapi.UpdateProgramResponse, error)
	UpdateEpisodeWithResponse(ctx context.Context, episodeId cmsapi.EpisodeId, params *cmsapi.UpdateEpisodeParams, body cmsapi.UpdateEpisodeJSONRequestBody, reqEditors ...cmsapi.RequestEditorFn) (*cmsapi.UpdateEpisodeResponse, error)
}

// Deps are the service's dependencies.
type Deps struct {
	DB  *database.DB     // already migrated (metadata, outbox and inbox migrations) by the caller
	CMS CMS              // the CMS, which a PUT writes through
	Log *slog.Logger     // nil: discard
	Now func() time.Time // nil: time.Now
}

// Service implements metadataapi.StrictServerInterface.
type Service struct {
	db        *database.DB
	read      *metadatadb.Client // reads outside a transaction, on the pool
	log       *slog.Logger
	now       func() time.Time
	languages []language.Info // sorted by code
	supported map[string]bool // the codes of languages
	cms       CMS
	// rebuild collects the replayed events during a reconciling replay (BeginRebuild); report is
	// what the last one did.
	rebuild *rebuild
	report  Report
}

var _ metadataapi.StrictServerInterface = (*Service)(nil)

// New checks the configured languages and returns the service.
func New(cfg Config, d Deps) (*Service, error) {
	if len(cfg.Languages) == 0 {
		return nil, errors.New("metadata: no languages configured")
	}
	if d.DB == nil {
		return nil, errors.New("metadata: no database")
	}
	if d.CMS == nil {
		return nil, errors.New("metadata: no CMS client")
	}
	s := &Service{
		db:        d.DB,
		cms:       d.CMS,
		read:      metadatadb.NewClient(metadatadb.Driver(d.DB.Ent())),
		log:       d.Log,
		now:       d.Now,
		supported: map[string]bool{},
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	for _, code := range cfg.Languages {
		info, err := language.Lookup(code)
		if err != nil {
			return nil, fmt.Errorf("metadata: languages: %w", err)
		}
		if !s.supported[code] {
			s.supported[code] = true
			s.languages = append(s.languages, info)
		}
	}
	sort.Slice(s.languages, func(i, j int) bool { return s.languages[i].Code < s.languages[j].Code })
	return s, nil
}

// Handler serves the service's operations, each guarded by the policy its contract declares.
func (s *Service) Handler(log *slog.Logger, v authn.Verifier) (http.Handler, error) {
	return httpserver.API(log, metadataapi.GetSpec, v, func(e *echo.Echo, mws httpserver.OperationMiddlewares) {
		e.Use(captureCaller)
		metadataapi.RegisterHandlersWithOptions(e, metadataapi.NewStrictHandler(s, nil), metadataapi.RegisterHandlersOptions{OperationMiddlewares: mws})
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

// txClient returns an ent client that runs every statement on tx.
func (s *Service) txClient(tx *sql.Tx) *metadatadb.Client {
	return metadatadb.NewClient(metadatadb.Driver(s.db.EntTx(tx)))
}

// clock returns the current time as the database stores it: UTC, to the microsecond (PostgreSQL's
// precision), so a value reads back exactly as it was written on either dialect.
func (s *Service) clock() time.Time {
	return s.now().UTC().Truncate(time.Microsecond)
}

// taxonomyLock is the PostgreSQL advisory lock (one per schema) that orders category writes against
// each other and against metadata writes that refer to a category: category writes take it
// exclusively, metadata writes shared. Without it, under READ COMMITTED, two concurrent moves could
// build a cycle, or a category could be deleted while a new metadata version starts using it.
// SQLite needs no lock: every write transaction holds the database's single write lock from BEGIN
// (database.Open uses _txlock=immediate).
const taxonomyLock = `hashtextextended('mediamesh.metadata.taxonomy:' || COALESCE(current_schema(), ''), 0)`

// lockTaxonomy takes taxonomyLock for the rest of tx, shared or exclusive.
func (s *Service) lockTaxonomy(ctx context.Context, tx *sql.Tx, shared bool) error {
	if s.db.Dialect != database.Postgres {
		return nil
	}
	fn := "pg_advisory_xact_lock"
	if shared {
		fn = "pg_advisory_xact_lock_shared"
	}
	if _, err := tx.ExecContext(ctx, `SELECT `+fn+`(`+taxonomyLock+`)`); err != nil {
		return fmt.Errorf("metadata: lock the taxonomy: %w", err)
	}
	return nil
}

// author returns the id of the calling user, who the guard has authenticated already.
func author(ctx context.Context) (uuid.UUID, error) {
	p, ok := authn.FromContext(ctx)
	if !ok {
		return uuid.Nil, apierror.Unauthorized("this operation needs a bearer token")
	}
	id, err := uuid.Parse(p.Subject)
	if err != nil {
		return uuid.Nil, apierror.Forbidden("the token does not name a user account")
	}
	return id, nil
}

// storeError maps what ent reports for a write that the request caused to a client error, and wraps
// anything else with what was being done. The contract validation runs before every handler, so an
// ent validation error here means the two disagree; it still names the field instead of failing
// with a 500.
func storeError(what string, err error) error {
	var ve *metadatadb.ValidationError
	if errors.As(err, &ve) {
		return apierror.Validation(ve.Name+": "+ve.Error(), apierror.FieldError{Field: ve.Name, Message: ve.Error(), Code: "invalid"})
	}
	var ae *apierror.Error
	if errors.As(err, &ae) {
		return err
	}
	return fmt.Errorf("metadata: %s: %w", what, err)
}
