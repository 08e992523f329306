package resolver

import (
	"context"
	"errors"
	"net"
)

// NetResolver adapts a Resolver to the net.Resolver-shaped interface that
// blitiri.com.ar/go/spf evaluates through (spf.WithResolver), and that
// go-msgauth's lookups take, so SPF and DMARC are checked through the same
// resolver (and, in tests, the same simulated DNS) as everything else.
type NetResolver struct{ R Resolver }

// NetError translates the resolver's errors to the *net.DNSError that
// blitiri's spf and go-msgauth tell "no such name" (a permanent answer)
// from a temporary failure by.
func NetError(name string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, ErrNXDomain) {
		return &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
	}
	return &net.DNSError{Err: err.Error(), Name: name, IsTemporary: true, IsTimeout: errors.Is(err, ErrTimeout)}
}

// LookupTXT implements the spf package's resolver.
func (n NetResolver) LookupTXT(ctx context.Context, name string) ([]string, error) {
	t, err := n.R.LookupTXT(ctx, name)
	return t, NetError(name, err)
}

// LookupMX implements the spf package's resolver; hosts are returned
// fully qualified, as net.Resolver returns them.
func (n NetResolver) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	mxs, err := n.R.LookupMX(ctx, name)
	out := make([]*net.MX, 0, len(mxs))
	for _, m := range mxs {
		out = append(out, &net.MX{Host: m.Host + ".", Pref: m.Pref})
	}
	return out, NetError(name, err)
}

// LookupIPAddr implements the spf package's resolver.
func (n NetResolver) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	ips, err := n.R.LookupIP(ctx, host)
	out := make([]net.IPAddr, 0, len(ips))
	for _, ip := range ips {
		out = append(out, net.IPAddr{IP: net.IP(ip.AsSlice())})
	}
	return out, NetError(host, err)
}

// LookupAddr serves SPF's ptr mechanism, which RFC 7208 §5.5 says not to
// use; the Resolver has no PTR lookups, so ptr never matches: it can only
// make a pass less likely, never forge one.
func (n NetResolver) LookupAddr(_ context.Context, addr string) ([]string, error) {
	return nil, &net.DNSError{Err: "PTR lookups not supported", Name: addr, IsNotFound: true}
}
