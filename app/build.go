package app

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime/debug"

	"github.com/mediamesh/mediamesh/gen/openapi/cmsapi"
	"github.com/mediamesh/mediamesh/gen/openapi/mediaapi"
	"github.com/mediamesh/mediamesh/gen/openapi/metadataapi"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/policy"
	"github.com/mediamesh/mediamesh/internal/ratelimit"
	"github.com/mediamesh/mediamesh/services/auth"
	"github.com/mediamesh/mediamesh/services/cms"
	"github.com/mediamesh/mediamesh/services/discovery"
	"github.com/mediamesh/mediamesh/services/metadata"
	"github.com/mediamesh/mediamesh/services/search"
	"github.com/mediamesh/mediamesh/services/search/index"
)

// The constructors of the module table (modules.go): each turns the process's configuration into
// the service's own Config and its dependencies (database, clients of the services it calls,
// shared stores) into its Deps. The media and ingest services' are in mediaingest.go.

func buildAuth(ctx context.Context, p *platform, db *database.DB) (service, error) {
	a := p.cfg.Auth
	rate, err := policy.ParseRate(a.LoginRate)
	if err != nil {
		return nil, err
	}
	cfg := auth.Config{
		Issuer: a.Issuer, Audience: a.Audience, AccessTTL: a.AccessTTL, RefreshTTL: a.RefreshTTL, KeyRotation: a.KeyRotation,
		SignupEnabled: a.SignupEnabled, AdminEmail: a.AdminEmail, AdminPassword: a.AdminPassword, HashConcurrency: a.HashConcurrency,
		AdminPasswordFile: filepath.Join(p.cfg.DataDir, FirstAdminPasswordFile), LoginLimit: ratelimit.Limit{Rate: rate.Rate, Per: rate.Per, Burst: a.LoginBurst},
		OIDC: a.OIDCProviders.Providers(),
	}
	if pw := p.ingestAccountPassword(); pw != "" {
		cfg.ServiceAccounts = []auth.ServiceAccount{{Email: p.cfg.Ingest.AccountEmail, Password: pw, DisplayName: "Ingest service", Roles: []string{"EDITOR"}}}
	}
	return auth.New(ctx, cfg, auth.Deps{DB: db, Limiter: p.limiter, Log: p.log.With("service", ServiceAuth)})
}

func buildCMS(_ context.Context, p *platform, db *database.DB) (service, error) {
	hc, base, err := p.client(ServiceCMS, ServiceMetadata)
	if err != nil {
		return nil, err
	}
	meta, err := metadataapi.NewClientWithResponses(base, metadataapi.WithHTTPClient(hc))
	if err != nil {
		return nil, err
	}
	hc, base, err = p.client(ServiceCMS, ServiceMedia)
	if err != nil {
		return nil, err
	}
	assets, err := mediaapi.NewClientWithResponses(base, mediaapi.WithHTTPClient(hc))
	if err != nil {
		return nil, err
	}
	return cms.New(cms.Config{SchedulerInterval: p.cfg.CMS.SchedulerInterval, PurgeAfter: p.cfg.CMS.PurgeAfter, ImportMaxBytes: int64(p.cfg.CMS.ImportMaxBytes)},
		cms.Deps{DB: db, Metadata: meta, Media: assets, Log: p.log.With("service", ServiceCMS)})
}

func buildMetadata(_ context.Context, p *platform, db *database.DB) (service, error) {
	hc, base, err := p.client(ServiceMetadata, ServiceCMS)
	if err != nil {
		return nil, err
	}
	content, err := cmsapi.NewClientWithResponses(base, cmsapi.WithHTTPClient(hc))
	if err != nil {
		return nil, err
	}
	return metadata.New(metadata.Config{Languages: p.cfg.Metadata.Languages}, metadata.Deps{DB: db, CMS: content, Log: p.log.With("service", ServiceMetadata)})
}

func buildDiscovery(_ context.Context, p *platform, db *database.DB) (service, error) {
	return discovery.New(discovery.Config{}, discovery.Deps{DB: db, Log: p.log.With("service", ServiceDiscovery), Cache: p.cache})
}

// buildSearch builds the search service on its index (search.engine): PostgreSQL full text beside
// the service's tables, an OpenSearch cluster (it persists: nothing to load), or in memory, loaded
// from the service's tables before any event.
func buildSearch(ctx context.Context, p *platform, db *database.DB) (service, error) {
	log := p.log.With("service", ServiceSearch)
	switch p.cfg.SearchEngine() {
	case SearchEnginePostgres:
		idx, err := index.NewPostgres(ctx, db)
		if err != nil {
			return nil, err
		}
		svc, err := search.New(search.Config{}, search.Deps{DB: db, Index: idx, Log: log, Cache: p.cache})
		if err != nil {
			return nil, err
		}
		// An index that a migration emptied (its analysis changed) is refilled from the
		// service's tables; with nothing stored, this reads nothing.
		if empty, err := idx.Empty(ctx); err != nil {
			return nil, err
		} else if empty {
			if _, err := svc.LoadIndex(ctx); err != nil {
				return nil, err
			}
		}
		return svc, nil
	case SearchEngineOpenSearch:
		o := p.cfg.Search.OpenSearch
		idx, err := index.NewOpenSearch(ctx, index.OpenSearchConfig{URLs: o.URLs, Alias: o.Index, Timeout: o.Timeout,
			Registerer: p.reg, Log: log.With("downstream", "opensearch"), AcceptOtherSchema: p.rebuild})
		if err != nil {
			return nil, fmt.Errorf("search index: %w", err)
		}
		return search.New(search.Config{}, search.Deps{DB: db, Index: idx, Log: log, Cache: p.cache})
	}
	svc, err := search.New(search.Config{}, search.Deps{DB: db, Index: index.NewMemory(), Log: log, Cache: p.cache})
	if err != nil {
		return nil, err
	}
	if n, err := svc.LoadIndex(ctx); err != nil {
		return nil, err
	} else if n > 0 {
		debug.FreeOSMemory() // the rows read to load it are garbage now: give their memory back
	}
	return svc, nil
}
