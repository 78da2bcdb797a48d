// Package fetch is the HTTP client ingest uses to read upstream documents (feeds, API answers,
// images) from URLs that users configure, so it defends against server-side request forgery:
//
//   - only http and https URLs are fetched;
//   - the address is checked when the connection is made (net.Dialer.Control sees the resolved IP
//     address), so a name that resolves to a public address when validated and to an internal one
//     when used (DNS rebinding) is still refused; every redirect hop opens its connections through
//     the same dialer and is checked again, and the redirect target's scheme is validated too;
//   - refused: loopback (unless Config.AllowLoopback), private, carrier-grade NAT, link-local
//     (including the 169.254.169.254 cloud metadata address), unspecified, multicast, broadcast,
//     reserved, documentation and benchmarking ranges, and the IPv4-mapped, NAT64 and 6to4 IPv6
//     forms of all of them;
//   - no proxy from the environment is used;
//   - the whole request, body included, has a deadline, and the body a size limit.
//
// Failures are *Error values with a stable Code, so a run can record a clear message.
package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultTimeout      = 30 * time.Second
	DefaultMaxBytes     = 20 << 20
	DefaultMaxRedirects = 5
	DefaultUserAgent    = "MediaMesh-Ingest/1.0 (+https://mediamesh.dev)"
)

// maxErrorBody is how much of a non-2xx answer's body Error.Body keeps.
const maxErrorBody = 64 << 10

// Config configures a Client. Zero fields take the defaults above.
type Config struct {
	// AllowLoopback permits 127.0.0.0/8 and ::1 (and nothing else that is otherwise refused).
	// Only tests set it, to reach httptest servers.
	AllowLoopback bool
	// Timeout bounds the whole request: connecting, redirects, headers and reading the body.
	// Default 30s.
	Timeout time.Duration
	// MaxBytes is the largest response body accepted. Default 20 MiB.
	MaxBytes int64
	// MaxRedirects is how many redirects one request follows. Default 5; negative follows none.
	MaxRedirects int
	// UserAgent is sent unless Request.Header sets one. Default DefaultUserAgent.
	UserAgent string
}

// Request is one GET.
type Request struct {
	// URL is the absolute http or https URL to fetch.
	URL string
	// ETag and LastModified are the validators of the copy the caller already has, sent as
	// If-None-Match and If-Modified-Since. Both empty: the request is unconditional.
	ETag, LastModified string
	// Header holds extra request headers (for example Accept); nil for none.
	Header http.Header
}

// Response is a successful answer: a 2xx with its body, or a 304 to a conditional request.
type Response struct {
	// Status is the HTTP status code.
	Status int
	// Body is the whole response body (empty when NotModified), at most Config.MaxBytes.
	Body []byte
	// ETag and LastModified are the answer's validators, to send in the next Request. A 304 that
	// omits them keeps the request's.
	ETag, LastModified string
	// ContentType is the Content-Type header as sent.
	ContentType string
	// NotModified is true when a conditional request was answered 304: the caller's copy is current.
	NotModified bool
	// FinalURL is the URL of the last request, after redirects.
	FinalURL string
}

// Error codes of *Error.
const (
	// CodeBlockedAddress: the URL's host is, or resolves to, an address the fetcher must not reach.
	CodeBlockedAddress = "blocked_address"
	// CodeBadURL: not an absolute http or https URL (also for a redirect to one).
	CodeBadURL = "bad_url"
	// CodeTooLarge: the body is larger than Config.MaxBytes.
	CodeTooLarge = "too_large"
	// CodeTimeout: no complete answer within Config.Timeout (or the caller's deadline).
	CodeTimeout = "timeout"
	// CodeHTTPStatus: the upstream answered with a status other than 2xx (or an unexpected 304).
	CodeHTTPStatus = "http_status"
	// CodeTooManyRedirects: more than Config.MaxRedirects redirects.
	CodeTooManyRedirects = "too_many_redirects"
	// CodeNetwork: name resolution, connection, TLS or protocol failure.
	CodeNetwork = "network"
	// CodeCanceled: the caller's context was canceled.
	CodeCanceled = "canceled"
)

// Error is why a Get failed. Its message never contains the request URL (which may carry an API
// key), so it can be recorded as it is.
type Error struct {
	// Code is one of the Code constants.
	Code string
	// Status is the HTTP status of the answer, when there was one (always for CodeHTTPStatus).
	Status int
	// Msg is a human-readable explanation.
	Msg string
	// Body is the start (at most 64 KiB) of a non-2xx answer's body, for example an API's JSON
	// error; nil for other codes.
	Body []byte
	// Err is the underlying error, if any.
	Err error
}

