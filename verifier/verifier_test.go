package verifier_test

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/touchline/touchline/internal/mailsim"
	"github.com/touchline/touchline/verifier"
	"github.com/touchline/touchline/verifier/resolver"
)

const testHelo = "probe.touchline.test"

// lab is one simulated world and a verifier pointed at it.
type lab struct {
	t      *testing.T
	world  *mailsim.World
	dialer *mailsim.Dialer
	res    *resolver.Client
	cfg    verifier.Config
}

func newLab(t *testing.T, opts mailsim.Options) *lab {
	t.Helper()
	w, err := mailsim.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	res, err := resolver.New(resolver.Config{Servers: []string{w.DNSAddr()}, Timeout: 500 * time.Millisecond, Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	d := &mailsim.Dialer{}
	return &lab{t: t, world: w, dialer: d, res: res, cfg: verifier.Config{
		Resolver:        res,
		Dialer:          d,
		SMTPPort:        w.SMTPPort(),
		HeloName:        testHelo,
		MailFrom:        "verify@touchline.test",
		AllowMXNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		ConnectTimeout:  2 * time.Second,
		BannerTimeout:   2 * time.Second,
		CommandTimeout:  2 * time.Second,
		GreylistRetry:   -1,
	}}
}

func (l *lab) host(h mailsim.Host) {
	l.t.Helper()
	if err := l.world.AddHost(h); err != nil {
		l.t.Fatal(err)
	}
}

func (l *lab) domain(d mailsim.Domain) {
	l.t.Helper()
	if err := l.world.AddDomain(d); err != nil {
		l.t.Fatal(err)
	}
}

// strict adds a domain with one MX host and the given mailboxes.
func (l *lab) strict(domain string, h mailsim.Host, boxes map[string]mailsim.Mailbox) {
	l.t.Helper()
	if h.Name == "" {
		h.Name = "mx." + domain
	}
	l.host(h)
	l.domain(mailsim.Domain{Name: domain, MX: []mailsim.MX{{Pref: 10, Host: h.Name}}, Mailboxes: boxes})
}

func (l *lab) verifier() *verifier.Verifier {
	l.t.Helper()
	v, err := verifier.New(l.cfg)
	if err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(func() { v.Close() })
	return v
}

func (l *lab) verify(addr string) verifier.Verdict {
	l.t.Helper()
	return l.verifier().Verify(context.Background(), addr)
}

func want(t *testing.T, v verifier.Verdict, status verifier.Status, reason verifier.Reason) {
	t.Helper()
	if v.Status != status || v.Reason != reason {
		t.Fatalf("%s: got %s/%s (%s), want %s/%s", v.Input, v.Status, v.Reason, v.Detail, status, reason)
	}
}

func TestStrictDomain(t *testing.T) {
	t.Parallel()
	l := newLab(t, mailsim.Options{})
	l.strict("acme.test", mailsim.Host{StartTLS: true}, map[string]mailsim.Mailbox{"jane.doe": mailsim.Exists})
	v := l.verifier()
	ctx := context.Background()

	ok := v.Verify(ctx, "Jane Doe <jane.doe@ACME.test>")
	want(t, ok, verifier.Deliverable, verifier.ReasonAccepted)
	if ok.Address != "jane.doe@acme.test" || ok.Reply == nil || ok.Reply.Code != 250 || !ok.StartTLS ||
		ok.CatchAll != verifier.CatchAllRejecting || !slices.Equal(ok.MXHosts, []string{"mx.acme.test"}) {
		t.Fatalf("evidence: %+v reply %+v", ok, ok.Reply)
	}
	gone := v.Verify(ctx, "john.gone@acme.test")
	want(t, gone, verifier.Undeliverable, verifier.ReasonMailboxNotFound)
	if gone.Reply == nil || gone.Reply.Code != 550 || gone.Reply.Enhanced != "5.1.1" || !strings.Contains(gone.Reply.Text, "User unknown") {
		t.Fatalf("deciding reply: %+v", gone.Reply)
	}
	v.Close()
	st := l.world.HostStats("mx.acme.test")
	// The configured name is used in both greetings, also after STARTTLS,
	// and no message is ever sent.
	if !slices.Equal(st.HeloNames, []string{testHelo}) || st.StartTLS == 0 || st.Data != 0 {
		t.Fatalf("host stats: %+v", st)
	}
}

func TestRepliesByServerStyle(t *testing.T) {
	t.Parallel()
	l := newLab(t, mailsim.Options{})
	styles := []string{"postfix", "exim", "gmail", "m365", "exchange", "yahoo"}
	for _, s := range styles {
		l.strict(s+".test", mailsim.Host{Style: s}, map[string]mailsim.Mailbox{
			"ok": mailsim.Exists, "full": mailsim.Full, "off": mailsim.Disabled,
		})
	}
	v := l.verifier()
	for _, s := range styles {
		for _, tc := range []struct {
			local  string
			status verifier.Status
			reason verifier.Reason
		}{
			{"ok", verifier.Deliverable, verifier.ReasonAccepted},
			{"full", verifier.Risky, verifier.ReasonMailboxFull},
			{"off", verifier.Undeliverable, verifier.ReasonMailboxDisabled},
			{"nobody", verifier.Undeliverable, verifier.ReasonMailboxNotFound},
		} {
			t.Run(s+"/"+tc.local, func(t *testing.T) {
				t.Parallel()
				want(t, v.Verify(context.Background(), tc.local+"@"+s+".test"), tc.status, tc.reason)
			})
		}
	}
}

func TestCatchAll(t *testing.T) {
	t.Parallel()
	l := newLab(t, mailsim.Options{})
	l.host(mailsim.Host{Name: "mx.catchall.test"})
	l.domain(mailsim.Domain{Name: "catchall.test", MX: []mailsim.MX{{Pref: 10, Host: "mx.catchall.test"}}, CatchAll: true,
		Mailboxes: map[string]mailsim.Mailbox{"full": mailsim.Full}})
	v := l.verifier()
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			vd := v.Verify(context.Background(), fmt.Sprintf("person%d@catchall.test", i))
			want(t, vd, verifier.Risky, verifier.ReasonCatchAll)
			if vd.CatchAll != verifier.CatchAllAccepting {
				t.Errorf("catch-all state %s", vd.CatchAll)
			}
		})
	}
	wg.Wait()
	// The address's own reply is judged apart from the probe: a full
	// mailbox is still full.
	want(t, v.Verify(context.Background(), "full@catchall.test"), verifier.Risky, verifier.ReasonMailboxFull)
	// One random probe for the domain, however many addresses.
	if got := l.world.HostStats("mx.catchall.test").Rcpt; got != 12 {
		t.Fatalf("RCPTs: got %d, want 11 addresses + 1 probe", got)
	}
}

