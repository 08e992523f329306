package message

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/touchline/touchline/internal/dkimkey"
	"github.com/touchline/touchline/internal/mailsim"
	"github.com/touchline/touchline/verifier/resolver"
)

// TestSignVerify is the acceptance test: a built touch, signed with an
// RSA-2048 and an Ed25519 key published in the simulated DNS, verifies with
// go-msgauth looking the keys up through the project's resolver, with both
// List-Unsubscribe fields in h=, and stops verifying when they change.
func TestSignVerify(t *testing.T) {
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

	keys := map[string]dkimkey.Type{"s2025r": dkimkey.RSA2048, "s2025e": dkimkey.Ed25519}
	signers := map[string]DKIM{}
	var records []string
	for sel, typ := range keys {
		k, err := dkimkey.Generate(typ)
		if err != nil {
			t.Fatal(err)
		}
		line, err := dkimkey.ZoneLine(sel, "acme.test", k.Public())
		if err != nil {
			t.Fatal(err)
		}
		records = append(records, line)
		signers[sel] = DKIM{Domain: "acme.test", Selector: sel, Signer: k}
	}
	if err := w.AddDomain(mailsim.Domain{Name: "acme.test", Records: records}); err != nil {
		t.Fatal(err)
	}

	verify := func(t *testing.T, msg []byte) *dkim.Verification {
		t.Helper()
		vs, err := dkim.VerifyWithOptions(bytes.NewReader(msg), &dkim.VerifyOptions{LookupTXT: lookup})
		if err != nil {
			t.Fatal(err)
		}
		if len(vs) != 1 {
			t.Fatalf("%d signatures, want 1", len(vs))
		}
		return vs[0]
	}

	raw, err := touch().Build()
	if err != nil {
		t.Fatal(err)
	}
	for sel, d := range signers {
		t.Run(string(keys[sel]), func(t *testing.T) {
			t.Parallel()
			signed, err := Sign(raw, d)
			if err != nil {
				t.Fatal(err)
			}
			checkWire(t, signed)
			if !bytes.HasSuffix(signed, raw) || !bytes.HasPrefix(signed, []byte("DKIM-Signature: ")) {
				t.Fatal("Sign did not prepend one field to the message")
			}

			v := verify(t, signed)
			if v.Err != nil {
				t.Fatalf("does not verify: %v\n%s", v.Err, signed)
			}
			if v.Domain != "acme.test" {
				t.Errorf("d=%s", v.Domain)
			}
			count := func(k string) int {
				return len(slices.DeleteFunc(slices.Clone(v.HeaderKeys), func(h string) bool { return !strings.EqualFold(h, k) }))
			}
			for _, k := range []string{"From", "To", "Subject", "Date", "Message-ID", "In-Reply-To", "References",
				"MIME-Version", "Content-Type", "List-Unsubscribe", "List-Unsubscribe-Post", "Feedback-ID"} {
				// Present once, named twice: oversigned.
				if n := count(k); n != 2 {
					t.Errorf("%s named %d times in h=%v, want 2", k, n, v.HeaderKeys)
				}
			}
			if count("X-Touchline-Touch") != 0 {
				t.Errorf("extra header signed: h=%v", v.HeaderKeys)
			}
			if !strings.Contains(string(signed[:200]), "c=relaxed/relaxed") {
				t.Errorf("not relaxed/relaxed:\n%s", signed[:300])
			}

			for what, tampered := range map[string][]byte{
				"List-Unsubscribe URL": bytes.Replace(signed, []byte("<https://t.acme.test/u/"), []byte("<https://evil.test/u/"), 1),
				"List-Unsubscribe-Post": bytes.Replace(signed, []byte("List-Unsubscribe-Post: List-Unsubscribe=One-Click"),
					[]byte("List-Unsubscribe-Post: List-Unsubscribe=Two-Clicks"), 1),
				"second List-Unsubscribe added": bytes.Replace(signed, []byte("\r\nMIME-Version:"),
					[]byte("\r\nList-Unsubscribe: <https://evil.test/u>\r\nMIME-Version:"), 1),
				"List-Unsubscribe removed": removeField(signed, "List-Unsubscribe: "),
				"body":                     bytes.Replace(signed, []byte("sicher."), []byte("unsicher."), 1),
				"Subject":                  bytes.Replace(signed, []byte("Subject: =?utf-8?b?"), []byte("Subject: =?utf-8?B?"), 1),
			} {
				if bytes.Equal(tampered, signed) {
					t.Fatalf("%s: tampering changed nothing", what)
				}
				if v := verify(t, tampered); v.Err == nil {
					t.Errorf("%s: still verifies", what)
				}
			}
			// Relaxed canonicalization forgives what relays do: refolding
			// and case of field names.
			refolded := bytes.Replace(signed, []byte("List-Unsubscribe: <https://t.acme.test/u/u1-abcdefgh234567>,\r\n <mailto:"),
				[]byte("list-unsubscribe:  <https://t.acme.test/u/u1-abcdefgh234567>, <mailto:"), 1)
			if bytes.Equal(refolded, signed) {
				t.Fatal("refolding changed nothing")
			}
			if v := verify(t, refolded); v.Err != nil {
				t.Errorf("refolded header does not verify: %v", v.Err)
			}
		})
	}

	// A step without threading or unsubscribe fields still names them in
	// h=, so they cannot be added on the way.
	m := touch()
	m.InReplyTo, m.References, m.ListUnsubscribeURL, m.ListUnsubscribeMailto = "", nil, "", ""
	first, err := m.Build()
	if err != nil {
		t.Fatal(err)
	}
	signed, err := Sign(first, signers["s2025e"])
	if err != nil {
		t.Fatal(err)
	}
	if v := verify(t, signed); v.Err != nil || !slices.Contains(v.HeaderKeys, "List-Unsubscribe") || !slices.Contains(v.HeaderKeys, "In-Reply-To") {
		t.Fatalf("first step: err %v, h=%v", v.Err, v.HeaderKeys)
	}
	added := bytes.Replace(signed, []byte("\r\nMIME-Version:"), []byte("\r\nIn-Reply-To: <x@evil.test>\r\nMIME-Version:"), 1)
	if v := verify(t, added); v.Err == nil {
		t.Error("adding In-Reply-To to a signed first step still verifies")
	}
}

