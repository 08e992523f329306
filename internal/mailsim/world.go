package mailsim

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/miekg/dns"
)

// ErrClosed is returned by calls on a World after Close.
var ErrClosed = errors.New("mailsim: world closed")

// Options configure a World.
type Options struct {
	// DNSLatency is added before every DNS answer.
	DNSLatency time.Duration
	// SMTPLatency is added before every SMTP reply, the greeting included
	// (pipelined commands pay once per group; see the package comment).
	SMTPLatency time.Duration
	// Logf, when set, receives one line per DNS query and SMTP command.
	Logf func(format string, args ...any)
	// Now is the clock greylisting reads; nil means time.Now.
	Now func() time.Time
}

// Host is a simulated SMTP server.
type Host struct {
	// Name is the host's DNS name, e.g. "mx1.acme.test".
	Name string
	// Address overrides the host's DNS address ("10.20.30.40", "fd00::1",
	// "127.0.0.1"); nothing listens for such a host.
	Address string
	// Down allocates a loopback IP but does not listen on it, so a
	// connection is refused.
	Down bool
	// BannerDelay delays the greeting (a tarpit); ReplyDelay is added to
	// every reply of this host, on top of Options.SMTPLatency.
	BannerDelay time.Duration
	ReplyDelay  time.Duration
	// BannerReject, when set, is sent instead of the greeting, and then the
	// connection is closed.
	BannerReject *Reply
	// MaxConns limits concurrent connections: one more is answered with
	// 421 and closed. Zero means no limit.
	MaxConns int
	// StartTLS offers STARTTLS; RequireTLS refuses MAIL before it.
	StartTLS   bool
	RequireTLS bool
	// SMTPUTF8 advertises SMTPUTF8 (RFC 6531); without it, and in a
	// transaction whose MAIL did not ask for it, a non-ASCII address is
	// refused.
	SMTPUTF8 bool
	// DisconnectAfterInvalid: once this many RCPTs of one connection were
	// refused with a 5xx reply, the next command (QUIT excepted) is answered
	// with 421 and the connection closed. Zero means never.
	DisconnectAfterInvalid int
	// Style selects the wording of replies: "postfix" (default), "exim",
	// "gmail", "m365", "exchange" or "yahoo".
	Style string
}

// DNSFault breaks a domain's zone.
type DNSFault int

const (
	// NoFault answers normally.
	NoFault DNSFault = iota
	// NXDomain answers NXDOMAIN for every name in the zone.
	NXDomain
	// ServFail answers SERVFAIL.
	ServFail
	// Timeout drops queries without answering.
	Timeout
	// Truncate answers over UDP with TC set and no records, over TCP in full.
	Truncate
)

// MX is one MX record of a Domain.
type MX struct {
	Pref uint16
	Host string
}

// Mailbox is the state of one mailbox.
type Mailbox int

const (
	// Exists accepts mail.
	Exists Mailbox = iota
	// Full refuses mail for being over quota (x.2.2).
	Full
	// Disabled refuses mail for a disabled account (5.2.1).
	Disabled
)

// Domain is a simulated mail domain: its DNS zone and its mailboxes.
type Domain struct {
	// Name is the domain, e.g. "acme.test".
	Name string
	// TTL applies to the domain's records; zero means 300 seconds.
	TTL uint32
	// DNSFault breaks the zone, names under it included.
	DNSFault DNSFault
	// MX lists the domain's MX records. NullMX publishes "MX 0 ." instead
	// (RFC 7505).
	MX     []MX
	NullMX bool
	// Apex, when set, is a host that the domain's own name resolves to;
	// without MX it is the implicit MX (RFC 5321 §5.1). Its Name defaults
	// to the domain's name.
	Apex *Host
	// Records are extra records in zone-file syntax, with the domain as
	// $ORIGIN and TTL as $TTL: `_dmarc IN TXT "v=DMARC1; p=none"`.
	Records []string

	// Mailboxes maps lowercase local parts to their state.
	Mailboxes map[string]Mailbox
	// CatchAll accepts unknown local parts.
	CatchAll bool
	// Greylist defers each (client IP, MAIL FROM, RCPT TO) triplet until
	// this long after its first attempt.
	Greylist time.Duration
	// PolicyBlock, when set, answers every RCPT for the domain.
	PolicyBlock *Reply
	// RcptDelay is added before answering each RCPT for the domain.
	RcptDelay time.Duration
	// AcceptData accepts DATA for the domain's recipients and keeps the
	// messages; otherwise DATA is refused with 554.
	AcceptData bool
}