func TestDNS(t *testing.T) {
	t.Parallel()
	l := newLab(t, mailsim.Options{})
	l.host(mailsim.Host{Name: "mx.ok.test"})
	boxes := map[string]mailsim.Mailbox{"a": mailsim.Exists}
	l.domain(mailsim.Domain{Name: "nullmx.test", NullMX: true})
	l.domain(mailsim.Domain{Name: "nx.test", DNSFault: mailsim.NXDomain})
	l.domain(mailsim.Domain{Name: "servfail.test", DNSFault: mailsim.ServFail})
	l.domain(mailsim.Domain{Name: "dnstimeout.test", DNSFault: mailsim.Timeout})
	l.domain(mailsim.Domain{Name: "nothing.test", Records: []string{`@ IN TXT "v=spf1 -all"`}})
	l.domain(mailsim.Domain{Name: "apex.test", Apex: &mailsim.Host{}, Mailboxes: boxes})
	l.domain(mailsim.Domain{Name: "truncated.test", DNSFault: mailsim.Truncate, MX: []mailsim.MX{{Pref: 10, Host: "mx.ok.test"}}, Mailboxes: boxes})
	l.domain(mailsim.Domain{Name: "danglingmx.test", MX: []mailsim.MX{{Pref: 10, Host: "mx.nowhere.test"}}})
	v := l.verifier()
	for _, tc := range []struct {
		addr   string
		status verifier.Status
		reason verifier.Reason
		mx     []string
	}{
		{"a@nullmx.test", verifier.Undeliverable, verifier.ReasonNoMailServer, []string{"."}},
		{"a@nx.test", verifier.Undeliverable, verifier.ReasonNoMailServer, nil},
		{"a@servfail.test", verifier.Unknown, verifier.ReasonDNSError, nil},
		{"a@dnstimeout.test", verifier.Unknown, verifier.ReasonDNSError, nil},
		{"a@nothing.test", verifier.Undeliverable, verifier.ReasonNoMailServer, nil},
		// RFC 5321 §5.1: no MX, so the address record is the implicit MX.
		{"a@apex.test", verifier.Deliverable, verifier.ReasonAccepted, []string{"apex.test"}},
		// A truncated UDP answer is asked again over TCP.
		{"a@truncated.test", verifier.Deliverable, verifier.ReasonAccepted, []string{"mx.ok.test"}},
		{"a@danglingmx.test", verifier.Undeliverable, verifier.ReasonNoMailServer, []string{"mx.nowhere.test"}},
	} {
		t.Run(tc.addr, func(t *testing.T) {
			t.Parallel()
			vd := v.Verify(context.Background(), tc.addr)
			want(t, vd, tc.status, tc.reason)
			if !slices.Equal(vd.MXHosts, tc.mx) {
				t.Fatalf("MX hosts %q, want %q", vd.MXHosts, tc.mx)
			}
		})
	}
}

