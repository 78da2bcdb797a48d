package ratelimit

import (
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Headers sets the rate-limit headers of the IETF httpapi draft for r on w:
// RateLimit-Limit (the capacity), RateLimit-Remaining, RateLimit-Reset (whole seconds until
// full capacity, rounded up) and, for a denied request, Retry-After (whole seconds, rounded
// up, at least 1).
func Headers(w http.Header, r Result) {
	w.Set("RateLimit-Limit", strconv.Itoa(max(r.Limit, 0)))
	w.Set("RateLimit-Remaining", strconv.Itoa(max(r.Remaining, 0)))
	w.Set("RateLimit-Reset", strconv.FormatInt(ceilSeconds(r.ResetAfter), 10))
	if !r.Allowed {
		w.Set("Retry-After", strconv.FormatInt(max(ceilSeconds(r.RetryAfter), 1), 10))
	}
}

// ceilSeconds is d in whole seconds, rounded up; 0 for d <= 0.
func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Second - 1) / time.Second)
}

// ClientIP returns the address a per-IP rate limit should key on.
//
// It is the host of r.RemoteAddr, unless that direct peer lies in trustedProxies: then it is
// the right-most address of X-Forwarded-For (all its header lines, in order) that is not in
// trustedProxies, walking right to left through the proxies. Entries left of that address
// are written by the client and never used. When every entry is trusted it is the left-most
// one; when the walk meets an entry that is not an IP address it stops at the trusted hop
// that passed it on. Addresses are returned in canonical form (no port, no zone, IPv4-mapped
// IPv6 as plain IPv4), so one client always gets one key. A RemoteAddr that is not an IP
// address (a Unix socket, a test's "pipe") is returned as it is.
//
// Give trustedProxies as plain IPv4 or IPv6 prefixes, such as 10.0.0.0/8 or fd00::/8.
func ClientIP(r *http.Request, trustedProxies []netip.Prefix) string {
	return clientIP(r, trustedProxies, xForwardedFor(r.Header))
}

// ForwardedClientIP is ClientIP reading the standard Forwarded header (RFC 7239: the for=
// parameters of its elements, in order) instead of X-Forwarded-For, for proxies that write that
// one. A for= that is not an address (unknown, an obfuscated _name) ends the walk like a bad
// X-Forwarded-For entry. Honour one header only, the one your proxies write: a client can send
// the other one, and it would be believed.
func ForwardedClientIP(r *http.Request, trustedProxies []netip.Prefix) string {
	return clientIP(r, trustedProxies, forwardedFor(r.Header))
}

func xForwardedFor(h http.Header) []string {
	var hops []string
	for _, line := range h.Values("X-Forwarded-For") {
		for hop := range strings.SplitSeq(line, ",") {
			if hop = strings.TrimSpace(hop); hop != "" {
				hops = append(hops, hop)
			}
		}
	}
	return hops
}

// forwardedFor returns the for= value of each element of the Forwarded headers, unquoted ("" for
// an element without one).
func forwardedFor(h http.Header) []string {
	var hops []string
	for _, line := range h.Values("Forwarded") {
		for elem := range strings.SplitSeq(line, ",") {
			hop := ""
			for pair := range strings.SplitSeq(elem, ";") {
				k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if ok && strings.EqualFold(k, "for") {
					hop = strings.Trim(strings.TrimSpace(v), `"`)
				}
			}
			if strings.TrimSpace(elem) != "" {
				hops = append(hops, hop)
			}
		}
	}
	return hops
}

func clientIP(r *http.Request, trustedProxies []netip.Prefix, hops []string) string {
	peer, ok := parseHost(r.RemoteAddr)
	if !ok {
		if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
			return host
		}
		return r.RemoteAddr
	}
	if !trusted(peer, trustedProxies) {
		return peer.String()
	}
	nearest := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseHost(hops[i])
		if !ok {
			break
		}
		if !trusted(a, trustedProxies) {
			return a.String()
		}
		nearest = a
	}
	return nearest.String()
}

// parseHost parses an IP address with or without a port ("192.0.2.1", "192.0.2.1:443",
// "2001:db8::1", "[2001:db8::1]:443", "[2001:db8::1]"), dropping any zone and unmapping
// IPv4-mapped IPv6.
func parseHost(s string) (netip.Addr, bool) {
	var a netip.Addr
	if ap, err := netip.ParseAddrPort(s); err == nil {
		a = ap.Addr()
	} else {
		if len(s) > 2 && s[0] == '[' && s[len(s)-1] == ']' {
			s = s[1 : len(s)-1]
		}
		if a, err = netip.ParseAddr(s); err != nil {
			return netip.Addr{}, false
		}
	}
	return a.WithZone("").Unmap(), true
}

func trusted(a netip.Addr, prefixes []netip.Prefix) bool {
	for _, p := range prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