// Reply is an SMTP reply. Text holds everything after the code on each
// line, the enhanced status code included ("5.7.1 Blocked"); lines are
// separated by "\n".
type Reply struct {
	Code int
	Text string
}

// String returns the reply as sent on the wire, CRLF-terminated.
func (r Reply) String() string {
	lines := strings.Split(r.Text, "\n")
	var b strings.Builder
	for i, l := range lines {
		b.WriteString(strconv.Itoa(r.Code))
		if i < len(lines)-1 {
			b.WriteByte('-')
		} else {
			b.WriteByte(' ')
		}
		b.WriteString(l)
		b.WriteString("\r\n")
	}
	return b.String()
}

// HostStats counts what clients did to one host.
type HostStats struct {
	// Connections counts accepted connections, refused ones included.
	Connections int
	// MaxConcurrent is the most connections open at once, refused ones
	// included.
	MaxConcurrent int
	// HeloNames lists distinct EHLO and HELO arguments in first-seen order.
	HeloNames []string
	// Helo counts EHLO and HELO commands.
	Helo int
	// StartTLS counts completed STARTTLS handshakes.
	StartTLS int
	// Mail, Rcpt, Rset and Data count commands received, refused ones
	// included.
	Mail, Rcpt, Rset, Data int
	// Sent421 counts 421 replies sent.
	Sent421 int
}

// Message is a message a host accepted with DATA.
type Message struct {
	Host     string
	From     string
	To       []string
	Data     []byte // as received, dot-unstuffed, CRLF line endings
	Received time.Time
}

// World is a simulated mail world. Create one with New.
type World struct {
	opts      Options
	now       func() time.Time
	tlsConfig *tls.Config

	portLn   net.Listener // holds 127.1.0.1:port so no other world takes the port
	smtpPort int

	dnsAddr string
	dnsUDP  *dns.Server
	dnsTCP  *dns.Server

	done chan struct{}
	wg   sync.WaitGroup

	mu       sync.RWMutex
	closed   bool
	hosts    map[string]*host   // by canonical name
	domains  map[string]*domain // by canonical name
	hostENTs map[string]bool    // ancestors of host names, for NODATA
	nextIP   uint32

	grayMu sync.Mutex
	gray   map[triplet]time.Time

	msgMu    sync.Mutex
	messages []Message
}

type triplet struct{ ip, from, rcpt string }

// firstHostIP follows 127.1.0.1, which holds the world's port.
var firstHostIP = ipv4(netip.AddrFrom4([4]byte{127, 1, 0, 2}))

// New starts a World: the DNS server and the reservation of the SMTP port.
func New(opts Options) (*World, error) {
	w := &World{
		opts:     opts,
		now:      opts.Now,
		done:     make(chan struct{}),
		hosts:    make(map[string]*host),
		domains:  make(map[string]*domain),
		hostENTs: make(map[string]bool),
		nextIP:   firstHostIP,
		gray:     make(map[triplet]time.Time),
	}
	if w.now == nil {
		w.now = time.Now
	}
	cert, err := selfSignedCert()
	if err != nil {
		return nil, err
	}
	w.tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}}

	// The kernel picks a free port; as every world binds the same IP,
	// no two worlds alive at once can get the same one.
	w.portLn, err = net.Listen("tcp", "127.1.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("mailsim: reserve SMTP port: %w", err)
	}
	w.smtpPort = w.portLn.Addr().(*net.TCPAddr).Port

	if err := w.startDNS(); err != nil {
		w.portLn.Close()
		return nil, err
	}
	return w, nil
}

// DNSAddr returns the DNS server's address, "127.0.0.1:PORT", for UDP and
// TCP.
func (w *World) DNSAddr() string { return w.dnsAddr }

