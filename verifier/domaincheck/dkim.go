package domaincheck

import (
	"context"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/touchline/touchline/verifier/resolver"
)

// CommonSelectors are the DKIM selectors tried when none is given: those of
// the big mailbox and sending providers and of common defaults.
var CommonSelectors = []string{
	"google", "selector1", "selector2", "default", "dkim", "mail", "k1", "k2", "k3",
	"s1", "s2", "s1024", "s2048", "key1", "key2", "sig1", "smtp", "mx", "email",
	"fm1", "fm2", "fm3", "protonmail", "protonmail2", "protonmail3", "zoho", "zmail",
	"mandrill", "mailjet", "mxvault", "everlytickey1", "everlytickey2", "pm", "scph0920",
	"turbo-smtp", "dkim1", "dkim2", "mta", "smtpapi", "20230601", "20221208", "20210112",
}

// validSelector checks RFC 6376 §3.1: a selector is one or more labels of a
// domain name.
func validSelector(s string) error {
	if s == "" || len(s) > 253 {
		return fmt.Errorf("domaincheck: DKIM selector %q: must be 1 to 253 characters", s)
	}
	for _, l := range strings.Split(s, ".") {
		if l == "" || len(l) > 63 || strings.HasPrefix(l, "-") || strings.HasSuffix(l, "-") {
			return fmt.Errorf("domaincheck: DKIM selector %q: bad label %q", s, l)
		}
		for _, c := range l {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return fmt.Errorf("domaincheck: DKIM selector %q: bad character %q", s, c)
			}
		}
	}
	return nil
}

func checkDKIM(ctx context.Context, r resolver.Resolver, domain string, selectors []string) []Check {
	discover := len(selectors) == 0
	if discover {
		selectors = CommonSelectors
	}
	type found struct {
		sel   string
		check Check
		ok    bool // a record exists at the selector
	}
	results := make([]found, len(selectors))
	var wg sync.WaitGroup
	for i, sel := range selectors {
		wg.Go(func() {
			c, ok := checkSelector(ctx, r, domain, sel, !discover)
			results[i] = found{sel, c, ok}
		})
	}
	wg.Wait()
	var out []Check
	for _, f := range results {
		if f.ok || !discover {
			out = append(out, f.check)
		}
	}
	if len(out) == 0 {
		return []Check{{Name: "dkim", Status: Warn,
			Detail: fmt.Sprintf("no DKIM key found at %d common selectors; a key under another selector cannot be discovered", len(selectors)),
			Fix:    fmt.Sprintf("name your selector with --dkim-selector, or create a key: touchline dkim keygen --domain %s --selector <name>, and publish the TXT record it prints", domain)}}
	}
	return out
}

