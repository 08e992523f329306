package domaincheck

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/touchline/touchline/verifier/resolver"
)

// recordResolver answers every TXT question with the record under test
// (SPF at every name, so includes and redirects recurse into it; DMARC at
// _dmarc names), and nothing else: the parsers meet what a hostile domain
// publishes, with no network.
type recordResolver struct{ spf, dmarc string }

func (r recordResolver) LookupMX(context.Context, string) ([]resolver.MX, error) { return nil, nil }
func (r recordResolver) LookupIP(context.Context, string) ([]netip.Addr, error) {
	return nil, resolver.ErrNXDomain
}
func (r recordResolver) LookupTXT(_ context.Context, name string) ([]string, error) {
	if strings.HasPrefix(strings.ToLower(name), "_dmarc.") {
		return []string{r.dmarc}, nil
	}
	return []string{r.spf}, nil
}

func checkInvariants(t *testing.T, c Check) {
	t.Helper()
	switch c.Status {
	case Pass, Warn, Fail:
	default:
		t.Fatalf("%s: status %q", c.Name, c.Status)
	}
	if c.Status != Pass && c.Fix == "" {
		t.Fatalf("%s: %s without a fix: %q", c.Name, c.Status, c.Detail)
	}
}

// FuzzSPFRecord: RFC 7208 records as a domain publishes them, checked
// statically, evaluated for a sender, and judged present or not.
func FuzzSPFRecord(f *testing.F) {
	for _, s := range []string{
		"v=spf1 -all", "v=spf1 include:_spf.google.com ~all", "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 mx a:mail.%{d} -all",
		"v=spf1 redirect=_spf.example.com", "v=spf1 +all", "v=spf1 ?", "v=spf1 -", "v=spf1 exists:%{i}._spf.%{d} -all",
		"v=spf1 a/24 mx/24//64 ptr -all", "v=spf1 redirect= redirect=x", "v=spf1 include: include:%{", "v=spf1;", "v=spf1 \x00 ip4:",
	} {
		f.Add(s)
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, rec string) {
		if !strings.HasPrefix(strings.ToLower(rec), "v=spf1") {
			rec = "v=spf1 " + rec
		}
		r := recordResolver{spf: rec}
		checkInvariants(t, checkSPF(ctx, r, "example.com", netip.Addr{}))
		checkInvariants(t, checkSPF(ctx, r, "example.com", netip.MustParseAddr("192.0.2.1")))
		switch p := SPFPresence(ctx, r, "example.com"); p {
		case Present, Absent, Invalid, Unknown:
		default:
			t.Fatalf("presence %q", p)
		}
	})
}

// FuzzDMARCRecord: RFC 7489 records, the domain's own and inherited from
// the organizational domain.
func FuzzDMARCRecord(f *testing.F) {
	for _, s := range []string{
		"v=DMARC1; p=none; rua=mailto:d@example.com", "v=DMARC1; p=reject; sp=none; pct=50; adkim=s; aspf=r",
		"v=DMARC1; p=quarantine; rua=mailto:a@other.test!10m,https://x/; ruf=mailto:", "v=DMARC1;", "v=DMARC1; p=",
		"v=DMARC1; pct=-1; p=none", "v=DMARC1; p=none; rua=mailto:%", "v=DMARC1; p=none; rua=,,,",
	} {
		f.Add(s)
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, rec string) {
		if !strings.HasPrefix(strings.ToLower(rec), "v=dmarc1") {
			rec = "v=DMARC1; " + rec
		}
		r := recordResolver{dmarc: rec}
		checkInvariants(t, checkDMARC(ctx, r, "example.com"))
		checkInvariants(t, checkDMARC(ctx, r, "mail.example.co.uk"))
		switch p := DMARCPresence(ctx, r, "example.com"); p {
		case Present, Absent, Invalid, Unknown:
		default:
			t.Fatalf("presence %q", p)
		}
	})
}
