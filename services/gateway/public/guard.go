package public

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strings"

	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/mediamesh/mediamesh/internal/apierror"
	"github.com/mediamesh/mediamesh/internal/contract"
	"github.com/mediamesh/mediamesh/internal/gateway"
)

// Bounds of one GraphQL request, checked before gqlgen parses and validates it: the body as REST's,
// then the document's tokens, field selections and aliases, since the cost of validation grows with
// the square of the fields that repeat in a selection.
const (
	maxGraphQLTokens  = 5000
	maxGraphQLFields  = 500 // selections in the whole document, fragments included
	maxGraphQLAliases = 50
)

// Error codes (extensions.code) of requests the guard refuses.
const (
	codeQueryTooLarge  = "QUERY_TOO_LARGE"
	codeTooManyAliases = "TOO_MANY_ALIASES"
)

// restOperation finds the REST operation a root field stands for in its description.
var restOperation = regexp.MustCompile(`\(REST: (\w+)\)`)

// graphqlGuard bounds what a GraphQL request may cost before next (the cache, then the executor)
// sees it: a body over the REST limit is a 413 Problem; a document with too many tokens, fields or
// aliases gets a GraphQL error with its extensions.code. Then each root field of the operation that
// stands for a REST operation (its SDL description names it) spends one call of that operation's
// x-rate-limit from the caller's budget, so an aliased search costs what a REST search costs, and an
// exhausted budget is a 429 Problem with Retry-After, like REST's.
type graphqlGuard struct {
	gw   *gateway.Gateway
	ops  map[string]string // root field -> REST operationId
	next http.Handler
	// persisted remembers the root fields of persisted queries by hash (a hash that is the query's
	// own SHA-256), for requests that send only the hash; one it does not know is answered
	// PersistedQueryNotFound, so no request runs without its cost known.
	persisted *lru.LRU[map[string]int]
}

// newGraphQLGuard reads the REST operations of the root fields from schema's Query and Mutation types.
func newGraphQLGuard(gw *gateway.Gateway, schema *ast.Schema, next http.Handler) graphqlGuard {
	ops := map[string]string{}
	for _, root := range []*ast.Definition{schema.Query, schema.Mutation} { // no field is in both
		if root == nil {
			continue
		}
		for _, f := range root.Fields {
			if m := restOperation.FindStringSubmatch(f.Description); m != nil {
				ops[f.Name] = m[1]
			}
		}
	}
	return graphqlGuard{gw: gw, ops: ops, next: next, persisted: lru.New[map[string]int](apqEntries)}
}

// graphqlRequest is what the guard reads of a GraphQL request, for itself and for the cache after
// it (see withGraphQLRequest): size is the bytes of the body, or of the query string of a GET.
type graphqlRequest struct {
	Query         string          `json:"query"`
	OperationName string          `json:"operationName"`
	Variables     json.RawMessage `json:"variables"`
	Extensions    struct {
		PersistedQuery struct {
			Hash string `json:"sha256Hash"`
		} `json:"persistedQuery"`
	} `json:"extensions"`
	size int
}

type graphqlRequestKey struct{}

// graphqlRequestFrom returns the request the guard read, when it read one: a GET, or a POST of a
// JSON GraphQL request.
func graphqlRequestFrom(ctx context.Context) (*graphqlRequest, bool) {
	req, ok := ctx.Value(graphqlRequestKey{}).(*graphqlRequest)
	return req, ok
}

func (g graphqlGuard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req graphqlRequest
	read := false
	switch r.Method {
	case http.MethodGet:
		q := r.URL.Query()
		req.Query, req.OperationName, req.Variables = q.Get("query"), q.Get("operationName"), json.RawMessage(q.Get("variables"))
		read = q.Get("extensions") == "" || json.Unmarshal([]byte(q.Get("extensions")), &req.Extensions) == nil
		req.size = len(r.URL.RawQuery)
	case http.MethodPost:
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, contract.MaxJSONBody))
		var tooLarge *http.MaxBytesError
		switch {
		case errors.As(err, &tooLarge):
			apierror.Write(w, r, apierror.PayloadTooLarge(fmt.Sprintf("the request body is larger than %d bytes", contract.MaxJSONBody)))
			return
		case err != nil:
			apierror.Write(w, r, apierror.BadRequest("could not read the request body"))
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		req.size = len(body)
		err = json.Unmarshal(body, &req)
		isJSON := strings.HasPrefix(r.Header.Get("Content-Type"), "application/json")
		if err != nil && isJSON {
			// Refused here: the executor's message would quote the whole body back.
			writeGraphQLErrorStatus(w, http.StatusBadRequest, limitError("BAD_REQUEST", "the request body is not a JSON GraphQL request"))
			return
		}
		read = err == nil && isJSON
	}
	if read {
		r = r.WithContext(context.WithValue(r.Context(), graphqlRequestKey{}, &req))
	}
	hash := req.Extensions.PersistedQuery.Hash
	var roots map[string]int
	if req.Query != "" {
		var gqlErr *gqlerror.Error
		if roots, gqlErr = g.check(req.Query, req.OperationName); gqlErr != nil {
			writeGraphQLError(w, gqlErr)
			return
		}
		if roots != nil && hash != "" {
			if sum := sha256.Sum256([]byte(req.Query)); hash == hex.EncodeToString(sum[:]) {
				g.persisted.Add(r.Context(), hash, roots)
			}
		}
	} else if hash != "" {
		var ok bool
		if roots, ok = g.persisted.Get(r.Context(), hash); !ok {
			// Its cost is unknown here: the client sends the query again, as the persisted-query
			// protocol has it do when the server does not know a hash.
			e := limitError("PERSISTED_QUERY_NOT_FOUND", "PersistedQueryNotFound")
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"errors": gqlerror.List{e}, "data": nil})
			return
		}
	}
	// Spend in a fixed order, so that concurrent requests take budgets alike.
	names := make([]string, 0, len(roots))
	for op := range roots {
		names = append(names, op)
	}
	sort.Strings(names)
	for _, op := range names {
		if err := g.gw.Spend(w, r, op, roots[op]); err != nil {
			apierror.Write(w, r, err)
			return
		}
	}
	g.next.ServeHTTP(w, r)
}

