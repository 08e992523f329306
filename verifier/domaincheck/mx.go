package domaincheck

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/touchline/touchline/verifier/resolver"
)

// checkMX checks that the domain can receive mail: replies and bounces to a
// cadence come back to it.
func checkMX(ctx context.Context, r resolver.Resolver, domain string) Check {
	c := Check{Name: "mx"}
	mxs, err := r.LookupMX(ctx, domain)
	switch {
	case errors.Is(err, resolver.ErrNXDomain):
		c.Status, c.Detail, c.Fix = Fail, "domain does not exist (NXDOMAIN)", "check the domain name, or register it"
		return c
	case err != nil:
		c.Status, c.Detail = Fail, "MX lookup failed: "+err.Error()
		c.Fix = "make the domain's DNS servers answer MX queries, then run the check again"
		return c
	case len(mxs) == 1 && mxs[0].Host == ".":
		c.Status = Fail
		c.Detail = "null MX (RFC 7505): the domain accepts no mail, so replies and bounces to your cadences are lost, and many receivers refuse mail from it"
		c.Fix = "replace the null MX with your mail provider's MX records"
		return c
	case len(mxs) == 0:
		ips, _ := r.LookupIP(ctx, domain)
		if len(ips) > 0 {
			// RFC 5321 §5.1 would deliver to the address record (the
			// implicit MX), but that is almost never a mail server for a
			// sending domain: replies and bounces to a cadence are lost,
			// and receivers score a sender without MX as suspect.
			c.Status = Fail
			c.Detail = "no MX record: replies and bounces go to the domain's address record (implicit MX), which is rarely a mail server"
		} else {
			c.Status = Fail
			c.Detail = "no MX record and no address record: the domain cannot receive replies or bounces"
		}
		c.Fix = fmt.Sprintf("publish your mail provider's MX records, e.g. %s. IN MX 10 <mx host>.", domain)
		return c
	}
	var hosts []string
	for _, m := range mxs {
		if m.Host != "." {
			hosts = append(hosts, fmt.Sprintf("%s (%d)", m.Host, m.Pref))
		}
	}
	c.Status, c.Detail = Pass, strings.Join(hosts, ", ")
	return c
}

// checkMTASTS reports an MTA-STS policy record (RFC 8461 §3.1). Its absence
// is only information: it protects mail sent to the domain, not from it.
func checkMTASTS(ctx context.Context, r resolver.Resolver, domain string) Check {
	return optionalRecord(ctx, r, "mta-sts", "_mta-sts."+domain, "v=STSv1", "id=",
		"inbound TLS is not enforced (optional for sending)")
}

// checkTLSRPT reports a TLS reporting record (RFC 8460 §3).
func checkTLSRPT(ctx context.Context, r resolver.Resolver, domain string) Check {
	return optionalRecord(ctx, r, "tls-rpt", "_smtp._tls."+domain, "v=TLSRPTv1", "rua=",
		"no reports of TLS failures on inbound mail (optional)")
}

func optionalRecord(ctx context.Context, r resolver.Resolver, check, name, version, required, absent string) Check {
	c := Check{Name: check}
	recs, err := txtWithPrefix(ctx, r, name, version)
	switch {
	case errors.Is(err, resolver.ErrNXDomain) || (err == nil && len(recs) == 0):
		c.Status, c.Detail = Pass, "not published at "+name+": "+absent
	case err != nil:
		c.Status, c.Detail = Warn, "lookup of "+name+" failed: "+err.Error()
		c.Fix = "make the domain's DNS servers answer, then run the check again"
	case len(recs) > 1:
		c.Status, c.Detail = Warn, fmt.Sprintf("%d records at %s; a receiver ignores them all", len(recs), name)
		c.Fix = "keep exactly one TXT record at " + name
	case !strings.Contains(recs[0], required):
		c.Status, c.Detail = Warn, fmt.Sprintf("record at %s lacks %s: %q", name, strings.TrimSuffix(required, "="), recs[0])
		c.Fix = "add the missing tag to the record at " + name
	default:
		c.Status, c.Detail = Pass, fmt.Sprintf("published: %q", recs[0])
	}
	return c
}
