package mailsim

import (
	"errors"
	"net"
	"reflect"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// mailWorld has one host per style, all serving the same domains.
func mailWorld(t *testing.T, opts Options) *World {
	t.Helper()
	w := newWorld(t, opts)
	for _, st := range []string{"postfix", "exim", "gmail", "m365", "exchange", "yahoo"} {
		mustAddHost(t, w, Host{Name: "mx." + st + ".test", Style: st})
	}
	mustAddDomain(t, w, Domain{
		Name:      "acme.test",
		MX:        []MX{{10, "mx.postfix.test"}},
		Mailboxes: map[string]Mailbox{"Alice": Exists, "bob": Full, "carol": Disabled},
	})
	return w
}

func TestRcptRepliesPerStyle(t *testing.T) {
	t.Parallel()
	w := mailWorld(t, Options{})
	cases := []struct {
		style, rcpt string
		code        int
		want        string // substring of the reply
	}{
		{"postfix", "alice@acme.test", 250, "250 2.1.5 Ok"},
		{"postfix", "ALICE@Acme.Test", 250, "250 2.1.5 Ok"},
		{"postfix", "nobody@acme.test", 550, "550 5.1.1 <nobody@acme.test>: Recipient address rejected: User unknown in virtual mailbox table"},
		{"postfix", "bob@acme.test", 552, "552 5.2.2 <bob@acme.test>: Recipient address rejected: Mailbox full"},
		{"postfix", "carol@acme.test", 550, "550 5.2.1 <carol@acme.test>: Recipient address rejected: Mailbox disabled"},
		{"postfix", "x@elsewhere.test", 554, "554 5.7.1 <x@elsewhere.test>: Relay access denied"},
		{"exim", "alice@acme.test", 250, "250 Accepted"},
		{"exim", "nobody@acme.test", 550, "550 No Such User Here"},
		{"exim", "x@elsewhere.test", 550, "550 relay not permitted"},
		{"gmail", "alice@acme.test", 250, "250 2.1.5 OK "},
		{"gmail", "nobody@acme.test", 550, "550-5.1.1 The email account that you tried to reach does not exist. Please try\n" +
			"550-5.1.1 double-checking the recipient's email address for typos or\n" +
			"550-5.1.1 unnecessary spaces. For more information, go to\n" +
			"550 5.1.1  https://support.google.com/mail/?p=NoSuchUser "},
		{"gmail", "bob@acme.test", 452, "452-4.2.2 The recipient's inbox is out of storage space."},
		{"gmail", "carol@acme.test", 550, "550-5.2.1 The email account that you tried to reach is disabled."},
		{"m365", "alice@acme.test", 250, "250 2.1.5 Recipient OK"},
		{"m365", "nobody@acme.test", 550, "550 5.4.1 Recipient address rejected: Access denied."},
		{"m365", "x@elsewhere.test", 550, "550 5.7.64 TenantAttribution; Relay Access Denied"},
		{"exchange", "nobody@acme.test", 550, "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup"},
		{"exchange", "bob@acme.test", 552, "552 5.2.2 "},
		{"yahoo", "nobody@acme.test", 554, "554 delivery error: dd This user doesn't have a acme.test account (nobody@acme.test) [0] - mx.yahoo.test"},
		{"yahoo", "carol@acme.test", 554, "This mailbox is disabled (554.30)"},
	}
	for _, tc := range cases {
		t.Run(tc.style+"/"+tc.rcpt, func(t *testing.T) {
			t.Parallel()
			c := dial(t, w, "mx."+tc.style+".test")
			c.greet()
			c.cmd(250, "MAIL FROM:<probe@touchline.test>")
			got := c.cmd(tc.code, "RCPT TO:<"+tc.rcpt+">")
			if !strings.Contains(got, tc.want) {
				t.Errorf("got\n%s\nwant it to contain\n%s", got, tc.want)
			}
			c.cmd(221, "QUIT")
		})
	}
}

func TestBannersAndCapabilities(t *testing.T) {
	t.Parallel()
	w := mailWorld(t, Options{})
	mustAddHost(t, w, Host{Name: "mx.tls.test", StartTLS: true, SMTPUTF8: true})
	c := dial(t, w, "mx.gmail.test")
	if b := c.expect(220); !strings.HasPrefix(b, "220 mx.gmail.test ESMTP ") || !strings.HasSuffix(b, " - gsmtp") {
		t.Errorf("gmail banner %q", b)
	}
	ehlo := c.cmd(250, "EHLO probe.touchline.test")
	if strings.Contains(ehlo, "STARTTLS") || strings.Contains(ehlo, "SMTPUTF8") {
		t.Errorf("unconfigured extensions offered:\n%s", ehlo)
	}

	c = dial(t, w, "mx.tls.test")
	if b := c.expect(220); b != "220 mx.tls.test ESMTP Postfix" {
		t.Errorf("postfix banner %q", b)
	}
	ehlo = c.cmd(250, "EHLO probe.touchline.test")
	for _, ext := range []string{"250-mx.tls.test", "250-PIPELINING", "250-STARTTLS", "250-ENHANCEDSTATUSCODES", "250 SMTPUTF8"} {
		if !slices.Contains(strings.Split(ehlo, "\n"), ext) && !strings.Contains(ehlo, ext+"\n") {
			t.Errorf("EHLO reply lacks %q:\n%s", ext, ehlo)
		}
	}
	c.cmd(502, "VRFY alice")
	c.cmd(502, "FROB")
	c.cmd(503, "RCPT TO:<alice@acme.test>")
	c.cmd(250, "NOOP")
}

func TestGreylist(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }

	w := newWorld(t, Options{Now: clock})
	mustAddHost(t, w, Host{Name: "mx.grey.test"})
	mustAddDomain(t, w, Domain{Name: "grey.test", MX: []MX{{10, "mx.grey.test"}},
		Greylist: 5 * time.Minute, Mailboxes: map[string]Mailbox{"alice": Exists}})

	c := dial(t, w, "mx.grey.test")
	c.greet()
	c.cmd(250, "MAIL FROM:<probe@touchline.test>")
	if got := c.cmd(450, "RCPT TO:<alice@grey.test>"); !strings.Contains(got, "Greylisted, see http://postgrey.schweikert.ch/help/grey.test.html") {
		t.Errorf("greylist reply %q", got)
	}
	// A retry too early is deferred again, and so is an unknown user.
	advance(4 * time.Minute)
	c.cmd(450, "RCPT TO:<alice@grey.test>")
	c.cmd(450, "RCPT TO:<nobody@grey.test>")
	advance(time.Minute)
	c.cmd(250, "RCPT TO:<alice@grey.test>")
	// The triplet includes the sender.
	c.cmd(250, "RSET")
	c.cmd(250, "MAIL FROM:<other@touchline.test>")
	c.cmd(450, "RCPT TO:<alice@grey.test>")
	advance(5 * time.Minute)
	c.cmd(250, "RCPT TO:<alice@grey.test>")
	// Once its triplet has waited, an unknown user is refused as such.
	c.cmd(250, "RSET")
	c.cmd(250, "MAIL FROM:<probe@touchline.test>")
	c.cmd(550, "RCPT TO:<nobody@grey.test>")
}

