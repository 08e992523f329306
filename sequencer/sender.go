package sequencer

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
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
	Dialer             interface {
		DialContext(ctx context.Context, network, address string) (net.Conn, error)
	}
}

// Send implements Sender.
func (s *SMTPSender) Send(ctx context.Context, sub Submission, from, to string, msg []byte) error {
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	var d interface {
		DialContext(ctx context.Context, network, address string) (net.Conn, error)
	} = &net.Dialer{Timeout: timeout}
	if s.Dialer != nil {
		d = s.Dialer
	}
	addr := net.JoinHostPort(sub.Host, strconv.Itoa(sub.Port))
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return &SendError{Stage: "dial", Err: err}
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
			return &SendError{Stage: "dial", Err: err}
		}
		tc.SetDeadline(time.Time{})
		c = smtp.NewClient(tc)
	case "starttls":
		c, err = smtp.NewClientStartTLS(conn, tlsConfig)
		if err != nil {
			conn.Close()
			return sendErr("hello", err)
		}
	default:
		c = smtp.NewClient(conn)
	}
	defer c.Close()
	c.CommandTimeout, c.SubmissionTimeout = timeout, 4*timeout
	helo := s.HeloName
	if helo == "" {
		helo = "touchline.invalid"
	}
	if err := c.Hello(helo); err != nil {
		return sendErr("hello", err)
	}
	if sub.Username != "" {
		if err := c.Auth(sasl.NewPlainClient("", sub.Username, sub.Password)); err != nil {
			return sendErr("auth", err)
		}
	}
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
	c.Quit()
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
