package verifier

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/touchline/touchline/verifier/resolver"
)

// Config sets up a Verifier. The zero value is usable: every field has a
// default suited to verifying lists from a server on the public Internet.
type Config struct {
	// Resolver answers DNS questions. Default: a caching resolver using
	// the servers in /etc/resolv.conf.
	Resolver resolver.Resolver
	// Dialer opens SMTP connections. Default: a *net.Dialer.
	Dialer Dialer
	// SMTPPort is the port MX hosts are probed on. Default 25.
	SMTPPort int
	// HeloName is the name sent in EHLO. Receiving servers check it
	// against the probing IP's reverse DNS; it must be a real name under
	// the operator's control. Default: the host name if it is a fully
	// qualified one, else "verifier.touchline.invalid".
	HeloName string
	// MailFrom is the envelope sender of probes. Default: postmaster@ the
	// EHLO name's domain.
	MailFrom string
	// Concurrency caps simultaneous SMTP connections overall. Default 64.
	Concurrency int
	// PerHost caps simultaneous connections to one MX host. A host starts
	// with one session and gets more, up to PerHost, while it answers
	// cleanly; a 421, a 4.7.x rate limit or a slow banner halves them.
	// Default 8.
	PerHost int
	// PerProvider caps simultaneous connections to the MX hosts of one
	// provider (hosts under one registrable domain or sharing an IP
	// address), adapting the same way. Default 2×PerHost.
	PerProvider int
	// ConnectTimeout, BannerTimeout and CommandTimeout bound each stage of
	// a probe, so a tarpit costs seconds. Defaults 10s, 20s, 15s.
	ConnectTimeout, BannerTimeout, CommandTimeout time.Duration
	// GreylistRetry is how long to wait before asking again after a
	// greylisting reply; GreylistBudget is the total time greylisting may
	// cost one address, from its first greylisting reply, before it is
	// given up as unknown/greylisted. Defaults 5m and 11m (postgrey's
	// default delay is 300 s). A negative GreylistRetry disables retries:
	// the caller reschedules greylisted addresses itself (an accepted
	// address whose catch-all test was greylisted is then greylisted too,
	// and the test is asked again with the same recipient next time).
	GreylistRetry, GreylistBudget time.Duration
	// RcptPerTransaction is how many recipients one MAIL transaction may
	// carry before RSET starts another. Default 20.
	RcptPerTransaction int
	// AllowPrivateMX lets the verifier connect to MX hosts on loopback,
	// private, link-local, CGNAT and reserved addresses. For labs only.
	AllowPrivateMX bool
	// AllowMXNetworks allows just these otherwise refused networks.
	AllowMXNetworks []netip.Prefix
	// SkipDomainRecords turns off the per-domain SPF and DMARC lookups
	// behind Verdict.DomainSPF and DomainDMARC.
	SkipDomainRecords bool
	// SkipCatchAll turns off the per-domain catch-all probe.
	SkipCatchAll bool
	// DisableStartTLS keeps probes in clear text.
	DisableStartTLS bool
	// Backoff is the first pause after a host answers 421; it doubles with
	// each further 421, up to 30s. Default 1s.
	Backoff time.Duration
	// DomainCache, when set, shares DomainFacts beyond this Verifier.
	DomainCache DomainCache
	// DomainTTL is how long a domain's MX set and catch-all state are
	// reused. Default 15m.
	DomainTTL time.Duration
}

