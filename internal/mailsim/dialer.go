package mailsim

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
)

// ErrNotLoopback is wrapped by the error Dialer returns for a destination
// outside loopback.
var ErrNotLoopback = errors.New("mailsim: destination is not a loopback IP")

// Dialer is a safety net for code under test: it dials only loopback IP
// literals (127.0.0.0/8, ::1) and refuses anything else without dialing,
// host names included, since resolving one would itself leave the machine.
// The zero value is ready to use and safe for concurrent use.
type Dialer struct {
	// Next dials destinations that passed the check; nil means a
	// net.Dialer with no options.
	Next func(ctx context.Context, network, address string) (net.Conn, error)

	refused atomic.Int64
}

// DialContext dials address if it is a loopback IP and port.
func (d *Dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	if err := checkLoopback(network, address); err != nil {
		d.refused.Add(1)
		return nil, err
	}
	if d.Next != nil {
		return d.Next(ctx, network, address)
	}
	var nd net.Dialer
	return nd.DialContext(ctx, network, address)
}

// Refused returns how many dials were refused.
func (d *Dialer) Refused() int64 { return d.refused.Load() }

func checkLoopback(network, address string) error {
	switch network {
	case "tcp", "tcp4", "tcp6", "udp", "udp4", "udp6":
	default:
		return fmt.Errorf("mailsim: refusing to dial %s %s: only tcp and udp: %w", network, address, ErrNotLoopback)
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("mailsim: refusing to dial %s %q: not an IP:port literal (resolve names through the world's DNS first): %w", network, address, ErrNotLoopback)
	}
	if ip := ap.Addr(); ip.Zone() != "" || !ip.Unmap().IsLoopback() {
		return fmt.Errorf("mailsim: refusing to dial %s %s: %w", network, address, ErrNotLoopback)
	}
	return nil
}
