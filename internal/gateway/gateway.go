// Package gateway is the generic policy gateway: it routes each request to its operation in a bundled
// contract, authenticates and authorizes it from the operation's x-roles, validates it against the
// contract, and forwards it to the service that owns the operation (x-service), in process or over HTTP.
package gateway

import (
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/mediamesh/mediamesh/internal/apierror"
	"github.com/mediamesh/mediamesh/internal/authn"
	"github.com/mediamesh/mediamesh/internal/cache"
	"github.com/mediamesh/mediamesh/internal/contract"
	"github.com/mediamesh/mediamesh/internal/docsui"
	"github.com/mediamesh/mediamesh/internal/httpserver"
	"github.com/mediamesh/mediamesh/internal/idempotency"
	"github.com/mediamesh/mediamesh/internal/policy"
	"github.com/mediamesh/mediamesh/internal/ratelimit"
)

// Config configures a gateway.
type Config struct {
	Name      string
	Spec      []byte                  // the bundled OpenAPI document (JSON)
	Upstreams map[string]http.Handler // by service name (x-service)
	Verifier  authn.Verifier          // nil: secured operations answer 401
	Limiter   ratelimit.Limiter       // enforces x-rate-limit; nil: no limits
	// Idempotency keeps the responses of x-idempotent operations by Idempotency-Key; nil: keys are
	// passed through unhonoured.
	Idempotency idempotency.Store
	// Cache answers the public reads that have x-cache (see cached); nil: no caching.
	Cache cache.Store
	// StaleAfter is how long a cache miss waits for its service when the read has a last good
	// answer, before that answer is served and the service's is stored when it comes (see fill);
	// 0: a miss always waits for the service.
	StaleAfter time.Duration
	// Warm is how many of the hottest cached reads the gateway tracks and recomputes in the
	// background when their namespace is invalidated (see warmer); 0: no warming. It needs a Cache
	// that tells of invalidations (cache.Watcher).
	Warm int
	// CDNMaxAge lets a CDN in front serve a cached read that long without asking the gateway
	// (Cache-Control s-maxage, with stale-while-revalidate as long); it needs a purge hook that
	// tells the CDN of invalidations (Purger), or taken-down content would stay out there. 0: CDNs
	// revalidate every reuse (no-cache).
	CDNMaxAge time.Duration
	Log       *slog.Logger
}

// Gateway is an http.Handler for the API paths of one bundled contract.
type Gateway struct {
	cfg      Config
	contract *contract.Contract
	flight   singleflight.Group // one computation per missing cache entry
	// revalidating holds the stale keys whose answer is being computed in the background (fill).
	revalidating sync.Map
	warm         *warmer // nil: no warming
	cacheControl string  // of a cached read's answer
}

// New loads and checks the contract. Every operation must name a service that has an upstream.
func New(cfg Config) (*Gateway, error) {
	c, err := contract.Load(cfg.Spec)
	if err != nil {
		return nil, fmt.Errorf("gateway %s: %w", cfg.Name, err)
	}
	ops := c.Operations()
	for _, id := range ops.IDs() {
		if _, ok := cfg.Upstreams[ops[id].Service]; !ok {
			return nil, fmt.Errorf("gateway %s: operation %s: no upstream for service %q", cfg.Name, id, ops[id].Service)
		}
	}
	g := &Gateway{cfg: cfg, contract: c, cacheControl: "public, no-cache"}
	if secs := int64(cfg.CDNMaxAge / time.Second); secs > 0 {
		g.cacheControl = fmt.Sprintf("public, max-age=0, s-maxage=%d, stale-while-revalidate=%d", secs, secs)
	}
	if w, ok := cfg.Cache.(cache.Watcher); ok && cfg.Warm > 0 {
		g.warm = newWarmer(g, cfg.Warm)
		w.OnInvalidate(g.warm.invalidated)
	}
	return g, nil
}