// check parses query within the token limit and counts its fields and aliases. It returns how
// many root fields of the operation to run stand for each REST operation; nil (and no error) when
// the document does not parse, which the executor then reports.
func (g graphqlGuard) check(query, operationName string) (map[string]int, *gqlerror.Error) {
	doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: query}, maxGraphQLTokens)
	if err != nil {
		var gqlErr *gqlerror.Error
		if errors.As(err, &gqlErr) && tokenLimitError.MatchString(gqlErr.Message) {
			return nil, limitError(codeQueryTooLarge, fmt.Sprintf("the query has more than %d tokens", maxGraphQLTokens))
		}
		return nil, nil
	}
	fields, aliases := documentSize(doc)
	switch {
	case fields > maxGraphQLFields:
		return nil, limitError(codeQueryTooLarge, fmt.Sprintf("the query selects %d fields; at most %d are allowed", fields, maxGraphQLFields))
	case aliases > maxGraphQLAliases:
		return nil, limitError(codeTooManyAliases, fmt.Sprintf("the query has %d aliases; at most %d are allowed", aliases, maxGraphQLAliases))
	}
	op := doc.Operations.ForName(operationName)
	if op == nil && operationName == "" && len(doc.Operations) == 1 {
		op = doc.Operations[0]
	}
	if op == nil {
		return nil, nil // the executor names the problem
	}
	roots := map[string]int{}
	var rootFields func(ast.SelectionSet, map[string]bool)
	rootFields = func(set ast.SelectionSet, seen map[string]bool) {
		for _, sel := range set {
			switch s := sel.(type) {
			case *ast.Field:
				if rest, ok := g.ops[s.Name]; ok {
					roots[rest]++
				}
			case *ast.InlineFragment:
				rootFields(s.SelectionSet, seen)
			case *ast.FragmentSpread:
				if f := doc.Fragments.ForName(s.Name); f != nil && !seen[s.Name] {
					seen[s.Name] = true
					rootFields(f.SelectionSet, seen)
				}
			}
		}
	}
	rootFields(op.SelectionSet, map[string]bool{})
	return roots, nil
}

// documentSize counts the field selections and aliases of doc as validation meets them: those of
// every operation and fragment, a fragment counted again wherever it is spread.
func documentSize(doc *ast.QueryDocument) (fields, aliases int) {
	type size struct{ fields, aliases int }
	memo := map[string]size{}
	var of func(ast.SelectionSet, map[string]bool) size
	fragment := func(name string, open map[string]bool) size {
		if sz, ok := memo[name]; ok {
			return sz
		}
		f := doc.Fragments.ForName(name)
		if f == nil || open[name] { // unknown or cyclic: validation refuses it
			return size{}
		}
		open[name] = true
		sz := of(f.SelectionSet, open)
		delete(open, name)
		memo[name] = sz
		return sz
	}
	of = func(set ast.SelectionSet, open map[string]bool) size {
		var total size
		for _, sel := range set {
			var sz size
			switch s := sel.(type) {
			case *ast.Field:
				sz = of(s.SelectionSet, open)
				sz.fields++
				if s.Alias != "" && s.Alias != s.Name {
					sz.aliases++
				}
			case *ast.InlineFragment:
				sz = of(s.SelectionSet, open)
			case *ast.FragmentSpread:
				sz = fragment(s.Name, open)
			}
			// Saturate: a document of nested spreads can describe more selections than an int holds.
			total.fields = min(total.fields+sz.fields, 1<<30)
			total.aliases = min(total.aliases+sz.aliases, 1<<30)
		}
		return total
	}
	var total size
	for _, op := range doc.Operations {
		sz := of(op.SelectionSet, map[string]bool{})
		total.fields, total.aliases = min(total.fields+sz.fields, 1<<30), min(total.aliases+sz.aliases, 1<<30)
	}
	for _, f := range doc.Fragments {
		sz := fragment(f.Name, map[string]bool{})
		total.fields, total.aliases = min(total.fields+sz.fields, 1<<30), min(total.aliases+sz.aliases, 1<<30)
	}
	return total.fields, total.aliases
}

// tokenLimitError matches the parser's message for a document over its token limit.
var tokenLimitError = regexp.MustCompile(`exceeded token limit`)

// limitError is the GraphQL error of a request over one of the guard's bounds.
func limitError(code, msg string) *gqlerror.Error {
	return &gqlerror.Error{Message: msg, Extensions: map[string]any{"code": code}}
}

// writeGraphQLError answers a request the guard refused before execution, as gqlgen answers a
// request that fails validation: 422 with the error and no data.
func writeGraphQLError(w http.ResponseWriter, e *gqlerror.Error) {
	writeGraphQLErrorStatus(w, http.StatusUnprocessableEntity, e)
}

func writeGraphQLErrorStatus(w http.ResponseWriter, status int, e *gqlerror.Error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": gqlerror.List{e}, "data": nil})
}
