package verifier

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

func TestIsDisposableDomain(t *testing.T) {
	tests := []struct {
		domain string
		want   bool
	}{
		{"mailinator.com", true},
		{"sub.mailinator.com", true},
		{"a.b.mailinator.com", true},
		{"MAILINATOR.COM", true},
		{"mailinator.com.", true},
		{"guerrillamail.com", true},
		{"yopmail.com", true},
		{"10minutemail.com", true},
		{"gmail.com", false},
		{"outlook.com", false},
		{"acme.com", false},
		{"xmailinator.com", false}, // suffix match is by label, not by string
		{"mailinator.com.evil.example", false},
		{"com", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := isDisposableDomain(tt.domain); got != tt.want {
			t.Errorf("isDisposableDomain(%q) = %v, want %v", tt.domain, got, tt.want)
		}
	}
}

func TestIsRoleAccount(t *testing.T) {
	tests := []struct {
		local string
		want  bool
	}{
		{"info", true},
		{"INFO", true},
		{"Sales+x", true},
		{"sales+", true},
		{"admin", true},
		{"support", true},
		{"postmaster", true},
		{"abuse", true},
		{"hr", true},
		{"billing", true},
		{"noreply", true},
		{"no-reply", true},
		{"no_reply", true},
		{"No.Reply", true},
		{"no-reply+bounces", true},
		{"do-not-reply", true},
		{"donotreply", true},
		{"mailer-daemon", true},
		{"john", false},
		{"john.smith", false},
		{"jane+info", false},
		{"salesman", false},
		{"", false},
		{"+info", false},
	}
	for _, tt := range tests {
		if got := isRoleAccount(tt.local); got != tt.want {
			t.Errorf("isRoleAccount(%q) = %v, want %v", tt.local, got, tt.want)
		}
	}
}

func TestIsFreeProvider(t *testing.T) {
	tests := []struct {
		domain string
		want   bool
	}{
		{"gmail.com", true},
		{"Gmail.com", true},
		{"googlemail.com", true},
		{"outlook.com", true},
		{"hotmail.com", true},
		{"hotmail.co.uk", true},
		{"live.com", true},
		{"yahoo.com", true},
		{"yahoo.co.jp", true},
		{"aol.com", true},
		{"icloud.com", true},
		{"me.com", true},
		{"mac.com", true},
		{"proton.me", true},
		{"protonmail.com", true},
		{"gmx.de", true},
		{"gmx.net", true},
		{"web.de", true},
		{"mail.ru", true},
		{"yandex.ru", true},
		{"qq.com", true},
		{"163.com", true},
		{"zoho.com", true},
		{"acme.com", false},
		{"mail.google.com", false}, // exact match only
		{"mailinator.com", false},  // disposable wins
		{"guerrillamail.com", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := isFreeProvider(tt.domain); got != tt.want {
			t.Errorf("isFreeProvider(%q) = %v, want %v", tt.domain, got, tt.want)
		}
	}
}

func TestListsAreDisjointWhereItMatters(t *testing.T) {
	for _, d := range []string{"gmail.com", "outlook.com", "yahoo.com", "gmx.de", "icloud.com"} {
		if isDisposableDomain(d) {
			t.Errorf("%s is listed as disposable", d)
		}
	}
	// No entry of the free list may be disposable (update.sh filters them).
	for d := range freeProviders() {
		if isDisposableDomain(d) {
			t.Errorf("free_providers.txt lists disposable domain %q", d)
		}
	}
}

func TestEmbeddedListsWellFormed(t *testing.T) {
	files := []struct {
		name string
		text string
		min  int
	}{
		{"data/disposable_domains.txt", disposableDomainsTxt, 1000},
		{"data/role_accounts.txt", roleAccountsTxt, 100},
		{"data/free_providers.txt", freeProvidersTxt, 1000},
	}
	for _, f := range files {
		t.Run(f.name, func(t *testing.T) {
			if !strings.HasSuffix(f.text, "\n") {
				t.Errorf("does not end with a newline")
			}
			lines := strings.Split(strings.TrimSuffix(f.text, "\n"), "\n")
			inHeader := true
			var prev string
			n := 0
			for i, line := range lines {
				ln := i + 1
				if strings.HasPrefix(line, "#") {
					if !inHeader {
						t.Errorf("line %d: comment after the first entry", ln)
					}
					continue
				}
				inHeader = false
				switch {
				case line == "" || strings.TrimSpace(line) == "":
					t.Errorf("line %d: blank line", ln)
					continue
				case line != strings.TrimSpace(line):
					t.Errorf("line %d: surrounding whitespace in %q", ln, line)
				case line != strings.ToLower(line):
					t.Errorf("line %d: not lowercase: %q", ln, line)
				}
				for _, r := range line {
					if r > 0x7e || r <= ' ' {
						t.Errorf("line %d: non-ASCII or control character in %q", ln, line)
						break
					}
				}
				if n > 0 {
					if line == prev {
						t.Errorf("line %d: duplicate %q", ln, line)
					} else if line < prev {
						t.Errorf("line %d: %q sorts before %q", ln, line, prev)
					}
				}
				prev = line
				n++
			}
			if n < f.min {
				t.Errorf("only %d entries, want at least %d", n, f.min)
			}
			if !strings.HasPrefix(f.text, "# ") || !strings.Contains(f.text, "Source:") {
				t.Errorf("missing the source header comment")
			}
		})
	}
}

// TestRepliesCorpusWellFormed checks the shape of testdata/replies.tsv (the
// reply classifier's table lives elsewhere): header, seven columns, a 3-digit
// code, a known stage and a want_status/want_reason pair from the contract.
func TestRepliesCorpusWellFormed(t *testing.T) {
	data, err := os.ReadFile("testdata/replies.tsv")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	const header = "provider\tstage\tcode\ttext\twant_status\twant_reason\tsource"
	if lines[0] != header {
		t.Fatalf("header = %q, want %q", lines[0], header)
	}
	stages := map[string]bool{"banner": true, "ehlo": true, "mail": true, "rcpt": true}
	pairs := map[string]string{
		"accepted":          "deliverable",
		"mailbox_not_found": "undeliverable",
		"mailbox_disabled":  "undeliverable",
		"mailbox_full":      "risky",
		"blocked":           "unknown",
		"greylisted":        "unknown",
		"temporary_failure": "unknown",
	}
	seen := map[string]bool{}
	for i, line := range lines[1:] {
		ln := i + 2
		f := strings.Split(line, "\t")
		if len(f) != 7 {
			t.Errorf("line %d: %d columns, want 7", ln, len(f))
			continue
		}
		provider, stage, code, text, status, reason, source := f[0], f[1], f[2], f[3], f[4], f[5], f[6]
		if provider == "" || text == "" || source == "" {
			t.Errorf("line %d: empty provider, text or source", ln)
		}
		if !stages[stage] {
			t.Errorf("line %d: unknown stage %q", ln, stage)
		}
		if n, err := strconv.Atoi(code); err != nil || n < 200 || n > 599 || len(code) != 3 {
			t.Errorf("line %d: bad code %q", ln, code)
		} else if (code[0] == '2') != (reason == "accepted") {
			t.Errorf("line %d: code %s with reason %s", ln, code, reason)
		}
		if want, ok := pairs[reason]; !ok || want != status {
			t.Errorf("line %d: status/reason %s/%s not in the contract", ln, status, reason)
		}
		if strings.ContainsAny(text, "\r\n") {
			t.Errorf("line %d: raw line break in text (use the two characters \\n)", ln)
		}
		key := provider + " " + code + " " + text
		if seen[key] {
			t.Errorf("line %d: duplicate reply %q", ln, key)
		}
		seen[key] = true
	}
	if n := len(lines) - 1; n < 80 {
		t.Errorf("corpus has %d rows, want at least 80", n)
	}
}