func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m, err := g.contract.Match(r)
	if err != nil {
		apierror.Write(w, r, err)
		return
	}
	httpserver.SetOperation(r.Context(), m.Op.ID)
	deprecate(w, m.Op)
	p, err := authn.Authorize(g.cfg.Verifier, m.Op, r)
	if err != nil {
		apierror.Write(w, r, err)
		return
	}
	g.countVersion(r, m.Op, p)
	if p != nil {
		httpserver.SetUser(r.Context(), p.Subject)
		httpserver.SetAPIKey(r.Context(), p.KeyID)
		r = r.WithContext(authn.WithPrincipal(r.Context(), p))
	}
	if err := g.rateLimit(w, r, m.Op, p); err != nil {
		apierror.Write(w, r, err)
		return
	}
	if err := g.contract.Validate(r, m); err != nil {
		apierror.Write(w, r, err)
		return
	}
	// An in-process service need not validate the request again (contract.Validated).
	r = r.WithContext(contract.WithValidated(r.Context(), m.Op.ID))
	upstream := g.cfg.Upstreams[m.Op.Service]
	if g.cacheable(r, m.Op) {
		g.cached(w, r, m, upstream)
		return
	}
	if key := r.Header.Get(idempotencyKeyName); key != "" && m.Op.Idempotent && g.cfg.Idempotency != nil {
		g.idempotent(w, r, m.Op, p, key, upstream)
		return
	}
	upstream.ServeHTTP(w, r)
}

// rateLimit applies the operation's x-rate-limit, per user when the policy says so and the caller is
// known, else per client IP, and sets the RateLimit-* headers.
func (g *Gateway) rateLimit(w http.ResponseWriter, r *http.Request, op *policy.Operation, p *authn.Principal) error {
	return g.spend(w, r, op, p, 1)
}

// Spend takes n calls' worth of operation opID's x-rate-limit from the caller's budget, keyed as a
// REST call of it would be (the caller's bearer token, when valid, names the user), and sets the
// RateLimit-* headers; the error is the 429 Problem. It is for requests that do the work of n calls
// of the operation at once, such as GraphQL fields that stand for it. n above the limit's capacity
// costs the whole capacity.
func (g *Gateway) Spend(w http.ResponseWriter, r *http.Request, opID string, n int) error {
	op, ok := g.contract.Operations()[opID]
	if !ok {
		return fmt.Errorf("gateway %s: no operation %s", g.cfg.Name, opID)
	}
	p, err := authn.Authorize(g.cfg.Verifier, op, r)
	if err != nil {
		p = nil // a public operation never refuses; a secured one's caller counts by address
	}
	return g.spend(w, r, op, p, n)
}

func (g *Gateway) spend(w http.ResponseWriter, r *http.Request, op *policy.Operation, p *authn.Principal, n int) error {
	if g.cfg.Limiter == nil || op.RateLimit == nil || n < 1 {
		return nil
	}
	lim, err := ratelimit.FromPolicy(op.RateLimit)
	if err != nil {
		return err
	}
	key := "ip:" + clientAddr(r)
	if op.RateLimit.Key == "user" && p != nil {
		key = "user:" + p.Subject
		if p.KeyID != "" { // an API key has a budget of its own, apart from its owner's
			key = "key:" + p.KeyID
		}
	}
	res, err := g.cfg.Limiter.AllowN(r.Context(), "gw:"+op.ID+":"+key, lim, min(n, lim.Capacity()))
	if err != nil {
		return err
	}
	ratelimit.Headers(w.Header(), res)
	if !res.Allowed {
		return apierror.TooManyRequests(res.RetryAfter).WithDetail("rate limit of %s exceeded", lim)
	}
	return nil
}

// clientAddr is the address of the request's client: the one the server found (httpserver honours
// a forwarding header from gateway.trusted_proxies only), else the direct peer's.
func clientAddr(r *http.Request) string {
	if a := httpserver.ClientFrom(r.Context()); a != "" {
		return a
	}
	return ratelimit.ClientIP(r, nil)
}

// Mux serves the gateway's API paths plus its contract at /openapi.json and Swagger UI at /docs.
// With versions (the major versions' views of the contract), each is also served at
// /openapi/<name>.json and the docs pick between them, the first one (v1, the whole API) first. Callers add further
// routes (e.g. /graphql) to the returned mux.
func Mux(gw *Gateway, spec []byte, title string, versions ...SpecVersion) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /openapi.json", serveSpec(spec))
	ui := docsui.Handler("/docs", title, "/openapi.json")
	if len(versions) > 0 {
		var specs []docsui.Spec
		for _, v := range versions {
			url := "/openapi/" + v.Name + ".json"
			mux.HandleFunc("GET "+url, serveSpec(v.Spec))
			specs = append(specs, docsui.Spec{Name: v.Name, URL: url})
		}
		ui = docsui.VersionsHandler("/docs", title, specs, versions[0].Name)
	}
	mux.Handle("GET /docs", ui)
	mux.Handle("GET /docs/", ui)
	mux.Handle("/", gw)
	return mux
}