func TestDeadPrimaryFallsToSecondary(t *testing.T) {
	t.Parallel()
	l := newLab(t, mailsim.Options{})
	l.host(mailsim.Host{Name: "mx1.acme.test", Down: true})
	l.host(mailsim.Host{Name: "mx2.acme.test"})
	l.domain(mailsim.Domain{Name: "acme.test", MX: []mailsim.MX{{Pref: 20, Host: "mx2.acme.test"}, {Pref: 10, Host: "mx1.acme.test"}},
		Mailboxes: map[string]mailsim.Mailbox{"a": mailsim.Exists}})
	vd := l.verify("a@acme.test")
	want(t, vd, verifier.Deliverable, verifier.ReasonAccepted)
	if !slices.Equal(vd.MXHosts, []string{"mx1.acme.test", "mx2.acme.test"}) {
		t.Fatalf("MX hosts in the order tried: %q", vd.MXHosts)
	}
}

func TestAllMXDown(t *testing.T) {
	t.Parallel()
	l := newLab(t, mailsim.Options{})
	l.host(mailsim.Host{Name: "mx1.dead.test", Down: true})
	l.host(mailsim.Host{Name: "mx2.dead.test", Down: true})
	l.domain(mailsim.Domain{Name: "dead.test", MX: []mailsim.MX{{Pref: 10, Host: "mx1.dead.test"}, {Pref: 20, Host: "mx2.dead.test"}}})
	vd := l.verify("a@dead.test")
	want(t, vd, verifier.Unknown, verifier.ReasonConnection)
	if !slices.Equal(vd.MXHosts, []string{"mx1.dead.test", "mx2.dead.test"}) {
		t.Fatalf("MX hosts: %q", vd.MXHosts)
	}
}

func TestPrivateMXNeverContacted(t *testing.T) {
	t.Parallel()
	l := newLab(t, mailsim.Options{})
	for i, addr := range []string{"10.20.30.40", "192.168.1.5", "172.16.0.9", "100.64.1.1", "169.254.10.10", "fd00::25", "fe80::1", "0.0.0.0", "224.0.0.1"} {
		name := fmt.Sprintf("mx%d.private.test", i)
		l.host(mailsim.Host{Name: name, Address: addr})
		l.domain(mailsim.Domain{Name: fmt.Sprintf("p%d.test", i), MX: []mailsim.MX{{Pref: 10, Host: name}}})
	}
	// Loopback is refused too unless allowed, also with
	// AllowMXNetworks limited to another range.
	l.host(mailsim.Host{Name: "mx.loop.test"})
	l.domain(mailsim.Domain{Name: "loop.test", MX: []mailsim.MX{{Pref: 10, Host: "mx.loop.test"}}, Mailboxes: map[string]mailsim.Mailbox{"a": mailsim.Exists}})
	l.cfg.AllowMXNetworks = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}
	v := l.verifier()
	for i := range 9 {
		want(t, v.Verify(context.Background(), fmt.Sprintf("a@p%d.test", i)), verifier.Undeliverable, verifier.ReasonMXPrivate)
	}
	want(t, v.Verify(context.Background(), "a@loop.test"), verifier.Undeliverable, verifier.ReasonMXPrivate)
	if st := l.world.HostStats("mx.loop.test"); st.Connections != 0 || l.dialer.Refused() != 0 {
		t.Fatalf("a refused MX was dialled: %+v, refused %d", st, l.dialer.Refused())
	}
	// The lab switch lets the loopback host be probed.
	l.cfg.AllowMXNetworks = nil
	l.cfg.AllowPrivateMX = true
	want(t, l.verify("a@loop.test"), verifier.Deliverable, verifier.ReasonAccepted)
}

