package public

import (
	"context"
	"fmt"
	"net/http"

	"github.com/mediamesh/mediamesh/gen/openapi/discoveryapi"
	"github.com/mediamesh/mediamesh/gen/openapi/searchapi"
	"github.com/mediamesh/mediamesh/internal/httpclient"
	"github.com/mediamesh/mediamesh/internal/httpserver"
)

// The services the GraphQL resolvers call, by their upstream names.
const (
	serviceDiscovery = "discovery"
	serviceSearch    = "search"
)

// upstreams are the generated clients of the services behind the GraphQL API. Each sends its
// requests to the gateway's upstream handler of the service (the service itself in process, or
// the resilient reverse proxy to it), so a resolver's call reaches exactly what a REST call of
// the same operation reaches after the gateway's policy.
type upstreams struct {
	discovery discoveryapi.ClientWithResponsesInterface
	search    searchapi.ClientWithResponsesInterface
}

// newUpstreams builds the clients on handlers, the gateway's upstreams by service name.
func newUpstreams(handlers map[string]http.Handler) (upstreams, error) {
	for _, name := range []string{serviceDiscovery, serviceSearch} {
		if handlers[name] == nil {
			return upstreams{}, fmt.Errorf("graphql: no upstream for service %q", name)
		}
	}
	discovery, err := discoveryapi.NewClientWithResponses("http://"+serviceDiscovery,
		discoveryapi.WithHTTPClient(inProcess(handlers[serviceDiscovery])), discoveryapi.WithRequestEditorFn(forwardCaller))
	if err != nil {
		return upstreams{}, err
	}
	search, err := searchapi.NewClientWithResponses("http://"+serviceSearch,
		searchapi.WithHTTPClient(inProcess(handlers[serviceSearch])), searchapi.WithRequestEditorFn(forwardCaller))
	if err != nil {
		return upstreams{}, err
	}
	return upstreams{discovery: discovery, search: search}, nil
}

// inProcess is an HTTP client that serves every request with h.
func inProcess(h http.Handler) *http.Client {
	return &http.Client{Transport: httpclient.HandlerTransport(h)}
}

// caller is what the gateway forwards of a GraphQL request to the services it calls for it.
type caller struct {
	requestID     string
	authorization string
	apiKey        string
}

type callerKey struct{}

// withCaller returns ctx carrying the forwarded headers of r.
func withCaller(ctx context.Context, r *http.Request) context.Context {
	id := r.Header.Get(httpserver.RequestIDHeader)
	if id == "" {
		id = httpserver.RequestIDFrom(ctx)
	}
	return context.WithValue(ctx, callerKey{}, caller{requestID: id, authorization: r.Header.Get("Authorization"), apiKey: r.Header.Get(apiKeyHeader)})
}

// apiKeyHeader carries an API key (the other way to send one is `Authorization: ApiKey ...`).
const apiKeyHeader = "X-API-Key"

// forwardCaller sets the caller's X-Request-ID, Authorization and X-API-Key, when it sent them, on
// an upstream request.
func forwardCaller(ctx context.Context, req *http.Request) error {
	c, _ := ctx.Value(callerKey{}).(caller)
	if c.requestID != "" {
		req.Header.Set(httpserver.RequestIDHeader, c.requestID)
	}
	if c.authorization != "" {
		req.Header.Set("Authorization", c.authorization)
	}
	if c.apiKey != "" {
		req.Header.Set(apiKeyHeader, c.apiKey)
	}
	return nil
}
