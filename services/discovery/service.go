// Package discovery is the discovery service: the public read model of published programs, their
// published episodes, and the categories and languages to browse them by. It implements the
// generated strict server of specs/openapi/discovery.yaml.
//
// The read model is built only from events: content.events (the CMS's snapshots of programs and
// episodes, with the ids of their cover, thumbnail and media assets), metadata.events (category
// names) and media.events (the delivery URLs of assets, resolved when content is read, so the
// asset and the content event may come in either order). HandleEvent applies each event at most
// once (internal/inbox, in the transaction of its effect) and ignores snapshots and asset or
// category events that are not newer than what it holds, so redelivery and replay (Reset, then
// every event again) rebuild the same state.
// An episode is stored as soon as it is published but is visible only while its program is in
// the read model.
//
// Engagement (engagement.go, engagement_apply.go, rankings.go, similar.go, personal.go): players
// report plays, views and completions (recordEngagement), which go out as engagement.recorded on
// discovery.events through the service's outbox; the same consumer counts them (trending,
// popular) and keeps signed-in users' positions (continue watching, history), and deletes a
// deleted account's history and follows (user.tokens_revoked from auth.events).
package discovery

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/mediamesh/mediamesh/ent/discoverydb"
	"github.com/mediamesh/mediamesh/gen/events/authevents"
	"github.com/mediamesh/mediamesh/gen/events/contentevents"
	"github.com/mediamesh/mediamesh/gen/events/discoveryevents"
	"github.com/mediamesh/mediamesh/gen/events/mediaevents"
	"github.com/mediamesh/mediamesh/gen/events/metadataevents"
	"github.com/mediamesh/mediamesh/gen/openapi/discoveryapi"
	"github.com/mediamesh/mediamesh/internal/authn"
	"github.com/mediamesh/mediamesh/internal/cache"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/httpserver"
	"github.com/mediamesh/mediamesh/internal/readmodel"
)

// ConsumerGroup is the consumer group of the service's subscription, and its inbox consumer name.
const ConsumerGroup = "discovery"

// Deps are the service's dependencies.
type Deps struct {
	DB  *database.DB // migrated: Migrations, inbox, outbox
	Log *slog.Logger // nil: discard
	// Cache is the gateways' response cache, invalidated (namespace "discovery") after every event
	// that changed the read model; nil when nothing caches discovery responses.
	Cache readmodel.Cache
}

// cacheNamespace is the cache namespace of the discovery operations' responses: their x-service.
const cacheNamespace = "discovery"

// Service implements discoveryapi.StrictServerInterface over the read model, and consumes the
// events that build it.
type Service struct {
	db     *database.DB
	read   *discoverydb.Client // queries outside transactions
	log    *slog.Logger
	titles *titleCollator
	cache  readmodel.Cache
	now    func() time.Time
	// rankingsMu guards the throttle of the rankings' invalidation (invalidateRankings).
	rankingsMu      sync.Mutex
	rankingsAt      time.Time // when the rankings were last invalidated
	rankingsPending bool      // an invalidation is scheduled
}

var _ discoveryapi.StrictServerInterface = (*Service)(nil)

// Config configures the discovery service. It has no settings yet (the read model follows the
// events and the contract); one would go here, with its key in the composition root's config.
type Config struct{}

// New returns the service on a database migrated with Migrations and the inbox's migrations.
func New(_ Config, d Deps) (*Service, error) {
	if d.DB == nil {
		return nil, errors.New("discovery: no database")
	}
	log := d.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{
		db:     d.DB,
		read:   discoverydb.NewClient(discoverydb.Driver(d.DB.ReadEnt())),
		log:    log,
		titles: newTitleCollator(),
		cache:  d.Cache,
		now:    time.Now,
	}, nil
}

// Handler serves the service's operations, each guarded by the policy its contract declares.
// Every operation is public; v (which may be nil) only identifies callers that send a token.
func (s *Service) Handler(log *slog.Logger, v authn.Verifier) (http.Handler, error) {
	h, err := httpserver.API(log, discoveryapi.GetSpec, v, func(e *echo.Echo, mws httpserver.OperationMiddlewares) {
		discoveryapi.RegisterHandlersWithOptions(e, discoveryapi.NewStrictHandler(s, nil), discoveryapi.RegisterHandlersOptions{OperationMiddlewares: mws})
	})
	if err != nil {
		return nil, err
	}
	h2, err := s.handlerV2(log, v) // major version 2 (v2.go), beside v1
	if err != nil {
		return nil, err
	}
	return withUserAgent(byVersion(h, h2)), nil
}

// Topics returns the topics the read model is built from: content.events, metadata.events,
// media.events, discovery.events (engagement) and auth.events (deleted accounts).
func (s *Service) Topics() []string {
	return []string{contentevents.TopicContentEvents, metadataevents.TopicMetadataEvents, mediaevents.TopicMediaEvents,
		discoveryevents.TopicDiscoveryEvents, authevents.TopicAuthEvents}
}

// inTx returns an ent client bound to tx. With SQLite (one connection) everything inside a
// transaction must go through it.
func (s *Service) inTx(tx *sql.Tx) *discoverydb.Client {
	return discoverydb.NewClient(discoverydb.Driver(s.db.EntTx(tx)))
}

// changes is what the events applied in one transaction changed, as the cache scopes of the
// contract's x-cache see it: episodes with their programs, or everything (a program, whose
// episodes' pages show it, a category, an asset).
type changes struct {
	all       bool
	takedown  bool // something left public view (see cache.Takedowns)
	rankings  bool // engagement was counted (the rankings scope, invalidated at most once a second)
	catalogue bool // a content, category or asset event was applied
	episodes  map[uuid.UUID]bool
	programs  map[uuid.UUID]bool
}

func (c *changes) everything() { c.all = true }

// rankingsOnly reports that nothing but engagement (or a deleted account, which no cached answer
// shows) changed.
func (c *changes) rankingsOnly() bool { return !c.all && !c.catalogue }

// episode records a change of episode id of program programID.
func (c *changes) episode(id, programID uuid.UUID) {
	if c.episodes == nil {
		c.episodes, c.programs = map[uuid.UUID]bool{}, map[uuid.UUID]bool{}
	}
	c.episodes[id], c.programs[programID] = true, true
}

// invalidate makes the cached responses that show what changed stale: the responses of every
// operation when c says everything; else those of the changed episodes and their programs, and
// the lists (the x-cache scopes of the contract: lists, program, episode); and after a takedown
// the gateways' last good answers (cache.Takedowns). A failure leaves them until their TTL, which
// is the backstop; it does not fail the event, whose effect is stored.
func (s *Service) invalidate(ctx context.Context, c *changes) {
	if s.cache == nil {
		return
	}
	if c.rankings {
		s.invalidateRankings(ctx)
	}
	if c.rankingsOnly() {
		return
	}
	var namespaces []string
	if c.takedown {
		namespaces = append(namespaces, cache.Takedowns)
	}
	if c.all {
		namespaces = append(namespaces, cacheNamespace)
	} else {
		namespaces = append(namespaces, cache.Scope(cacheNamespace, "lists", ""), cache.Scope(cacheNamespace, "rankings", ""))
		for id := range c.programs {
			namespaces = append(namespaces, cache.Scope(cacheNamespace, "program", id.String()))
		}
		for id := range c.episodes {
			namespaces = append(namespaces, cache.Scope(cacheNamespace, "episode", id.String()))
		}
	}
	readmodel.Invalidate(ctx, s.log, s.cache, cacheNamespace, namespaces...)
}
