package domaincheck

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"blitiri.com.ar/go/spf"

	"github.com/touchline/touchline/verifier/resolver"
)

// RFC 7208 §4.6.4 limits.
const (
	maxSPFLookups     = 10
	maxSPFVoidLookups = 2
)

// spfWalk is the static analysis of a domain's SPF tree: what every
// receiver evaluating it will have to look up, whatever the sending IP.
type spfWalk struct {
	ctx      context.Context
	r        resolver.Resolver
	lookups  int
	voids    int
	problems []string // permerror causes
	notes    []string
	chain    []string // include/redirect targets in the order met
	seen     map[string]bool
}

// SPF facts of the top-level record.
type spfFacts struct {
	record string
	all    string // qualifier of "all": "+", "-", "~", "?", or "" when absent
}

func checkSPF(ctx context.Context, r resolver.Resolver, domain string, ip netip.Addr) Check {
	c := Check{Name: "spf"}
	recs, err := txtWithPrefix(ctx, r, domain, "v=spf1")
	switch {
	case errors.Is(err, resolver.ErrNXDomain):
		c.Status, c.Detail = Fail, "domain does not exist"
		c.Fix = "check the domain name"
		return c
	case err != nil:
		c.Status, c.Detail = Fail, "SPF lookup failed: "+err.Error()
		c.Fix = "make the domain's DNS servers answer TXT queries, then run the check again"
		return c
	case len(recs) == 0:
		c.Status, c.Detail = Fail, "no SPF record: receivers cannot tell which servers may send for "+domain
		c.Fix = fmt.Sprintf(`publish %s. IN TXT "v=spf1 include:<your mail provider's SPF domain> -all" (for example include:_spf.google.com for Google Workspace, include:spf.protection.outlook.com for Microsoft 365)`, domain)
		return c
	case len(recs) > 1:
		// RFC 7208 §4.5: more than one record is a permerror.
		c.Status = Fail
		c.Detail = fmt.Sprintf("%d SPF records; receivers treat more than one as a permanent error: %s", len(recs), strings.Join(recs, " | "))
		c.Fix = fmt.Sprintf("merge them into one TXT record at %s that lists every mechanism once and ends with a single -all or ~all", domain)
		return c
	}
	w := &spfWalk{ctx: ctx, r: r, seen: map[string]bool{domain: true}}
	facts := w.record(domain, recs[0], 0)

	var warns []string
	switch facts.all {
	case "+":
		warns = append(warns, "+all authorizes every server on the Internet to send as "+domain)
	case "?":
		warns = append(warns, "?all is neutral: unlisted servers are neither authorized nor refused")
	case "":
		if !strings.Contains(strings.ToLower(facts.record), "redirect=") {
			warns = append(warns, "no \"all\" mechanism: unlisted servers get a neutral result")
		}
	}
	if w.lookups > maxSPFLookups {
		w.problems = append(w.problems, fmt.Sprintf("%d DNS lookups, more than the limit of %d (RFC 7208 §4.6.4)", w.lookups, maxSPFLookups))
	}
	if w.voids > maxSPFVoidLookups {
		w.problems = append(w.problems, fmt.Sprintf("%d void lookups (names with no record), more than the limit of %d", w.voids, maxSPFVoidLookups))
	}
	summary := fmt.Sprintf("%q; %d of %d DNS lookups, %d void", facts.record, w.lookups, maxSPFLookups, w.voids)
	if len(w.chain) > 0 {
		summary += "; chain: " + strings.Join(w.chain, " → ")
	}
	switch {
	case len(w.problems) > 0:
		c.Status = Fail
		c.Detail = strings.Join(w.problems, "; ") + " — receivers return permerror. " + summary
		c.Fix = "remove unused includes, replace include chains by the ip4:/ip6: ranges they resolve to (flattening), and fix every name that does not resolve, until the record needs at most 10 lookups"
	case len(warns) > 0:
		c.Status = Warn
		c.Detail = strings.Join(warns, "; ") + ". " + summary
		c.Fix = fmt.Sprintf(`end the record with -all (or ~all while you test): %s. IN TXT %q`, domain, withAll(facts.record, "-all"))
	default:
		c.Status, c.Detail = Pass, summary
	}
	if len(w.notes) > 0 {
		c.Detail += " (" + strings.Join(w.notes, "; ") + ")"
	}
	if ip.IsValid() {
		res, err := spf.CheckHostWithSender(net.IP(ip.AsSlice()), "", "postmaster@"+domain,
			spf.WithResolver(resolver.NetResolver{R: r}), spf.WithContext(ctx))
		line := fmt.Sprintf("sender %s: SPF %s", ip, res)
		if res != spf.Pass {
			if err != nil && !errors.Is(err, spf.ErrNoResult) && res != spf.Fail && res != spf.SoftFail && res != spf.Neutral {
				line += " (" + err.Error() + ")"
			}
			c.Status = Fail
			c.Detail = line + ". " + c.Detail
			mech := "ip4:" + ip.String()
			if ip.Is6() && !ip.Is4In6() {
				mech = "ip6:" + ip.String()
			}
			c.Fix = fmt.Sprintf("authorize the sender: %s. IN TXT %q", domain, addMechanism(facts.record, mech))
		} else {
			c.Detail = line + ". " + c.Detail
		}
	}
	return c
}

