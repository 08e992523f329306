package inbound

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"log/slog"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// recorder is a Handler that keeps what it was handed and can be told to fail.
type recorder struct {
	mu   sync.Mutex
	msgs []Message
	err  error
}

func (r *recorder) HandleMessage(_ context.Context, m Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	r.msgs = append(r.msgs, m)
	return nil
}

func (r *recorder) messages() []Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Message(nil), r.msgs...)
}

// startSMTP serves cfg on 127.0.0.1:0 and returns the address. The listener
// exists before Serve starts, so clients can dial at once.
func startSMTP(t *testing.T, cfg SMTPConfig, h Handler) string {
	t.Helper()
	if cfg.Domains == nil {
		cfg.Domains = []string{"bounces.example.com", "reply.example.com"}
	}
	if cfg.Hostname == "" {
		cfg.Hostname = "mx.touchline.test"
	}
	cfg.Logger = slog.New(slog.NewTextHandler(t.Output(), nil))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := NewSMTPServer(cfg, h)
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	t.Cleanup(func() {
		_ = s.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return l.Addr().String()
}

func dialSMTP(t *testing.T, addr string) *smtp.Client {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c := smtp.NewClient(conn)
	c.CommandTimeout = 10 * time.Second
	t.Cleanup(func() { _ = c.Close() })
	if err := c.Hello("mta.sender.test"); err != nil {
		t.Fatalf("EHLO: %v", err)
	}
	return c
}

func smtpCode(t *testing.T, err error) int {
	t.Helper()
	var se *smtp.SMTPError
	if !errors.As(err, &se) {
		t.Fatalf("want *smtp.SMTPError, got %T %v", err, err)
	}
	return se.Code
}

func sendData(c *smtp.Client, body string) error {
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write([]byte(body)); err != nil {
		return err
	}
	return w.Close()
}

// A DSN as Postfix sends it, trimmed: null sender, VERP recipient.
const postfixDSN = "From: MAILER-DAEMON@mail.prospect.test (Mail Delivery System)\r\n" +
	"To: b-7f3a9c@bounces.example.com\r\n" +
	"Subject: Undelivered Mail Returned to Sender\r\n" +
	"Auto-Submitted: auto-replied\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n" +
	"\r\n" +
	"--B\r\nContent-Type: text/plain\r\n\r\n<jane@prospect.test>: host mail.prospect.test said: 550 5.1.1 User unknown\r\n" +
	"--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mail.prospect.test\r\n\r\nFinal-Recipient: rfc822; jane@prospect.test\r\nAction: failed\r\nStatus: 5.1.1\r\n" +
	"--B--\r\n"

func TestSMTPAcceptsNullSenderDSN(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	addr := startSMTP(t, SMTPConfig{}, rec)
	c := dialSMTP(t, addr)

	if err := c.Mail("", nil); err != nil {
		t.Fatalf("MAIL FROM:<>: %v", err)
	}
	// Domain case differs from the configuration; the local part keeps its own.
	const rcpt = "b-7f3a9c@Bounces.Example.COM"
	if err := c.Rcpt(rcpt, nil); err != nil {
		t.Fatalf("RCPT: %v", err)
	}
	if err := sendData(c, postfixDSN); err != nil {
		t.Fatalf("DATA: %v", err)
	}
	msgs := rec.messages()
	if len(msgs) != 1 {
		t.Fatalf("handed %d messages, want 1", len(msgs))
	}
	m := msgs[0]
	if m.From != "" || len(m.To) != 1 || m.To[0] != rcpt {
		t.Errorf("envelope From=%q To=%q", m.From, m.To)
	}
	if m.Source != "smtp" || m.RemoteIP != "127.0.0.1" || m.HELO != "mta.sender.test" || m.TLS {
		t.Errorf("Source=%q RemoteIP=%q HELO=%q TLS=%v", m.Source, m.RemoteIP, m.HELO, m.TLS)
	}
	if !bytes.HasPrefix(m.Raw, []byte("Received: from mta.sender.test ([127.0.0.1])\r\n\tby mx.touchline.test with ESMTP\r\n\tfor <"+rcpt+">;")) {
		t.Errorf("Raw does not start with our Received header:\n%s", m.Raw)
	}
	if !bytes.HasSuffix(m.Raw, []byte(postfixDSN)) {
		t.Errorf("Raw does not end with the message as sent")
	}
}

func TestSMTPRecipients(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	addr := startSMTP(t, SMTPConfig{}, rec)
	c := dialSMTP(t, addr)
	if err := c.Mail("rep@touchline.test", nil); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		rcpt string
		code int // 0: accepted
	}{
		{"victim@gmail.com", 550},
		{"x@bounces.example.com.evil.test", 550},
		{"x@sub.bounces.example.com", 550},
		{"x@example.com", 550},
		{"t+lead-42@reply.example.com", 0},
		{"T+Lead-43@REPLY.example.com.", 0},
		{"Postmaster@Bounces.Example.com", 0},
	} {
		err := c.Rcpt(tc.rcpt, nil)
		switch {
		case tc.code == 0 && err != nil:
			t.Errorf("RCPT %s: %v", tc.rcpt, err)
		case tc.code != 0:
			if got := smtpCode(t, err); got != tc.code {
				t.Errorf("RCPT %s: code %d, want %d", tc.rcpt, got, tc.code)
			}
			var se *smtp.SMTPError
			if errors.As(err, &se) && se.EnhancedCode != (smtp.EnhancedCode{5, 7, 1}) {
				t.Errorf("RCPT %s: enhanced code %v, want 5.7.1", tc.rcpt, se.EnhancedCode)
			}
		}
	}
	if err := sendData(c, "Subject: re\r\n\r\nhi\r\n"); err != nil {
		t.Fatal(err)
	}
	got := rec.messages()
	if len(got) != 1 || strings.Join(got[0].To, ",") != "t+lead-42@reply.example.com,T+Lead-43@REPLY.example.com.,Postmaster@Bounces.Example.com" {
		t.Fatalf("handed %+v", got)
	}
	if bytes.Contains(got[0].Raw, []byte("\tfor <")) {
		t.Errorf("Received names a recipient of a multi-recipient message")
	}
}

func TestSMTPRelayDeniedHandsNothing(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	addr := startSMTP(t, SMTPConfig{}, rec)
	c := dialSMTP(t, addr)
	if err := c.Mail("spammer@evil.test", nil); err != nil {
		t.Fatal(err)
	}
	if code := smtpCode(t, c.Rcpt("victim@gmail.com", nil)); code != 550 {
		t.Fatalf("RCPT: %d, want 550", code)
	}
	// With no accepted recipient, DATA is refused too.
	if _, err := c.Data(); err == nil {
		t.Fatal("DATA accepted with no recipients")
	}
	if n := len(rec.messages()); n != 0 {
		t.Fatalf("handed %d messages", n)
	}
}

func TestSMTPOversizedMessage(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	addr := startSMTP(t, SMTPConfig{MaxMessageBytes: 1024}, rec)
	c := dialSMTP(t, addr)
	if size, ok := c.MaxMessageSize(); !ok || size != 1024 {
		t.Errorf("EHLO SIZE = %d, %v", size, ok)
	}
	if err := c.Mail("", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("b-1@bounces.example.com", nil); err != nil {
		t.Fatal(err)
	}
	body := "Subject: big\r\n\r\n" + strings.Repeat(strings.Repeat("x", 70)+"\r\n", 100)
	if code := smtpCode(t, sendData(c, body)); code != 552 {
		t.Fatalf("DATA: %d, want 552", code)
	}
	// MAIL with a declared SIZE over the limit is refused up front (RFC 1870).
	if code := smtpCode(t, c.Mail("", &smtp.MailOptions{Size: 4096})); code != 552 {
		t.Errorf("MAIL SIZE=4096: %d, want 552", code)
	}
	if n := len(rec.messages()); n != 0 {
		t.Fatalf("handed %d messages", n)
	}
}

func TestSMTPTooManyRecipients(t *testing.T) {
	t.Parallel()
	addr := startSMTP(t, SMTPConfig{MaxRecipients: 3}, &recorder{})
	c := dialSMTP(t, addr)
	if err := c.Mail("", nil); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := c.Rcpt("b-"+string(rune('a'+i))+"@bounces.example.com", nil); err != nil {
			t.Fatal(err)
		}
	}
	// go-smtp answers 452 4.5.3 (RFC 5321 §4.5.3.1.10 prefers 452 to 552).
	if code := smtpCode(t, c.Rcpt("b-z@bounces.example.com", nil)); code != 452 {
		t.Fatalf("4th RCPT: %d, want 452", code)
	}
}

func TestSMTPHandlerErrorIsTemporary(t *testing.T) {
	t.Parallel()
	rec := &recorder{err: errors.New("database down")}
	addr := startSMTP(t, SMTPConfig{}, rec)
	c := dialSMTP(t, addr)
	if err := c.Mail("", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("b-1@bounces.example.com", nil); err != nil {
		t.Fatal(err)
	}
	err := sendData(c, postfixDSN)
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != 451 || se.EnhancedCode != (smtp.EnhancedCode{4, 3, 0}) {
		t.Fatalf("end of DATA: %v, want 451 4.3.0", err)
	}
}

func TestSMTPConnectionLimitPerIP(t *testing.T) {
	t.Parallel()
	addr := startSMTP(t, SMTPConfig{}, &recorder{})

	// Reading each greeting proves the server accepted and counted the
	// connection before the next one is dialled.
	greet := func() (net.Conn, string) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close() })
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		line, err := bufio.NewReader(conn).ReadString('\n')
		if err != nil {
			t.Fatalf("read greeting: %v", err)
		}
		return conn, line
	}
	var open []net.Conn
	for i := range DefaultMaxConnsPerIP {
		conn, line := greet()
		if !strings.HasPrefix(line, "220 mx.touchline.test ") {
			t.Fatalf("connection %d: %q", i+1, line)
		}
		open = append(open, conn)
	}
	_, line := greet()
	if line != "421 4.7.0 Too many connections from your IP\r\n" {
		t.Fatalf("11th connection: %q", line)
	}

	// Closing one frees its slot. The server notices the close on its
	// own goroutine, so try a bounded number of times.
	_ = open[0].Close()
	for i := 0; ; i++ {
		_, line := greet()
		if strings.HasPrefix(line, "220 ") {
			break
		}
		if i == 1000 {
			t.Fatalf("slot never freed; last reply %q", line)
		}
	}
}

