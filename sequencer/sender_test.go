package sequencer_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"sync"
	"testing"

	"github.com/emersion/go-smtp"

	"github.com/touchline/touchline/internal/netpolicy"
	"github.com/touchline/touchline/sequencer"
)

// sinkBackend is a go-smtp submission server that counts what it gets.
type sinkBackend struct {
	mu       sync.Mutex
	sessions int
	messages []string // recipients, one per accepted message
	conns    []net.Conn
}

type sinkSession struct {
	b  *sinkBackend
	to string
}

func (b *sinkBackend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sessions++
	b.conns = append(b.conns, c.Conn())
	return &sinkSession{b: b}, nil
}

func (s *sinkSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = to
	return nil
}
func (s *sinkSession) Data(r io.Reader) error {
	io.Copy(io.Discard, r)
	s.b.mu.Lock()
	s.b.messages = append(s.b.messages, s.to)
	s.b.mu.Unlock()
	return nil
}
func (s *sinkSession) Reset() {}
func (s *sinkSession) Logout() error {
	return nil
}

// sniffListener counts RSET commands on plain-text connections.
type sniffListener struct {
	net.Listener
	mu    sync.Mutex
	rsets int
}

type sniffConn struct {
	net.Conn
	l *sniffListener
}

func (l *sniffListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &sniffConn{c, l}, nil
}

func (c *sniffConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if bytes.Contains(bytes.ToUpper(p[:n]), []byte("RSET\r\n")) {
		c.l.mu.Lock()
		c.l.rsets++
		c.l.mu.Unlock()
	}
	return n, err
}

// dropAll closes every connection from the server's side, as a server
// does with sessions idle too long.
func (b *sinkBackend) dropAll() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range b.conns {
		c.Close()
	}
	b.conns = nil
}

// Sessions are reused without an RSET round trip, and a session the server
// dropped while idle costs nothing but a new connection: the message goes
// out once, on a fresh session.
func TestSMTPSenderReusesSessions(t *testing.T) {
	b := &sinkBackend{}
	srv := smtp.NewServer(b)
	srv.Domain = "sink.test"
	srv.AllowInsecureAuth = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sniff := &sniffListener{Listener: ln}
	go srv.Serve(sniff)
	defer srv.Close()
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	var p int
	for _, ch := range port {
		p = p*10 + int(ch-'0')
	}
	sub := sequencer.Submission{Host: host, Port: p, Security: "none"}
	s := &sequencer.SMTPSender{HeloName: "app.sender.test", Policy: netpolicy.New(netpolicy.Loopback...)}
	msg := []byte("From: a@sender.test\r\nTo: b@prospect.test\r\nSubject: x\r\n\r\nHi.\r\n")
	ctx := context.Background()
	for _, to := range []string{"one@prospect.test", "two@prospect.test", "three@prospect.test"} {
		if err := s.Send(ctx, sub, "bounce@sender.test", to, msg); err != nil {
			t.Fatal(err)
		}
	}
	b.mu.Lock()
	if b.sessions != 1 || len(b.messages) != 3 {
		t.Fatalf("%d sessions for %d messages, want 1 for 3", b.sessions, len(b.messages))
	}
	b.mu.Unlock()
	sniff.mu.Lock()
	if sniff.rsets != 0 {
		t.Errorf("%d RSETs: a session that ended with an accepted message needs none", sniff.rsets)
	}
	sniff.mu.Unlock()

	b.dropAll()
	if err := s.Send(ctx, sub, "bounce@sender.test", "four@prospect.test", msg); err != nil {
		t.Fatalf("send after the server dropped the idle session: %v", err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.sessions != 2 || len(b.messages) != 4 || b.messages[3] != "four@prospect.test" {
		t.Fatalf("after the drop: %d sessions, messages %v", b.sessions, b.messages)
	}
}