func TestCatchAllAndPolicyBlock(t *testing.T) {
	t.Parallel()
	w := newWorld(t, Options{})
	mustAddHost(t, w, Host{Name: "mx.shared.test"})
	mustAddDomain(t, w, Domain{Name: "catchall.test", MX: []MX{{10, "mx.shared.test"}}, CatchAll: true,
		Mailboxes: map[string]Mailbox{"full": Full}})
	block := &Reply{550, "5.7.1 Message rejected due to poor reputation"}
	mustAddDomain(t, w, Domain{Name: "blocked.test", MX: []MX{{10, "mx.shared.test"}}, PolicyBlock: block,
		Mailboxes: map[string]Mailbox{"alice": Exists}})

	c := dial(t, w, "mx.shared.test")
	c.greet()
	c.cmd(250, "MAIL FROM:<probe@touchline.test>")
	c.cmd(250, "RCPT TO:<zq8x7random@catchall.test>")
	c.cmd(552, "RCPT TO:<full@catchall.test>")
	for _, rcpt := range []string{"alice@blocked.test", "nobody@blocked.test"} {
		if got := c.cmd(550, "RCPT TO:<"+rcpt+">"); got != "550 5.7.1 Message rejected due to poor reputation" {
			t.Errorf("policy block reply %q", got)
		}
	}
}

