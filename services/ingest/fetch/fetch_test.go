package fetch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// newWithLookup returns a Client that resolves host names with hosts instead of DNS; a name that
// is not in hosts does not resolve.
func newWithLookup(cfg Config, hosts map[string]string) *Client {
	c := New(cfg)
	c.lookup = func(_ context.Context, host string) ([]netip.Addr, error) {
		ip, ok := hosts[host]
		if !ok {
			return nil, errors.New("no such host")
		}
		return []netip.Addr{netip.MustParseAddr(ip)}, nil
	}
	return c
}

// counting serves h and counts the requests that reached it.
func counting(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func port(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Port()
}

func wantCode(t *testing.T, err error, code string) *Error {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s", code)
	}
	var fe *Error
	if !errors.As(err, &fe) {
		t.Fatalf("error %v (%T) is not a *fetch.Error", err, err)
	}
	if fe.Code != code {
		t.Fatalf("code = %q (%s), want %q", fe.Code, fe.Msg, code)
	}
	return fe
}

func TestGetOK(t *testing.T) {
	srv, _ := counting(t, func(w http.ResponseWriter, r *http.Request) {
		if got := r.Header.Get("User-Agent"); got != DefaultUserAgent {
			t.Errorf("User-Agent = %q", got)
		}
		if got := r.Header.Get("Accept"); got != "application/rss+xml" {
			t.Errorf("Accept = %q", got)
		}
		if r.Header.Get("If-None-Match") != "" || r.Header.Get("If-Modified-Since") != "" {
			t.Errorf("unconditional request sent validators")
		}
		w.Header().Set("Content-Type", "application/rss+xml; charset=utf-8")
		w.Header().Set("ETag", `"v1"`)
		w.Header().Set("Last-Modified", "Mon, 02 Jun 2025 10:00:00 GMT")
		fmt.Fprint(w, "<rss/>")
	})
	c := New(Config{AllowLoopback: true})
	resp, err := c.Get(context.Background(), Request{URL: srv.URL + "/feed.xml", Header: http.Header{"Accept": {"application/rss+xml"}}})
	if err != nil {
		t.Fatal(err)
	}
	want := Response{
		Status:       200,
		Body:         []byte("<rss/>"),
		ETag:         `"v1"`,
		LastModified: "Mon, 02 Jun 2025 10:00:00 GMT",
		ContentType:  "application/rss+xml; charset=utf-8",
		FinalURL:     srv.URL + "/feed.xml",
	}
	if resp.Status != want.Status || !bytes.Equal(resp.Body, want.Body) || resp.ETag != want.ETag ||
		resp.LastModified != want.LastModified || resp.ContentType != want.ContentType ||
		resp.NotModified || resp.FinalURL != want.FinalURL {
		t.Fatalf("got %+v, want %+v", *resp, want)
	}
}

func TestDefaults(t *testing.T) {
	c := New(Config{})
	if c.cfg.Timeout != 30*time.Second || c.cfg.MaxBytes != 20<<20 || c.cfg.MaxRedirects != 5 ||
		c.cfg.UserAgent != "MediaMesh-Ingest/1.0 (+https://mediamesh.dev)" || c.cfg.AllowLoopback {
		t.Fatalf("defaults = %+v", c.cfg)
	}
	tr := c.hc.Transport.(*http.Transport)
	if tr.Proxy != nil {
		t.Fatal("the transport uses a proxy")
	}
	if New(Config{MaxRedirects: -1}).cfg.MaxRedirects != 0 {
		t.Fatal("negative MaxRedirects does not mean none")
	}
}

func TestProxyFromEnvironmentIgnored(t *testing.T) {
	var proxied atomic.Int64
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxied.Add(1)
		w.WriteHeader(http.StatusBadGateway)
	}))
	defer proxy.Close()
	t.Setenv("HTTP_PROXY", proxy.URL)
	t.Setenv("http_proxy", proxy.URL)
	t.Setenv("NO_PROXY", "")
	t.Setenv("no_proxy", "")
	srv, _ := counting(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "direct") })
	// A name, not 127.0.0.1: the standard library never proxies loopback literals anyway.
	c := newWithLookup(Config{AllowLoopback: true}, map[string]string{"feeds.test": "127.0.0.1"})
	resp, err := c.Get(context.Background(), Request{URL: "http://feeds.test:" + port(t, srv) + "/"})
	if err != nil {
		t.Fatal(err)
	}
	if string(resp.Body) != "direct" || proxied.Load() != 0 {
		t.Fatalf("body %q, proxy saw %d requests", resp.Body, proxied.Load())
	}
}