func TestSMTPStartTLS(t *testing.T) {
	t.Parallel()
	cert, pool := selfSignedCert(t, "mx.touchline.test")
	rec := &recorder{}
	addr := startSMTP(t, SMTPConfig{TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}}, rec)

	plain := dialSMTP(t, addr)
	if ok, _ := plain.Extension("STARTTLS"); !ok {
		t.Fatal("STARTTLS not offered")
	}

	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c, err := smtp.NewClientStartTLS(conn, &tls.Config{ServerName: "mx.touchline.test", RootCAs: pool})
	if err != nil {
		t.Fatalf("STARTTLS: %v", err)
	}
	c.CommandTimeout = 10 * time.Second
	defer c.Close()
	if ok, _ := c.Extension("STARTTLS"); ok {
		t.Error("STARTTLS offered again inside TLS")
	}
	if err := c.Mail("", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("b-9@bounces.example.com", nil); err != nil {
		t.Fatal(err)
	}
	if err := sendData(c, postfixDSN); err != nil {
		t.Fatal(err)
	}
	msgs := rec.messages()
	if len(msgs) != 1 || !msgs[0].TLS {
		t.Fatalf("handed %+v", msgs)
	}
	if !bytes.Contains(msgs[0].Raw[:200], []byte("with ESMTPS (TLS 1.3")) {
		t.Errorf("Received does not record TLS:\n%s", msgs[0].Raw[:200])
	}
}

func TestSMTPShutdownWaitsForSessions(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := NewSMTPServer(SMTPConfig{Domains: []string{"bounces.example.com"}}, &recorder{})
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	c := dialSMTP(t, l.Addr().String())

	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(context.Background()) }()
	if err := <-done; err != nil {
		t.Fatalf("Serve after Shutdown: %v", err)
	}
	// The open session still works until the client quits.
	if err := c.Mail("", nil); err != nil {
		t.Fatalf("MAIL during shutdown: %v", err)
	}
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

// selfSignedCert makes a throwaway ECDSA certificate for host.
func selfSignedCert(t *testing.T, host string) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: host},
		DNSNames:     []string{host},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}
