package cli

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/touchline/touchline/internal/dkimkey"
	"github.com/touchline/touchline/internal/mailsim"
	"github.com/touchline/touchline/verifier/resolver"
)

// outreach is a cold email as the sequencer sends it: RFC 8058 one-click
// unsubscribe headers, CRLF line endings.
const outreach = "From: Jane Seller <jane@acme.test>\r\n" +
	"To: Pat Prospect <pat@prospect.example>\r\n" +
	"Subject: Quick question about your Q3 onboarding\r\n" +
	"Date: Tue, 14 Oct 2025 09:30:00 +0000\r\n" +
	"Message-ID: <20251014093000.7f3a9c@acme.test>\r\n" +
	"List-Unsubscribe: <https://acme.test/u/7f3a9c>, <mailto:unsubscribe+7f3a9c@acme.test>\r\n" +
	"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"\r\n" +
	"Hi Pat,\r\n" +
	"\r\n" +
	"Teams your size usually lose a week to onboarding. Worth 15 minutes on Thursday?\r\n" +
	"\r\n" +
	"Jane\r\n"

// The headers Gmail, Yahoo and Microsoft want signed for bulk mail, the
// List-Unsubscribe pair included (RFC 8058 §4).
var signedHeaders = []string{"From", "To", "Subject", "Date", "Message-ID",
	"List-Unsubscribe", "List-Unsubscribe-Post", "MIME-Version", "Content-Type"}

// printed returns the value after "prefix" on the line of out that starts
// with it.
func printed(t *testing.T, out, prefix string) string {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(l, prefix); ok {
			return v
		}
	}
	t.Fatalf("no line starting %q in:\n%s", prefix, out)
	return ""
}