func TestBannerReject(t *testing.T) {
	t.Parallel()
	w := newWorld(t, Options{})
	mustAddHost(t, w, Host{Name: "mx.blocklist.test", BannerReject: &Reply{554,
		"5.7.1 Service unavailable; Client host [127.0.0.1] blocked using zen.spamhaus.org"}})
	c := dial(t, w, "mx.blocklist.test")
	if got := c.expect(554); !strings.Contains(got, "zen.spamhaus.org") {
		t.Errorf("banner reject %q", got)
	}
	c.expectClosed()
	if st := w.HostStats("mx.blocklist.test"); st.Connections != 1 || st.Helo != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestTarpit(t *testing.T) {
	t.Parallel()
	w := newWorld(t, Options{})
	mustAddHost(t, w, Host{Name: "mx.tarpit.test", BannerDelay: time.Hour})
	c := dial(t, w, "mx.tarpit.test")
	c.conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	_, err := c.r.ReadByte()
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read from a tarpit: %v, want a timeout", err)
	}
	// Close must not wait out the hour (the cleanup would hang).
}

func TestMaxConns(t *testing.T) {
	t.Parallel()
	w := newWorld(t, Options{})
	mustAddHost(t, w, Host{Name: "mx.busy.test", MaxConns: 1})
	first := dial(t, w, "mx.busy.test")
	first.expect(220)
	second := dial(t, w, "mx.busy.test")
	if got := second.expect(421); got != "421 4.7.0 Too many concurrent SMTP connections; please try again later" {
		t.Errorf("got %q", got)
	}
	second.expectClosed()
	st := w.HostStats("mx.busy.test")
	if st.Connections != 2 || st.MaxConcurrent != 2 || st.Sent421 != 1 {
		t.Errorf("stats %+v", st)
	}
	first.cmd(221, "QUIT")
	first.expectClosed()
}

func TestRequireTLSAndStartTLS(t *testing.T) {
	t.Parallel()
	w := newWorld(t, Options{})
	mustAddHost(t, w, Host{Name: "mx.secure.test", StartTLS: true, RequireTLS: true})
	mustAddDomain(t, w, Domain{Name: "secure.test", MX: []MX{{10, "mx.secure.test"}}, CatchAll: true})

	c := dial(t, w, "mx.secure.test")
	c.greet()
	if got := c.cmd(530, "MAIL FROM:<probe@touchline.test>"); got != "530 5.7.0 Must issue a STARTTLS command first" {
		t.Errorf("got %q", got)
	}
	c.startTLS()
	// RFC 3207 §4.2: the client must greet again and STARTTLS is gone.
	c.cmd(503, "MAIL FROM:<probe@touchline.test>")
	if ehlo := c.cmd(250, "EHLO probe2.touchline.test"); strings.Contains(ehlo, "STARTTLS") {
		t.Errorf("STARTTLS offered inside TLS:\n%s", ehlo)
	}
	c.cmd(250, "MAIL FROM:<probe@touchline.test>")
	c.cmd(250, "RCPT TO:<anyone@secure.test>")
	c.cmd(221, "QUIT")

	st := w.HostStats("mx.secure.test")
	if st.StartTLS != 1 || !slices.Equal(st.HeloNames, []string{"probe.touchline.test", "probe2.touchline.test"}) {
		t.Errorf("stats %+v", st)
	}

	plain := dial(t, w, "mx.secure.test")
	plain.expect(220)
	plain.cmd(250, "EHLO x.test")
	plain.cmd(501, "STARTTLS now")
}

