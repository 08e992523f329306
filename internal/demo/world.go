// Package demo is the offline demonstration: a simulated mail world of
// fictional companies and mailbox providers, each domain scripted with one
// behaviour the verifier must get right, and the sample prospect list that
// `make run` cleans against it, with the verdict each row should get.
//
// The list in examples/ is generated from this package (WriteList) and a
// test keeps the committed files in step with it, so the known answers are
// the world's own truth, not a guess.
package demo

import (
	"fmt"
	"time"

	"github.com/touchline/touchline/internal/mailsim"
)

// Timing of the demo world, short so that `make run` takes seconds; the
// verifier settings of the demo (VerifierSettings) match them.
const (
	GreylistDelay = 2 * time.Second
	TarpitDelay   = time.Minute
)

// company is one simulated domain with its people and behaviour.
type company struct {
	name    string // organisation, for the list's company column
	domain  string
	build   func(d *mailsim.Domain, hosts *[]mailsim.Host)
	people  int // prospects generated at this domain
	missing int // of those, how many left (mailbox refused)
	// expected verdict for an existing and for a missing mailbox
	okStatus, okReason     string
	goneStatus, goneReason string
	free                   bool
	records                []string // SPF, DMARC and other TXT records
}

// Records that maintained mail domains publish; parked ones publish none.
func spfDMARC(spf, policy string) []string {
	return []string{`@ IN TXT "` + spf + `"`, `_dmarc IN TXT "v=DMARC1; p=` + policy + `"`}
}

func host(name, style string, tls bool) mailsim.Host {
	return mailsim.Host{Name: name, Style: style, StartTLS: tls}
}

// single gives a domain one MX host.
func single(mx, style string, tls bool) func(d *mailsim.Domain, hosts *[]mailsim.Host) {
	return func(d *mailsim.Domain, hosts *[]mailsim.Host) {
		*hosts = append(*hosts, host(mx, style, tls))
		d.MX = []mailsim.MX{{Pref: 10, Host: mx}}
	}
}

