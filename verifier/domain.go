package verifier

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/touchline/touchline/verifier/domaincheck"
	"github.com/touchline/touchline/verifier/resolver"
)

// mxHost is one mail exchanger with the addresses it may be reached at.
type mxHost struct {
	name  string
	addrs []netip.Addr
}

// MXHost is a mail exchanger of a domain and the addresses it is probed at.
type MXHost struct {
	Name  string       `json:"name"`
	Addrs []netip.Addr `json:"addrs"`
}

// DomainFacts are what the verifier learned about a recipient domain: where
// its mail goes (or why it goes nowhere), whether it accepts any local
// part, and whether it publishes SPF and DMARC. They are public facts, the
// same for every list, and may be shared between processes.
type DomainFacts struct {
	Hosts    []MXHost `json:"hosts,omitempty"` // usable, in preference order
	AllMX    []string `json:"all_mx,omitempty"`
	Status   Status   `json:"status,omitempty"` // set when no probe is possible
	Reason   Reason   `json:"reason,omitempty"`
	Detail   string   `json:"detail,omitempty"`
	CatchAll CatchAll `json:"catch_all,omitempty"`
	SPF      string   `json:"spf,omitempty"`
	DMARC    string   `json:"dmarc,omitempty"`
}

// DomainCache keeps DomainFacts beyond one Verifier, for example in a
// database shared by several worker processes, so that cleaning a list
// again does not resolve and catch-all-probe its domains again.
type DomainCache interface {
	LoadDomain(ctx context.Context, domain string) (DomainFacts, bool)
	StoreDomain(ctx context.Context, domain string, f DomainFacts, ttl time.Duration)
}

func (d *domainEntry) facts() DomainFacts {
	f := DomainFacts{AllMX: d.allMX, Status: d.status, Reason: d.reason, Detail: d.detail, SPF: d.spf, DMARC: d.dmarc, CatchAll: CatchAllNotChecked}
	for _, h := range d.hosts {
		f.Hosts = append(f.Hosts, MXHost{Name: h.name, Addrs: h.addrs})
	}
	select {
	case <-d.caDone:
		f.CatchAll = d.ca
	default:
	}
	return f
}

// load fills d from cached facts. A settled catch-all state is reused; an
// inconclusive one is probed again.
func (d *domainEntry) load(f DomainFacts) {
	d.allMX, d.status, d.reason, d.detail, d.spf, d.dmarc = f.AllMX, f.Status, f.Reason, f.Detail, f.SPF, f.DMARC
	for _, h := range f.Hosts {
		d.hosts = append(d.hosts, mxHost{name: h.Name, addrs: h.Addrs})
	}
	if f.CatchAll == CatchAllAccepting || f.CatchAll == CatchAllRejecting {
		d.ca = f.CatchAll
		close(d.caStart)
		close(d.caDone)
	}
}

// domainEntry is what the verifier knows about one recipient domain: where
// its mail goes, or why it cannot go anywhere, and whether it accepts any
// local part. One lookup serves every address of the domain in a list.
type domainEntry struct {
	name    string
	ready   chan struct{} // closed when the fields below are set
	expires time.Time

	hosts  []mxHost // usable hosts, preference order
	allMX  []string // every MX name, preference order, for evidence
	status Status   // set when no probe is possible
	reason Reason
	detail string

	spf, dmarc string // domaincheck.Presence of the domain's SPF and DMARC

	caStart chan struct{} // closed once the catch-all probe is started
	caDone  chan struct{} // closed when ca is set
	ca      CatchAll
	// caGreylisted: the catch-all probe was greylisted and the Verifier
	// does not retry itself (GreylistRetry < 0).
	caGreylisted bool
}

func (d *domainEntry) names() []string {
	if len(d.allMX) == 0 {
		return nil
	}
	return append([]string(nil), d.allMX...)
}

func (d *domainEntry) fail(s Status, r Reason, detail string) {
	d.status, d.reason, d.detail = s, r, detail
}

