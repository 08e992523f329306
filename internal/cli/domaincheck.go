package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/touchline/touchline/verifier/domaincheck"
	"github.com/touchline/touchline/verifier/resolver"
)

func init() {
	register("domain-check", "audit a sending domain: SPF, DKIM, DMARC, MX, MTA-STS, TLS-RPT", runDomainCheck)
}

func runDomainCheck(ctx context.Context, env *Env, args []string) int {
	fs := newFlagSet(env, "domain-check", "domain-check DOMAIN [--dkim-selector S]... [--ip IP] [--format text|json]")
	var selectors, dnsServers listFlag
	fs.Var(&selectors, "dkim-selector", "DKIM `selector` to check (repeatable; default: discover common selectors)")
	ipFlag := fs.String("ip", "", "sending `IP` to test against the domain's SPF")
	format := fs.String("format", "text", "output format: text or json")
	fs.Var(&dnsServers, "dns-server", "DNS resolver `host:port` (repeatable; default: /etc/resolv.conf)")
	dnsTimeout := fs.Duration("dns-timeout", 2*time.Second, "timeout of one DNS query attempt")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return flagError(err)
	}
	if len(pos) != 1 {
		fmt.Fprintln(env.Stderr, "touchline domain-check: give exactly one DOMAIN")
		fs.Usage()
		return ExitUsage
	}
	if *format != "text" && *format != "json" {
		fmt.Fprintf(env.Stderr, "touchline domain-check: --format %q: want text or json\n", *format)
		return ExitUsage
	}
	opts := domaincheck.Options{DKIMSelectors: selectors}
	if *ipFlag != "" {
		ip, err := netip.ParseAddr(*ipFlag)
		if err != nil {
			fmt.Fprintf(env.Stderr, "touchline domain-check: --ip %q is not an IP address\n", *ipFlag)
			return ExitUsage
		}
		opts.IP = ip
	}
	for _, s := range dnsServers {
		if _, err := netip.ParseAddrPort(s); err != nil {
			if _, err2 := netip.ParseAddr(s); err2 != nil {
				fmt.Fprintf(env.Stderr, "touchline domain-check: --dns-server %q: want an IP address and port such as 127.0.0.1:53\n", s)
				return ExitUsage
			}
		}
	}
	res, err := resolver.New(resolver.Config{Servers: dnsServers, Timeout: *dnsTimeout})
	if err != nil {
		fmt.Fprintf(env.Stderr, "touchline domain-check: %v\n", err)
		return ExitError
	}
	opts.Resolver = res
	rep, err := domaincheck.Run(ctx, pos[0], opts)
	if err != nil {
		fmt.Fprintf(env.Stderr, "touchline domain-check: %v\n", err)
		return ExitUsage
	}
	if *format == "json" {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(rep); err != nil {
			return ExitError
		}
	} else {
		writeReportText(env.Stdout, rep)
	}
	if rep.Status == domaincheck.Fail {
		return ExitError
	}
	return ExitOK
}

func writeReportText(w io.Writer, rep *domaincheck.Report) {
	fmt.Fprintf(w, "Sending domain %s: %s\n\n", rep.Domain, strings.ToUpper(string(rep.Status)))
	for _, c := range rep.Checks {
		fmt.Fprintf(w, "  %-4s  %-8s %s\n", strings.ToUpper(string(c.Status)), c.Name, c.Detail)
		if c.Fix != "" {
			fmt.Fprintf(w, "  %-4s  %-8s fix: %s\n", "", "", c.Fix)
		}
	}
	switch rep.Status {
	case domaincheck.Fail:
		fmt.Fprintln(w, "\nMailbox providers will reject or junk mail from this domain until the failures are fixed.")
	case domaincheck.Warn:
		fmt.Fprintln(w, "\nMail will flow; the warnings are worth fixing before volume grows.")
	default:
		fmt.Fprintln(w, "\nReady to send.")
	}
}