// SMTPPort returns the port every simulated SMTP host listens on.
func (w *World) SMTPPort() int { return w.smtpPort }

// HostIP returns the address a host's name resolves to.
func (w *World) HostIP(name string) (netip.Addr, bool) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	h, ok := w.hosts[canonical(name)]
	if !ok {
		return netip.Addr{}, false
	}
	return h.ip, true
}

// AddHost adds a host, or replaces the configuration of a host of the same
// name.
func (w *World) AddHost(h Host) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, err := w.addHostLocked(h)
	return err
}

func (w *World) addHostLocked(cfg Host) (*host, error) {
	if w.closed {
		return nil, ErrClosed
	}
	name := canonical(cfg.Name)
	if _, ok := dns.IsDomainName(name); !ok || name == "" {
		return nil, fmt.Errorf("mailsim: host %q: not a domain name", cfg.Name)
	}
	cfg.Name = name
	if cfg.BannerReject != nil {
		r := *cfg.BannerReject // the caller may reuse theirs
		cfg.BannerReject = &r
	}
	if cfg.Style == "" {
		cfg.Style = "postfix"
	}
	if _, ok := styles[cfg.Style]; !ok {
		return nil, fmt.Errorf("mailsim: host %s: unknown style %q", name, cfg.Style)
	}
	var override netip.Addr
	if cfg.Address != "" {
		a, err := netip.ParseAddr(cfg.Address)
		if err != nil {
			return nil, fmt.Errorf("mailsim: host %s: address: %w", name, err)
		}
		override = a.Unmap()
	}

	if h, ok := w.hosts[name]; ok {
		if h.overridden != override.IsValid() {
			return nil, fmt.Errorf("mailsim: host %s: cannot switch between an Address override and a simulated listener", name)
		}
		if override.IsValid() {
			h.ip = override
		}
		wasDown := h.config().Down
		h.cfg.Store(&cfg)
		switch {
		case override.IsValid():
		case cfg.Down && !wasDown:
			h.stop()
		case !cfg.Down && wasDown:
			if err := h.listen(); err != nil {
				return nil, err
			}
		}
		return h, nil
	}

	h := &host{w: w, name: name, conns: make(map[net.Conn]struct{})}
	h.cfg.Store(&cfg)
	if override.IsValid() {
		h.ip, h.overridden = override, true
	} else if err := w.allocate(h, cfg.Down); err != nil {
		return nil, err
	}
	w.hosts[name] = h
	for p := parent(name); p != ""; p = parent(p) {
		w.hostENTs[p] = true
	}
	return h, nil
}

// allocate gives h the next free loopback IP, listening on it unless down.
func (w *World) allocate(h *host, down bool) error {
	for ; w.nextIP < ipv4(netip.AddrFrom4([4]byte{128, 0, 0, 0})); w.nextIP++ {
		if b := byte(w.nextIP); b == 0 || b == 255 {
			continue // x.x.x.0 and .255 confuse people reading logs
		}
		h.ip = fromIPv4(w.nextIP)
		if down {
			w.nextIP++
			return nil
		}
		err := h.listen()
		if errors.Is(err, syscall.EADDRINUSE) {
			continue // a foreign process holds this IP and port
		}
		if err != nil {
			return err
		}
		w.nextIP++
		return nil
	}
	return fmt.Errorf("mailsim: host %s: loopback addresses exhausted", h.name)
}

