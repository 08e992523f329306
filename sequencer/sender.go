package sequencer

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/touchline/touchline/internal/netpolicy"
)

// Submission is how to reach a mailbox's SMTP submission server.
type Submission struct {
	Host     string
	Port     int
	Security string // "starttls", "tls" (implicit, RFC 8314) or "none"
	Username string
	Password string
}

// Sender hands a message to SMTP. It is the seam tests replace.
type Sender interface {
	Send(ctx context.Context, sub Submission, from, to string, msg []byte) error
}

// SendError is a failed send, and whether the message may nevertheless have
// been accepted: true only when the connection broke after the message's
// final dot was written and before the server's answer was read.
type SendError struct {
	Stage     string // dial, hello, auth, mail, rcpt, data
	Uncertain bool
	Reply     *smtp.SMTPError // the server's reply, when there was one
	Err       error
}

func (e *SendError) Error() string { return fmt.Sprintf("smtp %s: %v", e.Stage, e.Err) }
func (e *SendError) Unwrap() error { return e.Err }

// Permanent reports a 5xx refusal: sending again will not help.
func (e *SendError) Permanent() bool { return e.Reply != nil && e.Reply.Code >= 500 }

// SMTPSender submits with emersion/go-smtp.
type SMTPSender struct {
	// HeloName is the name sent in EHLO after TLS is up. go-smtp's
	// STARTTLS greets as "localhost" before TLS (FIELD-NOTES); submission
	// servers accept that, and the name that counts comes after.
	HeloName string
	// InsecureSkipVerify accepts any certificate: labs and the simulated
	// world only.
	InsecureSkipVerify bool
	Timeout            time.Duration // per command; default 30s
	// Policy is where submission servers may be: nil allows public
	// addresses only (internal/netpolicy). A Dialer replaces it.
	Policy *netpolicy.Policy
	Dialer interface {
		DialContext(ctx context.Context, network, address string) (net.Conn, error)
	}

	mu   sync.Mutex
	idle map[string][]idleClient // sessions kept open per submission account
}

type idleClient struct {
	c     *smtp.Client
	since time.Time
}

// maxIdle sessions are kept per account, each for at most idleFor: a
// cadence sends in bursts, and a new TCP connection with a TLS handshake
// costs more than the message. Sessions are only opened by concurrent
// sends, so --senders bounds them before maxIdle does; with maxIdle below
// the senders, every burst closed and reopened the difference
// (BenchmarkSend, 32 senders: 16 kept -> half the sends paid a handshake).
const (
	maxIdle = 64
	idleFor = 30 * time.Second
)

func (s *SMTPSender) take(key string) *smtp.Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	for l := s.idle[key]; len(l) > 0; l = s.idle[key] {
		ic := l[len(l)-1]
		s.idle[key] = l[:len(l)-1]
		if time.Since(ic.since) < idleFor {
			return ic.c
		}
		ic.c.Close()
	}
	return nil
}

func (s *SMTPSender) put(key string, c *smtp.Client) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.idle == nil {
		s.idle = map[string][]idleClient{}
	}
	if len(s.idle[key]) >= maxIdle {
		c.Quit()
		return
	}
	s.idle[key] = append(s.idle[key], idleClient{c, time.Now()})
}

// Send implements Sender. It reuses a session of the same account when one
// is idle; a session that fails is never reused. A kept session ended its
// last transaction with the server's acceptance, so the next MAIL starts a
// new one (RFC 5321 §4.1.1.4) without an RSET round trip; if the server
// dropped the idle session meanwhile, MAIL fails before anything was sent
// and the message goes on a fresh session.
func (s *SMTPSender) Send(ctx context.Context, sub Submission, from, to string, msg []byte) error {
	key := fmt.Sprintf("%s|%d|%s|%s", sub.Host, sub.Port, sub.Security, sub.Username)
	if c := s.take(key); c != nil {
		err := s.transact(ctx, key, c, from, to, msg)
		var se *SendError
		if !errors.As(err, &se) || se.Stage != "mail" || (se.Reply != nil && se.Reply.Code != 421) {
			return err
		}
	}
	c, err := s.open(ctx, sub)
	if err != nil {
		return err
	}
	return s.transact(ctx, key, c, from, to, msg)
}

// open dials and greets a submission server, and authenticates.
func (s *SMTPSender) open(ctx context.Context, sub Submission) (*smtp.Client, error) {
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	var d interface {
		DialContext(ctx context.Context, network, address string) (net.Conn, error)
	} = s.Policy.Dialer(timeout)
	if s.Dialer != nil {
		d = s.Dialer
	}
	addr := net.JoinHostPort(sub.Host, strconv.Itoa(sub.Port))
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, &SendError{Stage: "dial", Err: err}
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	tlsConfig := &tls.Config{ServerName: sub.Host, InsecureSkipVerify: s.InsecureSkipVerify, MinVersion: tls.VersionTLS12} //nolint:gosec
	var c *smtp.Client
	switch sub.Security {
	case "tls":
		tc := tls.Client(conn, tlsConfig)
		tc.SetDeadline(time.Now().Add(timeout))
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, &SendError{Stage: "dial", Err: err}
		}
		tc.SetDeadline(time.Time{})
		c = smtp.NewClient(tc)
	case "starttls":
		c, err = smtp.NewClientStartTLS(conn, tlsConfig)
		if err != nil {
			conn.Close()
			return nil, sendErr("hello", err)
		}
	default:
		c = smtp.NewClient(conn)
	}
	c.CommandTimeout, c.SubmissionTimeout = timeout, 4*timeout
	helo := s.HeloName
	if helo == "" {
		helo = "touchline.invalid"
	}
	if err := c.Hello(helo); err != nil {
		c.Close()
		return nil, sendErr("hello", err)
	}
	if sub.Username != "" {
		if err := c.Auth(sasl.NewPlainClient("", sub.Username, sub.Password)); err != nil {
			c.Close()
			return nil, sendErr("auth", err)
		}
	}
	return c, nil
}

// transact sends one message on c, and keeps c for reuse if all went well.
func (s *SMTPSender) transact(ctx context.Context, key string, c *smtp.Client, from, to string, msg []byte) (err error) {
	ok := false
	defer func() {
		if ok {
			s.put(key, c)
		} else {
			c.Close()
		}
	}()
	if err := c.Mail(from, nil); err != nil {
		return sendErr("mail", err)
	}
	if err := c.Rcpt(to, nil); err != nil {
		return sendErr("rcpt", err)
	}
	w, err := c.Data()
	if err != nil {
		return sendErr("data", err)
	}
	if _, err := w.Write(msg); err != nil {
		return sendErr("data", err)
	}
	if err := w.Close(); err != nil {
		e := sendErr("data", err)
		// The body went out; without the server's reply nobody knows
		// whether it was queued.
		e.Uncertain = e.Reply == nil
		return e
	}
	ok = true
	return nil
}

func sendErr(stage string, err error) *SendError {
	e := &SendError{Stage: stage, Err: err}
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		e.Reply = se
	}
	return e
}
