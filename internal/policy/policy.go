// Package policy reads the per-operation policy that the contracts declare with the x-roles,
// x-scopes, x-rate-limit, x-cache and x-idempotent extensions (see specs/README.md).
package policy

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
)

// Role names as the contracts spell them.
const (
	RoleAdmin  = "ADMIN"
	RoleEditor = "EDITOR"
	RoleUser   = "USER"
)

// RateLimit is a token bucket: Rate requests per Per, with Burst extra.
type RateLimit struct {
	Key   string // "ip" or "user"
	Rate  int
	Per   time.Duration
	Burst int
}

// Operation is the policy of one operation.
type Operation struct {
	ID        string // operationId as written in the spec
	Method    string
	Path      string
	Service   string // x-service, set in the gateway bundles
	Secured   bool   // needs a bearer token or an API key
	Roles     []string
	Scopes    []string // x-scopes: every one is needed, besides one of Roles
	RateLimit *RateLimit
	CacheTTL  time.Duration // zero: not cacheable
	// CacheScope is the part of the service's read model a cached response shows (x-cache
	// scope), so that a change elsewhere leaves it cached; nil: the whole read model.
	CacheScope *CacheScope
	Idempotent bool
	// Version is the API's major version, from the path (/api/v2/... is "v2"); empty for a path
	// outside /api/vN/.
	Version string
	// Deprecation is set when the contract marks the operation deprecated: a later major version
	// replaces it, and it goes away at the sunset.
	Deprecation *Deprecation
}

// Deprecation is what a deprecated operation declares: `deprecated: true`, `x-deprecated-at` (when
// it was deprecated: the Deprecation header, RFC 9745), `x-sunset` (when it stops answering: the
// Sunset header, RFC 8594) and `externalDocs.url` (the migration guide: Link rel="deprecation").
type Deprecation struct {
	At     time.Time
	Sunset time.Time
	Link   string
}

// CacheScope names what a cached response depends on: Name (lists, program, episode, ...) and,
// when it is one item, the path parameter (Param) that holds the item's id.
type CacheScope struct {
	Name  string `json:"name"`
	Param string `json:"param"`
}

// Allows reports whether any of roles may call the operation.
func (o *Operation) Allows(roles []string) bool {
	if !o.Secured {
		return true
	}
	for _, want := range o.Roles {
		for _, have := range roles {
			if want == have {
				return true
			}
		}
	}
	return false
}