// record analyses one SPF record of domain and recurses into includes and
// a redirect.
func (w *spfWalk) record(domain, rec string, depth int) spfFacts {
	f := spfFacts{record: rec}
	terms := strings.Fields(rec)[1:]
	var redirect string
	for _, t := range terms {
		name, value, isMod := splitModifier(t)
		if isMod {
			switch strings.ToLower(name) {
			case "redirect":
				if redirect != "" {
					w.problems = append(w.problems, "more than one redirect= in "+domain)
				}
				redirect = value
			case "exp":
			default:
				// RFC 7208 §6: unknown modifiers are ignored.
			}
			continue
		}
		q, mech := "+", t
		if strings.ContainsAny(t[:1], "+-~?") {
			q, mech = t[:1], t[1:]
		}
		mname, arg, _ := strings.Cut(mech, ":")
		if i := strings.IndexByte(mname, '/'); i >= 0 {
			mname, arg = mname[:i], ""
		}
		switch strings.ToLower(mname) {
		case "all":
			if depth == 0 {
				f.all = q
			}
		case "ip4", "ip6":
			a := arg
			if i := strings.IndexByte(a, '/'); i >= 0 {
				a = a[:i]
			}
			if _, err := netip.ParseAddr(a); err != nil {
				w.problems = append(w.problems, fmt.Sprintf("bad address in %q at %s", t, domain))
			}
		case "include":
			w.lookups++
			if arg == "" {
				w.problems = append(w.problems, fmt.Sprintf("include without a domain at %s", domain))
				continue
			}
			w.follow(domain, arg, "include:"+arg, depth)
		case "a", "mx":
			w.lookups++
			target := domain
			if arg != "" {
				target = strings.SplitN(arg, "/", 2)[0]
			}
			if hasMacro(target) {
				continue
			}
			var n int
			var err error
			if strings.EqualFold(mname, "mx") {
				var mxs []resolver.MX
				mxs, err = w.r.LookupMX(w.ctx, target)
				n = len(mxs)
				if n > maxSPFLookups {
					w.problems = append(w.problems, fmt.Sprintf("mx:%s has %d MX hosts, more than the limit of 10", target, n))
				}
				// RFC 7208 §5.4: each MX host's address is looked up
				// too, and one with no address is a void lookup (§4.6.4).
				for _, m := range mxs[:min(n, maxSPFLookups)] {
					if m.Host == "." {
						continue
					}
					ips, err := w.r.LookupIP(w.ctx, m.Host)
					if len(ips) == 0 && (err == nil || errors.Is(err, resolver.ErrNXDomain)) {
						w.voids++
					}
				}
			} else {
				var ips []netip.Addr
				ips, err = w.r.LookupIP(w.ctx, target)
				n = len(ips)
			}
			if n == 0 && (err == nil || errors.Is(err, resolver.ErrNXDomain)) {
				w.voids++
			}
		case "ptr":
			w.lookups++
			w.notes = append(w.notes, "ptr is slow and deprecated (RFC 7208 §5.5)")
		case "exists":
			w.lookups++
			// RFC 7208 §5.7: an A query; no answer is a void lookup
			// (§4.6.4), unless a macro makes the name depend on the
			// sender.
			if arg != "" && !hasMacro(arg) {
				ips, err := w.r.LookupIP(w.ctx, arg)
				if len(ips) == 0 && (err == nil || errors.Is(err, resolver.ErrNXDomain)) {
					w.voids++
				}
			}
		default:
			w.problems = append(w.problems, fmt.Sprintf("unknown mechanism %q at %s", t, domain))
		}
	}
	if redirect != "" {
		w.lookups++
		// RFC 7208 §6.1: redirect is ignored when the record has "all".
		hasAll := false
		for _, t := range terms {
			if strings.EqualFold(strings.TrimLeft(t, "+-~?"), "all") {
				hasAll = true
			}
		}
		if !hasAll {
			w.follow(domain, redirect, "redirect="+redirect, depth)
		}
	}
	return f
}

