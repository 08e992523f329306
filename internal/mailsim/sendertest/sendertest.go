// Package sendertest builds the simulated world the sequencer's tests send
// through: the team's domain sender.test, whose submission host
// smtp.sender.test offers STARTTLS and whose DNS publishes SPF, DMARC
// p=reject and a DKIM key (selector s1); and the prospects' domain
// prospect.test, whose mailboxes lead0, lead1, ... accept mail. With it
// come a resolver of the world's DNS and a verifier that probes its hosts.
package sendertest

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/touchline/touchline/internal/dkimkey"
	"github.com/touchline/touchline/internal/mailsim"
	"github.com/touchline/touchline/verifier"
	"github.com/touchline/touchline/verifier/resolver"
)

// Options shape the world.
type Options struct {
	Key        dkimkey.Type // sender.test's DKIM key; default Ed25519
	Recipients int          // mailboxes lead0..lead<n-1> at prospect.test; default 20
	// DomainCache is given to the verifier (the store, in most tests).
	DomainCache verifier.DomainCache
}

// World is the world, its sender's DKIM key and its DNS.
type World struct {
	*mailsim.World
	DKIMKey  string // PEM, as POST /v1/mailboxes takes it
	Resolver *resolver.Client
	Verifier *verifier.Verifier
}

// New builds the world; everything is closed at the end of the test.
func New(tb testing.TB, o Options) *World {
	tb.Helper()
	if o.Key == "" {
		o.Key = dkimkey.Ed25519
	}
	if o.Recipients <= 0 {
		o.Recipients = 20
	}
	w, err := mailsim.New(mailsim.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { w.Close() })
	key, err := dkimkey.Generate(o.Key)
	if err != nil {
		tb.Fatal(err)
	}
	zone, err := dkimkey.ZoneLine("s1", "sender.test", key.Public())
	if err != nil {
		tb.Fatal(err)
	}
	pemKey, err := dkimkey.MarshalPrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	w.AddHost(mailsim.Host{Name: "smtp.sender.test", StartTLS: true})
	w.AddDomain(mailsim.Domain{Name: "sender.test", MX: []mailsim.MX{{Pref: 10, Host: "smtp.sender.test"}}, Records: []string{
		`@ IN TXT "v=spf1 ip4:127.0.0.0/8 -all"`, `_dmarc IN TXT "v=DMARC1; p=reject"`, zone}})
	boxes := map[string]mailsim.Mailbox{}
	for i := range o.Recipients {
		boxes[fmt.Sprintf("lead%d", i)] = mailsim.Exists
	}
	w.AddHost(mailsim.Host{Name: "mx.prospect.test"})
	w.AddDomain(mailsim.Domain{Name: "prospect.test", MX: []mailsim.MX{{Pref: 10, Host: "mx.prospect.test"}}, Mailboxes: boxes, AcceptData: true})
	res, err := resolver.New(resolver.Config{Servers: []string{w.DNSAddr()}})
	if err != nil {
		tb.Fatal(err)
	}
	v, err := verifier.New(verifier.Config{Resolver: res, Dialer: &mailsim.Dialer{}, SMTPPort: w.SMTPPort(), HeloName: "probe.sender.test",
		AllowMXNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, DomainCache: o.DomainCache})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { v.Close() })
	return &World{World: w, DKIMKey: string(pemKey), Resolver: res, Verifier: v}
}
