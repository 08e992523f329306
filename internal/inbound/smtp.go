package inbound

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/emersion/go-smtp"
)

// SMTP defaults, used where SMTPConfig leaves a field zero.
const (
	DefaultMaxMessageBytes = 10 << 20
	DefaultMaxRecipients   = 50
	DefaultMaxConnsPerIP   = 10
	DefaultSMTPTimeout     = 5 * time.Minute
)

// SMTPConfig configures an [SMTPServer].
type SMTPConfig struct {
	// Domains are the recipient domains accepted (Touchline's bounce and
	// tracking domains), matched case-insensitively and exactly: a
	// subdomain must be listed itself. Any other recipient gets
	// 550 5.7.1: the server never relays.
	Domains []string
	// Hostname names this server in the banner, the EHLO reply and the
	// Received header.
	Hostname string
	// MaxMessageBytes bounds DATA (default 10 MB); beyond: 552 5.3.4.
	MaxMessageBytes int64
	// MaxRecipients bounds RCPT per transaction (default 50); beyond:
	// 452 4.5.3, as go-smtp answers (RFC 5321 §4.5.3.1.10).
	MaxRecipients int
	// MaxConnsPerIP bounds concurrent connections from one address
	// (default 10); beyond: 421 4.7.0 before the greeting.
	MaxConnsPerIP int
	// TLSConfig, when set, makes the server offer STARTTLS.
	TLSConfig *tls.Config
	// ReadTimeout and WriteTimeout bound each command read and reply
	// write (default 5 minutes each, RFC 5321 §4.5.3.2 ballpark).
	ReadTimeout, WriteTimeout time.Duration
	// Logger receives connection-level errors; slog.Default() when nil.
	Logger *slog.Logger
	// Now is the clock for Received; time.Now when nil.
	Now func() time.Time
}

// SMTPServer receives bounces and replies for Touchline's domains and hands
// each accepted message to a [Handler].
type SMTPServer struct {
	cfg     SMTPConfig
	h       Handler
	domains map[string]bool
	srv     *smtp.Server
	log     *slog.Logger

	// ctx is handed to the Handler; Close cancels it, Shutdown does not.
	ctx    context.Context
	cancel context.CancelFunc
}

// NewSMTPServer returns a server that hands accepted mail to h.
func NewSMTPServer(cfg SMTPConfig, h Handler) *SMTPServer {
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if cfg.MaxRecipients <= 0 {
		cfg.MaxRecipients = DefaultMaxRecipients
	}
	if cfg.MaxConnsPerIP <= 0 {
		cfg.MaxConnsPerIP = DefaultMaxConnsPerIP
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = DefaultSMTPTimeout
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultSMTPTimeout
	}
	if cfg.Hostname == "" {
		cfg.Hostname = "localhost"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &SMTPServer{cfg: cfg, h: h, domains: make(map[string]bool), log: cfg.Logger}
	if s.log == nil {
		s.log = slog.Default()
	}
	for _, d := range cfg.Domains {
		s.domains[normalizeDomain(d)] = true
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())

	srv := smtp.NewServer(smtp.BackendFunc(s.newSession))
	srv.Domain = cfg.Hostname
	srv.MaxMessageBytes = cfg.MaxMessageBytes
	srv.MaxRecipients = cfg.MaxRecipients
	srv.TLSConfig = cfg.TLSConfig
	srv.ReadTimeout = cfg.ReadTimeout
	srv.WriteTimeout = cfg.WriteTimeout
	srv.ErrorLog = slogPrinter{s.log}
	s.srv = srv
	return s
}

// Serve accepts connections on l until Close or Shutdown. It limits
// concurrent connections per remote IP before go-smtp sees them, since
// go-smtp has no hook that runs before its greeting.
func (s *SMTPServer) Serve(l net.Listener) error {
	err := s.srv.Serve(newLimitListener(l, s.cfg.MaxConnsPerIP, s.cfg.WriteTimeout))
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// Close closes the listeners and every open connection at once and
// cancels the context of Handler calls in flight; their senders get no 250
// and will retry.
func (s *SMTPServer) Close() error {
	s.cancel()
	return s.srv.Close()
}

// Shutdown closes the listeners and waits for open sessions to end, or for
// ctx. Handler calls in flight finish with their context intact.
func (s *SMTPServer) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if err != nil {
		// Connections are still open: cut them, as Close would.
		s.cancel()
		_ = s.srv.Close()
		return err
	}
	s.cancel()
	return nil
}

func (s *SMTPServer) newSession(c *smtp.Conn) (smtp.Session, error) {
	return &smtpSession{srv: s, conn: c}, nil
}

// acceptRecipient reports whether rcpt belongs to one of our domains.
// (go-smtp itself refuses the bare "<postmaster>" of RFC 5321 §4.5.1 with
// 501; postmaster@ one of our domains is accepted like any address.)
func (s *SMTPServer) acceptRecipient(rcpt string) bool {
	at := strings.LastIndexByte(rcpt, '@')
	if at <= 0 {
		return false
	}
	return s.domains[normalizeDomain(rcpt[at+1:])]
}

// normalizeDomain lowercases d and drops a trailing root dot. Domains are
// case-insensitive (RFC 5321 §2.4); local parts are left alone.
func normalizeDomain(d string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(d)), ".")
}

