package public

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/mediamesh/mediamesh/gen/openapi/commonapi"
)

// The extensions.code values of the errors the resolvers report. gqlgen adds its own
// (GRAPHQL_PARSE_FAILED, GRAPHQL_VALIDATION_FAILED, COMPLEXITY_LIMIT_EXCEEDED,
// PERSISTED_QUERY_NOT_FOUND) and the depth limit DEPTH_LIMIT_EXCEEDED.
const (
	codeBadUserInput    = "BAD_USER_INPUT"  // REST 400 or 422: extensions.field names the argument
	codeNotFound        = "NOT_FOUND"       // a non-null item that vanished (REST 404)
	codeUnauthenticated = "UNAUTHENTICATED" // REST 401: the field needs a signed-in caller
	codeForbidden       = "FORBIDDEN"       // REST 403: the caller may not use the field
	codeRateLimited     = "RATE_LIMITED"    // REST 429; extensions.retryAfter in seconds
	codeUnavailable     = "UNAVAILABLE"     // the service is down or refused by its breaker (REST 502-504)
	codeNotImplemented  = "NOT_IMPLEMENTED" // REST 501: the operation is in the contract, not yet served
	codeInternal        = "INTERNAL"        // a fault of the gateway or a service; never the client's doing
)

// apiError is a classified resolver error. Resolvers may share one (a batch's failure), so it is
// never changed; presentError copies it into each GraphQL error.
type apiError struct {
	code       string
	message    string
	field      string // BAD_USER_INPUT: the argument at fault, as a path such as filter.kind
	retryAfter int    // RATE_LIMITED, UNAVAILABLE: seconds, when the service said
}

func (e *apiError) Error() string { return e.message }

// badInput reports a bad value of the argument field.
func badInput(field, message string) *apiError {
	return &apiError{code: codeBadUserInput, message: field + ": " + message, field: field}
}

// presentError gives each error its message and extensions: an apiError's code, and for
// anything unclassified that reaches it (gqlgen's own argument coercion, which rejects a value
// the schema's scalar does not accept) BAD_USER_INPUT.
func presentError(ctx context.Context, err error) *gqlerror.Error {
	gqlErr := graphql.DefaultErrorPresenter(ctx, err)
	if e, ok := errors.AsType[*apiError](err); ok {
		gqlErr.Message = e.message
		ext := map[string]any{"code": e.code}
		if e.field != "" {
			ext["field"] = e.field
		}
		if e.retryAfter > 0 {
			ext["retryAfter"] = e.retryAfter
		}
		gqlErr.Extensions = ext
		return gqlErr
	}
	if _, ok := gqlErr.Extensions["code"]; !ok {
		if gqlErr.Extensions == nil {
			gqlErr.Extensions = map[string]any{}
		}
		gqlErr.Extensions["code"] = codeBadUserInput
	}
	return gqlErr
}

// argNames maps the REST fields of an operation's problems (query.limit) to the GraphQL
// arguments they come from (first).
type argNames map[string]string

// pageArgs are the pagination parameters every connection maps.
var pageArgs = argNames{"query.limit": "first", "query.cursor": "after"}

// with returns the names of pageArgs plus more.
func (a argNames) with(more argNames) argNames {
	out := make(argNames, len(a)+len(more))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range more {
		out[k] = v
	}
	return out
}

// failure classifies a response of service that is not the success the caller expected: the
// REST status becomes the GraphQL code, and a problem's field errors name the arguments.
func failure(ctx context.Context, log *slog.Logger, service string, res *http.Response, body []byte, args argNames) *apiError {
	var p commonapi.Problem
	_ = json.Unmarshal(body, &p) // a body that is no problem leaves the status alone to speak
	detail := p.Title
	if p.Detail != nil && *p.Detail != "" {
		detail = *p.Detail
	}
	retryAfter, _ := strconv.Atoi(res.Header.Get("Retry-After"))
	switch res.StatusCode {
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
		return invalidArguments(p, args)
	case http.StatusUnauthorized:
		return &apiError{code: codeUnauthenticated, message: detail}
	case http.StatusForbidden:
		return &apiError{code: codeForbidden, message: detail}
	case http.StatusNotFound:
		return &apiError{code: codeNotFound, message: detail}
	case http.StatusTooManyRequests:
		return &apiError{code: codeRateLimited, message: "rate limit exceeded; retry later", retryAfter: retryAfter}
	case http.StatusNotImplemented:
		field := "field"
		if fc := graphql.GetFieldContext(ctx); fc != nil {
			field = fc.Field.Name
		}
		return &apiError{code: codeNotImplemented, message: field + " is part of the v1 schema but is not implemented in this release"}
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return &apiError{code: codeUnavailable, message: "the " + service + " service is unavailable; retry later", retryAfter: retryAfter}
	}
	log.ErrorContext(ctx, "upstream failed", "service", service, "status", res.StatusCode, "detail", detail)
	return &apiError{code: codeInternal, message: "the " + service + " service failed"}
}

// invalidArguments is the BAD_USER_INPUT error of a 400 or 422 problem, naming the argument of
// its first field error (all of them in the message).
func invalidArguments(p commonapi.Problem, args argNames) *apiError {
	e := &apiError{code: codeBadUserInput, message: "invalid arguments"}
	if p.Detail != nil && *p.Detail != "" {
		e.message = *p.Detail
	}
	if p.Errors == nil || len(*p.Errors) == 0 {
		return e
	}
	msgs := make([]string, len(*p.Errors))
	for i, fe := range *p.Errors {
		name, ok := args[fe.Field]
		if !ok {
			name = fe.Field
		}
		if i == 0 {
			e.field = name
		}
		msgs[i] = name + ": " + fe.Message
	}
	e.message = strings.Join(msgs, "; ")
	return e
}

// callFailed classifies an error of a client call. The upstream handlers answer every request
// (an unreachable service is a 503 from the reverse proxy), so the call itself fails only when the
// request was cancelled (UNAVAILABLE) or the answer could not be read, which is a fault (INTERNAL).
func callFailed(ctx context.Context, log *slog.Logger, service string, err error) *apiError {
	if ctx.Err() != nil {
		return &apiError{code: codeUnavailable, message: "the request was cancelled"}
	}
	log.ErrorContext(ctx, "upstream call failed", "service", service, "error", err)
	return &apiError{code: codeInternal, message: "the " + service + " service failed"}
}