// checkSelector checks the key at sel._domainkey.domain. named says the
// user asked for this selector, so its absence or revocation is a failure.
func checkSelector(ctx context.Context, r resolver.Resolver, domain, sel string, named bool) (Check, bool) {
	name := sel + "._domainkey." + domain
	c := Check{Name: "dkim"}
	txts, err := r.LookupTXT(ctx, name)
	if err != nil && !errors.Is(err, resolver.ErrNXDomain) {
		c.Status, c.Detail = Fail, fmt.Sprintf("selector %s: lookup of %s failed: %v", sel, name, err)
		c.Fix = "make the domain's DNS servers answer, then run the check again"
		return c, true
	}
	var keys []string
	for _, t := range txts {
		// A key record may omit v=; anything with p= is one.
		if strings.Contains(t, "p=") {
			keys = append(keys, t)
		}
	}
	switch {
	case len(keys) == 0:
		c.Status, c.Detail = Fail, fmt.Sprintf("selector %s: no DKIM key at %s", sel, name)
		c.Fix = fmt.Sprintf("publish the key of selector %s (touchline dkim keygen --domain %s --selector %s prints the record)", sel, domain, sel)
		return c, false
	case len(keys) > 1:
		c.Status, c.Detail = Fail, fmt.Sprintf("selector %s: %d key records at %s; verifiers pick one at random", sel, len(keys), name)
		c.Fix = "keep exactly one TXT record at " + name
		return c, true
	}
	k, err := parseKeyRecord(keys[0])
	if err != nil {
		c.Status, c.Detail = Fail, fmt.Sprintf("selector %s: key record at %s is malformed: %v", sel, name, err)
		c.Fix = fmt.Sprintf("republish the record exactly as your mail provider or touchline dkim keygen gives it: %s IN TXT \"v=DKIM1; k=rsa; p=<base64 key>\"", name)
		return c, true
	}
	label := fmt.Sprintf("selector %s: ", sel)
	switch {
	case k.revoked:
		c.Status, c.Detail = Warn, label+"key revoked (empty p=): mail signed with this selector fails DKIM"
		c.Fix = "if you still sign with selector " + sel + ", publish its public key again; otherwise nothing to do"
		if named {
			c.Status = Fail
		}
		return c, true
	case k.kind == "ed25519":
		c.Status, c.Detail = Pass, label+"Ed25519 key (RFC 8463)"
	case k.bits < 1024:
		c.Status, c.Detail = Fail, fmt.Sprintf("%sRSA-%d key: receivers reject keys under 1024 bits (RFC 8301 §3.2)", label, k.bits)
		c.Fix = fmt.Sprintf("rotate to a 2048-bit key: touchline dkim keygen --domain %s --selector <new selector> --type rsa2048", domain)
	case k.bits < 2048:
		c.Status, c.Detail = Warn, fmt.Sprintf("%sRSA-%d key: works, but 2048 bits is the recommended minimum", label, k.bits)
		c.Fix = fmt.Sprintf("rotate to a 2048-bit key: touchline dkim keygen --domain %s --selector <new selector> --type rsa2048", domain)
	default:
		c.Status, c.Detail = Pass, fmt.Sprintf("%sRSA-%d key", label, k.bits)
	}
	if k.testing {
		c.Status = Worst(c.Status, Warn)
		c.Detail += "; t=y (testing): receivers may treat signed mail as unsigned"
		c.Fix = "remove t=y from " + name + " once signing works"
	}
	if k.sha1Only {
		c.Status = Worst(c.Status, Warn)
		c.Detail += "; h=sha1 only: SHA-1 signatures are no longer accepted (RFC 8301)"
		c.Fix = "remove h=sha1 (or set h=sha256) in " + name
	}
	return c, true
}

type dkimKey struct {
	kind     string // "rsa" or "ed25519"
	bits     int
	revoked  bool
	testing  bool
	sha1Only bool
}

// parseKeyRecord parses a DKIM key record (RFC 6376 §3.6.1).
func parseKeyRecord(txt string) (dkimKey, error) {
	var k dkimKey
	tags := map[string]string{}
	for i, part := range strings.Split(txt, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, value, ok := strings.Cut(part, "=")
		if !ok {
			return k, fmt.Errorf("tag %q has no value", part)
		}
		name = strings.TrimSpace(name)
		value = strings.Join(strings.Fields(value), "")
		if _, dup := tags[name]; dup {
			return k, fmt.Errorf("tag %s appears twice", name)
		}
		if name == "v" && (i != 0 || value != "DKIM1") {
			return k, fmt.Errorf("v= must come first and be DKIM1, got %q", value)
		}
		tags[name] = value
	}
	p, ok := tags["p"]
	if !ok {
		return k, errors.New("no p= tag")
	}
	k.kind = strings.ToLower(tags["k"])
	if k.kind == "" {
		k.kind = "rsa"
	}
	for _, f := range strings.Split(tags["t"], ":") {
		if strings.TrimSpace(f) == "y" {
			k.testing = true
		}
	}
	if h, ok := tags["h"]; ok && !strings.Contains(strings.ToLower(h), "sha256") {
		k.sha1Only = true
	}
	if p == "" {
		k.revoked = true
		return k, nil
	}
	der, err := base64.StdEncoding.DecodeString(p)
	if err != nil {
		return k, fmt.Errorf("p= is not base64: %v", err)
	}
	switch k.kind {
	case "ed25519":
		if len(der) != ed25519.PublicKeySize {
			return k, fmt.Errorf("Ed25519 key is %d bytes, want %d", len(der), ed25519.PublicKeySize)
		}
		k.bits = 256
	case "rsa":
		pub, err := x509.ParsePKIXPublicKey(der)
		if err != nil {
			// Some publishers put a bare RSAPublicKey (PKCS #1).
			rk, err2 := x509.ParsePKCS1PublicKey(der)
			if err2 != nil {
				return k, fmt.Errorf("RSA key does not parse: %v", err)
			}
			pub = rk
		}
		rk, ok := pub.(*rsa.PublicKey)
		if !ok {
			return k, fmt.Errorf("k=rsa but p= holds a %T", pub)
		}
		k.bits = rk.N.BitLen()
	default:
		return k, fmt.Errorf("unknown key type k=%s", k.kind)
	}
	return k, nil
}
