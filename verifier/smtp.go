package verifier

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// A probe session speaks just enough SMTP (RFC 5321) to ask a server whether
// it would accept a recipient: banner, EHLO, optional STARTTLS (RFC 3207),
// MAIL, then RCPT after RCPT, RSET and QUIT. It never sends DATA.
//
// It is written against net.Conn rather than go-smtp's Client because a probe
// needs what that client hides: the text and code of successful replies (the
// evidence for "accepted"), 252 told apart from 250, RSET without a second
// EHLO (go-smtp's Reset re-greets, doubling the round trips of every reused
// session), a STARTTLS upgrade that keeps the configured EHLO name, and
// separate deadlines for connect, banner and each command. go-smtp's server
// side powers the simulated mail world that tests this code.

// maxReplyLine bounds one reply line; RFC 5321 §4.5.3.1.5 allows 512 octets,
// real servers send longer, and a hostile one must not make us buffer forever.
const maxReplyLine = 4096

// maxReplyLines bounds a multi-line reply.
const maxReplyLines = 64

// errProtocol marks a server that does not speak SMTP as it should.
var errProtocol = errors.New("verifier: smtp protocol error")

// replyError is a non-success reply at a stage of the session other than RCPT
// (banner, EHLO, STARTTLS, MAIL, RSET): the host, not the recipient, answered.
type replyError struct {
	Stage string
	Reply Reply
}

func (e *replyError) Error() string {
	return fmt.Sprintf("verifier: %s: %d %s", e.Stage, e.Reply.Code, e.Reply.Text)
}

// sessionConfig is what a probe session needs from Config.
type sessionConfig struct {
	dialer         Dialer
	port           int
	helo           string
	mailFrom       string
	connectTimeout time.Duration
	bannerTimeout  time.Duration
	commandTimeout time.Duration
	noStartTLS     bool
}

type session struct {
	cfg      *sessionConfig
	host     string // MX host name, for SNI and evidence
	conn     net.Conn
	br       *bufio.Reader
	ext      map[string]string
	tls      bool
	inTxn    bool // MAIL accepted, recipients may follow
	rcptsTxn int  // RCPTs sent in the current transaction
	answered int  // RCPT replies other than 421 in this session
	// slowBanner is set when the greeting took more than a quarter of
	// the banner timeout: a host slowing down its greeting is loaded.
	slowBanner bool
	stop       func() bool
}