// follow evaluates an included or redirected-to domain.
func (w *spfWalk) follow(from, target, label string, depth int) {
	if hasMacro(target) {
		w.notes = append(w.notes, label+" uses macros and is evaluated per message")
		return
	}
	target = strings.ToLower(strings.TrimSuffix(target, "."))
	w.chain = append(w.chain, label)
	if w.seen[target] {
		w.problems = append(w.problems, fmt.Sprintf("%s loops back to %s", label, target))
		return
	}
	if depth >= maxSPFLookups {
		return
	}
	w.seen[target] = true
	defer delete(w.seen, target)
	recs, err := txtWithPrefix(w.ctx, w.r, target, "v=spf1")
	switch {
	case errors.Is(err, resolver.ErrNXDomain):
		w.voids++
		w.problems = append(w.problems, fmt.Sprintf("%s (from %s) does not exist", label, from))
	case err != nil:
		w.problems = append(w.problems, fmt.Sprintf("%s (from %s): %v", label, from, err))
	case len(recs) == 0:
		w.voids++
		w.problems = append(w.problems, fmt.Sprintf("%s (from %s) has no SPF record", label, from))
	case len(recs) > 1:
		w.problems = append(w.problems, fmt.Sprintf("%s (from %s) has %d SPF records", label, from, len(recs)))
	default:
		w.record(target, recs[0], depth+1)
	}
}

func splitModifier(t string) (name, value string, ok bool) {
	i := strings.IndexByte(t, '=')
	if i <= 0 {
		return "", "", false
	}
	// A modifier name is ALPHA *( ALPHA / DIGIT / "-" / "_" / "." ), so a
	// "=" after ":" belongs to a mechanism's domain-spec.
	if c := strings.IndexByte(t, ':'); c >= 0 && c < i {
		return "", "", false
	}
	return t[:i], t[i+1:], true
}

func hasMacro(s string) bool { return strings.Contains(s, "%{") }

// withAll returns rec with its "all" term replaced (or added) by all.
func withAll(rec, all string) string {
	var out []string
	for _, t := range strings.Fields(rec) {
		if strings.EqualFold(strings.TrimLeft(t, "+-~?"), "all") {
			continue
		}
		out = append(out, t)
	}
	return strings.Join(append(out, all), " ")
}

// addMechanism inserts mech before the record's "all" or redirect.
func addMechanism(rec, mech string) string {
	f := strings.Fields(rec)
	for i, t := range f {
		l := strings.ToLower(strings.TrimLeft(t, "+-~?"))
		if l == "all" || strings.HasPrefix(l, "redirect=") {
			return strings.Join(append(f[:i:i], append([]string{mech}, f[i:]...)...), " ")
		}
	}
	return strings.Join(append(f, mech), " ")
}