// TestDKIMKeygenSignVerify is the acceptance test: a key made by
// `touchline dkim keygen`, published as printed, signs mail that a DKIM
// verifier looking the key up in DNS accepts.
func TestDKIMKeygenSignVerify(t *testing.T) {
	t.Parallel()
	w, err := mailsim.New(mailsim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	res, err := resolver.New(resolver.Config{Servers: []string{w.DNSAddr()}, CacheSize: -1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	lookup := func(name string) ([]string, error) { return res.LookupTXT(ctx, name) }

	// Both keys live side by side under two selectors, as --help advises.
	var records []string
	keys := map[string]crypto.Signer{}
	for _, tc := range []struct{ typ, selector string }{
		{"rsa2048", "s2025r"},
		{"ed25519", "s2025e"},
	} {
		dir := t.TempDir()
		keyFile := filepath.Join(dir, tc.selector+".key")
		args := []string{"dkim", "keygen", "--domain", "Acme.Test.", "--selector", tc.selector, "--type", tc.typ, "--out", keyFile}
		code, out, stderr := run(t, "", args...)
		if code != ExitOK {
			t.Fatalf("%s: exit %d: %s", tc.typ, code, stderr)
		}

		fi, err := os.Stat(keyFile)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != 0o600 {
			t.Errorf("%s: key file mode %v, want -rw-------", tc.typ, fi.Mode())
		}
		before, err := os.ReadFile(keyFile)
		if err != nil {
			t.Fatal(err)
		}
		key, err := dkimkey.ParsePrivateKey(before)
		if err != nil {
			t.Fatal(err)
		}
		switch key.(type) {
		case ed25519.PrivateKey:
			if tc.typ != "ed25519" {
				t.Fatalf("%s: got an ed25519 key", tc.typ)
			}
		case *rsa.PrivateKey:
			if tc.typ != "rsa2048" {
				t.Fatalf("%s: got an RSA key", tc.typ)
			}
		}
		if !strings.Contains(out, keyFile) || !strings.Contains(out, "secret") {
			t.Errorf("%s: output does not say where the key is and to keep it secret:\n%s", tc.typ, out)
		}

		// What the web panel lines say agrees with the key and the zone line.
		name := tc.selector + "._domainkey.acme.test"
		if got := printed(t, out, "Name:  "); got != name {
			t.Errorf("%s: Name %q, want %q", tc.typ, got, name)
		}
		if got := printed(t, out, "Type:  "); got != "TXT" {
			t.Errorf("%s: Type %q", tc.typ, got)
		}
		value, _ := dkimkey.TXTValue(key.Public())
		if got := printed(t, out, "Value: "); got != value {
			t.Errorf("%s: Value\n%s\nwant\n%s", tc.typ, got, value)
		}
		zoneLine := printed(t, out, name+". ")
		records = append(records, name+". "+zoneLine)
		keys[tc.selector] = key

		// A second run does not touch the key; --force replaces it.
		code, _, stderr = run(t, "", args...)
		if code != ExitError || !strings.Contains(stderr, "already exists") || !strings.Contains(stderr, "--force") {
			t.Errorf("%s: rerun: exit %d, stderr %q; want exit 1 and a refusal", tc.typ, code, stderr)
		}
		if after, _ := os.ReadFile(keyFile); !bytes.Equal(after, before) {
			t.Fatalf("%s: refused rerun changed the key file", tc.typ)
		}
		if code, _, stderr := run(t, "", append(args, "--force")...); code != ExitOK {
			t.Fatalf("%s: --force: exit %d: %s", tc.typ, code, stderr)
		}
		after, _ := os.ReadFile(keyFile)
		if bytes.Equal(after, before) {
			t.Fatalf("%s: --force kept the old key", tc.typ)
		}
		// Back to the key that was printed, to publish it.
		if err := os.WriteFile(keyFile, before, 0o600); err != nil {
			t.Fatal(err)
		}
	}

	if err := w.AddDomain(mailsim.Domain{Name: "acme.test", Records: records}); err != nil {
		t.Fatalf("publishing the printed zone lines: %v\n%s", err, strings.Join(records, "\n"))
	}

	verify := func(t *testing.T, msg []byte) []*dkim.Verification {
		t.Helper()
		vs, err := dkim.VerifyWithOptions(bytes.NewReader(msg), &dkim.VerifyOptions{LookupTXT: lookup})
		if err != nil {
			t.Fatal(err)
		}
		if len(vs) != 1 {
			t.Fatalf("%d verifications, want 1", len(vs))
		}
		return vs
	}
	for selector, key := range keys {
		t.Run(selector, func(t *testing.T) {
			var b bytes.Buffer
			err := dkim.Sign(&b, strings.NewReader(outreach), &dkim.SignOptions{
				Domain:                 "acme.test",
				Selector:               selector,
				Signer:                 key,
				HeaderCanonicalization: dkim.CanonicalizationRelaxed,
				BodyCanonicalization:   dkim.CanonicalizationRelaxed,
				HeaderKeys:             signedHeaders,
			})
			if err != nil {
				t.Fatal(err)
			}
			signed := b.Bytes()

			v := verify(t, signed)[0]
			if v.Err != nil {
				t.Fatalf("signature does not verify: %v\n%s", v.Err, signed)
			}
			if v.Domain != "acme.test" {
				t.Errorf("verified domain %q", v.Domain)
			}
			for _, h := range []string{"list-unsubscribe", "list-unsubscribe-post"} {
				if !slices.ContainsFunc(v.HeaderKeys, func(k string) bool { return strings.EqualFold(k, h) }) {
					t.Errorf("%s not signed: h=%v", h, v.HeaderKeys)
				}
			}

			// A changed body or a changed signed header breaks the signature.
			for what, tampered := range map[string][]byte{
				"body":             bytes.Replace(signed, []byte("15 minutes"), []byte("50 minutes"), 1),
				"List-Unsubscribe": bytes.Replace(signed, []byte("https://acme.test/u/"), []byte("https://evil.test/u/"), 1),
			} {
				if bytes.Equal(tampered, signed) {
					t.Fatalf("tampering with the %s changed nothing", what)
				}
				if v := verify(t, tampered)[0]; v.Err == nil {
					t.Errorf("signature verifies after tampering with the %s", what)
				}
			}
		})
	}
}

func TestDKIMKeygenDefaultFile(t *testing.T) {
	// Not parallel: the default key file goes to the working directory.
	dir := t.TempDir()
	t.Chdir(dir)
	code, out, stderr := run(t, "", "dkim", "keygen", "--type", "ed25519", "--domain", "Bücher.Example", "--selector", "s1")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	// The IDN is published and the key named under its A-label.
	const name = "s1._domainkey.xn--bcher-kva.example"
	if _, err := dkimkey.ReadKeyFile(filepath.Join(dir, name+".key")); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "\n"+name+". 3600 IN TXT \"v=DKIM1; k=ed25519; p=") {
		t.Errorf("zone line missing:\n%s", out)
	}
	if !strings.Contains(out, name+".key") {
		t.Errorf("output does not name the key file:\n%s", out)
	}
}

func TestDKIMUsage(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "k.key")
	for _, tc := range []struct {
		args []string
		code int
		text string // in stderr
	}{
		{[]string{"dkim"}, ExitUsage, "keygen"},
		{[]string{"dkim", "rotate"}, ExitUsage, `unknown subcommand "rotate"`},
		{[]string{"dkim", "keygen"}, ExitUsage, "--domain and --selector are required"},
		{[]string{"dkim", "keygen", "--domain", "acme.test"}, ExitUsage, "required"},
		{[]string{"dkim", "keygen", "--domain", "acme.test", "--selector", "s1", "--type", "rsa1024", "--out", out}, ExitUsage, "rsa2048"},
		{[]string{"dkim", "keygen", "--domain", "localhost", "--selector", "s1", "--out", out}, ExitUsage, "--domain"},
		{[]string{"dkim", "keygen", "--domain", "192.0.2.1", "--selector", "s1", "--out", out}, ExitUsage, "IP address"},
		{[]string{"dkim", "keygen", "--domain", "jane@acme.test", "--selector", "s1", "--out", out}, ExitUsage, "--domain"},
		{[]string{"dkim", "keygen", "--domain", "acme.test", "--selector", "s_1", "--out", out}, ExitUsage, "--selector"},
		{[]string{"dkim", "keygen", "--domain", "acme.test", "--selector", "s1.", "--out", out}, ExitUsage, "empty label"},
		{[]string{"dkim", "keygen", "acme.test", "--domain", "acme.test", "--selector", "s1", "--out", out}, ExitUsage, "unexpected argument"},
		{[]string{"dkim", "keygen", "--domain", "acme.test", "--selector", "s1", "--out", filepath.Join(out, "sub", "k.key")}, ExitError, "k.key"},
		{[]string{"dkim", "keygen", "--bogus"}, ExitUsage, "flag provided but not defined"},
	} {
		code, stdout, stderr := run(t, "", tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.text) {
			t.Errorf("%q: exit %d, stderr %q; want exit %d mentioning %q", tc.args, code, stderr, tc.code, tc.text)
		}
		if stdout != "" {
			t.Errorf("%q: wrote to stdout on error: %q", tc.args, stdout)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a failed run left %s behind (%v)", out, err)
	}

	// -h documents the flags, and why RSA is the default.
	code, _, stderr := run(t, "", "dkim", "keygen", "-h")
	if code != ExitOK || !strings.Contains(stderr, "--selector") || !strings.Contains(stderr, "ed25519") || !strings.Contains(stderr, "some receivers do not verify it") {
		t.Errorf("keygen -h: exit %d:\n%s", code, stderr)
	}
	if code, stdout, _ := run(t, "", "dkim", "--help"); code != ExitOK || !strings.Contains(stdout, "keygen") {
		t.Errorf("dkim --help: exit %d:\n%s", code, stdout)
	}
	if _, stdout, _ := run(t, "", "help"); !strings.Contains(stdout, "dkim ") {
		t.Errorf("touchline help does not list dkim:\n%s", stdout)
	}
}