var companies = []company{
	{name: "Northwind Traders", domain: "northwind.test", people: 40, records: spfDMARC("v=spf1 mx -all", "reject"), missing: 8,
		build:    single("mx.northwind.test", "postfix", true),
		okStatus: "deliverable", okReason: "accepted", goneStatus: "undeliverable", goneReason: "mailbox_not_found"},
	{name: "Contoso Ltd", domain: "contoso.test", people: 36, records: spfDMARC("v=spf1 include:spf.protection.outlook.test -all", "quarantine"), missing: 7,
		build:    single("contoso-test.mail.protection.outlook.test", "m365", true),
		okStatus: "deliverable", okReason: "accepted", goneStatus: "undeliverable", goneReason: "mailbox_not_found"},
	{name: "Fabrikam Inc", domain: "fabrikam.test", people: 30, records: spfDMARC("v=spf1 include:_spf.google.test ~all", "none"), missing: 5,
		build: func(d *mailsim.Domain, hosts *[]mailsim.Host) {
			*hosts = append(*hosts, host("aspmx.l.google.test", "gmail", true), host("alt1.aspmx.l.google.test", "gmail", true))
			d.MX = []mailsim.MX{{Pref: 1, Host: "aspmx.l.google.test"}, {Pref: 5, Host: "alt1.aspmx.l.google.test"}}
		},
		okStatus: "deliverable", okReason: "accepted", goneStatus: "undeliverable", goneReason: "mailbox_not_found"},
	{name: "Initech", domain: "initech.test", people: 20, missing: 4,
		build: func(d *mailsim.Domain, hosts *[]mailsim.Host) {
			single("mail.initech.test", "exim", false)(d, hosts)
			d.CatchAll = true
		},
		okStatus: "risky", okReason: "catch_all", goneStatus: "risky", goneReason: "catch_all"},
	{name: "Globex Corporation", domain: "globex.test", people: 16, missing: 3,
		build: func(d *mailsim.Domain, hosts *[]mailsim.Host) {
			single("mx1.globex.test", "postfix", true)(d, hosts)
			d.Greylist = GreylistDelay
		},
		okStatus: "deliverable", okReason: "accepted", goneStatus: "undeliverable", goneReason: "mailbox_not_found"},
	{name: "Umbrella Health", domain: "umbrella.test", people: 10, missing: 2,
		build: func(d *mailsim.Domain, hosts *[]mailsim.Host) {
			single("mx.umbrella.test", "postfix", true)(d, hosts)
			d.PolicyBlock = &mailsim.Reply{Code: 554, Text: "5.7.1 Service unavailable; Client host [127.0.0.1] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/127.0.0.1"}
		},
		okStatus: "unknown", okReason: "blocked", goneStatus: "unknown", goneReason: "blocked"},
	{name: "Hooli", domain: "hooli.test", people: 16, missing: 3,
		build: func(d *mailsim.Domain, hosts *[]mailsim.Host) {
			*hosts = append(*hosts, mailsim.Host{Name: "mx1.hooli.test", Down: true}, host("mx2.hooli.test", "postfix", true))
			d.MX = []mailsim.MX{{Pref: 10, Host: "mx1.hooli.test"}, {Pref: 20, Host: "mx2.hooli.test"}}
		},
		okStatus: "deliverable", okReason: "accepted", goneStatus: "undeliverable", goneReason: "mailbox_not_found"},
	{name: "Pied Piper", domain: "piedpiper.test", people: 10, missing: 2,
		build: func(d *mailsim.Domain, hosts *[]mailsim.Host) {
			h := host("", "postfix", false)
			d.Apex = &h // no MX: the A record is the implicit MX
		},
		okStatus: "deliverable", okReason: "accepted", goneStatus: "undeliverable", goneReason: "mailbox_not_found"},
	{name: "Vandelay Industries", domain: "vandelay.test", people: 6,
		build:    func(d *mailsim.Domain, hosts *[]mailsim.Host) { d.NullMX = true },
		okStatus: "undeliverable", okReason: "no_mail_server"},
	{name: "Bluth Company", domain: "bluth-company.test", people: 6,
		build:    func(d *mailsim.Domain, hosts *[]mailsim.Host) { d.DNSFault = mailsim.NXDomain },
		okStatus: "undeliverable", okReason: "no_mail_server"},
	{name: "Wonka Industries", domain: "wonka.test", people: 6,
		build:    func(d *mailsim.Domain, hosts *[]mailsim.Host) { d.DNSFault = mailsim.ServFail },
		okStatus: "unknown", okReason: "dns_error"},
	{name: "Stark Logistics", domain: "stark-logistics.test", people: 6,
		build: func(d *mailsim.Domain, hosts *[]mailsim.Host) {
			*hosts = append(*hosts, mailsim.Host{Name: "mx.stark-logistics.test", BannerDelay: TarpitDelay})
			d.MX = []mailsim.MX{{Pref: 10, Host: "mx.stark-logistics.test"}}
		},
		okStatus: "unknown", okReason: "timeout"},
	{name: "Cyberdyne Systems", domain: "cyberdyne.test", people: 6,
		build: func(d *mailsim.Domain, hosts *[]mailsim.Host) {
			*hosts = append(*hosts, mailsim.Host{Name: "mail.cyberdyne.test", Address: "10.20.30.40"})
			d.MX = []mailsim.MX{{Pref: 10, Host: "mail.cyberdyne.test"}}
		},
		okStatus: "undeliverable", okReason: "mx_private_address"},
	{name: "Soylent Foods", domain: "soylent.test", people: 20, missing: 10,
		build: func(d *mailsim.Domain, hosts *[]mailsim.Host) {
			h := host("mx.soylent.test", "postfix", true)
			h.DisconnectAfterInvalid = 3 // anti-harvesting
			*hosts = append(*hosts, h)
			d.MX = []mailsim.MX{{Pref: 10, Host: "mx.soylent.test"}}
		},
		okStatus: "deliverable", okReason: "accepted", goneStatus: "undeliverable", goneReason: "mailbox_not_found"},
	{name: "Tyrell Corporation", domain: "tyrell.test", people: 14, records: []string{`@ IN TXT "v=spf1 -all"`, `@ IN TXT "v=spf1 mx -all"`}, missing: 2,
		build: func(d *mailsim.Domain, hosts *[]mailsim.Host) {
			h := host("mx.tyrell.test", "exchange", true)
			h.MaxConns = 1
			h.RequireTLS = true
			*hosts = append(*hosts, h)
			d.MX = []mailsim.MX{{Pref: 10, Host: "mx.tyrell.test"}}
		},
		okStatus: "deliverable", okReason: "accepted", goneStatus: "undeliverable", goneReason: "mailbox_not_found"},
	{name: "Gmail", domain: "gmail.com", people: 24, records: spfDMARC("v=spf1 redirect=_spf.google.com", "none"), missing: 4, free: true,
		build: func(d *mailsim.Domain, hosts *[]mailsim.Host) {
			*hosts = append(*hosts, host("gmail-smtp-in.l.google.com", "gmail", true))
			d.MX = []mailsim.MX{{Pref: 5, Host: "gmail-smtp-in.l.google.com"}}
		},
		okStatus: "deliverable", okReason: "accepted", goneStatus: "undeliverable", goneReason: "mailbox_not_found"},
	{name: "Outlook", domain: "outlook.com", people: 12, records: spfDMARC("v=spf1 include:spf2.outlook.com -all", "none"), missing: 2, free: true,
		build: func(d *mailsim.Domain, hosts *[]mailsim.Host) {
			*hosts = append(*hosts, host("outlook-com.olc.protection.outlook.com", "m365", true))
			d.MX = []mailsim.MX{{Pref: 5, Host: "outlook-com.olc.protection.outlook.com"}}
		},
		okStatus: "deliverable", okReason: "accepted", goneStatus: "undeliverable", goneReason: "mailbox_not_found"},
	{name: "Yahoo", domain: "yahoo.com", people: 10, records: spfDMARC("v=spf1 redirect=_spf.mail.yahoo.com", "reject"), missing: 2, free: true,
		build: func(d *mailsim.Domain, hosts *[]mailsim.Host) {
			*hosts = append(*hosts, host("mta5.am0.yahoodns.net", "yahoo", true))
			d.MX = []mailsim.MX{{Pref: 1, Host: "mta5.am0.yahoodns.net"}}
		},
		okStatus: "deliverable", okReason: "accepted", goneStatus: "undeliverable", goneReason: "mailbox_not_found"},
	{name: "Mailinator", domain: "mailinator.com", people: 4,
		build: func(d *mailsim.Domain, hosts *[]mailsim.Host) {
			single("mail.mailinator.com", "postfix", false)(d, hosts)
			d.CatchAll = true
		},
		okStatus: "risky", okReason: "disposable"},
}