// Error returns the message.
func (e *Error) Error() string { return e.Msg }

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Client fetches URLs under the SSRF rules of the package. It is safe for concurrent use.
type Client struct {
	cfg    Config
	policy addressPolicy
	dialer *net.Dialer
	hc     *http.Client
	// lookup, when set, resolves host names instead of the system resolver. Tests set it to map
	// names to addresses without DNS; the connection-time check applies to its answers as well.
	lookup func(ctx context.Context, host string) ([]netip.Addr, error)
}

// New returns a Client for cfg, with defaults for its zero fields.
func New(cfg Config) *Client {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	switch {
	case cfg.MaxRedirects == 0:
		cfg.MaxRedirects = DefaultMaxRedirects
	case cfg.MaxRedirects < 0:
		cfg.MaxRedirects = 0
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = DefaultUserAgent
	}
	c := &Client{cfg: cfg, policy: addressPolicy{allowLoopback: cfg.AllowLoopback}}
	c.dialer = &net.Dialer{
		Timeout:   10 * time.Second,
		KeepAlive: 30 * time.Second,
		Control:   c.control,
	}
	transport := &http.Transport{
		Proxy:                  nil,
		DialContext:            c.dialContext,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           32,
		MaxIdleConnsPerHost:    4,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    10 * time.Second,
		ExpectContinueTimeout:  time.Second,
		ResponseHeaderTimeout:  cfg.Timeout,
		MaxResponseHeaderBytes: 1 << 20,
	}
	c.hc = &http.Client{Transport: transport, CheckRedirect: c.checkRedirect}
	return c
}

// control runs for every connection after the address is resolved and before connecting.
func (c *Client) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &Error{Code: CodeBlockedAddress, Msg: fmt.Sprintf("refusing to connect to %q: not an IP address", address)}
	}
	if reason := c.policy.check(ap.Addr()); reason != "" {
		return blockedError(ap.Addr(), reason)
	}
	return nil
}

func blockedError(a netip.Addr, reason string) *Error {
	return &Error{Code: CodeBlockedAddress, Msg: fmt.Sprintf("refusing to connect to %s: %s", a, reason)}
}

// dialContext dials through the checking dialer, resolving with the test lookup when it is set.
func (c *Client) dialContext(ctx context.Context, network, address string) (net.Conn, error) {
	if c.lookup == nil {
		return c.dialer.DialContext(ctx, network, address)
	}
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return c.dialer.DialContext(ctx, network, address)
	}
	addrs, err := c.lookup(ctx, host)
	if err != nil {
		return nil, &net.DNSError{Err: err.Error(), Name: host}
	}
	if len(addrs) == 0 {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	var first error
	for _, a := range addrs {
		conn, err := c.dialer.DialContext(ctx, network, net.JoinHostPort(a.String(), port))
		if err == nil {
			return conn, nil
		}
		if first == nil {
			first = err
		}
	}
	return nil, first
}

// checkURL accepts absolute http(s) URLs whose host, when it is an IP literal, may be reached.
// Host names are checked when connecting.
func (c *Client) checkURL(u *url.URL) error {
	if u.Scheme != "http" && u.Scheme != "https" {
		if u.Scheme == "" {
			return &Error{Code: CodeBadURL, Msg: "not an absolute URL"}
		}
		return &Error{Code: CodeBadURL, Msg: fmt.Sprintf("unsupported URL scheme %q (only http and https)", u.Scheme)}
	}
	host := u.Hostname()
	if host == "" {
		return &Error{Code: CodeBadURL, Msg: "URL has no host"}
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if reason := c.policy.check(a); reason != "" {
			return blockedError(a, reason)
		}
	}
	return nil
}

// checkRedirect validates each redirect target before it is requested.
func (c *Client) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > c.cfg.MaxRedirects {
		return &Error{Code: CodeTooManyRedirects, Msg: fmt.Sprintf("more than %d redirects", c.cfg.MaxRedirects)}
	}
	if err := c.checkURL(req.URL); err != nil {
		e := err.(*Error)
		return &Error{Code: e.Code, Msg: "redirect refused: " + e.Msg}
	}
	return nil
}

