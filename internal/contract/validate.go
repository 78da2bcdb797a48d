package contract

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/mediamesh/mediamesh/internal/apierror"
	"github.com/mediamesh/mediamesh/internal/humantext"
)

// Body size limits: JSON bodies are small (MaxJSONBody, also the limit of GraphQL requests);
// multipart uploads carry media files.
const (
	MaxJSONBody      = 1 << 20
	maxMultipartBody = 26 << 20
)

// NDJSON is the media type of newline-delimited JSON bodies (bulk imports).
const NDJSON = "application/x-ndjson"

// validate checks r against the contract, buffering the body so the upstream can read it again.
// An NDJSON body of an operation that declares one is not buffered or validated here: it streams
// to the service, which limits its size and checks every line on its own, so that a bad line
// fails alone (see cms importContent).
func validate(r *http.Request, route *routers.Route, params map[string]string) error {
	streamed := streamsNDJSON(r, route)
	if r.Body != nil && r.Body != http.NoBody && !streamed {
		limit := int64(MaxJSONBody)
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
		if isJSON(r.Header.Get("Content-Type")) && len(bytes.TrimSpace(body)) > 0 {
			if err := strictJSON(body); err != nil {
				return err
			}
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
			ExcludeRequestBody:                streamed,
		},
	}
	err := openapi3filter.ValidateRequest(context.WithoutCancel(r.Context()), in)
	if err == nil {
		return nil
	}
	return requestProblem(err)
}

// streamsNDJSON reports whether r sends an NDJSON body to an operation that declares one.
func streamsNDJSON(r *http.Request, route *routers.Route) bool {
	if route == nil || route.Operation == nil || route.Operation.RequestBody == nil || route.Operation.RequestBody.Value == nil {
		return false
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == NDJSON && route.Operation.RequestBody.Value.Content.Get(NDJSON) != nil
}

// SchemaErrors checks v, a value as encoding/json decodes into any (with UseNumber or not), against
// the schema s of a loaded contract, and names every field at fault as a request validation would
// (the keyword as the code, the human-text rule worded as the services word it). It is for bodies
// that are checked piece by piece, such as the lines of an NDJSON import.
func SchemaErrors(s *openapi3.Schema, v any) []apierror.FieldError {
	registerFormats()
	err := s.VisitJSON(v, openapi3.MultiErrors())
	if err == nil {
		return nil
	}
	var errs []error
	var me openapi3.MultiError
	if errors.As(err, &me) {
		errs = me
	} else {
		errs = []error{err}
	}
	fields := make([]apierror.FieldError, 0, len(errs))
	for _, e := range errs {
		var se *openapi3.SchemaError
		if !errors.As(e, &se) {
			fields = append(fields, apierror.FieldError{Field: "body", Message: e.Error(), Code: "invalid"})
			continue
		}
		path := se.JSONPointer()
		if m := unsupportedRE.FindStringSubmatch(se.Reason); m != nil {
			path = append(path, m[1])
		}
		fields = append(fields, schemaFieldError(fieldPath(path), se))
	}
	return fields
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
						fields = append(fields, schemaFieldError(field, se))
					}
					return
				}
				if e.Err == nil {
					fields = append(fields, apierror.FieldError{Field: field, Message: e.Reason, Code: "invalid"})
					return
				}
				fields = append(fields, schemaFieldError(field, e.Err))
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
			*fields = append(*fields, schemaFieldError(fieldPath(path), se))
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

// schemaFieldError is the error of field for a failed schema check: the keyword that failed as the
// code (maxLength, required, enum, ...) and kin-openapi's reason as the message. A wrapper that
// failed because one of its allOf parts did (a field that adds its maxLength to a shared schema) is
// reported as that part's failure. A value that breaks one of the shared text patterns (HumanText,
// HumanTextBlock, Tag) is reported as the services report it (internal/humantext), not with the
// pattern quoted back.
func schemaFieldError(field string, err error) apierror.FieldError {
	var se *openapi3.SchemaError
	if !errors.As(err, &se) {
		return apierror.FieldError{Field: field, Message: err.Error(), Code: "invalid"}
	}
	for se.SchemaField == "allOf" {
		var part *openapi3.SchemaError
		if !errors.As(se.Origin, &part) {
			break
		}
		se = part
	}
	if se.SchemaField == "pattern" && se.Schema != nil {
		if fe, ok := humantext.ProblemOf(field, se.Schema.Pattern, se.Value); ok {
			return fe
		}
	}
	code := se.SchemaField
	if code == "" {
		code = "invalid"
	}
	return apierror.FieldError{Field: field, Message: se.Reason, Code: code}
}

var formatsOnce sync.Once

// registerFormats makes kin-openapi check the string formats the contracts use.
func registerFormats() {
	formatsOnce.Do(func() {
		// Any UUID version: ids are UUIDv7, which the RFC 4122 pattern of kin-openapi rejects.
		openapi3.DefineStringFormatValidator("uuid", openapi3.NewRegexpFormatValidator(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`))
		openapi3.DefineStringFormatValidator("email", openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringForEmail))
		// An absolute URI (RFC 3986): a scheme, then the rest; no spaces or control characters.
		openapi3.DefineStringFormatValidator("uri", openapi3.NewCallbackValidator(func(v string) error {
			u, err := url.Parse(v)
			if err != nil || u.Scheme == "" || strings.ContainsFunc(v, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
				return errors.New("not an absolute URI")
			}
			return nil
		}))
	})
}