// Permits reports whether scopes hold every scope the operation needs.
func (o *Operation) Permits(scopes []string) bool {
	if !o.Secured {
		return true
	}
	for _, want := range o.Scopes {
		found := false
		for _, have := range scopes {
			if want == have {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// Table maps operationId to its policy.
type Table map[string]*Operation

// IDs returns the operation ids, sorted.
func (t Table) IDs() []string {
	ids := make([]string, 0, len(t))
	for id := range t {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// FromDoc extracts the policy of every operation in doc and checks that it is well formed.
func FromDoc(doc *openapi3.T) (Table, error) {
	t := Table{}
	for _, path := range doc.Paths.InMatchingOrder() {
		for method, op := range doc.Paths.Value(path).Operations() {
			p, err := parse(doc, path, method, op)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", method, path, err)
			}
			if _, dup := t[p.ID]; dup {
				return nil, fmt.Errorf("duplicate operationId %q", p.ID)
			}
			t[p.ID] = p
		}
	}
	return t, nil
}

func parse(doc *openapi3.T, path, method string, op *openapi3.Operation) (*Operation, error) {
	if op.OperationID == "" {
		return nil, fmt.Errorf("missing operationId")
	}
	p := &Operation{ID: op.OperationID, Method: method, Path: path}
	sec := doc.Security
	if op.Security != nil {
		sec = *op.Security
	}
	p.Secured = len(sec) > 0
	if err := ext(op, "x-service", &p.Service); err != nil {
		return nil, err
	}
	if err := ext(op, "x-roles", &p.Roles); err != nil {
		return nil, err
	}
	for _, r := range p.Roles {
		if r != RoleAdmin && r != RoleEditor && r != RoleUser {
			return nil, fmt.Errorf("x-roles: unknown role %q", r)
		}
	}
	if p.Secured && len(p.Roles) == 0 {
		return nil, fmt.Errorf("secured operation without x-roles")
	}
	if !p.Secured && len(p.Roles) > 0 {
		return nil, fmt.Errorf("x-roles on a public operation (security: [])")
	}
	if err := ext(op, "x-scopes", &p.Scopes); err != nil {
		return nil, err
	}
	if p.Secured && len(p.Scopes) == 0 {
		return nil, fmt.Errorf("secured operation without x-scopes")
	}
	if !p.Secured && len(p.Scopes) > 0 {
		return nil, fmt.Errorf("x-scopes on a public operation (security: [])")
	}
	for _, sc := range p.Scopes {
		if !KnownScope(sc) {
			return nil, fmt.Errorf("x-scopes: unknown scope %q (internal/policy/scopes.go lists them)", sc)
		}
	}
	var rl struct {
		Key   string `json:"key"`
		Rate  string `json:"rate"`
		Burst int    `json:"burst"`
	}
	if err := ext(op, "x-rate-limit", &rl); err != nil {
		return nil, err
	}
	if rl.Rate != "" {
		lim, err := ParseRate(rl.Rate)
		if err != nil {
			return nil, fmt.Errorf("x-rate-limit: %w", err)
		}
		if rl.Key != "ip" && rl.Key != "user" {
			return nil, fmt.Errorf("x-rate-limit: key must be ip or user, not %q", rl.Key)
		}
		if rl.Burst < 0 {
			return nil, fmt.Errorf("x-rate-limit: negative burst")
		}
		lim.Key, lim.Burst = rl.Key, rl.Burst
		p.RateLimit = lim
	}
	var cache struct {
		TTL   string      `json:"ttl"`
		Scope *CacheScope `json:"scope"`
	}
	if err := ext(op, "x-cache", &cache); err != nil {
		return nil, err
	}
	if cache.TTL != "" {
		d, err := time.ParseDuration(cache.TTL)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("x-cache: bad ttl %q", cache.TTL)
		}
		p.CacheTTL = d
	}
	if sc := cache.Scope; sc != nil {
		switch {
		case cache.TTL == "":
			return nil, fmt.Errorf("x-cache: scope without ttl")
		case !scopeName.MatchString(sc.Name):
			return nil, fmt.Errorf("x-cache: scope name %q is not lower-case letters", sc.Name)
		case sc.Param != "" && !strings.Contains(p.Path, "{"+sc.Param+"}"):
			return nil, fmt.Errorf("x-cache: scope param %q is not a path parameter of %s", sc.Param, p.Path)
		}
		p.CacheScope = sc
	}
	if err := ext(op, "x-idempotent", &p.Idempotent); err != nil {
		return nil, err
	}
	if m := majorVersion.FindStringSubmatch(path); m != nil {
		p.Version = m[1]
	}
	d, err := deprecation(op)
	if err != nil {
		return nil, err
	}
	p.Deprecation = d
	return p, nil
}

var majorVersion = regexp.MustCompile(`^/api/(v[0-9]+)/`)

// deprecation reads a deprecated operation's dates and guide; an operation that is not deprecated
// must not declare them.
func deprecation(op *openapi3.Operation) (*Deprecation, error) {
	var at, sunset string
	if err := ext(op, "x-deprecated-at", &at); err != nil {
		return nil, err
	}
	if err := ext(op, "x-sunset", &sunset); err != nil {
		return nil, err
	}
	if !op.Deprecated {
		if at != "" || sunset != "" {
			return nil, fmt.Errorf("x-deprecated-at or x-sunset on an operation that is not deprecated: true")
		}
		return nil, nil
	}
	d := &Deprecation{}
	var err error
	if d.At, err = time.Parse(time.RFC3339, at); err != nil {
		return nil, fmt.Errorf("deprecated: true needs x-deprecated-at, an RFC 3339 instant: %q", at)
	}
	if d.Sunset, err = time.Parse(time.RFC3339, sunset); err != nil {
		return nil, fmt.Errorf("deprecated: true needs x-sunset, an RFC 3339 instant: %q", sunset)
	}
	if !d.Sunset.After(d.At) {
		return nil, fmt.Errorf("x-sunset %s is not after x-deprecated-at %s", sunset, at)
	}
	if op.ExternalDocs == nil || op.ExternalDocs.URL == "" {
		return nil, fmt.Errorf("deprecated: true needs externalDocs.url, the migration guide")
	}
	d.Link = op.ExternalDocs.URL
	return d, nil
}

var scopeName = regexp.MustCompile(`^[a-z]+$`)

// ext decodes extension name of op into dst; absent extensions leave dst alone.
func ext(op *openapi3.Operation, name string, dst any) error {
	v, ok := op.Extensions[name]
	if !ok {
		return nil
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// ParseRate parses "N/s", "N/min", "N/h" or "N/day".
func ParseRate(s string) (*RateLimit, error) {
	n, unit, ok := strings.Cut(s, "/")
	if !ok {
		return nil, fmt.Errorf("rate %q: want N/unit", s)
	}
	count, err := strconv.Atoi(strings.TrimSpace(n))
	if err != nil || count <= 0 {
		return nil, fmt.Errorf("rate %q: count must be a positive integer", s)
	}
	per := map[string]time.Duration{"s": time.Second, "sec": time.Second, "min": time.Minute, "m": time.Minute, "h": time.Hour, "hour": time.Hour, "day": 24 * time.Hour}[strings.TrimSpace(unit)]
	if per == 0 {
		return nil, fmt.Errorf("rate %q: unit must be s, min, h or day", s)
	}
	return &RateLimit{Rate: count, Per: per}, nil
}