func TestConditional(t *testing.T) {
	const etag = `"abc123"`
	const lastMod = "Tue, 03 Jun 2025 08:30:00 GMT"
	srv, _ := counting(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-None-Match") == etag || r.Header.Get("If-Modified-Since") == lastMod {
			if r.URL.Path == "/bare" {
				w.WriteHeader(http.StatusNotModified)
				return
			}
			w.Header().Set("ETag", etag)
			w.Header().Set("Last-Modified", lastMod)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", etag)
		w.Header().Set("Last-Modified", lastMod)
		fmt.Fprint(w, "fresh")
	})
	c := New(Config{AllowLoopback: true})
	ctx := context.Background()

	first, err := c.Get(ctx, Request{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if first.NotModified || string(first.Body) != "fresh" || first.ETag != etag || first.LastModified != lastMod {
		t.Fatalf("first = %+v", first)
	}

	tests := []struct {
		name string
		req  Request
	}{
		{"etag", Request{URL: srv.URL, ETag: etag}},
		{"last-modified", Request{URL: srv.URL, LastModified: lastMod}},
		{"both", Request{URL: srv.URL, ETag: etag, LastModified: lastMod}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := c.Get(ctx, tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if !resp.NotModified || resp.Status != 304 || len(resp.Body) != 0 || resp.ETag != etag || resp.LastModified != lastMod {
				t.Fatalf("got %+v", resp)
			}
		})
	}

	t.Run("304 without validators keeps the request's", func(t *testing.T) {
		resp, err := c.Get(ctx, Request{URL: srv.URL + "/bare", ETag: etag})
		if err != nil {
			t.Fatal(err)
		}
		if !resp.NotModified || resp.ETag != etag || resp.LastModified != "" {
			t.Fatalf("got %+v", resp)
		}
	})
	t.Run("stale validator gets the body", func(t *testing.T) {
		resp, err := c.Get(ctx, Request{URL: srv.URL, ETag: `"old"`})
		if err != nil {
			t.Fatal(err)
		}
		if resp.NotModified || string(resp.Body) != "fresh" {
			t.Fatalf("got %+v", resp)
		}
	})
}

func TestUnexpected304IsAnError(t *testing.T) {
	srv, _ := counting(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNotModified) })
	_, err := New(Config{AllowLoopback: true}).Get(context.Background(), Request{URL: srv.URL})
	fe := wantCode(t, err, CodeHTTPStatus)
	if fe.Status != 304 {
		t.Fatalf("status = %d", fe.Status)
	}
}

func TestHTTPStatus(t *testing.T) {
	srv, _ := counting(t, func(w http.ResponseWriter, r *http.Request) {
		status, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/"))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"error":{"code":%d}}`, status)
	})
	c := New(Config{AllowLoopback: true})
	for _, status := range []int{400, 403, 404, 410, 429, 500, 503} {
		_, err := c.Get(context.Background(), Request{URL: fmt.Sprintf("%s/%d?key=SECRET", srv.URL, status)})
		fe := wantCode(t, err, CodeHTTPStatus)
		wantMsg := fmt.Sprintf("upstream answered HTTP %d %s", status, http.StatusText(status))
		if fe.Status != status || fe.Msg != wantMsg || string(fe.Body) != fmt.Sprintf(`{"error":{"code":%d}}`, status) {
			t.Errorf("%d: got %+v", status, fe)
		}
		if strings.Contains(fe.Error(), "SECRET") {
			t.Errorf("error message leaks the URL: %s", fe.Error())
		}
	}
	for _, status := range []int{200, 201, 203} {
		resp, err := c.Get(context.Background(), Request{URL: fmt.Sprintf("%s/%d", srv.URL, status)})
		if err != nil || resp.Status != status {
			t.Errorf("%d: %v %+v", status, err, resp)
		}
	}
}

func TestBadURL(t *testing.T) {
	c := New(Config{AllowLoopback: true})
	for _, u := range []string{
		"ftp://example.com/feed.xml",
		"file:///etc/passwd",
		"gopher://example.com/",
		"javascript:alert(1)",
		"/relative/feed.xml",
		"http://",
		"https:///path",
		"http://[::1",
		"http://exa mple.com/",
		"",
	} {
		_, err := c.Get(context.Background(), Request{URL: u})
		wantCode(t, err, CodeBadURL)
	}
}