func TestStartTLSNotOffered(t *testing.T) {
	t.Parallel()
	w := newWorld(t, Options{})
	mustAddHost(t, w, Host{Name: "mx.plain.test"})
	c := dial(t, w, "mx.plain.test")
	c.greet()
	c.cmd(502, "STARTTLS")
}

func TestSMTPUTF8(t *testing.T) {
	t.Parallel()
	w := newWorld(t, Options{})
	mustAddHost(t, w, Host{Name: "mx.ascii.test"})
	mustAddHost(t, w, Host{Name: "mx.utf8.test", SMTPUTF8: true})
	mustAddDomain(t, w, Domain{Name: "intl.test", MX: []MX{{10, "mx.utf8.test"}},
		Mailboxes: map[string]Mailbox{"josé": Exists, "jose": Exists}})

	c := dial(t, w, "mx.ascii.test")
	c.greet()
	c.cmd(555, "MAIL FROM:<probe@touchline.test> SMTPUTF8")
	c.cmd(250, "MAIL FROM:<probe@touchline.test>")
	c.cmd(501, "RCPT TO:<josé@intl.test>")
	c.cmd(250, "RCPT TO:<jose@intl.test>")

	c = dial(t, w, "mx.utf8.test")
	if ehlo := c.greet(); !strings.Contains(ehlo, "SMTPUTF8") {
		t.Errorf("SMTPUTF8 not offered:\n%s", ehlo)
	}
	c.cmd(250, "MAIL FROM:<probe@touchline.test>")
	c.cmd(553, "RCPT TO:<josé@intl.test>") // RFC 6531 §3.2: not declared
	c.cmd(250, "RSET")
	c.cmd(250, "MAIL FROM:<probe@touchline.test> SMTPUTF8")
	c.cmd(250, "RCPT TO:<josé@intl.test>")
	c.cmd(550, "RCPT TO:<zoë@intl.test>")
}

func TestDisconnectAfterInvalid(t *testing.T) {
	t.Parallel()
	w := newWorld(t, Options{})
	mustAddHost(t, w, Host{Name: "mx.harvest.test", DisconnectAfterInvalid: 3})
	mustAddDomain(t, w, Domain{Name: "harvest.test", MX: []MX{{10, "mx.harvest.test"}},
		Mailboxes: map[string]Mailbox{"alice": Exists}, Greylist: 0})

	c := dial(t, w, "mx.harvest.test")
	c.greet()
	c.cmd(250, "MAIL FROM:<probe@touchline.test>")
	c.cmd(550, "RCPT TO:<a@harvest.test>")
	c.cmd(250, "RCPT TO:<alice@harvest.test>") // accepted ones do not count
	c.cmd(550, "RCPT TO:<b@harvest.test>")
	c.cmd(250, "RSET") // nor does a new transaction reset the count
	c.cmd(250, "MAIL FROM:<probe@touchline.test>")
	c.cmd(550, "RCPT TO:<c@harvest.test>")
	if got := c.cmd(421, "RCPT TO:<d@harvest.test>"); got != "421 4.7.0 Too many invalid recipients, closing connection" {
		t.Errorf("got %q", got)
	}
	c.expectClosed()
	if st := w.HostStats("mx.harvest.test"); st.Sent421 != 1 || st.Rcpt != 4 {
		t.Errorf("stats %+v", st)
	}
}

