package fetch

import (
	"net/netip"
)

// addressPolicy decides which IP addresses the fetcher may connect to.
type addressPolicy struct {
	allowLoopback bool
}

// namedPrefix is a special-purpose range with the reason it is refused.
type namedPrefix struct {
	prefix netip.Prefix
	reason string
}

// blockedV4 lists the IPv4 ranges that are never public destinations (IANA IPv4 Special-Purpose
// Address Registry). 127.0.0.0/8 is handled apart, as tests may allow it.
var blockedV4 = []namedPrefix{
	{netip.MustParsePrefix("0.0.0.0/8"), "\"this network\" address"},
	{netip.MustParsePrefix("10.0.0.0/8"), "private network address"},
	{netip.MustParsePrefix("100.64.0.0/10"), "shared (carrier-grade NAT) address"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local address"},
	{netip.MustParsePrefix("172.16.0.0/12"), "private network address"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol assignment address"},
	{netip.MustParsePrefix("192.0.2.0/24"), "documentation address"},
	{netip.MustParsePrefix("192.88.99.0/24"), "6to4 relay anycast address"},
	{netip.MustParsePrefix("192.168.0.0/16"), "private network address"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking address"},
	{netip.MustParsePrefix("198.51.100.0/24"), "documentation address"},
	{netip.MustParsePrefix("203.0.113.0/24"), "documentation address"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast address"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved or broadcast address"},
}

var (
	loopbackV4 = netip.MustParsePrefix("127.0.0.0/8")
	// nat64 is the well-known NAT64 prefix (RFC 6052): its last 32 bits are an IPv4 address.
	nat64 = netip.MustParsePrefix("64:ff9b::/96")
	// sixToFour is 6to4 (RFC 3056): bits 16 to 48 are an IPv4 address.
	sixToFour = netip.MustParsePrefix("2002::/16")
	// globalUnicast is the only IPv6 range with public destinations.
	globalUnicast = netip.MustParsePrefix("2000::/3")
)

// blockedV6 lists special-purpose ranges inside 2000::/3 (IANA IPv6 Special-Purpose Address Registry).
var blockedV6 = []namedPrefix{
	{netip.MustParsePrefix("2001::/32"), "Teredo address"},
	{netip.MustParsePrefix("2001:2::/48"), "benchmarking address"},
	{netip.MustParsePrefix("2001:10::/28"), "ORCHID address"},
	{netip.MustParsePrefix("2001:20::/28"), "ORCHID address"},
	{netip.MustParsePrefix("2001:db8::/32"), "documentation address"},
	{netip.MustParsePrefix("3fff::/20"), "documentation address"},
}

// check returns why the fetcher must not connect to a, or "" when it may.
func (p addressPolicy) check(a netip.Addr) string {
	return p.checkAddr(a, p.allowLoopback)
}

func (p addressPolicy) checkAddr(a netip.Addr, allowLoopback bool) string {
	if !a.IsValid() {
		return "invalid address"
	}
	a = a.WithZone("")
	if a.Is4In6() {
		a = a.Unmap()
	}
	if a.Is4() {
		if loopbackV4.Contains(a) {
			if allowLoopback {
				return ""
			}
			return "loopback address"
		}
		for _, b := range blockedV4 {
			if b.prefix.Contains(a) {
				return b.reason
			}
		}
		return ""
	}
	switch {
	case a == netip.IPv6Loopback():
		if allowLoopback {
			return ""
		}
		return "loopback address"
	case a.IsUnspecified():
		return "unspecified address"
	case nat64.Contains(a):
		// A NAT64 gateway would reach the embedded IPv4 address: judge that one. Loopback through a
		// translator is never a test server, so it stays refused.
		b := a.As16()
		if r := p.checkAddr(netip.AddrFrom4([4]byte(b[12:16])), false); r != "" {
			return "NAT64 form of a " + r
		}
		return ""
	case sixToFour.Contains(a):
		b := a.As16()
		if r := p.checkAddr(netip.AddrFrom4([4]byte(b[2:6])), false); r != "" {
			return "6to4 form of a " + r
		}
		return ""
	case a.IsLinkLocalUnicast():
		return "link-local address"
	case a.IsMulticast():
		return "multicast address"
	case a.IsPrivate():
		return "private network (unique local) address"
	case !globalUnicast.Contains(a):
		return "reserved address"
	}
	for _, b := range blockedV6 {
		if b.prefix.Contains(a) {
			return b.reason
		}
	}
	return ""
}