// blockedAddresses are refused with AllowLoopback false, whether they are written in the URL or
// are what a host name resolves to.
var blockedAddresses = []string{
	"127.0.0.1",
	"127.1.2.3",
	"::1",
	"10.0.0.1",
	"172.16.5.4",
	"172.31.255.255",
	"192.168.1.1",
	"169.254.169.254",
	"::ffff:127.0.0.1",
	"::ffff:10.0.0.1",
	"::ffff:169.254.169.254",
	"0.0.0.0",
	"0.1.2.3",
	"::",
	"fe80::1",
	"fd00::1",
	"fc00::1",
	"100.64.0.1",
	"100.127.255.254",
	"192.0.0.170",
	"198.18.0.1",
	"198.19.255.255",
	"224.0.0.1",
	"239.255.255.250",
	"ff02::1",
	"255.255.255.255",
	"240.0.0.1",
	"64:ff9b::a00:1",     // NAT64 of 10.0.0.1
	"64:ff9b::a9fe:a9fe", // NAT64 of 169.254.169.254
	"64:ff9b::7f00:1",    // NAT64 of 127.0.0.1
	"2002:a00:1::1",      // 6to4 of 10.0.0.1
	"2002:a9fe:a9fe::1",  // 6to4 of 169.254.169.254
	"::127.0.0.1",        // IPv4-compatible (deprecated)
	"2001:db8::1",
	"fec0::1",
}

func TestPolicy(t *testing.T) {
	strict := addressPolicy{}
	for _, s := range blockedAddresses {
		if strict.check(netip.MustParseAddr(s)) == "" {
			t.Errorf("%s allowed", s)
		}
	}
	for _, s := range []string{
		"8.8.8.8",
		"1.1.1.1",
		"93.184.215.14",
		"100.63.255.255",
		"100.128.0.1",
		"172.15.255.255",
		"172.32.0.1",
		"169.253.255.255",
		"192.0.1.1",
		"198.17.255.255",
		"198.20.0.1",
		"223.255.255.255",
		"2606:4700:4700::1111",
		"2a00:1450:4001:80b::200e",
		"::ffff:8.8.8.8",
		"64:ff9b::808:808", // NAT64 of 8.8.8.8
		"2002:808:808::1",  // 6to4 of 8.8.8.8
	} {
		if r := strict.check(netip.MustParseAddr(s)); r != "" {
			t.Errorf("%s refused: %s", s, r)
		}
	}
	loop := addressPolicy{allowLoopback: true}
	for _, s := range []string{"127.0.0.1", "127.9.9.9", "::1", "::ffff:127.0.0.1"} {
		if r := loop.check(netip.MustParseAddr(s)); r != "" {
			t.Errorf("AllowLoopback: %s refused: %s", s, r)
		}
	}
	for _, s := range []string{"10.0.0.1", "169.254.169.254", "192.168.0.1", "fe80::1", "fd00::1", "0.0.0.0", "::", "64:ff9b::7f00:1", "100.64.0.1"} {
		if loop.check(netip.MustParseAddr(s)) == "" {
			t.Errorf("AllowLoopback: %s allowed", s)
		}
	}
	if got := strict.check(netip.MustParseAddr("169.254.169.254")); got != "link-local address" {
		t.Errorf("reason = %q", got)
	}
	if got := strict.check(netip.MustParseAddr("64:ff9b::a00:1")); got != "NAT64 form of a private network address" {
		t.Errorf("reason = %q", got)
	}
	if got := strict.check(netip.MustParseAddr("fe80::1%eth0")); got != "link-local address" {
		t.Errorf("zoned reason = %q", got)
	}
}

func TestBlockedAddresses(t *testing.T) {
	srv, hits := counting(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "secret") })
	p := port(t, srv)
	for _, ip := range blockedAddresses {
		host := ip
		if strings.Contains(ip, ":") {
			host = "[" + ip + "]"
		}
		t.Run("literal "+ip, func(t *testing.T) {
			c := New(Config{Timeout: 2 * time.Second})
			_, err := c.Get(context.Background(), Request{URL: "http://" + host + ":" + p + "/latest/meta-data/"})
			fe := wantCode(t, err, CodeBlockedAddress)
			if !strings.HasPrefix(fe.Msg, "refusing to connect to ") {
				t.Errorf("msg = %q", fe.Msg)
			}
		})
		// The name resolves to the address: only the connection-time check can refuse it.
		t.Run("resolved "+ip, func(t *testing.T) {
			c := newWithLookup(Config{Timeout: 2 * time.Second}, map[string]string{"internal.test": ip})
			_, err := c.Get(context.Background(), Request{URL: "http://internal.test:" + p + "/"})
			wantCode(t, err, CodeBlockedAddress)
		})
	}
	t.Run("localhost by system resolver", func(t *testing.T) {
		_, err := New(Config{Timeout: 2 * time.Second}).Get(context.Background(), Request{URL: "http://localhost:" + p + "/"})
		wantCode(t, err, CodeBlockedAddress)
	})
	if n := hits.Load(); n != 0 {
		t.Fatalf("the loopback server was reached %d times", n)
	}
}

