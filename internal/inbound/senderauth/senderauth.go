// Package senderauth decides, on receipt, whether the domain in a
// message's From field vouched for the message: DMARC's test (RFC 7489
// §4.2), a pass of SPF (RFC 7208) or of a DKIM signature (RFC 6376) for a
// domain aligned with the From domain (§3.1). It evaluates SPF itself with
// blitiri.com.ar/go/spf, verifies DKIM with go-msgauth, and reads the
// DMARC record, with go-msgauth, only for its alignment modes (adkim,
// aspf; relaxed when there is none). The domain's DMARC policy (p=) is
// what a receiver should do with failing mail; it does not change whether
// this message passed, so a domain without a DMARC record passes when its
// aligned DKIM or SPF does.
//
// Authentication-Results fields in the message are never read: anyone
// can write them, and a message polled from a mailbox went through
// servers this package does not know. Every DNS query goes through a
// resolver.Resolver, so tests answer from a simulated world.
package senderauth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/netip"
	"strings"

	"blitiri.com.ar/go/spf"
	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-msgauth/dmarc"
	"golang.org/x/net/publicsuffix"

	"github.com/touchline/touchline/verifier/resolver"
)

// MaxSignatures is how many DKIM signatures of one message are verified;
// a message with more is judged on the first ones (go-msgauth's
// MaxVerifications), so a flood of signatures cannot cost a flood of
// lookups.
const MaxSignatures = 5

// Envelope is what the SMTP session told about a message. A message
// polled over IMAP has none: only DKIM can pass for it.
type Envelope struct {
	IP       string // the SMTP client's address
	HELO     string // its HELO/EHLO name
	MailFrom string // the reverse-path; empty for the null sender
}

// Result is the verdict on one message.
type Result struct {
	// From is the author domain (RFC 5322 From), lowercase; empty when the
	// message has no single From address.
	From string `json:"from_domain"`
	// Pass: an aligned DKIM signature or SPF pass vouched for From.
	Pass bool `json:"pass"`
	// By says which one ("dkim" or "spf") and for which domain, when Pass.
	By string `json:"by,omitempty"`
	// SPF is the SPF result ("pass", "fail", ...; "none" without an
	// envelope) and SPFDomain the identity it is about (the MAIL FROM
	// domain, or the HELO name for the null sender, RFC 7208 §2.4).
	SPF       string `json:"spf"`
	SPFDomain string `json:"spf_domain,omitempty"`
	// DKIM lists each signature verified: "d=example.com pass" or
	// "d=example.com fail (reason)".
	DKIM []string `json:"dkim,omitempty"`
	// DMARC is where the DMARC record was found and its alignment modes,
	// or why none applies.
	DMARC string `json:"dmarc"`
	// Reason says why it did not pass.
	Reason string `json:"reason,omitempty"`
}

// String renders the verdict for logs and the stored message.
func (r Result) String() string {
	if r.Pass {
		return fmt.Sprintf("pass: %s aligned with %s", r.By, r.From)
	}
	return "no pass: " + r.Reason
}

// Checker checks messages. The zero value is not usable: set Resolver.
type Checker struct {
	Resolver resolver.Resolver
}

// Check judges raw, received with env (the zero Envelope for IMAP).
func (c *Checker) Check(ctx context.Context, env Envelope, raw []byte) Result {
	var res Result
	from, err := authorDomain(raw)
	if err != nil {
		res.Reason = err.Error()
		return res
	}
	res.From = from
	adkim, aspf := c.alignment(ctx, from, &res)

	// DKIM (RFC 6376 §6): every signature, up to MaxSignatures.
	lookup := func(name string) ([]string, error) {
		txt, err := c.Resolver.LookupTXT(ctx, name)
		return txt, resolver.NetError(name, err)
	}
	verifs, err := dkim.VerifyWithOptions(bytes.NewReader(raw), &dkim.VerifyOptions{LookupTXT: lookup, MaxVerifications: MaxSignatures})
	if err != nil && !errors.Is(err, dkim.ErrTooManySignatures) {
		res.DKIM = append(res.DKIM, "unreadable: "+err.Error())
	}
	for _, v := range verifs {
		d := strings.ToLower(strings.TrimSuffix(v.Domain, "."))
		if v.Err != nil {
			res.DKIM = append(res.DKIM, fmt.Sprintf("d=%s fail (%v)", d, v.Err))
			continue
		}
		res.DKIM = append(res.DKIM, "d="+d+" pass")
		if !res.Pass && aligned(d, from, adkim) {
			res.Pass, res.By = true, "dkim d="+d
		}
	}

	// SPF (RFC 7208 §2.4): the MAIL FROM identity, or HELO for the null
	// sender. Only with an envelope.
	res.SPF = "none"
	ip, ipErr := netip.ParseAddr(env.IP)
	if ipErr == nil {
		ident := env.MailFrom
		if at := strings.LastIndexByte(ident, '@'); at >= 0 {
			res.SPFDomain = ident[at+1:]
		} else {
			res.SPFDomain = env.HELO
		}
		res.SPFDomain = strings.ToLower(strings.TrimSuffix(res.SPFDomain, "."))
		// On a pass, blitiri's spf may return an error that only
		// explains the match: the result is what counts.
		r, _ := spf.CheckHostWithSender(net.IP(ip.Unmap().AsSlice()), env.HELO, env.MailFrom,
			spf.WithResolver(resolver.NetResolver{R: c.Resolver}), spf.WithContext(ctx))
		res.SPF = string(r)
		if r == spf.Pass && !res.Pass && res.SPFDomain != "" && aligned(res.SPFDomain, from, aspf) {
			res.Pass, res.By = true, "spf "+res.SPFDomain
		}
	}
	if !res.Pass {
		res.Reason = fmt.Sprintf("no DKIM signature or SPF pass aligned with %s (spf=%s", from, res.SPF)
		if res.SPFDomain != "" {
			res.Reason += " for " + res.SPFDomain
		}
		if len(res.DKIM) == 0 {
			res.Reason += ", no DKIM signature)"
		} else {
			res.Reason += ", dkim: " + strings.Join(res.DKIM, "; ") + ")"
		}
	}
	return res
}

