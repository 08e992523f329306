// Package netpolicy decides where Touchline may connect on a tenant's
// behalf: webhook endpoints, SMTP submission servers, IMAP servers and (in
// the verifier) MX hosts. A tenant names the host; without a policy a
// tenant could make Touchline reach the operator's own network (SSRF):
// loopback services, cloud metadata at 169.254.169.254, private ranges.
//
// The rule: only public unicast addresses, unless the operator allows a
// network by name (--allow-network 127.0.0.0/8 for a lab or the demo). The
// check runs at dial time on the address actually connected to
// (net.Dialer.Control), after resolution, so a name that resolves to a
// public address when checked and to 127.0.0.1 when dialed (DNS rebinding)
// is refused too. IPv4-mapped (::ffff:a.b.c.d), NAT64 (64:ff9b::/96,
// RFC 6052) and 6to4 (2002::/16, RFC 3056) forms are judged by the IPv4
// address they carry.
//
// What the tenant is told is limited to "refused by policy" or "could not
// connect": never which of "connection refused", a timeout or a banner
// answered, which would make Touchline a port scanner for whoever holds an
// API key. The cause stays in the error chain for the operator's log.
package netpolicy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// ErrRefused is matched (errors.Is) by every refusal of this package.
var ErrRefused = errors.New("refused by policy")

// RefusedError is an address the policy does not let Touchline dial.
type RefusedError struct {
	Addr netip.Addr
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("netpolicy: %s is not a public address: refused by policy", e.Addr)
}

// Is makes errors.Is(err, ErrRefused) hold.
func (e *RefusedError) Is(target error) bool { return target == ErrRefused }

// reserved are ranges no public service lives in, beyond what netip's
// predicates (loopback, private, link-local, multicast, unspecified) cover.
var reserved = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network", RFC 1122 §3.2.1.3
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT, RFC 6598
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments, RFC 6890
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation, RFC 5737
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking, RFC 2544
	netip.MustParsePrefix("198.51.100.0/24"), // documentation, RFC 5737
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation, RFC 5737
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and 255.255.255.255 broadcast, RFC 1112
	netip.MustParsePrefix("::/96"),           // IPv4-compatible (deprecated, RFC 4291 §2.5.5.1)
	netip.MustParsePrefix("100::/64"),        // discard-only, RFC 6666
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64, RFC 8215
	netip.MustParsePrefix("2001::/32"),       // Teredo, RFC 4380: a tunnel to any IPv4 address
	netip.MustParsePrefix("2001:db8::/32"),   // documentation, RFC 3849
	netip.MustParsePrefix("fec0::/10"),       // site-local (deprecated, RFC 3879)
}

var (
	nat64   = netip.MustParsePrefix("64:ff9b::/96") // RFC 6052 §2.1 well-known prefix
	sixTo4  = netip.MustParsePrefix("2002::/16")    // RFC 3056 §2
	loopNet = netip.MustParsePrefix("127.0.0.0/8")
)

// embedded returns the IPv4 address an IPv6 address carries by a
// translation or tunnel mechanism, if it carries one.
func embedded(a netip.Addr) (netip.Addr, bool) {
	if !a.Is6() {
		return netip.Addr{}, false
	}
	b := a.As16()
	switch {
	case nat64.Contains(a):
		return netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}), true
	case sixTo4.Contains(a):
		return netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}), true
	}
	return netip.Addr{}, false
}

// Public reports whether a is a public unicast address: not loopback,
// private (RFC 1918, RFC 4193), link-local, CGNAT, multicast, unspecified,
// reserved or documentation, in any IPv4-mapped, NAT64 or 6to4 form.
func Public(a netip.Addr) bool {
	a = a.Unmap()
	if v4, ok := embedded(a); ok {
		a = v4
	}
	if !a.IsValid() || a.Zone() != "" || a.IsLoopback() || a.IsPrivate() || a.IsUnspecified() ||
		a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast() || a.IsMulticast() {
		return false
	}
	for _, p := range reserved {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// Policy is the set of addresses Touchline may dial for a tenant: public
// ones, and the networks the operator allowed. The nil *Policy allows
// public addresses only; a Policy is immutable and safe for concurrent use.
type Policy struct {
	allow []netip.Prefix
}

// New returns a policy that also allows the given networks.
func New(allow ...netip.Prefix) *Policy {
	p := &Policy{}
	for _, n := range allow {
		p.allow = append(p.allow, n.Masked())
	}
	return p
}

// ParseNetworks reads networks as the --allow-network flag takes them:
// CIDR prefixes ("127.0.0.0/8", "fd00::/8") or single addresses.
func ParseNetworks(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		for _, f := range strings.Split(s, ",") {
			f = strings.TrimSpace(f)
			if f == "" {
				continue
			}
			if p, err := netip.ParsePrefix(f); err == nil {
				out = append(out, p.Masked())
				continue
			}
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, fmt.Errorf("%q is not a network (CIDR such as 127.0.0.0/8) or an address", f)
			}
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
		}
	}
	return out, nil
}