func TestStats(t *testing.T) {
	t.Parallel()
	w := newWorld(t, Options{Logf: t.Logf})
	mustAddHost(t, w, Host{Name: "mx.count.test"})
	mustAddDomain(t, w, Domain{Name: "count.test", MX: []MX{{10, "mx.count.test"}},
		Mailboxes: map[string]Mailbox{"alice": Exists}})

	c := dial(t, w, "mx.count.test")
	c.greet()
	c.cmd(250, "MAIL FROM:<probe@touchline.test>")
	c.cmd(550, "RCPT TO:<nobody@count.test>")
	c.cmd(554, "DATA") // no valid recipients: still a DATA attempt
	c.cmd(250, "RSET")
	c.cmd(250, "EHLO probe.touchline.test")
	c.cmd(250, "MAIL FROM:<probe@touchline.test>")
	c.cmd(250, "RCPT TO:<alice@count.test>")
	c.cmd(554, "DATA") // the domain does not take mail by default
	c.cmd(221, "QUIT")
	c.expectClosed()

	want := HostStats{Connections: 1, MaxConcurrent: 1, HeloNames: []string{"probe.touchline.test"},
		Helo: 2, Mail: 2, Rcpt: 2, Rset: 1, Data: 2}
	if st := w.HostStats("mx.count.test"); !statsEqual(st, want) {
		t.Errorf("stats\n%+v\nwant\n%+v", st, want)
	}
	if st := w.HostStats("unknown.test"); !statsEqual(st, HostStats{}) {
		t.Errorf("unknown host stats %+v", st)
	}
}

func statsEqual(a, b HostStats) bool {
	return reflect.DeepEqual(a, b)
}

func TestAcceptData(t *testing.T) {
	t.Parallel()
	w := newWorld(t, Options{})
	mustAddHost(t, w, Host{Name: "mx.inbox.test", Style: "gmail"})
	mustAddDomain(t, w, Domain{Name: "inbox.test", MX: []MX{{10, "mx.inbox.test"}}, AcceptData: true,
		Mailboxes: map[string]Mailbox{"alice": Exists, "bob": Exists}})

	c := dial(t, w, "mx.inbox.test")
	c.greet()
	c.cmd(250, "MAIL FROM:<seller@touchline.test>")
	c.cmd(250, "RCPT TO:<alice@inbox.test>")
	c.cmd(250, "RCPT TO:<Bob@inbox.test>")
	c.cmd(354, "DATA")
	c.send("Subject: hi\r\n\r\n..leading dot\r\nbye")
	c.cmd(250, ".")
	c.cmd(221, "QUIT")

	msgs := w.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	m := msgs[0]
	if m.Host != "mx.inbox.test" || m.From != "seller@touchline.test" ||
		!slices.Equal(m.To, []string{"alice@inbox.test", "Bob@inbox.test"}) ||
		string(m.Data) != "Subject: hi\r\n\r\n.leading dot\r\nbye\r\n" || m.Received.IsZero() {
		t.Errorf("message %+v, data %q", m, m.Data)
	}
}

func TestPipelinedRepliesPayLatencyOnce(t *testing.T) {
	t.Parallel()
	const latency = 300 * time.Millisecond
	w := newWorld(t, Options{SMTPLatency: latency})
	mustAddHost(t, w, Host{Name: "mx.far.test"})
	mustAddDomain(t, w, Domain{Name: "far.test", MX: []MX{{10, "mx.far.test"}}, CatchAll: true})

	start := time.Now()
	c := dial(t, w, "mx.far.test")
	c.expect(220)
	if d := time.Since(start); d < latency {
		t.Errorf("banner after %v, want at least %v", d, latency)
	}
	start = time.Now()
	c.cmd(250, "EHLO probe.touchline.test")
	if d := time.Since(start); d < latency {
		t.Errorf("EHLO reply after %v, want at least %v", d, latency)
	}
	// Pipelined commands are answered in one flight: the three replies
	// arrive together, one latency later.
	start = time.Now()
	c.send("MAIL FROM:<probe@touchline.test>\r\nRCPT TO:<a@far.test>\r\nRCPT TO:<b@far.test>")
	c.expect(250)
	if d := time.Since(start); d < latency {
		t.Errorf("pipelined replies after %v, want at least %v", d, latency)
	}
	if c.r.Buffered() == 0 {
		t.Error("the first pipelined reply came alone")
	}
	c.expect(250)
	c.expect(250)
}