// alignment reads the DMARC record of the author domain, or of its
// organizational domain (RFC 7489 §6.6.3), for its alignment modes.
// Without one, both are relaxed (§6.3 defaults); when the lookup fails,
// both are strict, the narrower reading.
func (c *Checker) alignment(ctx context.Context, from string, res *Result) (adkim, aspf dmarc.AlignmentMode) {
	opts := &dmarc.LookupOptions{LookupTXT: func(name string) ([]string, error) {
		txt, err := c.Resolver.LookupTXT(ctx, name)
		return txt, resolver.NetError(name, err)
	}}
	where := from
	rec, err := dmarc.LookupWithOptions(from, opts)
	if errors.Is(err, dmarc.ErrNoPolicy) {
		if org := organizational(from); org != from {
			where = org
			rec, err = dmarc.LookupWithOptions(org, opts)
		}
	}
	switch {
	case errors.Is(err, dmarc.ErrNoPolicy):
		res.DMARC = "no record (relaxed alignment)"
		return dmarc.AlignmentRelaxed, dmarc.AlignmentRelaxed
	case err != nil:
		res.DMARC = "lookup failed (strict alignment): " + err.Error()
		return dmarc.AlignmentStrict, dmarc.AlignmentStrict
	}
	adkim, aspf = rec.DKIMAlignment, rec.SPFAlignment
	if adkim == "" {
		adkim = dmarc.AlignmentRelaxed
	}
	if aspf == "" {
		aspf = dmarc.AlignmentRelaxed
	}
	res.DMARC = fmt.Sprintf("_dmarc.%s: adkim=%s aspf=%s p=%s", where, adkim, aspf, rec.Policy)
	return adkim, aspf
}

// aligned compares an authenticated domain with the author domain:
// strict is equality, relaxed is the same organizational domain
// (RFC 7489 §3.1.1, §3.1.2).
func aligned(d, from string, mode dmarc.AlignmentMode) bool {
	if d == from {
		return true
	}
	return mode != dmarc.AlignmentStrict && organizational(d) == organizational(from)
}

// organizational is the registrable domain (RFC 7489 §3.2, with the
// public suffix list).
func organizational(d string) string {
	org, err := publicsuffix.EffectiveTLDPlusOne(d)
	if err != nil {
		return d
	}
	return org
}

// authorDomain returns the domain of the message's one From address. RFC
// 7489 §6.6.1: a message with several From fields, or a From with several
// addresses, has no single author domain to check, and does not pass.
func authorDomain(raw []byte) (string, error) {
	end := bytes.Index(raw, []byte("\r\n\r\n"))
	if end < 0 {
		end = bytes.Index(raw, []byte("\n\n"))
	}
	if end < 0 {
		end = len(raw)
	}
	var froms []string
	for _, line := range splitFields(raw[:end]) {
		name, value, ok := strings.Cut(line, ":")
		if ok && strings.EqualFold(strings.TrimSpace(name), "From") {
			froms = append(froms, value)
		}
	}
	if len(froms) != 1 {
		return "", fmt.Errorf("%d From fields, want 1", len(froms))
	}
	addrs, err := mail.ParseAddressList(strings.TrimSpace(froms[0]))
	if err != nil {
		return "", fmt.Errorf("From: %v", err)
	}
	if len(addrs) != 1 {
		return "", fmt.Errorf("From has %d addresses, want 1", len(addrs))
	}
	at := strings.LastIndexByte(addrs[0].Address, '@')
	if at < 0 {
		return "", errors.New("From address has no domain")
	}
	return strings.ToLower(strings.TrimSuffix(addrs[0].Address[at+1:], ".")), nil
}

// splitFields unfolds a header block into its fields (RFC 5322 §2.2.3).
func splitFields(h []byte) []string {
	var out []string
	for _, line := range strings.Split(strings.ReplaceAll(string(h), "\r\n", "\n"), "\n") {
		if (strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t")) && len(out) > 0 {
			out[len(out)-1] += line
			continue
		}
		if line != "" {
			out = append(out, line)
		}
	}
	return out
}