// domain returns the entry for name, resolving it once for all concurrent
// callers and reusing it until it expires.
func (v *Verifier) domain(ctx context.Context, name string) *domainEntry {
	now := time.Now()
	v.mu.Lock()
	d, ok := v.domains[name]
	if ok {
		select {
		case <-d.ready:
			if now.After(d.expires) {
				ok = false
			}
		default:
		}
	}
	if !ok {
		d = &domainEntry{name: name, ready: make(chan struct{}), caStart: make(chan struct{}), caDone: make(chan struct{})}
		v.domains[name] = d
		if len(v.domains)%1024 == 0 {
			v.sweepDomainsLocked(now)
		}
		v.mu.Unlock()
		// The lookup runs on the Verifier's context, not the caller's:
		// other callers wait for it and must not inherit a cancellation.
		lctx, cancel := context.WithTimeout(v.ctx, 4*v.cfg.ConnectTimeout)
		cached := false
		if c := v.cfg.DomainCache; c != nil {
			var f DomainFacts
			if f, cached = c.LoadDomain(lctx, name); cached {
				d.load(f)
			}
		}
		if !cached {
			// Bounded: a list's first window can name a thousand
			// domains at once, and a burst of four queries each
			// overflows resolvers' queues (dropped UDP, timeouts).
			select {
			case v.dnsSem <- struct{}{}:
				v.resolve(lctx, d)
				<-v.dnsSem
			case <-lctx.Done():
				d.fail(Unknown, ReasonDNSError, "DNS lookup not started: "+lctx.Err().Error())
			}
			if c := v.cfg.DomainCache; c != nil && d.reason != ReasonDNSError && (d.status != "" || v.cfg.SkipCatchAll) {
				// Nothing more will be learned by probing: keep it now.
				c.StoreDomain(lctx, name, d.facts(), v.cfg.DomainTTL)
			}
		}
		cancel()
		ttl := v.cfg.DomainTTL
		if d.reason == ReasonDNSError {
			// A failing name server may recover; do not pin the failure
			// for the whole list.
			ttl = min(ttl, 30*time.Second)
		}
		d.expires = time.Now().Add(ttl)
		close(d.ready)
		return d
	}
	v.mu.Unlock()
	select {
	case <-d.ready:
	case <-ctx.Done():
		tmp := &domainEntry{name: name}
		tmp.fail(Unknown, ReasonTimeout, "verification cancelled while resolving the domain")
		return tmp
	}
	return d
}

// sweepDomainsLocked drops expired entries so a long-lived Verifier's memory
// follows the domains it saw recently, not every domain it ever saw.
func (v *Verifier) sweepDomainsLocked(now time.Time) {
	for k, d := range v.domains {
		select {
		case <-d.ready:
			if now.After(d.expires) {
				delete(v.domains, k)
			}
		default:
		}
	}
}

// resolve finds the mail exchangers of d (RFC 5321 §5.1) and, beside them,
// whether the domain publishes SPF and DMARC.
func (v *Verifier) resolve(ctx context.Context, d *domainEntry) {
	var wg sync.WaitGroup
	if !v.cfg.SkipDomainRecords {
		wg.Go(func() {
			d.spf = string(domaincheck.SPFPresence(ctx, v.cfg.Resolver, d.name))
			d.dmarc = string(domaincheck.DMARCPresence(ctx, v.cfg.Resolver, d.name))
		})
	}
	v.resolveMX(ctx, d)
	wg.Wait()
	if d.reason == ReasonNoMailServer && strings.Contains(d.detail, "NXDOMAIN") {
		d.spf, d.dmarc = "", ""
	}
}

