package verifier

import (
	"context"
	"net"
	"net/netip"

	"github.com/touchline/touchline/internal/netpolicy"
)

// Dialer opens network connections; *net.Dialer satisfies it. Tests pass one
// that refuses anything but loopback.
type Dialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// isPublicAddr reports whether a may host a public MX. An MX that points
// at loopback, private, link-local, CGNAT or reserved space is a
// misconfiguration at best and, at worst, a way to make the verifier probe
// the operator's own network (SSRF), so the verifier refuses to connect
// unless the range is explicitly allowed. The ranges are Touchline's one
// outbound policy (internal/netpolicy), the same for webhooks, SMTP
// submission and IMAP.
func isPublicAddr(a netip.Addr) bool { return netpolicy.Public(a) }

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
