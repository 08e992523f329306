package mailsim

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// RFC 5321 §4.5.3.2.7: the server waits 5 minutes for a command.
	idleTimeout = 5 * time.Minute
	// maxLine bounds a command line; RFC 5321 §4.5.3.1.4 asks for 512
	// octets, extensions add some.
	maxLine = 4096
	// maxMessage is the largest message DATA keeps.
	maxMessage = 10 << 20
)

var errLineTooLong = errors.New("mailsim: line too long")

// host is one simulated SMTP host.
type host struct {
	w          *World
	name       string
	ip         netip.Addr // changes only under w.mu, for an Address override
	overridden bool
	cfg        atomic.Pointer[Host]

	mu     sync.Mutex
	ln     net.Listener // nil while down
	conns  map[net.Conn]struct{}
	active int
	stats  HostStats
}

func (h *host) config() *Host { return h.cfg.Load() }

// listen binds the host's IP on the world's port and serves it.
func (h *host) listen() error {
	ln, err := net.Listen("tcp", netip.AddrPortFrom(h.ip, uint16(h.w.smtpPort)).String())
	if err != nil {
		return err
	}
	h.mu.Lock()
	h.ln = ln
	h.mu.Unlock()
	h.w.wg.Add(1)
	go h.serve(ln)
	return nil
}

// stop closes the listener and every open connection.
func (h *host) stop() {
	h.mu.Lock()
	ln := h.ln
	h.ln = nil
	conns := make([]net.Conn, 0, len(h.conns))
	for c := range h.conns {
		conns = append(conns, c)
	}
	h.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
	for _, c := range conns {
		c.Close()
	}
}

func (h *host) serve(ln net.Listener) {
	defer h.w.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return // closed by stop
		}
		h.mu.Lock()
		if h.ln != ln {
			// stop ran between Accept and here and did not see c.
			h.mu.Unlock()
			c.Close()
			return
		}
		h.conns[c] = struct{}{}
		h.active++
		n := h.active
		h.stats.Connections++
		h.stats.MaxConcurrent = max(h.stats.MaxConcurrent, n)
		h.mu.Unlock()

		h.w.wg.Add(1)
		go h.handle(c, n)
	}
}

func (h *host) handle(c net.Conn, concurrent int) {
	defer h.w.wg.Done()
	defer func() {
		c.Close()
		h.mu.Lock()
		delete(h.conns, c)
		h.active--
		h.mu.Unlock()
	}()
	cfg := h.config()
	ip, _, _ := net.SplitHostPort(c.RemoteAddr().String())
	s := &session{
		w: h.w, h: h, cfg: cfg, st: styles[cfg.Style],
		raw: c, conn: c,
		br: bufio.NewReaderSize(c, maxLine), bw: bufio.NewWriter(c),
		ctx: replyCtx{host: h.name, ip: ip, id: newID()},
	}
	s.run(concurrent)
}

func (h *host) count(f func(*HostStats)) {
	h.mu.Lock()
	f(&h.stats)
	h.mu.Unlock()
}

// session is one SMTP connection.
type session struct {
	w   *World
	h   *host
	cfg *Host // as when the connection was accepted
	st  style
	ctx replyCtx

	raw  net.Conn // the TCP connection
	conn net.Conn // raw, or TLS over it after STARTTLS
	br   *bufio.Reader
	bw   *bufio.Writer
	tls  bool

	helo    string
	inTx    bool // MAIL accepted
	utf8    bool // MAIL asked for SMTPUTF8
	rcptCmd int  // RCPT commands in this transaction
	rcpts   []string
	invalid int // RCPTs refused with 5xx on this connection
}

func (s *session) run(concurrent int) {
	if s.cfg.MaxConns > 0 && concurrent > s.cfg.MaxConns {
		s.final(replyTooManyConns)
		return
	}
	if !s.w.sleep(s.cfg.BannerDelay) {
		return
	}
	if s.cfg.BannerReject != nil {
		s.final(*s.cfg.BannerReject)
		return
	}
	if s.reply(Reply{220, s.st.banner(s.ctx)}) != nil {
		return
	}
	for {
		line, err := s.readLine()
		if errors.Is(err, errLineTooLong) {
			if s.reply(replyLineTooLong) != nil {
				return
			}
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			s.final(replyTimeout(s.h.name))
			return
		}
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		verb = strings.ToUpper(verb)
		s.logCommand(verb, line)
		if n := s.cfg.DisconnectAfterInvalid; n > 0 && s.invalid >= n && verb != "QUIT" {
			s.final(replyTooManyInvalid)
			return
		}
		if !s.command(verb, strings.TrimSpace(arg)) {
			return
		}
	}
}

