package verifier_test

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/touchline/touchline/internal/mailsim"
	"github.com/touchline/touchline/verifier"
	"github.com/touchline/touchline/verifier/resolver"
)

// Verify one address at a time. Here the "Internet" is a simulated mail
// world on loopback; in production leave Resolver, Dialer and SMTPPort
// unset and run from a host with outbound port 25 and matching reverse DNS.
func ExampleVerifier_Verify() {
	world, _ := mailsim.New(mailsim.Options{})
	defer world.Close()
	world.AddHost(mailsim.Host{Name: "mx.acme.test", StartTLS: true})
	world.AddDomain(mailsim.Domain{Name: "acme.test", MX: []mailsim.MX{{Pref: 10, Host: "mx.acme.test"}},
		Mailboxes: map[string]mailsim.Mailbox{"jane.doe": mailsim.Exists}})
	res, _ := resolver.New(resolver.Config{Servers: []string{world.DNSAddr()}})

	v, err := verifier.New(verifier.Config{
		Resolver:        res,
		SMTPPort:        world.SMTPPort(),
		HeloName:        "probe.example.com",
		MailFrom:        "verify@example.com",
		AllowMXNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer v.Close()
	for _, addr := range []string{"Jane Doe <Jane.Doe@ACME.test>", "john@acme.test", "jane@nowhere.test", "jane..doe@acme.test"} {
		vd := v.Verify(context.Background(), addr)
		fmt.Printf("%-30s %-14s %s\n", vd.Address, vd.Status, vd.Reason)
	}
	// Output:
	// Jane.Doe@acme.test             deliverable    accepted
	// john@acme.test                 undeliverable  mailbox_not_found
	// jane@nowhere.test              undeliverable  no_mail_server
	//                                undeliverable  syntax
}

// Clean a list: verdicts come back in input order, addresses of one MX
// host share its SMTP sessions, and memory stays flat for any length.
func ExampleVerifyEach() {
	world, _ := mailsim.New(mailsim.Options{})
	defer world.Close()
	world.AddHost(mailsim.Host{Name: "mx.acme.test"})
	world.AddDomain(mailsim.Domain{Name: "acme.test", MX: []mailsim.MX{{Pref: 10, Host: "mx.acme.test"}}, CatchAll: true})
	res, _ := resolver.New(resolver.Config{Servers: []string{world.DNSAddr()}})
	v, _ := verifier.New(verifier.Config{Resolver: res, SMTPPort: world.SMTPPort(), HeloName: "probe.example.com",
		AllowMXNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	defer v.Close()

	list := []string{"a@acme.test", "not-an-address", "b@acme.test"}
	verifier.VerifyEach(context.Background(), v, 0, func(yield func(string) bool) {
		for _, s := range list {
			if !yield(s) {
				return
			}
		}
	}, func(s string) string { return s }, func(s string, vd verifier.Verdict) error {
		fmt.Println(s, vd.Status, vd.Reason, vd.CatchAll)
		return nil
	})
	// Output:
	// a@acme.test risky catch_all accepting
	// not-an-address undeliverable syntax not_checked
	// b@acme.test risky catch_all accepting
}
