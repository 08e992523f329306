package mailsim

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func newWorld(t testing.TB, opts Options) *World {
	t.Helper()
	w, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := w.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return w
}

func mustAddHost(t testing.TB, w *World, h Host) {
	t.Helper()
	if err := w.AddHost(h); err != nil {
		t.Fatal(err)
	}
}

func mustAddDomain(t testing.TB, w *World, d Domain) {
	t.Helper()
	if err := w.AddDomain(d); err != nil {
		t.Fatal(err)
	}
}

func smtpAddr(t testing.TB, w *World, name string) string {
	t.Helper()
	ip, ok := w.HostIP(name)
	if !ok {
		t.Fatalf("no host %s", name)
	}
	return net.JoinHostPort(ip.String(), strconv.Itoa(w.SMTPPort()))
}

// client speaks SMTP by hand, as the tests must see the wire.
type client struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
}

func dial(t testing.TB, w *World, name string) *client {
	t.Helper()
	conn, err := net.DialTimeout("tcp", smtpAddr(t, w, name), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &client{t: t, conn: conn, r: bufio.NewReader(conn)}
}

// read returns one reply: its code and its raw lines without CRLF.
func (c *client) read() (int, []string, error) {
	c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var lines []string
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			return 0, lines, err
		}
		line = strings.TrimRight(line, "\r\n")
		lines = append(lines, line)
		if len(line) < 4 {
			return 0, lines, fmt.Errorf("short reply line %q", line)
		}
		if line[3] == ' ' {
			code, err := strconv.Atoi(line[:3])
			return code, lines, err
		}
	}
}

// expect reads a reply, fails unless it has the code, and returns its text.
func (c *client) expect(code int) string {
	c.t.Helper()
	got, lines, err := c.read()
	if err != nil {
		c.t.Fatalf("reading reply (want %d): %v (got %q)", code, err, lines)
	}
	if got != code {
		c.t.Fatalf("got %q, want code %d", lines, code)
	}
	return strings.Join(lines, "\n")
}

func (c *client) send(line string) {
	c.t.Helper()
	if _, err := c.conn.Write([]byte(line + "\r\n")); err != nil {
		c.t.Fatal(err)
	}
}

// cmd sends a command and expects a reply code.
func (c *client) cmd(code int, line string) string {
	c.t.Helper()
	c.send(line)
	return c.expect(code)
}

// expectClosed fails unless the server closes the connection.
func (c *client) expectClosed() {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if b, err := c.r.ReadByte(); err == nil {
		c.t.Fatalf("connection still open, read %q", b)
	}
}

func (c *client) startTLS() {
	c.t.Helper()
	c.cmd(220, "STARTTLS")
	tc := tls.Client(c.conn, &tls.Config{InsecureSkipVerify: true, ServerName: "mx.test"})
	if err := tc.Handshake(); err != nil {
		c.t.Fatal(err)
	}
	c.conn, c.r = tc, bufio.NewReader(tc)
}

// greet reads the banner and sends EHLO.
func (c *client) greet() string {
	c.t.Helper()
	c.expect(220)
	return c.cmd(250, "EHLO probe.touchline.test")
}

func query(t testing.TB, w *World, name string, qtype uint16, network string) *dns.Msg {
	t.Helper()
	m, err := exchange(w, name, qtype, network, false)
	if err != nil {
		t.Fatalf("%s %s over %s: %v", dns.TypeToString[qtype], name, network, err)
	}
	return m
}

func exchange(w *World, name string, qtype uint16, network string, edns bool) (*dns.Msg, error) {
	c := &dns.Client{Net: network, Timeout: 5 * time.Second}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	if edns {
		m.SetEdns0(4096, false)
	}
	r, _, err := c.Exchange(m, w.DNSAddr())
	return r, err
}