// removeField removes the field starting with prefix and its continuation
// lines.
func removeField(msg []byte, prefix string) []byte {
	i := bytes.Index(msg, []byte("\r\n"+prefix))
	if i < 0 {
		return msg
	}
	j := i + 2
	for {
		k := bytes.Index(msg[j:], []byte("\r\n"))
		j += k + 2
		if msg[j] != ' ' && msg[j] != '\t' {
			break
		}
	}
	return append(slices.Clone(msg[:i+2]), msg[j:]...)
}

func TestSignRefuses(t *testing.T) {
	t.Parallel()
	k, err := dkimkey.Generate(dkimkey.Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := touch().Build()
	if err != nil {
		t.Fatal(err)
	}
	good := DKIM{Domain: "acme.test", Selector: "s1", Signer: k}

	// Relaxed alignment: a parent or a sibling under the same
	// organizational domain is aligned.
	for _, tc := range []struct {
		from, domain string
		ok           bool
	}{
		{"jane@acme.test", "acme.test", true},
		{"jane@mail.acme.test", "acme.test", true},
		{"jane@acme.test", "mail.acme.test", true},
		{"jane@ACME.test", "acme.test.", true},
		{"jane@acme.test", "esp.test", false},
		{"jane@acme.co.uk", "co.uk", false},
		{"jane@a.acme.co.uk", "b.acme.co.uk", true},
		{"jane@acme.co.uk", "other.co.uk", false},
	} {
		m := touch()
		m.From.Address = tc.from
		msg, err := m.Build()
		if err != nil {
			t.Fatal(err)
		}
		_, err = Sign(msg, DKIM{Domain: tc.domain, Selector: "s1", Signer: k})
		if tc.ok && err != nil {
			t.Errorf("From %s, d=%s: %v", tc.from, tc.domain, err)
		}
		if !tc.ok && !errors.Is(err, ErrNotAligned) && !errors.Is(err, dkimkey.ErrInvalidDomain) {
			t.Errorf("From %s, d=%s: err %v, want ErrNotAligned", tc.from, tc.domain, err)
		}
	}

	for _, tc := range []struct {
		name string
		raw  []byte
		d    DKIM
	}{
		{"no key", raw, DKIM{Domain: "acme.test", Selector: "s1"}},
		{"bad selector", raw, DKIM{Domain: "acme.test", Selector: "s_1", Signer: k}},
		{"bad domain", raw, DKIM{Domain: "acme", Selector: "s1", Signer: k}},
		{"bare LF", bytes.ReplaceAll(raw, []byte("\r\n"), []byte("\n")), good},
		{"two From", append([]byte("From: eve@acme.test\r\n"), raw...), good},
		{"no From", removeField(append([]byte("X: y\r\n"), raw...), "From: "), good},
		{"Post without List-Unsubscribe", removeField(raw, "List-Unsubscribe: "), good},
		{"no header", []byte("\r\nbody\r\n"), good},
	} {
		if out, err := Sign(tc.raw, tc.d); err == nil || out != nil {
			t.Errorf("%s: signed", tc.name)
		}
	}
}