func TestGreylisting(t *testing.T) {
	t.Parallel()
	l := newLab(t, mailsim.Options{})
	l.host(mailsim.Host{Name: "mx.grey.test"})
	l.domain(mailsim.Domain{Name: "grey.test", MX: []mailsim.MX{{Pref: 10, Host: "mx.grey.test"}}, Greylist: 300 * time.Millisecond,
		Mailboxes: map[string]mailsim.Mailbox{"a": mailsim.Exists}})

	t.Run("retried after the delay", func(t *testing.T) {
		l.cfg.GreylistRetry, l.cfg.GreylistBudget = 400*time.Millisecond, 5*time.Second
		vd := l.verify("a@grey.test")
		want(t, vd, verifier.Deliverable, verifier.ReasonAccepted)
		if vd.Elapsed < 400*time.Millisecond {
			t.Fatalf("answered after %s: the retry did not wait", vd.Elapsed)
		}
		want(t, l.verify("nobody@grey.test"), verifier.Undeliverable, verifier.ReasonMailboxNotFound)
	})
	t.Run("budget exhausted", func(t *testing.T) {
		l.cfg.GreylistRetry, l.cfg.GreylistBudget = time.Second, 500*time.Millisecond
		vd := l.verify("b@grey.test")
		want(t, vd, verifier.Unknown, verifier.ReasonGreylisted)
		if vd.Reply == nil || vd.Reply.Code/100 != 4 {
			t.Fatalf("deciding reply %+v", vd.Reply)
		}
	})
}

func TestPolicyBlockIsNotAMissingMailbox(t *testing.T) {
	t.Parallel()
	l := newLab(t, mailsim.Options{})
	l.host(mailsim.Host{Name: "mx.blocked.test"})
	l.domain(mailsim.Domain{Name: "blocked.test", MX: []mailsim.MX{{Pref: 10, Host: "mx.blocked.test"}},
		PolicyBlock: &mailsim.Reply{Code: 550, Text: "5.7.1 Service unavailable; client host [127.0.0.1] blocked using zen.spamhaus.org"}})
	l.host(mailsim.Host{Name: "mx.banner.test", BannerReject: &mailsim.Reply{Code: 554, Text: "5.7.1 Your IP has poor reputation"}})
	l.domain(mailsim.Domain{Name: "banner.test", MX: []mailsim.MX{{Pref: 10, Host: "mx.banner.test"}}})
	v := l.verifier()
	want(t, v.Verify(context.Background(), "a@blocked.test"), verifier.Unknown, verifier.ReasonBlocked)
	vd := v.Verify(context.Background(), "a@banner.test")
	want(t, vd, verifier.Unknown, verifier.ReasonBlocked)
	if vd.Reply == nil || vd.Reply.Code != 554 {
		t.Fatalf("deciding reply %+v", vd.Reply)
	}
}

func TestTarpitCostsTheBannerTimeout(t *testing.T) {
	t.Parallel()
	l := newLab(t, mailsim.Options{})
	l.host(mailsim.Host{Name: "mx.tarpit.test", BannerDelay: time.Minute})
	l.domain(mailsim.Domain{Name: "tarpit.test", MX: []mailsim.MX{{Pref: 10, Host: "mx.tarpit.test"}}})
	l.cfg.BannerTimeout = 300 * time.Millisecond
	v := l.verifier()
	var wg sync.WaitGroup
	for i := range 5 {
		wg.Go(func() {
			vd := v.Verify(context.Background(), fmt.Sprintf("a%d@tarpit.test", i))
			want(t, vd, verifier.Unknown, verifier.ReasonTimeout)
			if vd.Elapsed > 10*time.Second {
				t.Errorf("a tarpit cost %s", vd.Elapsed)
			}
		})
	}
	wg.Wait()
}