var (
	errRelayDenied = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Relay access denied"}
	errTempFailure = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Temporary failure, please try again later"}
)

type smtpSession struct {
	srv  *SMTPServer
	conn *smtp.Conn

	from string
	to   []string
}

func (ss *smtpSession) Reset() {
	ss.from, ss.to = "", nil
}

func (ss *smtpSession) Logout() error { return nil }

// Mail accepts any reverse-path, including the null one DSNs use
// (RFC 5321 §4.5.5); go-smtp already checked a SIZE= parameter.
func (ss *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	ss.from = from
	return nil
}

func (ss *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if !ss.srv.acceptRecipient(to) {
		return errRelayDenied
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *smtpSession) Data(r io.Reader) error {
	// go-smtp's reader fails with ErrDataTooLarge (552 5.3.4) past
	// MaxMessageBytes, so this read is bounded.
	body, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	now := ss.srv.cfg.Now()
	m := Message{
		HELO:     ss.conn.Hostname(),
		From:     ss.from,
		To:       append([]string(nil), ss.to...),
		Received: now,
		Source:   "smtp",
	}
	if addr, ok := ss.conn.Conn().RemoteAddr().(*net.TCPAddr); ok {
		m.RemoteIP = addr.IP.String()
	} else if a := ss.conn.Conn().RemoteAddr(); a != nil {
		m.RemoteIP = a.String()
	}
	state, isTLS := ss.conn.TLSConnectionState()
	m.TLS = isTLS
	trace := receivedHeader(m, ss.srv.cfg.Hostname, isTLS, state, now)
	m.Raw = make([]byte, 0, len(trace)+len(body))
	m.Raw = append(append(m.Raw, trace...), body...)

	if err := ss.srv.h.HandleMessage(ss.srv.ctx, m); err != nil {
		ss.srv.log.Error("inbound smtp: handler failed; answered 451",
			"remote_ip", m.RemoteIP, "from", m.From, "to", m.To, "err", err)
		return errTempFailure
	}
	return nil
}

// receivedHeader builds the trace header of RFC 5321 §4.4:
//
//	Received: from HELO ([IP]) by HOST with ESMTP[S]; DATE
//
// "for <rcpt>" is added only for a single recipient so one copy does not
// reveal the other recipients.
func receivedHeader(m Message, host string, isTLS bool, state tls.ConnectionState, now time.Time) []byte {
	var b bytes.Buffer
	helo := m.HELO
	if helo == "" {
		helo = "unknown"
	}
	fmt.Fprintf(&b, "Received: from %s ([%s])\r\n\tby %s with ", helo, m.RemoteIP, host)
	if isTLS {
		// RFC 3848: ESMTPS means ESMTP under STARTTLS.
		fmt.Fprintf(&b, "ESMTPS (%s %s)", tls.VersionName(state.Version), tls.CipherSuiteName(state.CipherSuite))
	} else {
		b.WriteString("ESMTP")
	}
	if len(m.To) == 1 {
		fmt.Fprintf(&b, "\r\n\tfor <%s>", m.To[0])
	}
	fmt.Fprintf(&b, ";\r\n\t%s\r\n", now.Format(time.RFC1123Z))
	return b.Bytes()
}

// slogPrinter lets go-smtp's internal error log go to slog.
type slogPrinter struct{ l *slog.Logger }

func (p slogPrinter) Printf(format string, v ...any) {
	p.l.Warn("inbound smtp: " + fmt.Sprintf(format, v...))
}

func (p slogPrinter) Println(v ...any) {
	p.l.Warn("inbound smtp: " + strings.TrimSuffix(fmt.Sprintln(v...), "\n"))
}
