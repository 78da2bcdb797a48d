package public

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/lexer"

	"github.com/mediamesh/mediamesh/internal/cache"
	"github.com/mediamesh/mediamesh/internal/gateway"
)

// GraphQL responses of anonymous callers are cached like the REST reads of the same data: in the
// gateway's cache, computed once per key (single flight), and invalidated when the discovery or
// search read model changes. The key is the operation (its query with runs of white space
// tokens, or its persisted-query hash), the operation name and the variables (as canonical
// JSON), so equivalent requests, by GET or POST, share an entry.
const (
	graphqlCacheTTL = 30 * time.Second // the backstop, as the REST reads' x-cache
	// maxGraphQLCacheKeyBody is the largest request whose response is cached; a larger one is
	// served uncached.
	maxGraphQLCacheKeyBody = 64 << 10
)

// graphqlCache serves anonymous GraphQL requests through the gateway's cache (see above). A
// signed-in caller (a bearer token or an API key), or a request it cannot key, goes to next
// uncached: the personal fields (myFeed, ...) and the mutations answer an anonymous caller only
// with an UNAUTHENTICATED error, which is never kept.
type graphqlCache struct {
	gw    *gateway.Gateway
	store cache.Store
	next  http.Handler
}

func (c graphqlCache) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if c.store == nil || r.Header.Get("Authorization") != "" || r.Header.Get(apiKeyHeader) != "" {
		c.next.ServeHTTP(w, r)
		return
	}
	key, ok := c.key(r)
	if !ok {
		c.next.ServeHTTP(w, r)
		return
	}
	// A response may show anything of both read models: the entry lives in the namespace of
	// discovery's lists (invalidated by every change of its read model), and the key carries the
	// generations of both services, so any change of either makes it a miss.
	disco, err := c.store.Generation(r.Context(), serviceDiscovery)
	if err != nil {
		c.next.ServeHTTP(w, r)
		return
	}
	search, err := c.store.Generation(r.Context(), serviceSearch)
	if err != nil {
		c.next.ServeHTTP(w, r)
		return
	}
	c.gw.ServeCached(w, r, gateway.CachedRead{
		Label: "graphql", Namespace: cache.Scope(serviceDiscovery, "lists", ""),
		Key: "graphql:" + strconv.FormatInt(disco, 10) + ":" + strconv.FormatInt(search, 10) + ":" + key,
		TTL: graphqlCacheTTL, Keep: withoutErrors,
		Tags: []string{cache.Scope(serviceDiscovery, "lists", ""), serviceDiscovery, serviceSearch},
	}, c.next)
}

// key returns the cache key of a GraphQL request the guard read (see graphqlRequestFrom); ok is
// false for one that is not cached (not read, too large, variables that are not JSON).
func (c graphqlCache) key(r *http.Request) (string, bool) {
	req, ok := graphqlRequestFrom(r.Context())
	if !ok || req.size > maxGraphQLCacheKeyBody {
		return "", false
	}
	vars, ok := canonicalJSON(req.Variables)
	if !ok {
		return "", false
	}
	op, ok := normalizedQuery(req.Query)
	if !ok {
		return "", false
	}
	if op == "" {
		if req.Extensions.PersistedQuery.Hash == "" {
			return "", false
		}
		op = "apq:" + req.Extensions.PersistedQuery.Hash
	}
	sum := sha256.Sum256([]byte(op + "\x00" + req.OperationName + "\x00" + vars))
	return hex.EncodeToString(sum[:]), true
}

// normalizedQuery returns the tokens of a GraphQL document, so that documents that differ only in
// white space, commas and comments are one; ok is false for a document the lexer refuses (the
// handler answers it).
func normalizedQuery(q string) (string, bool) {
	l := lexer.New(&ast.Source{Input: q})
	var b strings.Builder
	for {
		tok, err := l.ReadToken()
		if err != nil {
			return "", false
		}
		if tok.Kind == lexer.EOF {
			return b.String(), true
		}
		b.WriteString(tok.Kind.Name())
		b.WriteByte(':')
		b.WriteString(strconv.Quote(tok.Value))
		b.WriteByte(' ')
	}
}

// canonicalJSON returns the JSON value v with object keys sorted and no insignificant space ("" for
// none); ok is false when v is not JSON.
func canonicalJSON(v json.RawMessage) (string, bool) {
	if len(bytes.TrimSpace(v)) == 0 {
		return "", true
	}
	d := json.NewDecoder(bytes.NewReader(v))
	d.UseNumber() // numbers as written: two different ones never share a key
	var x any
	if err := d.Decode(&x); err != nil || d.More() {
		return "", false
	}
	b, err := json.Marshal(x) // map keys sorted
	return string(b), err == nil
}

// withoutErrors reports whether a GraphQL response body has no errors: only a complete answer is
// cached, never one that met an upstream failure.
func withoutErrors(body []byte) bool {
	var res struct {
		Errors json.RawMessage `json:"errors"`
	}
	return json.Unmarshal(body, &res) == nil && len(res.Errors) == 0
}