// TestResolvedAddressChecked: evil.test resolves to 127.0.0.1; without AllowLoopback the
// connection is refused, with it the same name works (so the lookup path itself is sound).
func TestResolvedAddressChecked(t *testing.T) {
	srv, hits := counting(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") })
	u := "http://evil.test:" + port(t, srv) + "/feed"
	hosts := map[string]string{"evil.test": "127.0.0.1"}

	_, err := newWithLookup(Config{}, hosts).Get(context.Background(), Request{URL: u})
	fe := wantCode(t, err, CodeBlockedAddress)
	if fe.Msg != "refusing to connect to 127.0.0.1: loopback address" {
		t.Fatalf("msg = %q", fe.Msg)
	}
	if hits.Load() != 0 {
		t.Fatal("server reached")
	}

	resp, err := newWithLookup(Config{AllowLoopback: true}, hosts).Get(context.Background(), Request{URL: u})
	if err != nil {
		t.Fatal(err)
	}
	if string(resp.Body) != "ok" || resp.FinalURL != u {
		t.Fatalf("got %+v", resp)
	}

	_, err = newWithLookup(Config{AllowLoopback: true}, hosts).Get(context.Background(), Request{URL: "http://unknown.test/"})
	wantCode(t, err, CodeNetwork)
}

func TestRedirects(t *testing.T) {
	var target string
	srv, _ := counting(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/to":
			http.Redirect(w, r, r.URL.Query().Get("u"), http.StatusFound)
		case strings.HasPrefix(r.URL.Path, "/chain/"):
			n, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/chain/"))
			if n == 0 {
				fmt.Fprint(w, "end")
				return
			}
			http.Redirect(w, r, fmt.Sprintf("/chain/%d", n-1), http.StatusMovedPermanently)
		case r.URL.Path == "/loop":
			http.Redirect(w, r, "/loop", http.StatusTemporaryRedirect)
		default:
			fmt.Fprint(w, "landed")
		}
	})
	target = srv.URL
	hosts := map[string]string{"metadata.test": "169.254.169.254", "intranet.test": "10.0.0.1", "feeds.test": "127.0.0.1"}
	c := newWithLookup(Config{AllowLoopback: true, MaxRedirects: 3, Timeout: 5 * time.Second}, hosts)
	ctx := context.Background()
	to := func(u string) Request { return Request{URL: target + "/to?u=" + url.QueryEscape(u)} }

	for _, u := range []string{
		"http://169.254.169.254/latest/meta-data/iam/security-credentials/",
		"http://10.0.0.1/",
		"http://[fd00::1]/",
		"http://[::ffff:a9fe:a9fe]/",
		"http://metadata.test/latest/meta-data/", // refused when connecting
		"http://intranet.test:8080/admin",        // refused when connecting
	} {
		start := time.Now()
		_, err := c.Get(ctx, to(u))
		wantCode(t, err, CodeBlockedAddress)
		if d := time.Since(start); d > time.Second {
			t.Errorf("%s: took %s, as if it tried to connect", u, d)
		}
	}
	for _, u := range []string{"ftp://example.com/x", "file:///etc/passwd", "gopher://x/"} {
		_, err := c.Get(ctx, to(u))
		fe := wantCode(t, err, CodeBadURL)
		if !strings.HasPrefix(fe.Msg, "redirect refused: unsupported URL scheme") {
			t.Errorf("msg = %q", fe.Msg)
		}
	}

	resp, err := c.Get(ctx, Request{URL: target + "/chain/3"})
	if err != nil {
		t.Fatal(err)
	}
	if string(resp.Body) != "end" || resp.FinalURL != target+"/chain/0" {
		t.Fatalf("got %+v", resp)
	}
	_, err = c.Get(ctx, Request{URL: target + "/chain/4"})
	fe := wantCode(t, err, CodeTooManyRedirects)
	if fe.Msg != "more than 3 redirects" {
		t.Fatalf("msg = %q", fe.Msg)
	}
	_, err = c.Get(ctx, Request{URL: target + "/loop"})
	wantCode(t, err, CodeTooManyRedirects)

	// An allowed hop through a name resolves and connects normally.
	resp, err = c.Get(ctx, to("http://feeds.test:"+port(t, srv)+"/landing"))
	if err != nil {
		t.Fatal(err)
	}
	if string(resp.Body) != "landed" || resp.FinalURL != "http://feeds.test:"+port(t, srv)+"/landing" {
		t.Fatalf("got %+v", resp)
	}

	none := New(Config{AllowLoopback: true, MaxRedirects: -1})
	_, err = none.Get(ctx, Request{URL: target + "/chain/1"})
	wantCode(t, err, CodeTooManyRedirects)
}

