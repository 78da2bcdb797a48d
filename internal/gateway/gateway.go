// Package gateway is the generic policy gateway: it routes each request to its operation in a bundled
// contract, authenticates and authorizes it from the operation's x-roles, validates it against the
// contract, and forwards it to the service that owns the operation (x-service), in process or over HTTP.
package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/mediamesh/mediamesh/internal/apierror"
	"github.com/mediamesh/mediamesh/internal/authn"
	"github.com/mediamesh/mediamesh/internal/docsui"
	"github.com/mediamesh/mediamesh/internal/policy"
	"github.com/mediamesh/mediamesh/internal/ratelimit"
)

// Body size limits: JSON bodies are small; multipart uploads carry media files.
const (
	maxJSONBody      = 1 << 20
	maxMultipartBody = 26 << 20
)

// Config configures a gateway.
type Config struct {
	Name      string
	Spec      []byte                  // the bundled OpenAPI document (JSON)
	Upstreams map[string]http.Handler // by service name (x-service)
	Verifier  authn.Verifier          // nil: secured operations answer 401
	Limiter   ratelimit.Limiter       // enforces x-rate-limit; nil: no limits
	Log       *slog.Logger
}

// Gateway is an http.Handler for the API paths of one bundled contract.
type Gateway struct {
	cfg    Config
	doc    *openapi3.T
	router *router
	ops    policy.Table
}

// New loads and checks the contract. Every operation must name a service that has an upstream.
func New(cfg Config) (*Gateway, error) {
	registerFormats()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(cfg.Spec)
	if err != nil {
		return nil, fmt.Errorf("gateway %s: load contract: %w", cfg.Name, err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("gateway %s: invalid contract: %w", cfg.Name, err)
	}
	ops, err := policy.FromDoc(doc)
	if err != nil {
		return nil, fmt.Errorf("gateway %s: %w", cfg.Name, err)
	}
	for _, id := range ops.IDs() {
		if _, ok := cfg.Upstreams[ops[id].Service]; !ok {
			return nil, fmt.Errorf("gateway %s: operation %s: no upstream for service %q", cfg.Name, id, ops[id].Service)
		}
	}
	return &Gateway{cfg: cfg, doc: doc, router: newRouter(doc), ops: ops}, nil
}

// Operations returns the policy table of the contract.
func (g *Gateway) Operations() policy.Table { return g.ops }

func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	route, params, allow := g.router.find(r)
	if route == nil {
		if allow != nil {
			apierror.Write(w, r, apierror.MethodNotAllowed(allow))
			return
		}
		apierror.Write(w, r, apierror.NotFound("no operation at this path"))
		return
	}
	op := g.ops[route.Operation.OperationID]
	p, err := authn.Authorize(g.cfg.Verifier, op, r)
	if err != nil {
		apierror.Write(w, r, err)
		return
	}
	if p != nil {
		r = r.WithContext(authn.WithPrincipal(r.Context(), p))
	}
	if err := g.rateLimit(w, r, op, p); err != nil {
		apierror.Write(w, r, err)
		return
	}
	if err := g.validate(r, route, params); err != nil {
		apierror.Write(w, r, err)
		return
	}
	g.cfg.Upstreams[op.Service].ServeHTTP(w, r)
}

// rateLimit applies the operation's x-rate-limit, per user when the policy says so and the caller is
// known, else per client IP, and sets the RateLimit-* headers.
func (g *Gateway) rateLimit(w http.ResponseWriter, r *http.Request, op *policy.Operation, p *authn.Principal) error {
	if g.cfg.Limiter == nil || op.RateLimit == nil {
		return nil
	}
	lim, err := ratelimit.FromPolicy(op.RateLimit)
	if err != nil {
		return err
	}
	key := "ip:" + ratelimit.ClientIP(r, nil)
	if op.RateLimit.Key == "user" && p != nil {
		key = "user:" + p.Subject
	}
	res, err := g.cfg.Limiter.Allow(r.Context(), "gw:"+op.ID+":"+key, lim)
	if err != nil {
		return err
	}
	ratelimit.Headers(w.Header(), res)
	if !res.Allowed {
		return apierror.TooManyRequests(res.RetryAfter).WithDetail("rate limit of %s exceeded", lim)
	}
	return nil
}