// dialSession connects to one address of an MX host and runs the session up
// to an accepted MAIL FROM. On failure the connection is closed.
func dialSession(ctx context.Context, cfg *sessionConfig, host string, ip netip.Addr) (*session, error) {
	dctx, cancel := context.WithTimeout(ctx, cfg.connectTimeout)
	defer cancel()
	conn, err := cfg.dialer.DialContext(dctx, "tcp", netip.AddrPortFrom(ip, uint16(cfg.port)).String())
	if err != nil {
		return nil, err
	}
	s := &session{cfg: cfg, host: host, conn: conn, br: bufio.NewReaderSize(conn, maxReplyLine)}
	// Closing the connection is the only way to interrupt a blocked read
	// when ctx ends, so the session stays tied to ctx for its whole life.
	s.stop = context.AfterFunc(ctx, func() { conn.Close() })
	if err := s.start(); err != nil {
		s.close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	return s, nil
}

func (s *session) start() error {
	s.conn.SetDeadline(time.Now().Add(s.cfg.bannerTimeout))
	t0 := time.Now()
	banner, err := s.readReply()
	s.slowBanner = time.Since(t0) > s.cfg.bannerTimeout/4
	if err != nil {
		return fmt.Errorf("banner: %w", err)
	}
	if banner.Code != 220 {
		return &replyError{Stage: "banner", Reply: banner}
	}
	if err := s.hello(); err != nil {
		return err
	}
	if _, ok := s.ext["STARTTLS"]; ok && !s.cfg.noStartTLS {
		r, err := s.cmd("STARTTLS")
		if err != nil {
			return err
		}
		if r.Code == 421 {
			// RFC 5321 §3.8: the server is closing the channel.
			return &replyError{Stage: "starttls", Reply: r}
		}
		// A server that advertises STARTTLS and then refuses it is not worth
		// failing the probe for: RCPT answers mean the same in clear text.
		if r.Code == 220 {
			tc := tls.Client(s.conn, &tls.Config{
				ServerName: s.host,
				// A probe reads no secrets and sends none; many MX hosts
				// present self-signed or mismatched certificates, and
				// refusing them would only make us fall back to clear text.
				InsecureSkipVerify: true, //nolint:gosec
				MinVersion:         tls.VersionTLS12,
			})
			tc.SetDeadline(time.Now().Add(s.cfg.commandTimeout))
			if err := tc.Handshake(); err != nil {
				return fmt.Errorf("%w: %w", errStartTLS, err)
			}
			s.conn, s.tls = tc, true
			s.br = bufio.NewReaderSize(tc, maxReplyLine)
			// RFC 3207 §4.2: the client MUST discard what it knew and
			// greet again, and it keeps its own name doing so.
			if err := s.hello(); err != nil {
				return err
			}
		}
	}
	return s.mail()
}

// hello sends EHLO with the configured name, falling back to HELO for the
// rare server that does not know EHLO (RFC 5321 §4.1.4).
func (s *session) hello() error {
	r, err := s.cmd("EHLO " + s.cfg.helo)
	if err != nil {
		return err
	}
	if r.Code == 500 || r.Code == 502 {
		r, err = s.cmd("HELO " + s.cfg.helo)
		if err != nil {
			return err
		}
		s.ext = map[string]string{}
	} else if r.Code == 250 {
		s.ext = parseExtensions(r.Text)
	}
	if r.Code != 250 {
		return &replyError{Stage: "ehlo", Reply: r}
	}
	return nil
}

func parseExtensions(text string) map[string]string {
	ext := map[string]string{}
	lines := strings.Split(text, "\n")
	for _, l := range lines[1:] { // the first line is the server's greeting
		k, v, _ := strings.Cut(strings.TrimSpace(l), " ")
		ext[strings.ToUpper(k)] = v
	}
	return ext
}

func (s *session) smtputf8() bool {
	_, ok := s.ext["SMTPUTF8"]
	return ok
}

func (s *session) mailCmd() string {
	cmd := "MAIL FROM:<" + s.cfg.mailFrom + ">"
	if s.smtputf8() {
		// RFC 6531 §3.4: a UTF-8 recipient is only allowed in a transaction
		// that declared SMTPUTF8; declaring it always lets one session serve
		// both kinds of address.
		cmd += " SMTPUTF8"
	}
	return cmd
}

func (s *session) mail() error {
	r, err := s.cmd(s.mailCmd())
	if err != nil {
		return err
	}
	if r.Code != 250 {
		return &replyError{Stage: "mail", Reply: r}
	}
	s.inTxn, s.rcptsTxn = true, 0
	return nil
}

// rcpts asks about recipients in the current transaction, after RSET and
// MAIL when reset is set (or no transaction is open). With PIPELINING
// (RFC 2920 §3.1: RSET, MAIL and RCPT may all be sent without waiting) the
// commands go in one write and the replies are read in order; otherwise
// one command at a time. It returns the RCPT replies it read, in order: a
// short slice with err set means the conversation broke after them. A
// refused RSET or MAIL is a *replyError and no RCPT reply is returned.
func (s *session) rcpts(addrs []string, reset bool) ([]Reply, error) {
	var lines []string
	pre := 0
	if reset && s.inTxn {
		lines = append(lines, "RSET")
		pre++
	}
	if reset || !s.inTxn {
		lines = append(lines, s.mailCmd())
		pre++
	}
	for _, a := range addrs {
		lines = append(lines, "RCPT TO:<"+a+">")
	}
	for _, l := range lines {
		if strings.ContainsAny(l, "\r\n") {
			return nil, fmt.Errorf("%w: command contains a line break", errProtocol)
		}
	}
	_, pipelining := s.ext["PIPELINING"]
	// A server may hold the replies of a pipelined group until it has
	// answered all of them (RFC 2920 §3.2 lets it buffer), and some
	// pause before each RCPT reply: the group gets the command timeout
	// plus an eighth of it per command.
	groupDeadline := time.Now().Add(s.cfg.commandTimeout + time.Duration(len(lines))*s.cfg.commandTimeout/8)
	if pipelining {
		s.conn.SetDeadline(groupDeadline)
		if _, err := io.WriteString(s.conn, strings.Join(lines, "\r\n")+"\r\n"); err != nil {
			return nil, err
		}
	}
	out := make([]Reply, 0, len(addrs))
	var stageErr error
	for i, l := range lines {
		var (
			r   Reply
			err error
		)
		if pipelining {
			r, err = s.readReply()
		} else {
			r, err = s.cmd(l)
		}
		if err != nil {
			return out, err
		}
		if i < pre {
			stage := "mail"
			if l == "RSET" {
				stage = "rset"
				s.inTxn = false
			}
			if r.Code != 250 && stageErr == nil {
				stageErr = &replyError{Stage: stage, Reply: r}
				if !pipelining {
					return nil, stageErr
				}
			}
			if stage == "mail" && r.Code == 250 {
				s.inTxn, s.rcptsTxn = true, 0
			}
			continue
		}
		if stageErr != nil {
			continue // RCPT outside a transaction: read and dropped
		}
		s.rcptsTxn++
		if r.Code != 421 {
			s.answered++
		}
		out = append(out, r)
		if r.Code == 421 {
			// RFC 5321 §3.8: the server closes the channel after 421.
			return out, nil
		}
	}
	if stageErr != nil {
		return nil, stageErr
	}
	return out, nil
}

// quit says goodbye without waiting long for the answer: the verdicts are in.
func (s *session) quit() {
	s.conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := io.WriteString(s.conn, "QUIT\r\n"); err == nil {
		s.readReply()
	}
	s.close()
}

func (s *session) close() {
	if s.stop != nil {
		s.stop()
	}
	s.conn.Close()
}

func (s *session) cmd(line string) (Reply, error) {
	if strings.ContainsAny(line, "\r\n") {
		return Reply{}, fmt.Errorf("%w: command contains a line break", errProtocol)
	}
	s.conn.SetDeadline(time.Now().Add(s.cfg.commandTimeout))
	if _, err := io.WriteString(s.conn, line+"\r\n"); err != nil {
		return Reply{}, err
	}
	return s.readReply()
}

// readReply reads one possibly multi-line reply (RFC 5321 §4.2.1). Lines of a
// multi-line reply are joined with "\n"; a repeated enhanced status code at
// the start of continuation lines (RFC 2034 §4) is dropped from them.
func (s *session) readReply() (Reply, error) {
	var (
		r     Reply
		lines []string
	)
	for {
		raw, err := s.br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			return Reply{}, fmt.Errorf("%w: reply line longer than %d octets", errProtocol, maxReplyLine)
		}
		if err != nil {
			if err == io.EOF && len(raw) == 0 && len(lines) == 0 {
				return Reply{}, io.ErrUnexpectedEOF
			}
			return Reply{}, err
		}
		line := strings.TrimRight(string(raw), "\r\n")
		if len(line) < 3 {
			return Reply{}, fmt.Errorf("%w: short reply line %q", errProtocol, line)
		}
		code, err := strconv.Atoi(line[:3])
		if err != nil || code < 200 || code > 599 {
			return Reply{}, fmt.Errorf("%w: bad reply code in %q", errProtocol, line)
		}
		if r.Code != 0 && code != r.Code {
			return Reply{}, fmt.Errorf("%w: reply code changed within a reply (%d then %d)", errProtocol, r.Code, code)
		}
		r.Code = code
		sep, text := byte(' '), ""
		if len(line) > 3 {
			sep, text = line[3], line[4:]
		}
		if len(lines) == 0 {
			if ec, rest, ok := splitEnhanced(code, text); ok {
				r.Enhanced, text = ec, rest
			}
		} else if r.Enhanced != "" {
			text = strings.TrimPrefix(text, r.Enhanced+" ")
		}
		lines = append(lines, text)
		if sep == ' ' {
			break
		}
		if sep != '-' {
			return Reply{}, fmt.Errorf("%w: bad separator in %q", errProtocol, line)
		}
		if len(lines) >= maxReplyLines {
			return Reply{}, fmt.Errorf("%w: reply longer than %d lines", errProtocol, maxReplyLines)
		}
	}
	r.Text = strings.Join(lines, "\n")
	return r, nil
}

// splitEnhanced takes an RFC 3463 status code off the front of reply text.
// Its class must agree with the reply code's first digit (RFC 2034 §4).
func splitEnhanced(code int, text string) (ec, rest string, ok bool) {
	head, rest, _ := strings.Cut(text, " ")
	parts := strings.Split(head, ".")
	if len(parts) != 3 {
		return "", text, false
	}
	for i, p := range parts {
		if p == "" || len(p) > 3 || (i == 0 && len(p) != 1) {
			return "", text, false
		}
		for _, c := range p {
			if c < '0' || c > '9' {
				return "", text, false
			}
		}
	}
	if int(parts[0][0]-'0') != code/100 {
		return "", text, false
	}
	return head, rest, true
}