func TestConnectionLimitsAndSessionReuse(t *testing.T) {
	t.Parallel()
	l := newLab(t, mailsim.Options{SMTPLatency: 2 * time.Millisecond})
	boxes := map[string]mailsim.Mailbox{}
	for i := range 30 {
		boxes[fmt.Sprintf("p%d", i)] = mailsim.Exists
	}
	l.strict("big.test", mailsim.Host{}, boxes)
	l.strict("busy.test", mailsim.Host{MaxConns: 1}, boxes)
	l.cfg.PerHost = 2
	v := l.verifier()
	var wg sync.WaitGroup
	for _, d := range []string{"big.test", "busy.test"} {
		for i := range 60 { // half exist
			wg.Go(func() {
				vd := v.Verify(context.Background(), fmt.Sprintf("p%d@%s", i, d))
				if i < 30 {
					want(t, vd, verifier.Deliverable, verifier.ReasonAccepted)
				} else {
					want(t, vd, verifier.Undeliverable, verifier.ReasonMailboxNotFound)
				}
			})
		}
	}
	wg.Wait()
	v.Close()
	big, busy := l.world.HostStats("mx.big.test"), l.world.HostStats("mx.busy.test")
	if big.MaxConcurrent > 2 || big.Connections > 6 {
		t.Errorf("big.test: %d connections, %d at once; want sessions reused, at most 2 at once", big.Connections, big.MaxConcurrent)
	}
	// A 421 for too many connections makes the verifier back off to what
	// the server tolerates.
	if busy.MaxConcurrent > 2 || busy.Connections > 8 {
		t.Errorf("busy.test: %d connections, %d at once, %d refused with 421", busy.Connections, busy.MaxConcurrent, busy.Sent421)
	}
	if big.Rset == 0 {
		t.Errorf("no RSET: transactions were not split (RcptPerTransaction)")
	}
}

func TestAntiHarvestDisconnect(t *testing.T) {
	t.Parallel()
	l := newLab(t, mailsim.Options{})
	boxes := map[string]mailsim.Mailbox{}
	for i := range 10 {
		boxes[fmt.Sprintf("real%d", i)] = mailsim.Exists
	}
	l.strict("guarded.test", mailsim.Host{DisconnectAfterInvalid: 2}, boxes)
	l.cfg.PerHost = 1
	v := l.verifier()
	for i := range 10 {
		want(t, v.Verify(context.Background(), fmt.Sprintf("fake%d@guarded.test", i)), verifier.Undeliverable, verifier.ReasonMailboxNotFound)
		want(t, v.Verify(context.Background(), fmt.Sprintf("real%d@guarded.test", i)), verifier.Deliverable, verifier.ReasonAccepted)
	}
	if st := l.world.HostStats("mx.guarded.test"); st.Connections < 3 {
		t.Fatalf("the server never dropped us (%d connections): the test does not test", st.Connections)
	}
}

func TestStartTLSRequired(t *testing.T) {
	t.Parallel()
	l := newLab(t, mailsim.Options{})
	l.strict("secure.test", mailsim.Host{StartTLS: true, RequireTLS: true}, map[string]mailsim.Mailbox{"a": mailsim.Exists})
	vd := l.verify("a@secure.test")
	want(t, vd, verifier.Deliverable, verifier.ReasonAccepted)
	if !vd.StartTLS {
		t.Fatal("STARTTLS not recorded")
	}
	l.cfg.DisableStartTLS = true
	want(t, l.verify("a@secure.test"), verifier.Unknown, verifier.ReasonBlocked)
}

func TestSMTPUTF8(t *testing.T) {
	t.Parallel()
	l := newLab(t, mailsim.Options{})
	boxes := map[string]mailsim.Mailbox{"jürgen": mailsim.Exists, "anna": mailsim.Exists}
	l.strict("xn--mller-bau-q9a.test", mailsim.Host{SMTPUTF8: true}, boxes)
	l.strict("legacy.test", mailsim.Host{}, boxes)
	v := l.verifier()
	want(t, v.Verify(context.Background(), "jürgen@müller-bau.test"), verifier.Deliverable, verifier.ReasonAccepted)
	want(t, v.Verify(context.Background(), "anna@müller-bau.test"), verifier.Deliverable, verifier.ReasonAccepted)
	want(t, v.Verify(context.Background(), "jürgen@legacy.test"), verifier.Undeliverable, verifier.ReasonSMTPUTF8)
	want(t, v.Verify(context.Background(), "anna@legacy.test"), verifier.Deliverable, verifier.ReasonAccepted)
}