// command handles one command and reports whether the connection goes on.
func (s *session) command(verb, arg string) bool {
	var r Reply
	switch verb {
	case "EHLO", "HELO":
		r = s.hello(verb, arg)
	case "STARTTLS":
		return s.startTLS(arg)
	case "MAIL":
		s.h.count(func(st *HostStats) { st.Mail++ })
		r = s.mail(arg)
	case "RCPT":
		s.h.count(func(st *HostStats) { st.Rcpt++ })
		r = s.rcpt(arg)
	case "DATA":
		s.h.count(func(st *HostStats) { st.Data++ })
		return s.data(arg)
	case "RSET":
		s.h.count(func(st *HostStats) { st.Rset++ })
		if arg != "" {
			r = replySyntax("RSET")
			break
		}
		s.resetTx()
		r = replyOK
	case "NOOP":
		r = replyOK
	case "QUIT":
		s.final(replyBye)
		return false
	case "VRFY":
		r = replyVRFYDisabled
	case "EXPN", "ETRN", "TURN":
		r = replyNotImplemented
	case "AUTH":
		r = replyNoAuth
	default:
		r = replyUnknownCommand
	}
	return s.reply(r) == nil
}

func (s *session) hello(verb, arg string) Reply {
	name, _, _ := strings.Cut(arg, " ")
	if name == "" {
		return Reply{501, "Syntax: " + verb + " hostname"}
	}
	s.h.count(func(st *HostStats) {
		st.Helo++
		if !slices.Contains(st.HeloNames, name) {
			st.HeloNames = append(st.HeloNames, name)
		}
	})
	s.helo, s.ctx.helo = name, name
	s.resetTx() // RFC 5321 §4.1.4: EHLO implies RSET
	first := s.st.ehlo(s.ctx)
	if verb == "HELO" {
		return Reply{250, first}
	}
	lines := []string{first, "PIPELINING", "SIZE " + strconv.Itoa(s.st.size)}
	if s.cfg.StartTLS && !s.tls {
		lines = append(lines, "STARTTLS")
	}
	lines = append(lines, "ENHANCEDSTATUSCODES", "8BITMIME")
	if s.cfg.SMTPUTF8 {
		lines = append(lines, "SMTPUTF8")
	}
	return Reply{250, strings.Join(lines, "\n")}
}

func (s *session) startTLS(arg string) bool {
	switch {
	case !s.cfg.StartTLS:
		return s.reply(replyNotImplemented) == nil
	case s.tls:
		return s.reply(replyTLSActive) == nil
	case arg != "":
		return s.reply(replySyntax("STARTTLS")) == nil
	}
	if s.final(replyReadyTLS) != nil {
		return false
	}
	tc := tls.Server(s.raw, s.w.tlsConfig)
	tc.SetDeadline(time.Now().Add(30 * time.Second))
	if err := tc.Handshake(); err != nil {
		s.w.logf("smtp %s %s: TLS handshake: %v", s.h.name, s.ctx.ip, err)
		return false
	}
	tc.SetDeadline(time.Time{})
	s.h.count(func(st *HostStats) { st.StartTLS++ })
	// RFC 3207 §4.2: forget everything, including anything the client
	// pipelined after STARTTLS in the clear (the CVE-2011-0411 injection).
	s.conn, s.tls = tc, true
	s.br, s.bw = bufio.NewReaderSize(tc, maxLine), bufio.NewWriter(tc)
	s.helo, s.ctx.helo = "", ""
	s.resetTx()
	return true
}

