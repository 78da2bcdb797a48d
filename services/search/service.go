// Package search is the search service: full-text search over published programs and episodes,
// with filters, facet counts and as-you-type suggestions. It implements the generated strict
// server of specs/openapi/search.yaml over an index.Index (in memory embedded, or PostgreSQL full
// text search when split).
//
// The index is built only from events: content.events (the CMS's snapshots of programs and
// episodes) and metadata.events (category slugs and names). Besides the index the service keeps a
// small storage of its own (ent/searchdb): the published programs, the published episode
// snapshots and the categories, from which it builds every index document, so that an episode
// enters the index when its program is published and leaves it when the program is unpublished,
// and a renamed category reaches every document that shows it. Drafts are never stored nor
// indexed.
//
// HandleEvent applies each event at most once (internal/inbox) in one transaction with its
// storage change, and writes the index inside that transaction: when the index write fails the
// transaction rolls back and the event is retried. Snapshots that are not newer than the stored
// version are ignored, and index documents carry versions from a clock kept in the same
// transaction (see clock.go), so redelivery and replay (Reset, then every event again) rebuild
// the same index.
package search

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/mediamesh/mediamesh/ent/searchdb"
	"github.com/mediamesh/mediamesh/gen/events/contentevents"
	"github.com/mediamesh/mediamesh/gen/events/discoveryevents"
	"github.com/mediamesh/mediamesh/gen/events/metadataevents"
	"github.com/mediamesh/mediamesh/gen/openapi/searchapi"
	"github.com/mediamesh/mediamesh/internal/authn"
	"github.com/mediamesh/mediamesh/internal/cache"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/httpserver"
	"github.com/mediamesh/mediamesh/internal/readmodel"
	"github.com/mediamesh/mediamesh/services/search/index"
)

// ConsumerGroup is the consumer group of the service's subscription, and its inbox consumer name.
const ConsumerGroup = "search"

// Deps are the service's dependencies.
type Deps struct {
	// DB is the service's database, migrated with Migrations and the inbox's and outbox's
	// migrations (and index.PostgresMigrations when Index is the Postgres index in it).
	DB *database.DB
	// Index is the full-text index, built by the caller: index.NewMemory (embedded, filled by LoadIndex) or
	// index.NewPostgres (split). The service never closes it.
	Index index.Index
	// Log receives the service's logs; nil discards them.
	Log *slog.Logger
	// Cache is the gateways' response cache, invalidated (namespace "search") after every event
	// the service applied; nil when nothing caches search responses.
	Cache readmodel.Cache
}

// cacheNamespace is the cache namespace of the search operations' responses: their x-service.
const cacheNamespace = "search"

// Service implements searchapi.StrictServerInterface over the index, and consumes the events
// that build it.
type Service struct {
	db    *database.DB
	index index.Index
	log   *slog.Logger
	cache readmodel.Cache
}

var _ searchapi.StrictServerInterface = (*Service)(nil)

// Config configures the search service. It has no settings yet (the engine is chosen by the
// index in Deps); one would go here, with its key in the composition root's config.
type Config struct{}

// New returns the service on a migrated database (see Deps.DB) and an index.
func New(_ Config, d Deps) (*Service, error) {
	if d.DB == nil {
		return nil, errors.New("search: no database")
	}
	if d.Index == nil {
		return nil, errors.New("search: no index")
	}
	log := d.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{db: d.DB, index: d.Index, log: log, cache: d.Cache}, nil
}

// Handler serves the service's operations, each guarded by the policy its contract declares.
// Every operation is public; v (which may be nil) only identifies callers that send a token.
func (s *Service) Handler(log *slog.Logger, v authn.Verifier) (http.Handler, error) {
	return httpserver.API(log, searchapi.GetSpec, v, func(e *echo.Echo, mws httpserver.OperationMiddlewares) {
		searchapi.RegisterHandlersWithOptions(e, searchapi.NewStrictHandler(s, nil), searchapi.RegisterHandlersOptions{OperationMiddlewares: mws})
	})
}

// Topics returns the topics the index is built from: content.events, metadata.events, and
// discovery.events for the popularity of content (popularity.changed).
func (s *Service) Topics() []string {
	return []string{contentevents.TopicContentEvents, metadataevents.TopicMetadataEvents, discoveryevents.TopicDiscoveryEvents}
}

// inTx returns an ent client bound to tx. With SQLite (one connection) everything inside a
// transaction must go through it.
func (s *Service) inTx(tx *sql.Tx) *searchdb.Client {
	return searchdb.NewClient(searchdb.Driver(s.db.EntTx(tx)))
}

// invalidate makes the cached responses of the search operations stale, and after a takedown
// (something left public view) the gateways' last good answers too (cache.Takedowns). A failure
// leaves them until their TTL, which is the backstop; it does not fail the event, whose effect is
// stored.
func (s *Service) invalidate(ctx context.Context, takedown bool) {
	if s.cache == nil {
		return
	}
	namespaces := []string{cacheNamespace}
	if takedown {
		namespaces = []string{cache.Takedowns, cacheNamespace}
	}
	readmodel.Invalidate(ctx, s.log, s.cache, cacheNamespace, namespaces...)
}