func TestSyntaxAndDisposableNeedNoProbe(t *testing.T) {
	t.Parallel()
	l := newLab(t, mailsim.Options{})
	l.host(mailsim.Host{Name: "mx.mailinator.com"})
	l.domain(mailsim.Domain{Name: "mailinator.com", MX: []mailsim.MX{{Pref: 10, Host: "mx.mailinator.com"}}, CatchAll: true})
	v := l.verifier()
	for _, bad := range []string{"", "john.doe@", "mary..smith@acme.test", "no-at-sign", "a@b", "x@-bad-.test"} {
		vd := v.Verify(context.Background(), bad)
		want(t, vd, verifier.Undeliverable, verifier.ReasonSyntax)
		if vd.Detail == "" {
			t.Errorf("%q: no explanation", bad)
		}
	}
	if s := l.res.Stats(); s.UDPQueries != 0 {
		t.Fatalf("syntax errors caused DNS queries: %+v", s)
	}
	vd := v.Verify(context.Background(), "someone@mailinator.com")
	want(t, vd, verifier.Risky, verifier.ReasonDisposable)
	if !vd.Disposable {
		t.Fatal("disposable flag not set")
	}
	if st := l.world.HostStats("mx.mailinator.com"); st.Connections != 0 {
		t.Fatalf("disposable domain probed: %+v", st)
	}
}

func TestFlags(t *testing.T) {
	t.Parallel()
	l := newLab(t, mailsim.Options{})
	l.strict("gmail.com", mailsim.Host{Style: "gmail"}, map[string]mailsim.Mailbox{"info": mailsim.Exists, "jane": mailsim.Exists})
	l.host(mailsim.Host{Name: "mx.kept.test"})
	l.domain(mailsim.Domain{Name: "kept.test", MX: []mailsim.MX{{Pref: 10, Host: "mx.kept.test"}}, CatchAll: true,
		Records: []string{`@ IN TXT "v=spf1 mx -all"`, `_dmarc IN TXT "v=DMARC1; p=reject"`}})
	v := l.verifier()
	role := v.Verify(context.Background(), "info@gmail.com")
	if !role.RoleAccount || !role.FreeProvider || role.Disposable {
		t.Fatalf("flags: %+v", role)
	}
	// Whether the recipient domain publishes SPF and DMARC.
	if role.DomainSPF != "absent" || role.DomainDMARC != "absent" {
		t.Fatalf("domain records of gmail.com here: %q %q", role.DomainSPF, role.DomainDMARC)
	}
	if k := v.Verify(context.Background(), "a@kept.test"); k.DomainSPF != "present" || k.DomainDMARC != "present" {
		t.Fatalf("domain records of kept.test: %q %q", k.DomainSPF, k.DomainDMARC)
	}
	if p := v.Verify(context.Background(), "jane@gmail.com"); p.RoleAccount || !p.FreeProvider {
		t.Fatalf("flags: %+v", p)
	}
}

func TestOneLookupPerDomain(t *testing.T) {
	t.Parallel()
	l := newLab(t, mailsim.Options{DNSLatency: 5 * time.Millisecond})
	l.strict("many.test", mailsim.Host{}, map[string]mailsim.Mailbox{})
	v := l.verifier()
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Go(func() { v.Verify(context.Background(), fmt.Sprintf("u%d@many.test", i)) })
	}
	wg.Wait()
	// MX, SPF and DMARC for the domain, A and AAAA for its host.
	if s := l.res.Stats(); s.UDPQueries > 5 {
		t.Fatalf("DNS queries for one domain: %+v", s)
	}
}

func TestConfigRefusesLocalhostGreeting(t *testing.T) {
	t.Parallel()
	for _, helo := range []string{"localhost", "LOCALHOST.localdomain", "bad name"} {
		if _, err := verifier.New(verifier.Config{HeloName: helo, Resolver: fakeResolver{}}); err == nil {
			t.Errorf("EHLO %q accepted", helo)
		}
	}
}

type fakeResolver struct{}

func (fakeResolver) LookupMX(context.Context, string) ([]resolver.MX, error) { return nil, nil }
func (fakeResolver) LookupIP(context.Context, string) ([]netip.Addr, error)  { return nil, nil }
func (fakeResolver) LookupTXT(context.Context, string) ([]string, error)     { return nil, nil }