func (s *session) mail(arg string) Reply {
	switch {
	case s.helo == "":
		return replyNeedHelo
	case s.cfg.RequireTLS && !s.tls:
		return replyMustStartTLS
	case s.inTx:
		return replyNestedMail
	}
	addr, params, ok := parsePath(arg, "FROM:")
	if !ok {
		return replySyntax("MAIL FROM:<address>")
	}
	utf8 := false
	for _, p := range params {
		key, val, _ := strings.Cut(p, "=")
		switch strings.ToUpper(key) {
		case "SIZE":
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil || n < 0 {
				return Reply{501, "5.5.4 Bad message size syntax"}
			}
			if n > maxMessage {
				return replyTooBig
			}
		case "BODY":
			if v := strings.ToUpper(val); v != "7BIT" && v != "8BITMIME" {
				return Reply{501, "5.5.4 Bad BODY keyword: " + val}
			}
		case "SMTPUTF8":
			if !s.cfg.SMTPUTF8 {
				return replyUnsupportedOption(key)
			}
			utf8 = true
		default:
			return replyUnsupportedOption(key)
		}
	}
	if !isASCII(addr) {
		// RFC 6531 §3.2: non-ASCII only in a transaction that declared it.
		if !s.cfg.SMTPUTF8 {
			return replyBadSender
		}
		if !utf8 {
			return replyDeclareUTF8
		}
	}
	s.inTx, s.utf8 = true, utf8
	s.ctx.from = addr
	return s.st.mailOK(s.ctx)
}

func (s *session) rcpt(arg string) Reply {
	if !s.inTx {
		return replyNeedMail
	}
	s.rcptCmd++
	addr, params, ok := parsePath(arg, "TO:")
	if !ok {
		return replySyntax("RCPT TO:<address>")
	}
	if len(params) > 0 {
		key, _, _ := strings.Cut(params[0], "=")
		return replyUnsupportedOption(key)
	}
	r, accepted := s.decide(addr)
	if accepted {
		s.rcpts = append(s.rcpts, addr)
	} else if r.Code >= 500 {
		s.invalid++
	}
	return r
}

// decide answers a recipient the way its domain is scripted.
func (s *session) decide(addr string) (Reply, bool) {
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 || at == len(addr)-1 {
		return replyBadRcpt, false
	}
	local, dom := addr[:at], canonical(addr[at+1:])
	if !isASCII(addr) {
		if !s.cfg.SMTPUTF8 {
			return replyBadRcpt, false
		}
		if !s.utf8 {
			return replyDeclareUTF8, false
		}
	}
	c := s.ctx
	c.rcpt, c.domain = addr, dom
	d := s.w.lookupDomain(dom)
	if d == nil {
		return s.st.relay(c), false
	}
	if !s.w.sleep(d.RcptDelay) {
		return s.st.relay(c), false // the world is closing; nobody will read it
	}
	if d.PolicyBlock != nil {
		return *d.PolicyBlock, false
	}
	if d.Greylist > 0 && s.w.greylisted(triplet{s.ctx.ip, strings.ToLower(s.ctx.from), strings.ToLower(addr)}, d.Greylist) {
		return s.st.greylist(c), false
	}
	state, ok := d.Mailboxes[strings.ToLower(local)]
	switch {
	case !ok && d.CatchAll, ok && state == Exists:
		return s.st.rcptOK(c), true
	case !ok:
		return s.st.unknown(c), false
	case state == Full:
		return s.st.full(c), false
	default:
		return s.st.disabled(c), false
	}
}

// data handles DATA and reports whether the connection goes on.
func (s *session) data(arg string) bool {
	var r Reply
	switch {
	case arg != "":
		r = replySyntax("DATA")
	case !s.inTx:
		r = replyNeedMail
	case s.rcptCmd == 0:
		r = replyNeedRcpt
	case len(s.rcpts) == 0:
		r = replyNoValidRcpt
	case !s.acceptsData():
		r = replyDataRefused
	}
	if r.Code != 0 {
		return s.reply(r) == nil
	}
	if s.reply(replyStartData) != nil {
		return false
	}
	msg, tooBig, err := s.readData()
	if err != nil {
		return false
	}
	if tooBig {
		r = replyTooBig
	} else {
		s.w.store(Message{
			Host: s.h.name, From: s.ctx.from, To: slices.Clone(s.rcpts),
			Data: msg, Received: time.Now(),
		})
		r = s.st.queued(s.ctx)
	}
	s.resetTx()
	return s.reply(r) == nil
}

func (s *session) acceptsData() bool {
	for _, rcpt := range s.rcpts {
		d := s.w.lookupDomain(canonical(rcpt[strings.LastIndexByte(rcpt, '@')+1:]))
		if d == nil || !d.AcceptData {
			return false
		}
	}
	return true
}

