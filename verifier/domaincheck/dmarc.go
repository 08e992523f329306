package domaincheck

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/emersion/go-msgauth/dmarc"
	"golang.org/x/net/publicsuffix"

	"github.com/touchline/touchline/verifier/resolver"
)

// OrganizationalDomain returns the registrable domain of d (RFC 7489 §3.2,
// using the public suffix list).
func OrganizationalDomain(d string) string {
	org, err := publicsuffix.EffectiveTLDPlusOne(d)
	if err != nil {
		return d
	}
	return org
}

// dmarcRecords returns the DMARC records at _dmarc.name.
func dmarcRecords(ctx context.Context, r resolver.Resolver, name string) ([]string, error) {
	recs, err := txtWithPrefix(ctx, r, "_dmarc."+name, "v=DMARC1")
	if errors.Is(err, resolver.ErrNXDomain) {
		return nil, nil
	}
	return recs, err
}

// DMARCPolicy finds the DMARC record that applies to domain: its own, or the
// organizational domain's (RFC 7489 §6.6.3). where is the name the record
// was found at.
func DMARCPolicy(ctx context.Context, r resolver.Resolver, domain string) (recs []string, where string, err error) {
	recs, err = dmarcRecords(ctx, r, domain)
	if err != nil || len(recs) > 0 {
		return recs, domain, err
	}
	if org := OrganizationalDomain(domain); org != domain {
		recs, err = dmarcRecords(ctx, r, org)
		return recs, org, err
	}
	return nil, domain, nil
}

func checkDMARC(ctx context.Context, r resolver.Resolver, domain string) Check {
	c := Check{Name: "dmarc"}
	recs, where, err := DMARCPolicy(ctx, r, domain)
	suggested := fmt.Sprintf(`_dmarc.%s. IN TXT "v=DMARC1; p=none; rua=mailto:dmarc-reports@%s"`, domain, domain)
	switch {
	case err != nil:
		c.Status, c.Detail = Fail, "DMARC lookup failed: "+err.Error()
		c.Fix = "make the domain's DNS servers answer TXT queries, then run the check again"
		return c
	case len(recs) == 0:
		c.Status = Fail
		c.Detail = "no DMARC record at _dmarc." + domain
		if org := OrganizationalDomain(domain); org != domain {
			c.Detail += " nor at _dmarc." + org
		}
		c.Detail += ": Gmail, Yahoo and Microsoft require one for bulk senders"
		c.Fix = "publish " + suggested + ", read the aggregate reports, then move to p=quarantine and p=reject"
		return c
	case len(recs) > 1:
		// RFC 7489 §6.6.3: more than one record means no DMARC at all.
		c.Status = Fail
		c.Detail = fmt.Sprintf("%d DMARC records at _dmarc.%s; receivers then apply none: %s", len(recs), where, strings.Join(recs, " | "))
		c.Fix = "keep exactly one TXT record at _dmarc." + where
		return c
	}
	rec, err := dmarc.Parse(recs[0])
	if err != nil {
		c.Status, c.Detail = Fail, fmt.Sprintf("DMARC record at _dmarc.%s is malformed (%v): %q", where, err, recs[0])
		c.Fix = "replace it with a valid record, for example " + suggested
		return c
	}
	policy := rec.Policy
	inherited := where != domain
	if inherited && rec.SubdomainPolicy != "" {
		policy = rec.SubdomainPolicy
	}
	var parts []string
	if inherited {
		parts = append(parts, "inherited from the organizational domain "+where)
	}
	parts = append(parts, "p="+string(rec.Policy))
	if rec.SubdomainPolicy != "" {
		parts = append(parts, "sp="+string(rec.SubdomainPolicy))
	}
	pct := 100
	if rec.Percent != nil {
		pct = *rec.Percent
	}
	parts = append(parts, fmt.Sprintf("pct=%d", pct), "adkim="+alignment(rec.DKIMAlignment), "aspf="+alignment(rec.SPFAlignment))
	if len(rec.ReportURIAggregate) > 0 {
		parts = append(parts, "rua="+strings.Join(rec.ReportURIAggregate, ","))
	} else {
		parts = append(parts, "no rua: you receive no aggregate reports")
	}
	if len(rec.ReportURIFailure) > 0 {
		parts = append(parts, "ruf="+strings.Join(rec.ReportURIFailure, ","))
	}
	c.Status, c.Detail = Pass, strings.Join(parts, "; ")
	if policy == dmarc.PolicyNone {
		c.Status = Warn
		c.Detail = "policy is none (monitoring only): spoofed mail is still delivered; " + c.Detail
		c.Fix = fmt.Sprintf("after reviewing the aggregate reports, set p=quarantine, then p=reject, at _dmarc.%s", where)
	} else if pct < 100 {
		c.Status = Warn
		c.Detail = fmt.Sprintf("policy applies to %d%% of failing mail only; ", pct) + c.Detail
		c.Fix = "raise pct to 100 (or remove it) once the reports are clean"
	}
	// RFC 7489 §7.1: a report destination outside the domain must agree to
	// receive its reports, or receivers drop them.
	for _, u := range append(append([]string(nil), rec.ReportURIAggregate...), rec.ReportURIFailure...) {
		host := mailtoDomain(u)
		if host == "" || OrganizationalDomain(host) == OrganizationalDomain(where) {
			continue
		}
		auth := where + "._report._dmarc." + host
		ok, err := txtWithPrefix(ctx, r, auth, "v=DMARC1")
		if err != nil && !errors.Is(err, resolver.ErrNXDomain) {
			c.Detail += fmt.Sprintf("; could not check report authorization at %s: %v", auth, err)
			continue
		}
		if len(ok) == 0 {
			c.Status = Worst(c.Status, Warn)
			c.Detail += fmt.Sprintf("; report destination %s has not authorized reports for %s, so receivers will not send them", host, where)
			if c.Fix == "" {
				c.Fix = fmt.Sprintf(`ask the owner of %s to publish %s. IN TXT "v=DMARC1" (RFC 7489 §7.1), or send reports to an address at %s`, host, auth, where)
			}
		}
	}
	return c
}

func alignment(a dmarc.AlignmentMode) string {
	if a == "" {
		return "r"
	}
	return string(a)
}

func mailtoDomain(uri string) string {
	u, err := url.Parse(strings.TrimSpace(uri))
	if err != nil || !strings.EqualFold(u.Scheme, "mailto") {
		return ""
	}
	addr := u.Opaque
	if i := strings.IndexByte(addr, '!'); i >= 0 { // size limit suffix, RFC 7489 §6.2
		addr = addr[:i]
	}
	_, host, ok := strings.Cut(addr, "@")
	if !ok {
		return ""
	}
	return strings.ToLower(host)
}
