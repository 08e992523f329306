package mailsim

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
)

func TestDialerRefusesOutsideLoopback(t *testing.T) {
	t.Parallel()
	var dialed atomic.Int64
	d := &Dialer{Next: func(ctx context.Context, network, address string) (net.Conn, error) {
		dialed.Add(1)
		return nil, errors.New("stub")
	}}
	refused := []struct{ network, address string }{
		{"tcp", "10.0.0.1:25"},
		{"tcp", "192.168.1.5:25"},
		{"tcp", "[fd00::1]:25"},
		{"tcp", "[::ffff:10.0.0.1]:25"},
		{"tcp", "gmail-smtp-in.l.google.com:25"},
		{"tcp", "localhost:25"},
		{"udp", "8.8.8.8:53"},
		{"unix", "/var/run/x.sock"},
	}
	for _, tc := range refused {
		_, err := d.DialContext(context.Background(), tc.network, tc.address)
		if !errors.Is(err, ErrNotLoopback) {
			t.Errorf("%s %s: %v, want ErrNotLoopback", tc.network, tc.address, err)
		}
	}
	if n := dialed.Load(); n != 0 {
		t.Fatalf("dialed %d refused destinations", n)
	}
	if n := d.Refused(); n != int64(len(refused)) {
		t.Errorf("Refused() = %d, want %d", n, len(refused))
	}

	for _, addr := range []string{"127.1.0.2:2525", "127.0.0.1:53", "[::1]:25", "[::ffff:127.0.0.1]:25"} {
		d.DialContext(context.Background(), "tcp", addr)
	}
	if n := dialed.Load(); n != 4 {
		t.Errorf("dialed %d loopback destinations, want 4", n)
	}
}

func TestDialerReachesAWorldHost(t *testing.T) {
	t.Parallel()
	w := newWorld(t, Options{})
	mustAddHost(t, w, Host{Name: "mx.acme.test"})
	var d Dialer // the zero value dials for real
	conn, err := d.DialContext(context.Background(), "tcp", smtpAddr(t, w, "mx.acme.test"))
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
}
