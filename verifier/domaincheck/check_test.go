package domaincheck

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/touchline/touchline/internal/mailsim"
	"github.com/touchline/touchline/verifier/resolver"
)

// rsa512 is a 512-bit RSA public key (SubjectPublicKeyInfo, base64), made
// with openssl: Go refuses to generate keys this weak, and the test needs
// one as published by careless domains.
const rsa512 = "MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBALv6h+V95wZp9+3oYZhlwsZTyai8ZPu3yWQeXeWzcCpDfCQD/zz2uXUZIXddg9sKAW7L1hyNr+0/bL0yEJNK6sMCAwEAAQ=="

func rsaKey(t *testing.T, bits int) string {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(der)
}

func edKey(t *testing.T) string {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(pub)
}

func txt(owner, value string) string { return owner + " IN TXT " + quoteTXT(value) }

type world struct {
	t *testing.T
	w *mailsim.World
	r *resolver.Client
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w, err := mailsim.New(mailsim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	r, err := resolver.New(resolver.Config{Servers: []string{w.DNSAddr()}})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.AddHost(mailsim.Host{Name: "mx.provider.test"}); err != nil {
		t.Fatal(err)
	}
	return &world{t: t, w: w, r: r}
}

// domain adds a domain with an MX and the given records.
func (w *world) domain(name string, records ...string) {
	w.t.Helper()
	if err := w.w.AddDomain(mailsim.Domain{Name: name, MX: []mailsim.MX{{Pref: 10, Host: "mx.provider.test"}}, Records: records}); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) run(domain string, opts Options) *Report {
	w.t.Helper()
	opts.Resolver = w.r
	rep, err := Run(context.Background(), domain, opts)
	if err != nil {
		w.t.Fatal(err)
	}
	return rep
}

func find(t *testing.T, rep *Report, name string) Check {
	t.Helper()
	for _, c := range rep.Checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no %s check in %+v", name, rep.Checks)
	return Check{}
}

func expect(t *testing.T, c Check, status Status, detail ...string) {
	t.Helper()
	if c.Status != status {
		t.Errorf("%s: status %s, want %s (%s)", c.Name, c.Status, status, c.Detail)
	}
	for _, d := range detail {
		if !strings.Contains(c.Detail, d) {
			t.Errorf("%s: detail %q lacks %q", c.Name, c.Detail, d)
		}
	}
	if status != Pass && c.Fix == "" {
		t.Errorf("%s: %s without a fix", c.Name, status)
	}
}

const goodDMARC = "v=DMARC1; p=reject; rua=mailto:dmarc@good.test"

func TestHealthyDomainPasses(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.domain("provider.test",
		txt("_spf", "v=spf1 ip4:198.51.100.0/24 include:_spf2.provider.test ~all"),
		txt("_spf2", "v=spf1 ip4:203.0.113.0/24 ip6:2001:db8::/32 -all"))
	w.domain("good.test",
		txt("@", "v=spf1 include:_spf.provider.test ip4:192.0.2.10 -all"),
		txt("@", "google-site-verification=abc"),
		txt("_dmarc", goodDMARC),
		txt("s2048._domainkey", "v=DKIM1; k=rsa; p="+rsaKey(t, 2048)),
		txt("ed._domainkey", "v=DKIM1; k=ed25519; p="+edKey(t)),
		txt("_mta-sts", "v=STSv1; id=20261122"),
		txt("_smtp._tls", "v=TLSRPTv1; rua=mailto:tls@good.test"))
	rep := w.run("Good.Test.", Options{DKIMSelectors: []string{"s2048", "ed"}})
	if rep.Domain != "good.test" || rep.Status != Pass {
		t.Fatalf("report %+v", rep)
	}
	expect(t, find(t, rep, "spf"), Pass, "2 of 10 DNS lookups", "include:_spf.provider.test → include:_spf2.provider.test")
	expect(t, find(t, rep, "dmarc"), Pass, "p=reject", "pct=100", "rua=mailto:dmarc@good.test")
	expect(t, find(t, rep, "mx"), Pass, "mx.provider.test (10)")
	expect(t, find(t, rep, "mta-sts"), Pass, "published")
	expect(t, find(t, rep, "tls-rpt"), Pass, "published")
	var dkim []string
	for _, c := range rep.Checks {
		if c.Name == "dkim" {
			expect(t, c, Pass)
			dkim = append(dkim, c.Detail)
		}
	}
	if len(dkim) != 2 || !strings.Contains(dkim[0], "RSA-2048") || !strings.Contains(dkim[1], "Ed25519") {
		t.Fatalf("dkim: %q", dkim)
	}

	// Discovery finds the keys without being told the selectors... when
	// they are common ones.
	w.domain("disc.test", txt("google._domainkey", "v=DKIM1; k=rsa; p="+rsaKey(t, 2048)))
	rep = w.run("disc.test", Options{})
	expect(t, find(t, rep, "dkim"), Pass, "selector google")

	// An authorized and an unauthorized sending IP, evaluated with the
	// SPF library through the project's resolver.
	expect(t, find(t, w.run("good.test", Options{IP: netip.MustParseAddr("203.0.113.7")}), "spf"), Pass, "SPF pass")
	c := find(t, w.run("good.test", Options{IP: netip.MustParseAddr("192.0.2.99")}), "spf")
	expect(t, c, Fail, "sender 192.0.2.99: SPF fail")
	if !strings.Contains(c.Fix, "ip4:192.0.2.99 -all") {
		t.Errorf("fix %q", c.Fix)
	}
}

func TestSPF(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	var includes []string
	for i := range 11 {
		includes = append(includes, fmt.Sprintf("include:s%d.many.test", i))
	}
	recs := []string{txt("@", "v=spf1 "+strings.Join(includes, " ")+" -all")}
	for i := range 11 {
		recs = append(recs, txt(fmt.Sprintf("s%d", i), fmt.Sprintf("v=spf1 ip4:192.0.2.%d -all", i)))
	}
	w.domain("many.test", recs...)
	w.domain("two.test", txt("@", "v=spf1 -all"), txt("@", "v=spf1 include:_spf.google.com ~all"))
	w.domain("plusall.test", txt("@", "v=spf1 +all"))
	w.domain("neutral.test", txt("@", "v=spf1 ip4:192.0.2.1 ?all"))
	w.domain("noall.test", txt("@", "v=spf1 ip4:192.0.2.1"))
	w.domain("nospf.test", txt("@", "some-verification=1"))
	w.domain("voids.test", txt("@", "v=spf1 a:gone1.voids.test a:gone2.voids.test mx:gone3.voids.test -all"))
	w.domain("badinc.test", txt("@", "v=spf1 include:nowhere.test -all"))
	// Void lookups of exists: targets and of MX hosts without address
	// count as well (RFC 7208 §4.6.4, §5.4, §5.7).
	w.domain("voidexists.test", txt("@", "v=spf1 exists:e1.voidexists.test exists:e2.voidexists.test exists:e3.voidexists.test -all"))
	w.domain("voidmx.test", txt("@", "v=spf1 mx:mail.voidmx.test -all"),
		"mail IN MX 10 h1.voidmx.test.", "mail IN MX 20 h2.voidmx.test.", "mail IN MX 30 h3.voidmx.test.")
	w.domain("twovoids.test", txt("@", "v=spf1 exists:e1.twovoids.test a:gone.twovoids.test ip4:192.0.2.1 -all"))
	w.domain("syntax.test", txt("@", "v=spf1 ip4:999.1.1.1 foo:bar -all"))
	w.domain("loop.test", txt("@", "v=spf1 include:loop.test -all"))
	w.domain("redir.test", txt("@", "v=spf1 redirect=good.redir.test"), txt("good", "v=spf1 ip4:192.0.2.0/24 -all"))
	for _, tc := range []struct {
		domain string
		status Status
		detail string
	}{
		{"many.test", Fail, "11 DNS lookups, more than the limit of 10"},
		{"two.test", Fail, "2 SPF records"},
		{"plusall.test", Warn, "+all authorizes every server"},
		{"neutral.test", Warn, "?all is neutral"},
		{"noall.test", Warn, "no \"all\" mechanism"},
		{"nospf.test", Fail, "no SPF record"},
		{"voids.test", Fail, "3 void lookups"},
		{"voidexists.test", Fail, "3 void lookups"},
		{"voidmx.test", Fail, "3 void lookups"},
		{"twovoids.test", Pass, "2 void"},
		{"badinc.test", Fail, "include:nowhere.test (from badinc.test) does not exist"},
		{"syntax.test", Fail, "unknown mechanism \"foo:bar\""},
		{"loop.test", Fail, "loops back"},
		{"redir.test", Pass, "1 of 10 DNS lookups"},
	} {
		t.Run(tc.domain, func(t *testing.T) {
			t.Parallel()
			expect(t, find(t, w.run(tc.domain, Options{DKIMSelectors: []string{"x"}}), "spf"), tc.status, tc.detail)
		})
	}
}

func TestDMARC(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.domain("reject.test", txt("_dmarc", "v=DMARC1; p=reject; adkim=s; rua=mailto:d@reject.test"))
	w.domain("none.test", txt("_dmarc", "v=DMARC1; p=none; rua=mailto:d@none.test"))
	w.domain("pct.test", txt("_dmarc", "v=DMARC1; p=quarantine; pct=25"))
	w.domain("bad.test", txt("_dmarc", "v=DMARC1; p=maybe"))
	w.domain("twice.test", txt("_dmarc", "v=DMARC1; p=reject"), txt("_dmarc", "v=DMARC1; p=none"))
	w.domain("missing.test")
	w.domain("org.test", txt("_dmarc", "v=DMARC1; p=none; sp=reject"), txt("mail", "v=spf1 -all"))
	w.domain("ext.test", txt("_dmarc", "v=DMARC1; p=reject; rua=mailto:reports@vendor.test"))
	w.domain("authz.test", txt("_dmarc", "v=DMARC1; p=reject; rua=mailto:reports@vendor.test"))
	w.domain("vendor.test", txt("authz.test._report._dmarc", "v=DMARC1"))
	for _, tc := range []struct {
		domain string
		status Status
		detail string
	}{
		{"reject.test", Pass, "p=reject; pct=100; adkim=s; aspf=r"},
		{"none.test", Warn, "policy is none"},
		{"pct.test", Warn, "25% of failing mail"},
		{"bad.test", Fail, "malformed"},
		{"twice.test", Fail, "2 DMARC records"},
		{"missing.test", Fail, "no DMARC record at _dmarc.missing.test"},
		// No record at the subdomain: the organizational domain's applies,
		// with its subdomain policy.
		{"mail.org.test", Pass, "inherited from the organizational domain org.test"},
		{"ext.test", Warn, "vendor.test has not authorized reports"},
		{"authz.test", Pass, "rua=mailto:reports@vendor.test"},
	} {
		t.Run(tc.domain, func(t *testing.T) {
			t.Parallel()
			expect(t, find(t, w.run(tc.domain, Options{DKIMSelectors: []string{"x"}}), "dmarc"), tc.status, tc.detail)
		})
	}
}

func TestDKIM(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.domain("keys.test",
		txt("rsa2048._domainkey", "v=DKIM1; k=rsa; p="+rsaKey(t, 2048)),
		txt("rsa1024._domainkey", "v=DKIM1; k=rsa; p="+rsaKey(t, 1024)),
		txt("rsa512._domainkey", "v=DKIM1; k=rsa; p="+rsa512),
		txt("ed._domainkey", "v=DKIM1; k=ed25519; p="+edKey(t)),
		txt("old._domainkey", "v=DKIM1; k=rsa; p="),
		txt("testing._domainkey", "v=DKIM1; k=rsa; t=y; p="+rsaKey(t, 2048)),
		txt("junk._domainkey", "v=DKIM1; k=rsa; p=not*base64"),
		txt("sha1._domainkey", "v=DKIM1; h=sha1; k=rsa; p="+rsaKey(t, 2048)))
	for _, tc := range []struct {
		sel    string
		status Status
		detail string
	}{
		{"rsa2048", Pass, "RSA-2048"},
		{"rsa1024", Warn, "RSA-1024"},
		{"rsa512", Fail, "RSA-512"},
		{"ed", Pass, "Ed25519"},
		{"old", Fail, "revoked"},
		{"testing", Warn, "t=y"},
		{"junk", Fail, "not base64"},
		{"sha1", Warn, "h=sha1"},
		{"absent", Fail, "no DKIM key at absent._domainkey.keys.test"},
	} {
		t.Run(tc.sel, func(t *testing.T) {
			t.Parallel()
			expect(t, find(t, w.run("keys.test", Options{DKIMSelectors: []string{tc.sel}}), "dkim"), tc.status, tc.detail)
		})
	}
	// A revoked key met during discovery is a retired selector: a warning.
	w.domain("retired.test", txt("default._domainkey", "v=DKIM1; p="), txt("s1._domainkey", "v=DKIM1; k=ed25519; p="+edKey(t)))
	var got []Status
	for _, c := range w.run("retired.test", Options{}).Checks {
		if c.Name == "dkim" {
			got = append(got, c.Status)
		}
	}
	if fmt.Sprint(got) != "[warn pass]" {
		t.Fatalf("discovered dkim statuses %v", got)
	}
	w.domain("nokeys.test")
	expect(t, find(t, w.run("nokeys.test", Options{}), "dkim"), Warn, "no DKIM key found")
}

func TestMXAndOptionalRecords(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	for _, d := range []mailsim.Domain{
		{Name: "nullmx.test", NullMX: true},
		{Name: "apexonly.test", Apex: &mailsim.Host{}},
		{Name: "nothing.test", Records: []string{txt("@", "v=spf1 -all")}},
		{Name: "gone.test", DNSFault: mailsim.NXDomain},
		{Name: "broken.test", DNSFault: mailsim.ServFail},
	} {
		if err := w.w.AddDomain(d); err != nil {
			t.Fatal(err)
		}
	}
	w.domain("badsts.test", txt("_mta-sts", "v=STSv1"), txt("_smtp._tls", "v=TLSRPTv1; rua=mailto:x@badsts.test"))
	expect(t, find(t, w.run("nullmx.test", Options{}), "mx"), Fail, "null MX")
	expect(t, find(t, w.run("apexonly.test", Options{}), "mx"), Fail, "no MX record: replies and bounces go to the domain's address record")
	expect(t, find(t, w.run("nothing.test", Options{}), "mx"), Fail, "no MX record and no address record")
	gone := w.run("gone.test", Options{})
	expect(t, find(t, gone, "mx"), Fail, "NXDOMAIN")
	if gone.Status != Fail {
		t.Errorf("status %s", gone.Status)
	}
	expect(t, find(t, w.run("broken.test", Options{}), "spf"), Fail, "SPF lookup failed")
	rep := w.run("badsts.test", Options{})
	expect(t, find(t, rep, "mta-sts"), Warn, "lacks id")
	expect(t, find(t, rep, "tls-rpt"), Pass, "published")
	expect(t, find(t, w.run("missing.test", Options{}), "mta-sts"), Pass, "not published")
}

func TestRunRejectsBadInput(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	for _, d := range []string{"", "localhost", "bad domain.test", "-x.test", "a..b"} {
		if _, err := Run(context.Background(), d, Options{Resolver: w.r}); err == nil {
			t.Errorf("domain %q accepted", d)
		}
	}
	if _, err := Run(context.Background(), "ok.test", Options{Resolver: w.r, DKIMSelectors: []string{"bad sel"}}); err == nil {
		t.Error("bad selector accepted")
	}
	if d, err := NormalizeDomain("Bücher.DE."); err != nil || d != "xn--bcher-kva.de" {
		t.Errorf("NormalizeDomain = %q, %v", d, err)
	}
}

func TestPresence(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.domain("full.test", txt("@", "v=spf1 mx -all"), txt("_dmarc", "v=DMARC1; p=none"))
	w.domain("parked.test")
	w.domain("broken.test", txt("@", "v=spf1 -all"), txt("@", "v=spf1 mx -all"), txt("_dmarc", "v=DMARC1; p=bogus"))
	w.domain("typo.test", txt("@", "v=spf1 inclde:x.test -all"))
	w.domain("org.test", txt("_dmarc", "v=DMARC1; p=reject"))
	ctx := context.Background()
	for _, tc := range []struct {
		domain     string
		spf, dmarc Presence
	}{
		{"full.test", Present, Present},
		{"parked.test", Absent, Absent},
		{"broken.test", Invalid, Invalid},
		{"typo.test", Invalid, Absent},
		{"mail.org.test", Absent, Present},
		{"nx.nowhere.test", Absent, Absent},
	} {
		if s, d := SPFPresence(ctx, w.r, tc.domain), DMARCPresence(ctx, w.r, tc.domain); s != tc.spf || d != tc.dmarc {
			t.Errorf("%s: spf %s dmarc %s, want %s %s", tc.domain, s, d, tc.spf, tc.dmarc)
		}
	}
}
