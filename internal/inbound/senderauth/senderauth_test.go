package senderauth_test

import (
	"bytes"
	"context"
	"crypto"
	"net/netip"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/touchline/touchline/internal/dkimkey"
	"github.com/touchline/touchline/internal/inbound/senderauth"
	"github.com/touchline/touchline/internal/mailsim"
	"github.com/touchline/touchline/verifier/resolver"
)

// world publishes:
//   - lead.test: DKIM keys k1 (lead.test) and k1 at mail.lead.test, SPF
//     that does not list loopback, DMARC p=none (relaxed);
//   - strict.test: a key at mail.strict.test, DMARC adkim=s aspf=s, SPF
//     listing loopback;
//   - spf.test: SPF listing loopback, no DMARC record;
//   - other.test: a key of its own.
func world(t *testing.T) (*senderauth.Checker, map[string]crypto.Signer) {
	t.Helper()
	w, err := mailsim.New(mailsim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	keys := map[string]crypto.Signer{}
	key := func(d string) string {
		k, err := dkimkey.Generate(dkimkey.Ed25519)
		if err != nil {
			t.Fatal(err)
		}
		keys[d] = k
		line, err := dkimkey.ZoneLine("k1", d, k.Public())
		if err != nil {
			t.Fatal(err)
		}
		return line
	}
	for _, d := range []mailsim.Domain{
		{Name: "lead.test", Records: []string{key("lead.test"), key("mail.lead.test"), `@ IN TXT "v=spf1 ip4:192.0.2.0/24 -all"`, `_dmarc IN TXT "v=DMARC1; p=none"`}},
		{Name: "strict.test", Records: []string{key("mail.strict.test"), `@ IN TXT "v=spf1 ip4:127.0.0.0/8 -all"`, `mail IN TXT "v=spf1 ip4:127.0.0.0/8 -all"`,
			`_dmarc IN TXT "v=DMARC1; p=reject; adkim=s; aspf=s"`}},
		{Name: "spf.test", Records: []string{`@ IN TXT "v=spf1 ip4:127.0.0.0/8 -all"`, `bounce IN TXT "v=spf1 ip4:127.0.0.0/8 -all"`}},
		{Name: "other.test", Records: []string{key("other.test")}},
	} {
		if err := w.AddDomain(d); err != nil {
			t.Fatal(err)
		}
	}
	res, err := resolver.New(resolver.Config{Servers: []string{w.DNSAddr()}})
	if err != nil {
		t.Fatal(err)
	}
	return &senderauth.Checker{Resolver: res}, keys
}

func msg(from string, extra ...string) []byte {
	h := "From: " + from + "\r\nTo: ana@sender.test\r\nSubject: Re: Hello\r\nDate: Wed, 02 Dec 2026 10:00:00 +0000\r\nMessage-ID: <r1@x.test>\r\n"
	for _, e := range extra {
		h += e + "\r\n"
	}
	return []byte(h + "\r\nPlease remove me.\r\n")
}

func sign(t *testing.T, keys map[string]crypto.Signer, d string, raw []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := dkim.Sign(&out, bytes.NewReader(raw), &dkim.SignOptions{Domain: d, Selector: "k1", Signer: keys[d],
		HeaderKeys: []string{"From", "To", "Subject", "Date", "Message-ID"}}); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func TestCheck(t *testing.T) {
	t.Parallel()
	c, keys := world(t)
	smtp := func(from string) senderauth.Envelope {
		return senderauth.Envelope{IP: "127.0.0.1", HELO: "mx.somewhere.test", MailFrom: from}
	}
	tampered := sign(t, keys, "lead.test", msg("Lead <lead@lead.test>"))
	tampered = bytes.Replace(tampered, []byte("Please remove me."), []byte("Please call me."), 1)
	for _, tc := range []struct {
		name string
		env  senderauth.Envelope
		raw  []byte
		pass bool
		by   string
	}{
		{"forged: no signature, SPF fails", smtp("lead@lead.test"), msg("lead@lead.test"), false, ""},
		{"forged over IMAP: nothing to check", senderauth.Envelope{}, msg("lead@lead.test"), false, ""},
		{"DKIM of the author domain, over IMAP", senderauth.Envelope{}, sign(t, keys, "lead.test", msg("Lead <lead@lead.test>")), true, "dkim d=lead.test"},
		{"DKIM of a subdomain, relaxed", senderauth.Envelope{}, sign(t, keys, "mail.lead.test", msg("lead@lead.test")), true, "dkim d=mail.lead.test"},
		{"DKIM of a subdomain, adkim=s", senderauth.Envelope{}, sign(t, keys, "mail.strict.test", msg("lead@strict.test")), false, ""},
		{"DKIM of another domain", smtp("x@other.test"), sign(t, keys, "other.test", msg("lead@lead.test")), false, ""},
		{"body changed after signing", senderauth.Envelope{}, tampered, false, ""},
		{"two From fields", senderauth.Envelope{}, sign(t, keys, "lead.test", msg("lead@lead.test", "From: lead@lead.test")), false, ""},
		{"two From addresses", senderauth.Envelope{}, sign(t, keys, "lead.test", msg("lead@lead.test, x@evil.test")), false, ""},
		{"SPF of the author domain", smtp("lead@spf.test"), msg("lead@spf.test"), true, "spf spf.test"},
		{"SPF of a subdomain, relaxed", smtp("b@bounce.spf.test"), msg("lead@spf.test"), true, "spf bounce.spf.test"},
		{"SPF of a subdomain, aspf=s", smtp("b@mail.strict.test"), msg("lead@strict.test"), false, ""},
		{"SPF of another domain", smtp("x@spf.test"), msg("lead@lead.test"), false, ""},
		{"null sender: SPF of HELO", senderauth.Envelope{IP: "127.0.0.1", HELO: "spf.test"}, msg("lead@spf.test"), true, "spf spf.test"},
		{"SPF without a client address", senderauth.Envelope{MailFrom: "lead@spf.test"}, msg("lead@spf.test"), false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := c.Check(context.Background(), tc.env, tc.raw)
			if r.Pass != tc.pass || r.By != tc.by {
				t.Fatalf("%+v: want pass %v by %q", r, tc.pass, tc.by)
			}
			if !r.Pass && (r.Reason == "" || strings.HasPrefix(r.String(), "pass")) {
				t.Fatalf("a failure without its reason: %+v", r)
			}
		})
	}
}

// FuzzCheck: no input makes Check panic, and a message without a
// signature never passes without an envelope.
func FuzzCheck(f *testing.F) {
	c := &senderauth.Checker{Resolver: noDNS{}}
	f.Add(msg("lead@lead.test"))
	f.Add([]byte("From: a@b.test\r\nFrom: c@d.test\r\n\r\n"))
	f.Add([]byte("DKIM-Signature: v=1; a=rsa-sha256; d=b.test; s=x; h=from; bh=; b=\r\nFrom: a@b.test\r\n\r\nx"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		if r := c.Check(context.Background(), senderauth.Envelope{}, raw); r.Pass {
			t.Fatalf("passed with no DNS: %+v", r)
		}
	})
}

// noDNS answers every query with NXDOMAIN.
type noDNS struct{}

func (noDNS) LookupMX(ctx context.Context, name string) ([]resolver.MX, error) {
	return nil, resolver.ErrNXDomain
}
func (noDNS) LookupIP(ctx context.Context, host string) ([]netip.Addr, error) {
	return nil, resolver.ErrNXDomain
}
func (noDNS) LookupTXT(ctx context.Context, name string) ([]string, error) {
	return nil, resolver.ErrNXDomain
}