// AddDomain adds a domain, or replaces the domain of the same name.
func (w *World) AddDomain(d Domain) error {
	name := canonical(d.Name)
	if _, ok := dns.IsDomainName(name); !ok || name == "" {
		return fmt.Errorf("mailsim: domain %q: not a domain name", d.Name)
	}
	d.Name = name
	if d.TTL == 0 {
		d.TTL = 300
	}
	if d.NullMX && len(d.MX) > 0 {
		return fmt.Errorf("mailsim: domain %s: a null MX must be the only MX (RFC 7505 §3)", name)
	}
	// Keep our own copies: the caller may reuse what it passed.
	d.MX, d.Records = slices.Clone(d.MX), slices.Clone(d.Records)
	if d.PolicyBlock != nil {
		r := *d.PolicyBlock
		d.PolicyBlock = &r
	}
	dom := &domain{Domain: d, records: make(map[string][]dns.RR), ents: make(map[string]bool)}
	mailboxes := make(map[string]Mailbox, len(d.Mailboxes))
	for local, state := range d.Mailboxes {
		mailboxes[strings.ToLower(local)] = state
	}
	dom.Mailboxes = mailboxes
	for _, text := range d.Records {
		if err := dom.addRecords(text); err != nil {
			return err
		}
	}

	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	if d.Apex != nil {
		apex := *d.Apex
		if apex.Name == "" {
			apex.Name = name
		}
		h, err := w.addHostLocked(apex)
		if err != nil {
			return err
		}
		dom.apexHost = h.name
	}
	w.domains[name] = dom
	return nil
}

// HostStats returns a snapshot of a host's counters; the zero value for an
// unknown host.
func (w *World) HostStats(name string) HostStats {
	w.mu.RLock()
	h, ok := w.hosts[canonical(name)]
	w.mu.RUnlock()
	if !ok {
		return HostStats{}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.stats
	s.HeloNames = append([]string(nil), s.HeloNames...)
	return s
}

// Messages returns the messages accepted so far, oldest first.
func (w *World) Messages() []Message {
	w.msgMu.Lock()
	defer w.msgMu.Unlock()
	return append([]Message(nil), w.messages...)
}

// MessagesSince returns the messages accepted after the first n, oldest
// first: a watcher's way to see only what is new.
func (w *World) MessagesSince(n int) []Message {
	w.msgMu.Lock()
	defer w.msgMu.Unlock()
	if n >= len(w.messages) {
		return nil
	}
	return append([]Message(nil), w.messages[max(n, 0):]...)
}

// Close stops the DNS server and every host, closes open connections and
// waits for them.
func (w *World) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return ErrClosed
	}
	w.closed = true
	close(w.done)
	hosts := make([]*host, 0, len(w.hosts))
	for _, h := range w.hosts {
		hosts = append(hosts, h)
	}
	w.mu.Unlock()

	err := errors.Join(w.dnsUDP.Shutdown(), w.dnsTCP.Shutdown(), w.portLn.Close())
	for _, h := range hosts {
		h.stop()
	}
	w.wg.Wait()
	return err
}

// sleep waits d, or less if the world closes; it reports whether the world
// is still open.
func (w *World) sleep(d time.Duration) bool {
	if d <= 0 {
		select {
		case <-w.done:
			return false
		default:
			return true
		}
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-w.done:
		return false
	}
}

func (w *World) logf(format string, args ...any) {
	if w.opts.Logf != nil {
		w.opts.Logf(format, args...)
	}
}

// lookupDomain returns the domain of that exact name.
func (w *World) lookupDomain(name string) *domain {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return w.domains[name]
}

// greylisted records the triplet's attempt and reports whether it must
// still wait (RFC 6647 §2.3: the first attempt starts the clock; any retry
// after the delay passes, and the triplet passes from then on).
func (w *World) greylisted(t triplet, delay time.Duration) bool {
	now := w.now()
	w.grayMu.Lock()
	defer w.grayMu.Unlock()
	first, ok := w.gray[t]
	if !ok {
		w.gray[t] = now
		return true
	}
	return now.Sub(first) < delay
}

func (w *World) store(m Message) {
	w.msgMu.Lock()
	defer w.msgMu.Unlock()
	w.messages = append(w.messages, m)
}

// canonical lowercases a DNS name and drops its trailing dot.
func canonical(name string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(name)), ".")
}

// parent returns the name one label up, "" above a top-level label.
func parent(name string) string {
	_, p, ok := strings.Cut(name, ".")
	if !ok {
		return ""
	}
	return p
}

func ipv4(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func fromIPv4(v uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// selfSignedCert makes the one certificate all hosts of a world present;
// clients of a simulation cannot verify it and are expected not to try.
func selfSignedCert() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("mailsim: tls key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("mailsim: tls serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "mailsim"},
		DNSNames:     []string{"mailsim.test", "*.test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("mailsim: tls certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