func TestRepeated421BacksOffAndGivesUp(t *testing.T) {
	t.Parallel()
	l := newLab(t, mailsim.Options{})
	l.host(mailsim.Host{Name: "mx.throttle.test"})
	l.domain(mailsim.Domain{Name: "throttle.test", MX: []mailsim.MX{{Pref: 10, Host: "mx.throttle.test"}},
		PolicyBlock: &mailsim.Reply{Code: 421, Text: "4.7.0 Too many connections from your IP, try again later"}})
	l.cfg.Backoff = 10 * time.Millisecond
	v := l.verifier()
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			want(t, v.Verify(context.Background(), fmt.Sprintf("a%d@throttle.test", i)), verifier.Unknown, verifier.ReasonTemporary)
		})
	}
	wg.Wait()
	// Each 421 backs the host off; after a few in a row it is given up
	// for a while instead of being asked again for every address.
	if st := l.world.HostStats("mx.throttle.test"); st.Connections > 8 {
		t.Fatalf("%d connections for 10 addresses at a host that answers 421", st.Connections)
	}
}

func TestCloseStopsProbing(t *testing.T) {
	t.Parallel()
	// per: RCPTs per transaction. One at a time, Close cuts the session
	// between two RCPTs; in pipelined groups, the group in flight is the
	// most that can still be asked, never the queued ones behind it.
	for _, per := range []int{1, 5} {
		t.Run(fmt.Sprintf("%d per transaction", per), func(t *testing.T) {
			t.Parallel()
			l := newLab(t, mailsim.Options{})
			l.host(mailsim.Host{Name: "mx.slow.test"})
			l.domain(mailsim.Domain{Name: "slow.test", MX: []mailsim.MX{{Pref: 10, Host: "mx.slow.test"}}, RcptDelay: 100 * time.Millisecond})
			l.cfg.PerHost = 1
			l.cfg.SkipCatchAll = true
			l.cfg.RcptPerTransaction = per
			v := l.verifier()
			const n = 40
			first := make(chan struct{}, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					vd := v.Verify(context.Background(), fmt.Sprintf("a%d@slow.test", i))
					if vd.Reason != verifier.ReasonTimeout {
						first <- struct{}{}
					}
				})
			}
			<-first
			v.Close()
			wg.Wait()
			// After the first answer: at most the group in flight and
			// the next one, not the rest of the queue.
			if st := l.world.HostStats("mx.slow.test"); st.Rcpt > 2*per+2 {
				t.Fatalf("%d RCPTs of %d: probing went on after Close", st.Rcpt, n)
			}
		})
	}
}

type mapCache struct {
	mu sync.Mutex
	m  map[string]verifier.DomainFacts
}

func (c *mapCache) LoadDomain(_ context.Context, d string) (verifier.DomainFacts, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f, ok := c.m[d]
	return f, ok
}

func (c *mapCache) StoreDomain(_ context.Context, d string, f verifier.DomainFacts, _ time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[d] = f
}

func TestDomainCacheSharedAcrossVerifiers(t *testing.T) {
	t.Parallel()
	l := newLab(t, mailsim.Options{})
	l.strict("acme.test", mailsim.Host{}, map[string]mailsim.Mailbox{"a": mailsim.Exists, "b": mailsim.Exists})
	cache := &mapCache{m: map[string]verifier.DomainFacts{}}
	l.cfg.DomainCache = cache
	want(t, l.verify("a@acme.test"), verifier.Deliverable, verifier.ReasonAccepted)
	f, ok := cache.LoadDomain(context.Background(), "acme.test")
	if !ok || f.CatchAll != verifier.CatchAllRejecting || len(f.Hosts) != 1 || f.Hosts[0].Name != "mx.acme.test" {
		t.Fatalf("cached facts %+v", f)
	}
	queries := l.res.Stats().UDPQueries
	rcpts := l.world.HostStats("mx.acme.test").Rcpt
	// A second Verifier (another process, say) neither resolves the domain
	// nor probes it for catch-all again.
	vd := l.verify("b@acme.test")
	want(t, vd, verifier.Deliverable, verifier.ReasonAccepted)
	if vd.CatchAll != verifier.CatchAllRejecting {
		t.Fatalf("catch-all %s", vd.CatchAll)
	}
	if q := l.res.Stats().UDPQueries; q != queries {
		t.Errorf("%d DNS queries with cached facts", q-queries)
	}
	if r := l.world.HostStats("mx.acme.test").Rcpt; r != rcpts+1 {
		t.Errorf("%d RCPTs, want 1", r-rcpts)
	}
}
