package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/touchline/touchline/internal/mailsim"
)

func TestDomainCheck(t *testing.T) {
	t.Parallel()
	w, err := mailsim.New(mailsim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	w.AddHost(mailsim.Host{Name: "mx.good.test"})
	mx := []mailsim.MX{{Pref: 10, Host: "mx.good.test"}}
	w.AddDomain(mailsim.Domain{Name: "good.test", MX: mx, Records: []string{
		`@ IN TXT "v=spf1 ip4:192.0.2.0/24 -all"`,
		`_dmarc IN TXT "v=DMARC1; p=reject; rua=mailto:d@good.test"`,
		`sel._domainkey IN TXT "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="`,
	}})
	w.AddDomain(mailsim.Domain{Name: "weak.test", MX: mx, Records: []string{
		`@ IN TXT "v=spf1 ip4:192.0.2.0/24 ~all"`, `_dmarc IN TXT "v=DMARC1; p=none"`,
		`sel._domainkey IN TXT "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="`,
	}})
	w.AddDomain(mailsim.Domain{Name: "bare.test", MX: mx})
	dns := []string{"--dns-server", w.DNSAddr()}

	code, out, stderr := run(t, "", append([]string{"domain-check", "good.test", "--dkim-selector", "sel", "--format", "json"}, dns...)...)
	if code != ExitOK {
		t.Fatalf("exit %d: %s %s", code, out, stderr)
	}
	var rep struct {
		Domain string
		Status string
		Checks []struct{ Name, Status, Detail, Fix string }
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, c := range rep.Checks {
		names[c.Name] = true
	}
	if rep.Domain != "good.test" || rep.Status != "pass" || len(names) != 6 {
		t.Fatalf("report %+v", rep)
	}

	// Warnings still exit 0; failures exit 1 and say how to fix them.
	if code, out, _ := run(t, "", append([]string{"domain-check", "weak.test", "--dkim-selector", "sel"}, dns...)...); code != ExitOK || !strings.Contains(out, "WARN") {
		t.Fatalf("weak.test: exit %d\n%s", code, out)
	}
	code, out, _ = run(t, "", append([]string{"domain-check", "bare.test"}, dns...)...)
	if code != ExitError || !strings.Contains(out, "FAIL") || !strings.Contains(out, "fix: publish bare.test. IN TXT") {
		t.Fatalf("bare.test: exit %d\n%s", code, out)
	}
	// An unauthorized sending IP fails SPF.
	if code, out, _ := run(t, "", append([]string{"domain-check", "good.test", "--dkim-selector", "sel", "--ip", "198.51.100.1"}, dns...)...); code != ExitError || !strings.Contains(out, "SPF fail") {
		t.Fatalf("--ip: exit %d\n%s", code, out)
	}
	for _, args := range [][]string{
		{"domain-check"},
		{"domain-check", "a.test", "b.test"},
		{"domain-check", "not a domain"},
		{"domain-check", "good.test", "--ip", "300.1.1.1"},
		{"domain-check", "good.test", "--format", "yaml"},
		{"domain-check", "good.test", "--dkim-selector", "bad selector"},
	} {
		if code, _, stderr := run(t, "", append(args, dns...)...); code != ExitUsage || stderr == "" {
			t.Errorf("%q: exit %d, stderr %q", args, code, stderr)
		}
	}
}