// World starts the demo's simulated mail world.
func World(opts mailsim.Options) (*mailsim.World, error) {
	w, err := mailsim.New(opts)
	if err != nil {
		return nil, err
	}
	domains := map[string]*mailsim.Domain{}
	var order []string
	var hosts []mailsim.Host
	for _, c := range companies {
		// AcceptData: the demo's cadence delivers to these mailboxes.
		d := &mailsim.Domain{Name: c.domain, Mailboxes: map[string]mailsim.Mailbox{}, Records: c.records, AcceptData: true}
		c.build(d, &hosts)
		for _, p := range people(c) {
			if p.exists {
				d.Mailboxes[p.local] = mailsim.Exists
			}
		}
		domains[c.domain] = d
		order = append(order, c.domain)
	}
	for _, s := range specials {
		if s.mailbox == nil {
			continue
		}
		d := domains[s.domain]
		if d == nil {
			w.Close()
			return nil, fmt.Errorf("demo: special row %q: no domain %s", s.email, s.domain)
		}
		d.Mailboxes[s.local] = *s.mailbox
	}
	for _, h := range hosts {
		if err := w.AddHost(h); err != nil {
			w.Close()
			return nil, fmt.Errorf("demo: host %s: %w", h.Name, err)
		}
	}
	for _, name := range order {
		if err := w.AddDomain(*domains[name]); err != nil {
			w.Close()
			return nil, fmt.Errorf("demo: domain %s: %w", name, err)
		}
	}
	return w, nil
}

// SenderDomain is the demo team's own domain, which sends the demo cadence.
const SenderDomain = "touchline-demo.test"

// SubmissionHost is the demo team's submission server in the simulated
// world.
const SubmissionHost = "smtp." + SenderDomain

// AddSender publishes the demo team's sending domain: a submission host,
// SPF, DMARC and the DKIM records given (zone-file lines), so that the
// launch preflight passes. Called again, it replaces the domain: pass
// every DKIM record that should stay published. It returns the submission
// host's name.
func AddSender(w *mailsim.World, dkimZoneLines ...string) (string, error) {
	host := SubmissionHost
	if _, ok := w.HostIP(host); !ok {
		if err := w.AddHost(mailsim.Host{Name: host, StartTLS: true, Style: "postfix"}); err != nil {
			return "", err
		}
	}
	records := []string{
		`@ IN TXT "v=spf1 ip4:127.0.0.0/8 -all"`,
		`_dmarc IN TXT "v=DMARC1; p=quarantine; rua=mailto:dmarc@` + SenderDomain + `"`,
	}
	return host, w.AddDomain(mailsim.Domain{Name: SenderDomain, MX: []mailsim.MX{{Pref: 10, Host: host}}, AcceptData: true,
		Mailboxes: map[string]mailsim.Mailbox{"ana": mailsim.Exists},
		Records:   append(records, dkimZoneLines...)})
}
