package verifier

import (
	"context"
	"net"
	"net/netip"
)

// Dialer opens network connections; *net.Dialer satisfies it. Tests pass one
// that refuses anything but loopback.
type Dialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// Address ranges no public mail exchanger lives in. An MX that points into
// them is a misconfiguration at best and, at worst, a way to make the
// verifier probe the operator's own network (SSRF), so the verifier refuses
// to connect unless the range is explicitly allowed.
var forbiddenMXPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network", RFC 1122
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT, RFC 6598
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments, RFC 6890
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation, RFC 5737
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking, RFC 2544
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and broadcast
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64, RFC 8215
	netip.MustParsePrefix("2001:db8::/32"),   // documentation, RFC 3849
}

// isPublicAddr reports whether a may host a public MX: not loopback, private
// (RFC 1918, RFC 4193), link-local, unspecified, multicast, CGNAT or reserved.
func isPublicAddr(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || a.IsLoopback() || a.IsPrivate() || a.IsUnspecified() ||
		a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast() ||
		a.IsMulticast() {
		return false
	}
	for _, p := range forbiddenMXPrefixes {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// mxAllowed applies the configured exceptions to isPublicAddr.
func (c *Config) mxAllowed(a netip.Addr) bool {
	if c.AllowPrivateMX || isPublicAddr(a) {
		return true
	}
	a = a.Unmap()
	for _, p := range c.AllowMXNetworks {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