// Get fetches r.URL. It returns an *Error for every failure.
func (c *Client) Get(ctx context.Context, r Request) (*Response, error) {
	u, err := url.Parse(r.URL)
	if err != nil {
		return nil, &Error{Code: CodeBadURL, Msg: "malformed URL", Err: unwrapURLError(err)}
	}
	if err := c.checkURL(u); err != nil {
		return nil, err
	}
	reqCtx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(reqCtx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, &Error{Code: CodeBadURL, Msg: "malformed URL", Err: unwrapURLError(err)}
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", c.cfg.UserAgent)
	}
	conditional := r.ETag != "" || r.LastModified != ""
	if r.ETag != "" {
		req.Header.Set("If-None-Match", r.ETag)
	}
	if r.LastModified != "" {
		req.Header.Set("If-Modified-Since", r.LastModified)
	}

	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, c.classify(ctx, reqCtx, err, 0)
	}
	defer resp.Body.Close()

	out := &Response{
		Status:       resp.StatusCode,
		ETag:         resp.Header.Get("ETag"),
		LastModified: resp.Header.Get("Last-Modified"),
		ContentType:  resp.Header.Get("Content-Type"),
		FinalURL:     resp.Request.URL.String(),
	}
	if resp.StatusCode == http.StatusNotModified && conditional {
		out.NotModified = true
		if out.ETag == "" {
			out.ETag = r.ETag
		}
		if out.LastModified == "" {
			out.LastModified = r.LastModified
		}
		return out, nil
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		return nil, &Error{
			Code:   CodeHTTPStatus,
			Status: resp.StatusCode,
			Msg:    "upstream answered HTTP " + statusText(resp),
			Body:   body,
		}
	}
	if resp.ContentLength > c.cfg.MaxBytes {
		return nil, c.tooLarge(resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.cfg.MaxBytes+1))
	if err != nil {
		return nil, c.classify(ctx, reqCtx, err, resp.StatusCode)
	}
	if int64(len(body)) > c.cfg.MaxBytes {
		return nil, c.tooLarge(resp.StatusCode)
	}
	out.Body = body
	return out, nil
}

func (c *Client) tooLarge(status int) *Error {
	return &Error{Code: CodeTooLarge, Status: status, Msg: fmt.Sprintf("response body larger than %d bytes", c.cfg.MaxBytes)}
}

func statusText(resp *http.Response) string {
	if resp.Status != "" {
		return resp.Status
	}
	return fmt.Sprintf("%d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
}

// classify turns a transport or body error into an *Error. parent is the caller's context, reqCtx
// the one bounded by Config.Timeout.
func (c *Client) classify(parent, reqCtx context.Context, err error, status int) *Error {
	var fe *Error
	if errors.As(err, &fe) {
		out := *fe
		if out.Status == 0 {
			out.Status = status
		}
		if out.Err == nil && fe.Code == CodeBlockedAddress {
			out.Err = unwrapURLError(err)
		}
		return &out
	}
	inner := unwrapURLError(err)
	switch {
	case errors.Is(parent.Err(), context.Canceled):
		return &Error{Code: CodeCanceled, Status: status, Msg: "request canceled", Err: inner}
	case parent.Err() != nil:
		return &Error{Code: CodeTimeout, Status: status, Msg: "no complete answer before the deadline", Err: inner}
	case reqCtx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return &Error{Code: CodeTimeout, Status: status, Msg: fmt.Sprintf("no complete answer within %s", c.cfg.Timeout), Err: inner}
	}
	return &Error{Code: CodeNetwork, Status: status, Msg: "network error: " + networkMessage(inner), Err: inner}
}

// networkMessage describes a network failure without what it says of this side of the network: a
// failed name lookup names the host, not the resolver that was asked.
func networkMessage(err error) string {
	var dns *net.DNSError
	if errors.As(err, &dns) {
		why := "no such host"
		switch {
		case dns.IsTimeout:
			why = "the lookup timed out"
		case dns.IsTemporary:
			why = "the lookup failed for now"
		case !dns.IsNotFound:
			why = "the lookup failed"
		}
		return fmt.Sprintf("could not resolve %s: %s", dns.Name, why)
	}
	return err.Error()
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// unwrapURLError drops the *url.Error layer, whose message repeats the URL.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// refusalLookupTimeout bounds the name lookup of Refusal.
const refusalLookupTimeout = 2 * time.Second

// Refusal reports why the fetcher would refuse to connect to the host of rawURL: an address it
// never connects to, written as an IP or a name that resolves to one (localhost, say). It returns
// "" when the fetcher may connect, and when it cannot tell now: a URL that does not parse is
// judged by the caller's own checks, and a name that does not resolve at the moment is judged
// again when it is fetched.
func (c *Client) Refusal(ctx context.Context, rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.Hostname() == "" {
		return ""
	}
	host := u.Hostname()
	if a, err := netip.ParseAddr(host); err == nil {
		return c.policy.check(a)
	}
	ctx, cancel := context.WithTimeout(ctx, refusalLookupTimeout)
	defer cancel()
	var addrs []netip.Addr
	if c.lookup != nil {
		addrs, err = c.lookup(ctx, host)
	} else {
		addrs, err = net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	}
	if err != nil {
		return ""
	}
	for _, a := range addrs {
		if reason := c.policy.check(a); reason != "" {
			return reason
		}
	}
	return ""
}