func (v *Verifier) resolveMX(ctx context.Context, d *domainEntry) {
	r := v.cfg.Resolver
	mxs, err := r.LookupMX(ctx, d.name)
	switch {
	case errors.Is(err, resolver.ErrNXDomain):
		d.fail(Undeliverable, ReasonNoMailServer, "domain does not exist (NXDOMAIN)")
		return
	case err != nil:
		d.fail(Unknown, ReasonDNSError, "MX lookup failed: "+err.Error())
		return
	}
	if len(mxs) == 1 && (mxs[0].Host == "." || mxs[0].Host == "") {
		// RFC 7505 §3: a null MX says the domain accepts no mail.
		d.allMX = []string{"."}
		d.fail(Undeliverable, ReasonNoMailServer, "domain publishes a null MX (RFC 7505): it accepts no mail")
		return
	}
	var names []string
	for _, mx := range mxs {
		if mx.Host == "." || mx.Host == "" {
			continue // a null MX among real ones is ignored, as MTAs do
		}
		names = append(names, strings.ToLower(strings.TrimSuffix(mx.Host, ".")))
	}
	implicit := false
	if len(names) == 0 {
		// RFC 5321 §5.1: no MX records, so the domain itself is the
		// implicit MX if it has an address record.
		names, implicit = []string{d.name}, true
	}
	d.allMX = names
	var private, unresolved []string
	var dnsErr error
	for _, n := range names {
		ips, err := r.LookupIP(ctx, n)
		if err != nil && !errors.Is(err, resolver.ErrNXDomain) {
			dnsErr = err
			continue
		}
		if len(ips) == 0 {
			unresolved = append(unresolved, n)
			continue
		}
		var ok []netip.Addr
		for _, ip := range ips {
			if v.cfg.mxAllowed(ip) {
				ok = append(ok, ip)
			}
		}
		if len(ok) == 0 {
			private = append(private, fmt.Sprintf("%s (%s)", n, ips[0]))
			continue
		}
		// Prefer IPv4: probing hosts rarely have IPv6 reverse DNS, and
		// many receivers are stricter over IPv6.
		v4 := ok[:0:0]
		var v6 []netip.Addr
		for _, ip := range ok {
			if ip.Unmap().Is4() {
				v4 = append(v4, ip.Unmap())
			} else {
				v6 = append(v6, ip)
			}
		}
		d.hosts = append(d.hosts, mxHost{name: n, addrs: append(v4, v6...)})
	}
	if len(d.hosts) > 0 {
		return
	}
	switch {
	case len(private) > 0:
		d.fail(Undeliverable, ReasonMXPrivate, "mail exchanger resolves only to non-public addresses: "+strings.Join(private, ", "))
	case dnsErr != nil:
		d.fail(Unknown, ReasonDNSError, "address lookup of mail exchanger failed: "+dnsErr.Error())
	case implicit:
		d.allMX = nil
		d.fail(Undeliverable, ReasonNoMailServer, "domain has neither MX nor address records")
	default:
		d.fail(Undeliverable, ReasonNoMailServer, "no mail exchanger has an address: "+strings.Join(unresolved, ", "))
	}
}

// startCatchAll starts the domain's catch-all probe the first time an
// address of the domain is probed. It runs beside the address's own probe,
// usually in the same session.
func (d *domainEntry) startCatchAll(v *Verifier) {
	select {
	case <-d.caStart:
		return
	default:
	}
	v.mu.Lock()
	select {
	case <-d.caStart:
		v.mu.Unlock()
		return
	default:
		close(d.caStart)
	}
	v.mu.Unlock()
	go func() {
		// The random local part is kept until the probe settles: a
		// greylisting server lets a retry through only for the same
		// recipient (RFC 6647 §2.1), so a later entry must ask again for
		// the same one.
		v.mu.Lock()
		local, ok := v.caLocal[d.name]
		if !ok {
			local = randomLocalPart()
			v.caLocal[d.name] = local
		}
		v.mu.Unlock()
		res := v.probe(v.ctx, probeTarget{rcpt: local + "@" + d.name, hosts: d.hosts})
		switch {
		case res.reason == ReasonAccepted:
			d.ca = CatchAllAccepting
		case res.status == Undeliverable && (res.reason == ReasonMailboxNotFound || res.reason == ReasonMailboxDisabled):
			d.ca = CatchAllRejecting
		default:
			d.ca = CatchAllInconclusive
		}
		d.caGreylisted = res.reason == ReasonGreylisted && v.cfg.GreylistRetry < 0
		v.mu.Lock()
		if d.ca != CatchAllInconclusive {
			delete(v.caLocal, d.name)
		}
		if d.caGreylisted {
			// The caller retries later (GreylistRetry < 0): the next
			// lookup of the domain starts a fresh entry and probes again.
			d.expires = time.Time{}
		}
		v.mu.Unlock()
		close(d.caDone)
		if c := v.cfg.DomainCache; c != nil {
			c.StoreDomain(v.ctx, d.name, d.facts(), v.cfg.DomainTTL)
		}
	}()
}

func (d *domainEntry) waitCatchAll(ctx context.Context) CatchAll {
	select {
	case <-d.caDone:
		return d.ca
	case <-ctx.Done():
		return CatchAllInconclusive
	}
}

func (d *domainEntry) catchAllNow() CatchAll {
	select {
	case <-d.caDone:
		return d.ca
	default:
		return CatchAllNotChecked
	}
}
