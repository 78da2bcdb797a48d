// Package contract applies an OpenAPI contract to HTTP requests: it finds the operation a request
// is for (404 and 405 with Allow when there is none), knows the operation's policy, and validates
// the request against the contract with a Problem that names every field at fault. Gateways use it
// for the bundled contracts and every service again for its own.
package contract

import (
	"fmt"
	"net/http"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"

	"github.com/mediamesh/mediamesh/internal/apierror"
	"github.com/mediamesh/mediamesh/internal/policy"
)

// Contract is a loaded, checked OpenAPI document.
type Contract struct {
	doc    *openapi3.T
	router *router
	ops    policy.Table
	routes map[string]*routers.Route // by operationId
}

// Match is the operation a request is for.
type Match struct {
	Route  *routers.Route
	Params map[string]string
	Op     *policy.Operation
}

// Load parses and validates a JSON or YAML contract without external references.
func Load(spec []byte) (*Contract, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(spec)
	if err != nil {
		return nil, fmt.Errorf("load contract: %w", err)
	}
	return New(doc)
}

// New checks doc and extracts its policy.
func New(doc *openapi3.T) (*Contract, error) {
	registerFormats()
	if err := doc.Validate(openapi3.NewLoader().Context); err != nil {
		return nil, fmt.Errorf("invalid contract: %w", err)
	}
	ops, err := policy.FromDoc(doc)
	if err != nil {
		return nil, err
	}
	routes := map[string]*routers.Route{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			routes[op.OperationID] = &routers.Route{Spec: doc, Path: path, PathItem: item, Method: method, Operation: op}
		}
	}
	return &Contract{doc: doc, router: newRouter(doc), ops: ops, routes: routes}, nil
}

// Operations returns the policy table.
func (c *Contract) Operations() policy.Table { return c.ops }

// Match finds the operation of r, or returns a 404 or 405 Problem.
func (c *Contract) Match(r *http.Request) (*Match, error) {
	route, params, allow := c.router.find(r)
	if route == nil {
		if allow != nil {
			return nil, apierror.MethodNotAllowed(allow)
		}
		return nil, apierror.NotFound("no operation at this path")
	}
	return &Match{Route: route, Params: params, Op: c.ops[route.Operation.OperationID]}, nil
}

// Matched is the Match of operation id, for a request whose route a router has matched already (echo,
// in each service, which runs the operation's middleware only on its own route): params are the
// path parameters it found, unescaped. Nil when the contract has no operation id.
func (c *Contract) Matched(id string, params map[string]string) *Match {
	route, ok := c.routes[id]
	if !ok {
		return nil
	}
	return &Match{Route: route, Params: params, Op: c.ops[id]}
}

// Validate checks r against the matched operation. It buffers the body, so the handler can read it
// again.
func (c *Contract) Validate(r *http.Request, m *Match) error {
	return validate(r, m.Route, m.Params)
}