// Networks returns the networks allowed beyond public addresses.
func (p *Policy) Networks() []netip.Prefix {
	if p == nil {
		return nil
	}
	return append([]netip.Prefix(nil), p.allow...)
}

// Allowed reports whether the policy lets Touchline dial a.
func (p *Policy) Allowed(a netip.Addr) bool {
	if Public(a) {
		return true
	}
	if p == nil {
		return false
	}
	u := a.Unmap()
	for _, n := range p.allow {
		if n.Contains(u) || n.Contains(a) {
			return true
		}
	}
	return false
}

// Check returns a *RefusedError when a may not be dialed.
func (p *Policy) Check(a netip.Addr) error {
	if p.Allowed(a) {
		return nil
	}
	return &RefusedError{Addr: a}
}

// Control is a net.Dialer.Control: it runs on every address the dialer is
// about to connect to, after resolution, so nothing slips between the
// check and the connect.
func (p *Policy) Control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("netpolicy: %s %q is not an address and port: %w", network, address, ErrRefused)
	}
	return p.Check(ap.Addr())
}

// CheckHost refuses, before any lookup, a host that is plainly not public:
// an IP literal outside the policy, or a name that is loopback by
// definition ("localhost", "*.localhost", RFC 6761 §6.3). Other names are
// judged at dial time, on what they resolve to.
func (p *Policy) CheckHost(host string) error {
	h := strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	if a, err := netip.ParseAddr(h); err == nil {
		return p.Check(a)
	}
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		if p.Allowed(netip.AddrFrom4([4]byte{127, 0, 0, 1})) && p.Allowed(netip.IPv6Loopback()) {
			return nil
		}
		return &RefusedError{Addr: netip.AddrFrom4([4]byte{127, 0, 0, 1})}
	}
	if h == "" {
		return fmt.Errorf("netpolicy: empty host: %w", ErrRefused)
	}
	return nil
}

// CheckURL judges a webhook URL when it is registered: http or https, a
// host, no credentials (a URL is logged and shown; a secret does not
// belong in it), and a host CheckHost does not refuse. The address it
// resolves to is judged again at every delivery.
func (p *Policy) CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Opaque != "" {
		return fmt.Errorf("%q is not an http(s) URL", raw)
	}
	if u.User != nil {
		return fmt.Errorf("credentials in the URL are refused (they would be logged and shown); authenticate the request by its Touchline-Signature header")
	}
	if err := p.CheckHost(u.Hostname()); err != nil {
		return fmt.Errorf("host %q: %w", u.Hostname(), ErrRefused)
	}
	return nil
}

// DialError is a failed dial as a tenant may see it: Error says "refused
// by policy" or "could not connect" and nothing of what answered; Unwrap
// gives the cause for the operator's log.
type DialError struct {
	Address string // host:port as the tenant gave it
	Err     error
}

func (e *DialError) Error() string {
	if errors.Is(e.Err, ErrRefused) {
		return fmt.Sprintf("connection to %s refused by policy: Touchline connects only to public addresses", e.Address)
	}
	return fmt.Sprintf("could not connect to %s", e.Address)
}

func (e *DialError) Unwrap() error { return e.Err }

// Dialer dials under a policy; it satisfies the ContextDialer seams of the
// SMTP sender, the IMAP poller and net/http.
type Dialer struct {
	Policy  *Policy
	Timeout time.Duration // of the TCP connect; default 30s
	// Resolver looks names up; nil is the system's. Whatever it answers,
	// the address connected to is checked.
	Resolver *net.Resolver
}

// Dialer returns a dialer under p.
func (p *Policy) Dialer(timeout time.Duration) *Dialer {
	return &Dialer{Policy: p, Timeout: timeout}
}

// DialContext resolves address, refuses it unless every candidate it tries
// passes the policy, and connects.
func (d *Dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	timeout := d.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return nil, &DialError{Address: address, Err: err}
	}
	if err := d.Policy.CheckHost(host); err != nil {
		return nil, &DialError{Address: address, Err: err}
	}
	nd := &net.Dialer{Timeout: timeout, Control: d.Policy.Control, Resolver: d.Resolver}
	conn, err := nd.DialContext(ctx, network, address)
	if err != nil {
		return nil, &DialError{Address: address, Err: err}
	}
	return conn, nil
}

// HTTPClient returns a client under p: every connection dialed by the
// policy, no proxy from the environment (a proxy would dial for us,
// unchecked), and no redirects followed (a 3xx answers the request; a
// redirect to http://127.0.0.1/ would otherwise be fetched).
func (p *Policy) HTTPClient(timeout time.Duration) *http.Client {
	d := p.Dialer(10 * time.Second)
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           d.DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          16,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: timeout,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Loopback is the network the simulated world and tests run on; pass it to
// New explicitly, never by default.
var Loopback = []netip.Prefix{loopNet, netip.MustParsePrefix("::1/128")}