func (c *Config) setDefaults() error {
	if c.Resolver == nil {
		r, err := resolver.New(resolver.Config{})
		if err != nil {
			return fmt.Errorf("verifier: default resolver: %w", err)
		}
		c.Resolver = r
	}
	if c.Dialer == nil {
		c.Dialer = &net.Dialer{}
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	defInt := func(d *int, v int) {
		if *d <= 0 {
			*d = v
		}
	}
	defInt(&c.SMTPPort, 25)
	defInt(&c.Concurrency, 64)
	defInt(&c.PerHost, 8)
	defInt(&c.PerProvider, 2*c.PerHost)
	defInt(&c.RcptPerTransaction, 20)
	def(&c.ConnectTimeout, 10*time.Second)
	def(&c.BannerTimeout, 20*time.Second)
	def(&c.CommandTimeout, 15*time.Second)
	if c.GreylistRetry == 0 {
		c.GreylistRetry = 5 * time.Minute
	}
	def(&c.GreylistBudget, 11*time.Minute)
	def(&c.DomainTTL, 15*time.Minute)
	def(&c.Backoff, time.Second)
	if c.HeloName == "" {
		c.HeloName = DefaultHeloName()
	}
	if err := validHeloName(c.HeloName); err != nil {
		return err
	}
	if c.MailFrom == "" {
		c.MailFrom = "postmaster@" + c.HeloName
	}
	if c.MailFrom != "<>" {
		a, err := ParseAddress(c.MailFrom)
		if err != nil {
			return fmt.Errorf("verifier: mail from: %w", err)
		}
		c.MailFrom = a.String()
	} else {
		c.MailFrom = ""
	}
	return nil
}

// DefaultHeloName is the EHLO name used when none is configured.
func DefaultHeloName() string {
	if h, err := os.Hostname(); err == nil && strings.Contains(strings.Trim(h, "."), ".") && !strings.HasPrefix(h, "localhost") {
		return strings.ToLower(strings.Trim(h, "."))
	}
	return "verifier.touchline.invalid"
}

func validHeloName(n string) error {
	if n == "" || strings.ContainsAny(n, " \t\r\n<>") {
		return fmt.Errorf("verifier: EHLO name %q is not a host name", n)
	}
	if l := strings.ToLower(n); l == "localhost" || strings.HasPrefix(l, "localhost.") {
		// Many receiving servers refuse or score down a "localhost"
		// greeting from a remote IP; that would skew every verdict.
		return fmt.Errorf("verifier: EHLO name %q would be refused by most servers; set a real host name", n)
	}
	return nil
}

// Verifier checks addresses. It is safe for concurrent use, and concurrent
// calls to Verify share DNS answers, catch-all probes and SMTP sessions:
// addresses handled by one MX host are asked in one session, RSET between
// transactions. Call Close to end idle sessions.
type Verifier struct {
	cfg  Config
	sess sessionConfig

	ctx    context.Context // ends with Close; bounds every session
	cancel context.CancelFunc

	sem chan struct{} // one token per open SMTP connection
	// semWaiting counts workers waiting for a token; idle sessions give
	// way to them.
	semWaiting atomic.Int64

	mu        sync.Mutex
	domains   map[string]*domainEntry
	hosts     map[string]*hostPool
	providers map[string]*provider
	provByIP  map[netip.Addr]*provider
	caLocal   map[string]string // domain -> catch-all probe local part, until settled
	dnsSem    chan struct{}     // domains being resolved at once
	workers   sync.WaitGroup
}

// New returns a Verifier for cfg.
func New(cfg Config) (*Verifier, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	v := &Verifier{
		cfg: cfg,
		sess: sessionConfig{
			dialer: cfg.Dialer, port: cfg.SMTPPort, helo: cfg.HeloName, mailFrom: cfg.MailFrom,
			connectTimeout: cfg.ConnectTimeout, bannerTimeout: cfg.BannerTimeout,
			commandTimeout: cfg.CommandTimeout, noStartTLS: cfg.DisableStartTLS,
		},
		ctx: ctx, cancel: cancel,
		sem:     make(chan struct{}, cfg.Concurrency),
		domains: map[string]*domainEntry{},
		hosts:   map[string]*hostPool{},

		providers: map[string]*provider{},
		provByIP:  map[netip.Addr]*provider{},
		caLocal:   map[string]string{},
		dnsSem:    make(chan struct{}, 64),
	}
	return v, nil
}

// Close ends open sessions and waits for their goroutines. Verify calls in
// progress return unknown verdicts.
func (v *Verifier) Close() error {
	v.cancel()
	v.workers.Wait()
	return nil
}

// Config returns the configuration in force, defaults filled in.
func (v *Verifier) Config() Config { return v.cfg }

// Verify returns the verdict for one address. It never returns an error:
// every failure to learn something is itself a verdict (see the package
// documentation), and cancelling ctx gives unknown/timeout.
func (v *Verifier) Verify(ctx context.Context, input string) Verdict {
	start := time.Now()
	vd := v.verify(ctx, input)
	vd.Elapsed = time.Since(start)
	vd.ElapsedMS = vd.Elapsed.Milliseconds()
	return vd
}

func (v *Verifier) verify(ctx context.Context, input string) Verdict {
	vd := Verdict{Input: input, CatchAll: CatchAllNotChecked}
	addr, err := ParseAddress(input)
	if err != nil {
		vd.Status, vd.Reason = Undeliverable, ReasonSyntax
		var se *SyntaxError
		if errors.As(err, &se) {
			vd.Detail = se.Reason
		} else {
			vd.Detail = err.Error()
		}
		return vd
	}
	vd.Address = addr.String()
	vd.RoleAccount = isRoleAccount(addr.Local)
	vd.FreeProvider = isFreeProvider(addr.Domain)
	vd.Disposable = isDisposableDomain(addr.Domain)

	d := v.domain(ctx, addr.Domain)
	vd.MXHosts = d.names()
	vd.DomainSPF, vd.DomainDMARC = d.spf, d.dmarc
	if d.status != "" {
		vd.Status, vd.Reason, vd.Detail = d.status, d.reason, d.detail
		return vd
	}
	if vd.Disposable {
		// Throwaway inboxes accept anything and are read by nobody who
		// buys; a probe would add load and no information.
		vd.Status, vd.Reason, vd.Detail = Risky, ReasonDisposable, "domain is a disposable-mailbox service"
		return vd
	}
	if !v.cfg.SkipCatchAll {
		d.startCatchAll(v)
	}
	res := v.probe(ctx, probeTarget{rcpt: addr.String(), utf8: addr.UTF8Local, hosts: d.hosts})
	vd.MXHosts = res.tried
	vd.Status, vd.Reason, vd.Detail, vd.Reply, vd.StartTLS = res.status, res.reason, res.detail, res.reply, res.starttls
	if v.cfg.SkipCatchAll {
		return vd
	}
	if vd.Reason == ReasonAccepted {
		vd.CatchAll = d.waitCatchAll(ctx)
		if vd.CatchAll == CatchAllInconclusive && d.caGreylisted {
			// Accepted, but whether the domain accepts anything is still
			// behind greylisting: the caller asks again later.
			vd.Status, vd.Reason = Unknown, ReasonGreylisted
			vd.Detail = "accepted, but the catch-all test was greylisted; ask again later"
			return vd
		}
		if vd.CatchAll == CatchAllAccepting {
			// The domain accepts any local part, so this acceptance
			// says nothing about this mailbox.
			vd.Status, vd.Reason = Risky, ReasonCatchAll
			vd.Detail = "domain accepts mail for any address"
		}
	} else if vd.Reason == ReasonMailboxNotFound || vd.Reason == ReasonMailboxDisabled {
		// A mailbox rejected for itself proves the domain is not a
		// catch-all, whatever its random probe is still doing.
		vd.CatchAll = CatchAllRejecting
	} else {
		vd.CatchAll = d.catchAllNow()
	}
	return vd
}

// probeTarget is one RCPT question and the hosts that may answer it, in
// preference order.
type probeTarget struct {
	rcpt  string
	utf8  bool
	hosts []mxHost
}

type probeResult struct {
	status   Status
	reason   Reason
	detail   string
	reply    *Reply
	starttls bool
	tried    []string
}

func (v *Verifier) probe(ctx context.Context, t probeTarget) probeResult {
	j := &job{ctx: ctx, target: t, done: make(chan probeResult, 1), start: time.Now()}
	v.submit(j)
	select {
	case r := <-j.done:
		return r
	case <-ctx.Done():
		return probeResult{status: Unknown, reason: ReasonTimeout, detail: "verification cancelled: " + ctx.Err().Error(), tried: j.triedSnapshot()}
	case <-v.ctx.Done():
		return probeResult{status: Unknown, reason: ReasonTimeout, detail: "verifier closed", tried: j.triedSnapshot()}
	}
}

// randomLocalPart makes a local part no real mailbox has, for the catch-all
// probe. It looks like an ordinary address so filters treat it like one.
func randomLocalPart() string {
	var b [6]byte
	rand.Read(b[:])
	return "tl-" + hex.EncodeToString(b[:])
}
