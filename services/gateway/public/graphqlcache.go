package public

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
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
// signed-in caller, or a request it cannot key, goes to next uncached.
type graphqlCache struct {
	gw    *gateway.Gateway
	store cache.Store
	next  http.Handler
}

func (c graphqlCache) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if c.store == nil || r.Header.Get("Authorization") != "" {
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
	}, c.next)
}

// key returns the cache key of a GraphQL GET or POST; ok is false for a request that is not
// cached (another method or content type, a body too large or not JSON). It leaves r's body for
// the handler to read again.
func (c graphqlCache) key(r *http.Request) (string, bool) {
	var req struct {
		Query         string          `json:"query"`
		OperationName string          `json:"operationName"`
		Variables     json.RawMessage `json:"variables"`
		Extensions    json.RawMessage `json:"extensions"`
	}
	switch r.Method {
	case http.MethodGet:
		q := r.URL.Query()
		req.Query, req.OperationName = q.Get("query"), q.Get("operationName")
		req.Variables, req.Extensions = json.RawMessage(q.Get("variables")), json.RawMessage(q.Get("extensions"))
	case http.MethodPost:
		if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") || r.Body == nil {
			return "", false
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxGraphQLCacheKeyBody+1))
		r.Body = readCloser{io.MultiReader(bytes.NewReader(body), r.Body), r.Body}
		if err != nil || len(body) > maxGraphQLCacheKeyBody || json.Unmarshal(body, &req) != nil {
			return "", false
		}
	default:
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
		var ext struct {
			PersistedQuery struct {
				Hash string `json:"sha256Hash"`
			} `json:"persistedQuery"`
		}
		if len(req.Extensions) == 0 || json.Unmarshal(req.Extensions, &ext) != nil || ext.PersistedQuery.Hash == "" {
			return "", false
		}
		op = "apq:" + ext.PersistedQuery.Hash
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

// readCloser reads from Reader and closes the original body.
type readCloser struct {
	io.Reader
	io.Closer
}