func TestReplyAndRcptDelays(t *testing.T) {
	t.Parallel()
	const delay = 200 * time.Millisecond
	w := newWorld(t, Options{})
	mustAddHost(t, w, Host{Name: "mx.slow.test", ReplyDelay: delay})
	mustAddHost(t, w, Host{Name: "mx.quick.test"})
	mustAddDomain(t, w, Domain{Name: "slow.test", MX: []MX{{10, "mx.quick.test"}}, CatchAll: true, RcptDelay: delay})

	start := time.Now()
	c := dial(t, w, "mx.slow.test")
	c.expect(220)
	if d := time.Since(start); d < delay {
		t.Errorf("banner of a slow host after %v", d)
	}
	c = dial(t, w, "mx.quick.test")
	c.greet()
	c.cmd(250, "MAIL FROM:<probe@touchline.test>")
	start = time.Now()
	c.cmd(250, "RCPT TO:<x@slow.test>")
	if d := time.Since(start); d < delay {
		t.Errorf("RCPT for a slow domain answered after %v", d)
	}
}

func TestHostAddressOverrideHasNoListener(t *testing.T) {
	t.Parallel()
	w := newWorld(t, Options{})
	for _, addr := range []string{"10.20.30.40", "192.168.1.5", "fd00::1", "127.0.0.1"} {
		mustAddHost(t, w, Host{Name: "mx-" + strings.NewReplacer(".", "-", ":", "-").Replace(addr) + ".evil.test", Address: addr})
	}
	w.mu.RLock()
	for name, h := range w.hosts {
		if h.ln != nil || !h.overridden {
			t.Errorf("%s: listener %v", name, h.ln)
		}
	}
	w.mu.RUnlock()
	if ip, _ := w.HostIP("mx-10-20-30-40.evil.test"); ip.String() != "10.20.30.40" {
		t.Errorf("HostIP = %s", ip)
	}
	// No loopback IP was used up: the next simulated host gets the first.
	mustAddHost(t, w, Host{Name: "mx.real.test"})
	if ip, _ := w.HostIP("mx.real.test"); ip.String() != "127.1.0.2" {
		t.Errorf("first allocated IP %s", ip)
	}
	if err := w.AddHost(Host{Name: "mx.real.test", Address: "10.0.0.1"}); err == nil {
		t.Error("a listening host became an override")
	}
	if err := w.AddHost(Host{Name: "mx.bad.test", Address: "not-an-ip"}); err == nil {
		t.Error("bad address accepted")
	}
	if err := w.AddHost(Host{Name: "mx.bad.test", Style: "sendmail"}); err == nil {
		t.Error("unknown style accepted")
	}
}

func TestDownHost(t *testing.T) {
	t.Parallel()
	w := newWorld(t, Options{})
	mustAddHost(t, w, Host{Name: "mx.dead.test", Down: true})
	addr := smtpAddr(t, w, "mx.dead.test")
	if _, err := net.Dial("tcp", addr); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial a down host: %v, want connection refused", err)
	}
	// It comes back on the same IP, and goes down again taking its
	// connections with it.
	mustAddHost(t, w, Host{Name: "mx.dead.test"})
	if got := smtpAddr(t, w, "mx.dead.test"); got != addr {
		t.Errorf("address moved from %s to %s", addr, got)
	}
	c := dial(t, w, "mx.dead.test")
	c.expect(220)
	mustAddHost(t, w, Host{Name: "mx.dead.test", Down: true})
	c.expectClosed()
	if _, err := net.Dial("tcp", addr); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial after going down: %v", err)
	}
}

func TestCloseWithOpenConnections(t *testing.T) {
	t.Parallel()
	w, err := New(Options{SMTPLatency: time.Hour, DNSLatency: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	mustAddHost(t, w, Host{Name: "mx.open.test"})
	c := dial(t, w, "mx.open.test") // waiting an hour for its banner
	go exchange(w, "mx.open.test", 1, "udp", false)
	done := make(chan error)
	go func() { done <- w.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Error(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close hangs")
	}
	c.expectClosed()
	if err := w.AddHost(Host{Name: "late.test"}); !errors.Is(err, ErrClosed) {
		t.Errorf("AddHost after Close: %v", err)
	}
}