func TestSizeLimit(t *testing.T) {
	const limit = 1000
	srv, _ := counting(t, func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		body := bytes.Repeat([]byte("x"), n)
		if r.URL.Query().Get("chunked") != "" {
			// No Content-Length: the limit must hold while reading.
			for i := 0; i < n; i += 100 {
				w.Write(body[i:min(i+100, n)])
				w.(http.Flusher).Flush()
			}
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(n))
		w.Write(body)
	})
	c := New(Config{AllowLoopback: true, MaxBytes: limit})
	for _, chunked := range []string{"", "1"} {
		resp, err := c.Get(context.Background(), Request{URL: fmt.Sprintf("%s/?n=%d&chunked=%s", srv.URL, limit, chunked)})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Body) != limit {
			t.Fatalf("body length %d", len(resp.Body))
		}
		_, err = c.Get(context.Background(), Request{URL: fmt.Sprintf("%s/?n=%d&chunked=%s", srv.URL, limit+1, chunked)})
		fe := wantCode(t, err, CodeTooLarge)
		if fe.Msg != "response body larger than 1000 bytes" || fe.Status != 200 {
			t.Fatalf("got %+v", fe)
		}
	}
}

func TestTimeout(t *testing.T) {
	srv, _ := counting(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow-body" {
			w.Header().Set("Content-Length", "10")
			w.Write([]byte("12345"))
			w.(http.Flusher).Flush()
		}
		select {
		case <-time.After(3 * time.Second):
		case <-r.Context().Done():
		}
	})
	c := New(Config{AllowLoopback: true, Timeout: 200 * time.Millisecond})
	for _, path := range []string{"/slow-headers", "/slow-body"} {
		start := time.Now()
		_, err := c.Get(context.Background(), Request{URL: srv.URL + path})
		fe := wantCode(t, err, CodeTimeout)
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%s: took %s", path, d)
		}
		if fe.Msg != "no complete answer within 200ms" {
			t.Errorf("%s: msg = %q", path, fe.Msg)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		time.Sleep(100 * time.Millisecond)
		cancel()
	}()
	_, err := New(Config{AllowLoopback: true}).Get(ctx, Request{URL: srv.URL + "/slow-headers"})
	wantCode(t, err, CodeCanceled)

	ctx, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel2()
	_, err = New(Config{AllowLoopback: true}).Get(ctx, Request{URL: srv.URL + "/slow-headers"})
	wantCode(t, err, CodeTimeout)
}

func TestNetworkError(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	_, err = New(Config{AllowLoopback: true}).Get(context.Background(), Request{URL: "http://" + addr + "/?key=SECRET"})
	fe := wantCode(t, err, CodeNetwork)
	if !strings.HasPrefix(fe.Msg, "network error: ") || strings.Contains(fe.Msg, "SECRET") {
		t.Fatalf("msg = %q", fe.Msg)
	}
}

// TestNetworkMessages: a failed lookup says which host could not be resolved and why, never the
// resolver that was asked (an address of this side of the network).
func TestNetworkMessages(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&net.DNSError{Err: "no such host", Name: "feeds.example.com", Server: "127.0.0.53:53", IsNotFound: true}, "could not resolve feeds.example.com: no such host"},
		{&net.DNSError{Err: "i/o timeout", Name: "feeds.example.com", Server: "10.0.0.2:53", IsTimeout: true}, "could not resolve feeds.example.com: the lookup timed out"},
		{&net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "server misbehaving", Name: "x.example", Server: "10.0.0.2:53"}}, "could not resolve x.example: the lookup failed"},
	} {
		got := networkMessage(tc.err)
		if got != tc.want || strings.Contains(got, ":53") {
			t.Errorf("%v: %q, want %q", tc.err, got, tc.want)
		}
	}
}