// readData reads a message up to the lone dot and undoes dot-stuffing
// (RFC 5321 §4.5.2).
func (s *session) readData() (msg []byte, tooBig bool, err error) {
	var buf bytes.Buffer
	lineStart := true
	for {
		s.conn.SetReadDeadline(time.Now().Add(idleTimeout))
		chunk, err := s.br.ReadSlice('\n')
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return nil, false, err
		}
		if lineStart {
			if string(chunk) == ".\r\n" || string(chunk) == ".\n" {
				return buf.Bytes(), tooBig, nil
			}
			if len(chunk) > 0 && chunk[0] == '.' {
				chunk = chunk[1:]
			}
		}
		lineStart = err == nil
		if buf.Len()+len(chunk) > maxMessage {
			tooBig = true
			continue
		}
		buf.Write(chunk)
	}
}

func (s *session) resetTx() {
	s.inTx, s.utf8, s.rcptCmd, s.rcpts = false, false, 0, nil
	s.ctx.from = ""
}

func (s *session) readLine() (string, error) {
	s.conn.SetReadDeadline(time.Now().Add(idleTimeout))
	line, err := s.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		for errors.Is(err, bufio.ErrBufferFull) {
			_, err = s.br.ReadSlice('\n')
		}
		if err == nil {
			err = errLineTooLong
		}
		return "", err
	}
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(line), "\r\n"), nil
}

// reply queues r and sends it unless the client has already pipelined
// another complete command, which is answered in the same flight.
func (s *session) reply(r Reply) error {
	s.queue(r)
	if n := s.br.Buffered(); n > 0 {
		if b, _ := s.br.Peek(n); bytes.IndexByte(b, '\n') >= 0 {
			return nil
		}
	}
	return s.flush()
}

// final sends r now, whatever is pipelined behind it.
func (s *session) final(r Reply) error {
	s.queue(r)
	return s.flush()
}

func (s *session) queue(r Reply) {
	if r.Code == 421 {
		s.h.count(func(st *HostStats) { st.Sent421++ })
	}
	if s.w.opts.Logf != nil {
		s.w.logf("smtp %s %s S: %s", s.h.name, s.ctx.ip, strings.ReplaceAll(strings.TrimSpace(r.String()), "\r\n", " | "))
	}
	s.bw.WriteString(r.String())
}

// flush pays the link's latency and the host's reply delay, then sends.
func (s *session) flush() error {
	if !s.w.sleep(s.w.opts.SMTPLatency + s.cfg.ReplyDelay) {
		return ErrClosed
	}
	s.conn.SetWriteDeadline(time.Now().Add(time.Minute))
	return s.bw.Flush()
}

func (s *session) logCommand(verb, line string) {
	if s.w.opts.Logf == nil {
		return
	}
	if verb == "AUTH" {
		line = "AUTH ..."
	}
	s.w.logf("smtp %s %s C: %s", s.h.name, s.ctx.ip, line)
}

// parsePath parses "FROM:<path> PARAMS" or "TO:<path> PARAMS" (RFC 5321
// §4.1.2), tolerating a space after the colon as deployed servers do. It
// drops an RFC 5321 §4.1.1.3 source route.
func parsePath(arg, prefix string) (addr string, params []string, ok bool) {
	if len(arg) < len(prefix) || !strings.EqualFold(arg[:len(prefix)], prefix) {
		return "", nil, false
	}
	rest := strings.TrimLeft(arg[len(prefix):], " ")
	if !strings.HasPrefix(rest, "<") {
		return "", nil, false
	}
	end, quoted := -1, false
	for i := 1; i < len(rest) && end < 0; i++ {
		switch rest[i] {
		case '\\':
			i++
		case '"':
			quoted = !quoted
		case '>':
			if !quoted {
				end = i
			}
		}
	}
	if end < 0 {
		return "", nil, false
	}
	addr = rest[1:end]
	if strings.HasPrefix(addr, "@") {
		if _, after, found := strings.Cut(addr, ":"); found {
			addr = after
		}
	}
	return addr, strings.Fields(rest[end+1:]), true
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// newID makes the per-connection token providers print in their replies.
func newID() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 20)
	for i := range b {
		b[i] = alphabet[rand.IntN(len(alphabet))]
	}
	return string(b)
}
