// Package domaincheck audits a sending domain the way mailbox providers
// judge it: SPF (RFC 7208), DKIM keys (RFC 6376, RFC 8463), DMARC (RFC 7489)
// with fallback to the organizational domain, MX, and the presence of
// MTA-STS (RFC 8461) and TLS-RPT (RFC 8460). Gmail and Yahoo (February 2024)
// and Microsoft (May 2025) reject or junk bulk mail from domains without
// SPF, DKIM and an aligned DMARC policy; this audit tells a team before it
// launches a cadence.
//
// Every check has a status: pass, warn (mail will flow but something is
// weak or will break soon) or fail (providers will reject or junk mail, or
// the record cannot be read). Warn and fail carry a fix, as close to the
// exact DNS record to publish as the facts allow. A Report's status is the
// worst of its checks.
//
// All DNS goes through a resolver.Resolver, so the audit runs against the
// simulated mail world in tests exactly as against the Internet.
package domaincheck

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync"

	"golang.org/x/net/idna"

	"github.com/touchline/touchline/verifier/resolver"
)

// Status is the outcome of a check.
type Status string

const (
	Pass Status = "pass"
	Warn Status = "warn"
	Fail Status = "fail"
)

func (s Status) rank() int {
	switch s {
	case Fail:
		return 2
	case Warn:
		return 1
	}
	return 0
}

// Worst returns the more severe of two statuses.
func Worst(a, b Status) Status {
	if b.rank() > a.rank() {
		return b
	}
	return a
}

// Check is one finding.
type Check struct {
	Name   string `json:"name"` // spf, dkim, dmarc, mx, mta-sts, tls-rpt
	Status Status `json:"status"`
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
}

// Report is the audit of one domain.
type Report struct {
	Domain string  `json:"domain"`
	Checks []Check `json:"checks"`
	Status Status  `json:"status"`
}

// Failed returns the checks that failed, for a launch preflight to show.
func (r *Report) Failed() []Check {
	var out []Check
	for _, c := range r.Checks {
		if c.Status == Fail {
			out = append(out, c)
		}
	}
	return out
}

// Options tune an audit.
type Options struct {
	// Resolver answers DNS questions. Required.
	Resolver resolver.Resolver
	// DKIMSelectors are the selectors to check. Empty means discover keys
	// at CommonSelectors.
	DKIMSelectors []string
	// IP, when valid, is a sending IP: the SPF check then says whether the
	// domain's SPF authorizes it.
	IP netip.Addr
}

// NormalizeDomain lowercases d, drops a trailing dot and converts an
// internationalized name to its A-label.
func NormalizeDomain(d string) (string, error) {
	d = strings.TrimSuffix(strings.TrimSpace(d), ".")
	if d == "" {
		return "", fmt.Errorf("domaincheck: empty domain")
	}
	a, err := idna.Lookup.ToASCII(d)
	if err != nil {
		return "", fmt.Errorf("domaincheck: %q is not a domain name: %v", d, err)
	}
	a = strings.ToLower(a)
	if !strings.Contains(a, ".") {
		return "", fmt.Errorf("domaincheck: %q is not a domain name: a sending domain has at least two labels", d)
	}
	for _, l := range strings.Split(a, ".") {
		if l == "" || len(l) > 63 || strings.HasPrefix(l, "-") || strings.HasSuffix(l, "-") {
			return "", fmt.Errorf("domaincheck: %q is not a domain name: bad label %q", d, l)
		}
		for _, c := range l {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return "", fmt.Errorf("domaincheck: %q is not a domain name: bad character %q", d, c)
			}
		}
	}
	return a, nil
}

// Run audits domain. The error is only for a domain that is not a domain
// name or a missing resolver; everything learned from DNS, failures
// included, is in the Report.
func Run(ctx context.Context, domain string, opts Options) (*Report, error) {
	if opts.Resolver == nil {
		return nil, fmt.Errorf("domaincheck: no resolver")
	}
	d, err := NormalizeDomain(domain)
	if err != nil {
		return nil, err
	}
	for _, s := range opts.DKIMSelectors {
		if err := validSelector(s); err != nil {
			return nil, err
		}
	}
	r := opts.Resolver
	var (
		mx, spf, dmarc, sts, rpt Check
		dkim                     []Check
		wg                       sync.WaitGroup
	)
	wg.Go(func() { mx = checkMX(ctx, r, d) })
	wg.Go(func() { spf = checkSPF(ctx, r, d, opts.IP) })
	wg.Go(func() { dkim = checkDKIM(ctx, r, d, opts.DKIMSelectors) })
	wg.Go(func() { dmarc = checkDMARC(ctx, r, d) })
	wg.Go(func() { sts = checkMTASTS(ctx, r, d) })
	wg.Go(func() { rpt = checkTLSRPT(ctx, r, d) })
	wg.Wait()
	rep := &Report{Domain: d, Status: Pass}
	rep.Checks = append(rep.Checks, spf)
	rep.Checks = append(rep.Checks, dkim...)
	rep.Checks = append(rep.Checks, dmarc, mx, sts, rpt)
	for _, c := range rep.Checks {
		rep.Status = Worst(rep.Status, c.Status)
	}
	return rep, nil
}

// txtWithPrefix returns the TXT records at name that start with the version
// tag prefix (compared case-insensitively, and followed by ";", " " or end).
func txtWithPrefix(ctx context.Context, r resolver.Resolver, name, prefix string) ([]string, error) {
	txts, err := r.LookupTXT(ctx, name)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, t := range txts {
		t = strings.TrimSpace(t)
		if len(t) >= len(prefix) && strings.EqualFold(t[:len(prefix)], prefix) {
			rest := t[len(prefix):]
			if rest == "" || rest[0] == ' ' || rest[0] == ';' {
				out = append(out, t)
			}
		}
	}
	return out, nil
}

// quoteTXT renders a TXT value as zone-file character-strings of at most 255
// octets each (RFC 1035 §3.3.14).
func quoteTXT(v string) string {
	var parts []string
	for len(v) > 255 {
		parts = append(parts, `"`+v[:255]+`"`)
		v = v[255:]
	}
	parts = append(parts, `"`+v+`"`)
	return strings.Join(parts, " ")
}