// validate checks r against the contract, buffering the body so the upstream can read it again.
func (g *Gateway) validate(r *http.Request, route *routers.Route, params map[string]string) error {
	if r.Body != nil && r.Body != http.NoBody {
		limit := int64(maxJSONBody)
		if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/") {
			limit = maxMultipartBody
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
		if err != nil {
			return apierror.BadRequest("could not read the request body")
		}
		if int64(len(body)) > limit {
			return apierror.PayloadTooLarge(fmt.Sprintf("the request body is larger than %d bytes", limit))
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
	}
	in := &openapi3filter.RequestValidationInput{
		Request:    r,
		PathParams: params,
		Route:      route,
		Options: &openapi3filter.Options{
			AuthenticationFunc:                openapi3filter.NoopAuthenticationFunc, // authn.Authorize decided
			MultiError:                        true,
			SkipSettingDefaults:               true, // forward the request as the client sent it
			RejectWhenRequestBodyNotSpecified: true,
		},
	}
	err := openapi3filter.ValidateRequest(context.WithoutCancel(r.Context()), in)
	if err == nil {
		return nil
	}
	return requestProblem(err)
}

// requestProblem turns kin-openapi validation errors into a Problem naming every field at fault:
// 400 for parameters and unparsable bodies, 415 for an unexpected content type, 422 for a body that
// parses but breaks the schema.
func requestProblem(err error) *apierror.Error {
	var fields []apierror.FieldError
	status := http.StatusUnprocessableEntity
	var walk func(error)
	walk = func(err error) {
		switch e := err.(type) {
		case openapi3.MultiError:
			for _, sub := range e {
				walk(sub)
			}
		case *openapi3filter.RequestError:
			switch {
			case e.Parameter != nil:
				status = http.StatusBadRequest
				field := e.Parameter.In + "." + e.Parameter.Name
				if sub, ok := e.Err.(openapi3.MultiError); ok {
					for _, se := range sub {
						fields = append(fields, apierror.FieldError{Field: field, Message: schemaMessage(se), Code: schemaCode(se)})
					}
					return
				}
				msg := e.Reason
				if e.Err != nil {
					msg = schemaMessage(e.Err)
				}
				fields = append(fields, apierror.FieldError{Field: field, Message: msg, Code: schemaCode(e.Err)})
			case e.RequestBody != nil:
				bodyFields(e, &fields, &status)
			default:
				status = http.StatusBadRequest
				fields = append(fields, apierror.FieldError{Field: "request", Message: e.Error(), Code: "invalid"})
			}
		default:
			status = http.StatusBadRequest
			fields = append(fields, apierror.FieldError{Field: "request", Message: err.Error(), Code: "invalid"})
		}
	}
	walk(err)
	detail := "the request does not match the contract"
	if len(fields) > 0 {
		detail = fields[0].Field + ": " + fields[0].Message
	}
	if status == http.StatusBadRequest {
		return apierror.BadRequest(detail, fields...)
	}
	if status == http.StatusUnsupportedMediaType {
		return apierror.UnsupportedMediaType(detail, fields...)
	}
	return apierror.Validation(detail, fields...)
}

func bodyFields(re *openapi3filter.RequestError, fields *[]apierror.FieldError, status *int) {
	var pe *openapi3filter.ParseError
	if errors.As(re.Err, &pe) {
		if *status != http.StatusUnsupportedMediaType {
			*status = http.StatusBadRequest
		}
		*fields = append(*fields, apierror.FieldError{Field: "body", Message: "the body is not valid: " + pe.Error(), Code: "malformed"})
		return
	}
	if re.Err == nil {
		reason := re.Reason
		if strings.Contains(reason, "Content-Type") || strings.Contains(reason, "content type") {
			*status = http.StatusUnsupportedMediaType
			*fields = append(*fields, apierror.FieldError{Field: "header.Content-Type", Message: reason, Code: "unsupported"})
			return
		}
		if *status != http.StatusUnsupportedMediaType {
			*status = http.StatusBadRequest
		}
		*fields = append(*fields, apierror.FieldError{Field: "body", Message: reason, Code: "invalid"})
		return
	}
	var errs []error
	var me openapi3.MultiError
	if errors.As(re.Err, &me) {
		errs = me
	} else {
		errs = []error{re.Err}
	}
	for _, e := range errs {
		var se *openapi3.SchemaError
		if errors.As(e, &se) {
			path := se.JSONPointer()
			if m := unsupportedRE.FindStringSubmatch(se.Reason); m != nil {
				path = append(path, m[1]) // name the unknown property itself
			}
			*fields = append(*fields, apierror.FieldError{Field: fieldPath(path), Message: se.Reason, Code: schemaCode(se)})
			continue
		}
		if strings.Contains(e.Error(), "Content-Type") || strings.Contains(e.Error(), "content type") {
			*status = http.StatusUnsupportedMediaType
			*fields = append(*fields, apierror.FieldError{Field: "header.Content-Type", Message: e.Error(), Code: "unsupported"})
			continue
		}
		*status = http.StatusBadRequest
		*fields = append(*fields, apierror.FieldError{Field: "body", Message: e.Error(), Code: "malformed"})
	}
}

var unsupportedRE = regexp.MustCompile(`^property "(.+)" is unsupported$`)

func fieldPath(ptr []string) string {
	if len(ptr) == 0 {
		return "body"
	}
	return strings.Join(ptr, ".")
}

func schemaMessage(err error) string {
	var se *openapi3.SchemaError
	if errors.As(err, &se) {
		return se.Reason
	}
	if err == nil {
		return "invalid"
	}
	return err.Error()
}

// schemaCode names the JSON-schema keyword that failed, e.g. maxLength, required, enum.
func schemaCode(err error) string {
	var se *openapi3.SchemaError
	if errors.As(err, &se) && se.SchemaField != "" {
		return se.SchemaField
	}
	return "invalid"
}

// Mux serves the gateway's API paths plus its contract at /openapi.json and Swagger UI at /docs.
// Callers add further routes (e.g. /graphql) to the returned mux.
func Mux(gw *Gateway, spec []byte, title string) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=60")
		_, _ = w.Write(spec)
	})
	ui := docsui.Handler("/docs", title, "/openapi.json")
	mux.Handle("GET /docs", ui)
	mux.Handle("GET /docs/", ui)
	mux.Handle("/", gw)
	return mux
}

var formatsOnce sync.Once

// registerFormats makes kin-openapi check the string formats the contracts use.
func registerFormats() {
	formatsOnce.Do(func() {
		// Any UUID version: ids are UUIDv7, which the RFC 4122 pattern of kin-openapi rejects.
		openapi3.DefineStringFormatValidator("uuid", openapi3.NewRegexpFormatValidator(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`))
		openapi3.DefineStringFormatValidator("email", openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringForEmail))
	})
}
