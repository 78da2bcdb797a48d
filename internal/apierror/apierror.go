// Package apierror is the one place that maps errors to HTTP: every handler, gateway and middleware
// returns or writes an *Error, and Write renders it as an RFC 7807 problem+json document.
package apierror

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ContentType is the media type of every error body.
const ContentType = "application/problem+json"

// typeBase prefixes the problem type URIs.
const typeBase = "https://mediamesh.dev/problems/"

// FieldError names one field at fault.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
	Code    string `json:"code,omitempty"`
}

// Error is an error that knows its HTTP rendering.
type Error struct {
	Status     int           `json:"status"`
	Type       string        `json:"type"`
	Title      string        `json:"title"`
	Detail     string        `json:"detail,omitempty"`
	Instance   string        `json:"instance,omitempty"`
	RequestID  string        `json:"request_id,omitempty"`
	Errors     []FieldError  `json:"errors,omitempty"`
	RetryAfter time.Duration `json:"-"`
	Allow      []string      `json:"-"`
	cause      error
}

func (e *Error) Error() string {
	if e.Detail != "" {
		return fmt.Sprintf("%d %s: %s", e.Status, e.Title, e.Detail)
	}
	return fmt.Sprintf("%d %s", e.Status, e.Title)
}

// Unwrap returns the underlying cause, if any.
func (e *Error) Unwrap() error { return e.cause }

// WithDetail returns a copy of e with the given detail.
func (e *Error) WithDetail(format string, args ...any) *Error {
	c := *e
	c.Detail = fmt.Sprintf(format, args...)
	return &c
}

func newError(status int, slug, title string) *Error {
	return &Error{Status: status, Type: typeBase + slug, Title: title}
}

// BadRequest is a malformed request: unparsable body, parameter of the wrong type.
func BadRequest(detail string, fields ...FieldError) *Error {
	e := newError(http.StatusBadRequest, "bad-request", "Bad request")
	e.Detail, e.Errors = detail, fields
	return e
}

// Validation is a well-formed request whose content breaks the contract or a business rule.
func Validation(detail string, fields ...FieldError) *Error {
	e := newError(http.StatusUnprocessableEntity, "validation", "Request validation failed")
	e.Detail, e.Errors = detail, fields
	return e
}

// UnsupportedMediaType means the body's Content-Type is not one the operation accepts.
func UnsupportedMediaType(detail string, fields ...FieldError) *Error {
	e := newError(http.StatusUnsupportedMediaType, "unsupported-media-type", "Unsupported media type")
	e.Detail, e.Errors = detail, fields
	return e
}

// PayloadTooLarge means the body exceeds the operation's size limit.
func PayloadTooLarge(detail string) *Error {
	e := newError(http.StatusRequestEntityTooLarge, "payload-too-large", "Payload too large")
	e.Detail = detail
	return e
}

// Unauthorized means the credentials are missing or invalid.
func Unauthorized(detail string) *Error {
	e := newError(http.StatusUnauthorized, "unauthorized", "Authentication required")
	e.Detail = detail
	return e
}

// Forbidden means the caller is known but lacks the role or ownership.
func Forbidden(detail string) *Error {
	e := newError(http.StatusForbidden, "forbidden", "Forbidden")
	e.Detail = detail
	return e
}

// NotFound means the resource does not exist (or is not visible to the caller).
func NotFound(detail string) *Error {
	e := newError(http.StatusNotFound, "not-found", "Not found")
	e.Detail = detail
	return e
}

// MethodNotAllowed lists the methods the path supports.
func MethodNotAllowed(allow []string) *Error {
	e := newError(http.StatusMethodNotAllowed, "method-not-allowed", "Method not allowed")
	e.Allow = allow
	return e
}

// Conflict means the request clashes with the current state.
func Conflict(detail string) *Error {
	e := newError(http.StatusConflict, "conflict", "Conflict")
	e.Detail = detail
	return e
}

// PreconditionFailed means an If-Match did not match.
func PreconditionFailed(detail string) *Error {
	e := newError(http.StatusPreconditionFailed, "precondition-failed", "Precondition failed")
	e.Detail = detail
	return e
}

// TooManyRequests carries the wait before a retry.
func TooManyRequests(retryAfter time.Duration) *Error {
	e := newError(http.StatusTooManyRequests, "rate-limited", "Too many requests")
	e.RetryAfter = retryAfter
	return e
}

// Unavailable means a dependency is down; the client may retry later.
func Unavailable(detail string, retryAfter time.Duration) *Error {
	e := newError(http.StatusServiceUnavailable, "unavailable", "Service unavailable")
	e.Detail, e.RetryAfter = detail, retryAfter
	return e
}

// Internal wraps an unexpected error; its cause is logged, never sent.
func Internal(cause error) *Error {
	e := newError(http.StatusInternalServerError, "internal", "Internal server error")
	e.cause = cause
	return e
}

// From converts any error into an *Error; unknown errors become 500.
func From(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return Internal(err)
}

// Write renders err as problem+json. instance and requestID fill the matching members.
func Write(w http.ResponseWriter, r *http.Request, err error) *Error {
	e := From(err)
	out := *e
	if r != nil {
		out.Instance = r.URL.Path
		out.RequestID = w.Header().Get("X-Request-ID")
	}
	h := w.Header()
	h.Set("Content-Type", ContentType)
	h.Set("Cache-Control", "no-store")
	if out.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(int((out.RetryAfter+time.Second-1)/time.Second)))
	}
	for _, m := range out.Allow {
		h.Add("Allow", m)
	}
	if out.Status == http.StatusUnauthorized { // RFC 6750 §3, as the contracts document it
		challenge := `Bearer realm="mediamesh"`
		if r != nil && strings.HasPrefix(strings.ToLower(r.Header.Get("Authorization")), "bearer ") {
			challenge += `, error="invalid_token"` // a token was sent and refused
		}
		h.Set("WWW-Authenticate", challenge)
	}
	w.WriteHeader(out.Status)
	if r == nil || r.Method != http.MethodHead {
		_ = json.NewEncoder(w).Encode(&out)
	}
	return e
}
