package ratelimit

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"
)

func TestHeaders(t *testing.T) {
	for _, tc := range []struct {
		name                         string
		res                          Result
		limit, remaining, reset, ret string
	}{
		{"allowed", Result{Allowed: true, Limit: 21, Remaining: 20, ResetAfter: time.Second}, "21", "20", "1", ""},
		{"reset rounds up", Result{Allowed: true, Limit: 5, Remaining: 3, ResetAfter: 1500 * time.Millisecond}, "5", "3", "2", ""},
		{"full, nothing to reset", Result{Allowed: true, Limit: 5, Remaining: 5}, "5", "5", "0", ""},
		{"denied", Result{Limit: 5, RetryAfter: 6 * time.Second, ResetAfter: 30 * time.Second}, "5", "0", "30", "6"},
		{"denied, retry rounds up", Result{Limit: 5, RetryAfter: 2001 * time.Millisecond, ResetAfter: 2 * time.Second}, "5", "0", "2", "3"},
		{"denied, retry at least 1", Result{Limit: 1, RetryAfter: 10 * time.Millisecond, ResetAfter: 10 * time.Millisecond}, "1", "0", "1", "1"},
		{"denied, zero retry still 1", Result{Limit: 1}, "1", "0", "0", "1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			Headers(h, tc.res)
			for name, want := range map[string]string{
				"RateLimit-Limit": tc.limit, "RateLimit-Remaining": tc.remaining,
				"RateLimit-Reset": tc.reset, "Retry-After": tc.ret,
			} {
				if got := h.Get(name); got != want {
					t.Errorf("%s = %q, want %q", name, got, want)
				}
			}
		})
	}
}

func TestClientIP(t *testing.T) {
	proxies := []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("fd00::/8"),
		netip.MustParsePrefix("203.0.113.7/32"),
	}
	for _, tc := range []struct {
		name    string
		remote  string
		xff     []string
		trusted []netip.Prefix
		want    string
	}{
		{"direct IPv4", "192.0.2.1:5123", nil, proxies, "192.0.2.1"},
		{"direct IPv6", "[2001:db8::1]:5123", nil, proxies, "2001:db8::1"},
		{"IPv4-mapped IPv6 peer", "[::ffff:192.0.2.1]:5123", nil, proxies, "192.0.2.1"},
		{"IPv6 zone dropped", "[fe80::1%eth0]:5123", nil, proxies, "fe80::1"},
		{"no port", "192.0.2.1", nil, proxies, "192.0.2.1"},
		{"untrusted peer: XFF ignored", "192.0.2.1:5123", []string{"198.51.100.9"}, proxies, "192.0.2.1"},
		{"no trusted proxies: XFF ignored", "10.0.0.2:5123", []string{"198.51.100.9"}, nil, "10.0.0.2"},
		{"trusted peer, one hop", "10.0.0.2:5123", []string{"198.51.100.9"}, proxies, "198.51.100.9"},
		{"spoofed left entries ignored", "10.0.0.2:5123", []string{"1.1.1.1, 8.8.8.8, 198.51.100.9"}, proxies, "198.51.100.9"},
		{"chain of trusted proxies", "10.0.0.2:5123", []string{"6.6.6.6, 198.51.100.9, 203.0.113.7, 10.1.2.3"}, proxies, "198.51.100.9"},
		{"several header lines", "10.0.0.2:5123", []string{"6.6.6.6", "198.51.100.9, 10.1.2.3"}, proxies, "198.51.100.9"},
		{"IPv6 client through IPv6 proxy", "[fd00::2]:443", []string{"2001:db8::42"}, proxies, "2001:db8::42"},
		{"ports and brackets in XFF", "10.0.0.2:5123", []string{"[2001:db8::42]:1234, 198.51.100.9:80"}, proxies, "198.51.100.9"},
		{"bracketed IPv6 without port", "10.0.0.2:5123", []string{"[2001:db8::42]"}, proxies, "2001:db8::42"},
		{"mapped IPv4 in XFF", "10.0.0.2:5123", []string{"::ffff:198.51.100.9"}, proxies, "198.51.100.9"},
		{"empty entries skipped", "10.0.0.2:5123", []string{"198.51.100.9, , "}, proxies, "198.51.100.9"},
		{"all trusted: left-most", "10.0.0.2:5123", []string{"10.9.9.9, 10.1.2.3"}, proxies, "10.9.9.9"},
		{"trusted peer, no XFF", "10.0.0.2:5123", nil, proxies, "10.0.0.2"},
		{"garbage stops at the trusted hop", "10.0.0.2:5123", []string{"198.51.100.9, unknown, 10.1.2.3"}, proxies, "10.1.2.3"},
		{"garbage right after the peer", "10.0.0.2:5123", []string{"198.51.100.9, not-an-ip"}, proxies, "10.0.0.2"},
		{"unbalanced bracket is garbage", "10.0.0.2:5123", []string{"[2001:db8::42"}, proxies, "10.0.0.2"},
		{"non-IP remote address", "pipe", []string{"198.51.100.9"}, proxies, "pipe"},
		{"non-IP remote host with port", "localhost:80", nil, proxies, "localhost"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tc.remote
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := ClientIP(r, tc.trusted); got != tc.want {
				t.Errorf("ClientIP = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestForwardedClientIP(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	for _, tc := range []struct {
		name, remote string
		fwd          []string
		want         string
	}{
		{"untrusted peer: ignored", "192.0.2.1:5123", []string{"for=198.51.100.9"}, "192.0.2.1"},
		{"one hop", "10.0.0.2:5123", []string{"for=198.51.100.9;proto=https"}, "198.51.100.9"},
		{"quoted IPv6 with port", "10.0.0.2:5123", []string{`for="[2001:db8::7]:4711"`}, "2001:db8::7"},
		{"right-most untrusted wins", "10.0.0.2:5123", []string{"for=6.6.6.6, for=198.51.100.9", "for=10.0.0.3"}, "198.51.100.9"},
		{"case-insensitive name", "10.0.0.2:5123", []string{"By=10.0.0.2;For=198.51.100.9"}, "198.51.100.9"},
		{"obfuscated stops the walk", "10.0.0.2:5123", []string{"for=198.51.100.9, for=_hidden"}, "10.0.0.2"},
		{"X-Forwarded-For not read", "10.0.0.2:5123", nil, "10.0.0.2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.remote
			r.Header.Set("X-Forwarded-For", "203.0.113.66")
			for _, v := range tc.fwd {
				r.Header.Add("Forwarded", v)
			}
			if got := ForwardedClientIP(r, proxies); got != tc.want {
				t.Fatalf("ForwardedClientIP = %q, want %q", got, tc.want)
			}
		})
	}
}
