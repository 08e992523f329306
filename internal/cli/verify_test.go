package cli

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/touchline/touchline/internal/mailsim"
)

// world starts a small simulated world and returns the flags that point
// `touchline verify` at it.
func world(t *testing.T) []string {
	t.Helper()
	w, err := mailsim.New(mailsim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	if err := w.AddHost(mailsim.Host{Name: "mx.acme.test", StartTLS: true}); err != nil {
		t.Fatal(err)
	}
	if err := w.AddDomain(mailsim.Domain{Name: "acme.test", MX: []mailsim.MX{{Pref: 10, Host: "mx.acme.test"}},
		Mailboxes: map[string]mailsim.Mailbox{"jane": mailsim.Exists, "info": mailsim.Exists}}); err != nil {
		t.Fatal(err)
	}
	return []string{"--dns-server", w.DNSAddr(), "--smtp-port", strconv.Itoa(w.SMTPPort()),
		"--allow-mx-network", "127.0.0.0/8", "--helo", "probe.touchline.test", "--mail-from", "v@touchline.test"}
}

func run(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	env := &Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}
	code = Run(context.Background(), env, args)
	return code, out.String(), errb.String()
}

func TestVerifyCSVList(t *testing.T) {
	t.Parallel()
	flags := world(t)
	in := "\ufeffName;E-mail;Notes\n" +
		"Jane;jane@acme.test;=1+2\n" +
		"Gone;gone@acme.test;\n" +
		"Info;INFO@Acme.Test;@home\n" +
		"Broken;not an address;\n" +
		"Short\n" +
		"Nobody;nobody@nx-domain.test;-5\n"
	code, out, stderr := run(t, in, append([]string{"verify"}, flags...)...)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	r := csv.NewReader(strings.NewReader(out))
	r.Comma = ';'
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 7 {
		t.Fatalf("%d records out for 6 rows in:\n%s", len(recs), out)
	}
	h := recs[0]
	if h[0] != "Name" || h[1] != "E-mail" || h[3] != "email_normalized" || h[4] != "status" || h[5] != "reason" {
		t.Fatalf("header %q", h)
	}
	for i, want := range []struct{ name, status, reason, notes string }{
		{"Jane", "deliverable", "accepted", "'=1+2"},
		{"Gone", "undeliverable", "mailbox_not_found", ""},
		{"Info", "deliverable", "accepted", "'@home"},
		{"Broken", "undeliverable", "syntax", ""},
		{"Short", "undeliverable", "syntax", ""},
		{"Nobody", "undeliverable", "no_mail_server", "'-5"},
	} {
		rec := recs[i+1]
		if rec[0] != want.name || rec[4] != want.status || rec[5] != want.reason || rec[2] != want.notes {
			t.Errorf("row %d: %q; want %+v", i+1, rec, want)
		}
	}
	if recs[3][3] != "INFO@acme.test" || recs[3][13] != "true" { // role_account
		t.Errorf("normalization or role flag: %q", recs[3])
	}
	if !strings.Contains(recs[5][6], "email column is column 2") {
		t.Errorf("short row detail: %q", recs[5][6])
	}
	for _, s := range []string{"Verified 6 rows", "deliverable", "mailbox_not_found 1", "sending to every row"} {
		if !strings.Contains(stderr, s) {
			t.Errorf("summary lacks %q:\n%s", s, stderr)
		}
	}
}

func TestVerifyJSONLAndFile(t *testing.T) {
	t.Parallel()
	flags := world(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "list.csv")
	os.WriteFile(in, []byte("email,company\njane@acme.test,Acme\nx@acme.test,Acme\n"), 0o644)
	outFile := filepath.Join(dir, "out.jsonl")
	code, _, stderr := run(t, "", append([]string{"verify", in, "--format", "jsonl", "-o", outFile}, flags...)...)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	data, _ := os.ReadFile(outFile)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines", len(lines))
	}
	var row struct {
		Line   int                `json:"line"`
		Fields map[string]string  `json:"fields"`
		Status string             `json:"status"`
		Reply  struct{ Code int } `json:"reply"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &row); err != nil {
		t.Fatal(err)
	}
	if row.Line != 2 || row.Fields["company"] != "Acme" || row.Status != "deliverable" || row.Reply.Code != 250 {
		t.Fatalf("row %+v", row)
	}
}

func TestVerifyOneAddress(t *testing.T) {
	t.Parallel()
	flags := world(t)
	code, out, _ := run(t, "", append([]string{"verify", "--email", "jane@acme.test"}, flags...)...)
	if code != ExitOK || !strings.Contains(out, "deliverable (accepted)") || !strings.Contains(out, "mx.acme.test") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	code, out, _ = run(t, "", append([]string{"verify", "--email", "gone@acme.test", "--format", "json"}, flags...)...)
	var v struct{ Status, Reason string }
	if code != ExitOK || json.Unmarshal([]byte(out), &v) != nil || v.Reason != "mailbox_not_found" {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

func TestVerifyUsageErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args  []string
		stdin string
		code  int
		msg   string
	}{
		{[]string{"verify", "--no-such-flag"}, "", ExitUsage, "flag provided but not defined"},
		{[]string{"verify", "--email", "a@b.test", "list.csv"}, "", ExitUsage, "not both"},
		{[]string{"verify", "--helo", "localhost", "--dns-server", "127.0.0.1:1"}, "email\n", ExitUsage, "localhost"},
		{[]string{"verify", "--dns-server", "nonsense"}, "email\n", ExitUsage, "--dns-server"},
		{[]string{"verify", "--dns-server", "127.0.0.1:1", "--format", "xml"}, "email\n", ExitUsage, "--format"},
		{[]string{"verify", "--dns-server", "127.0.0.1:1"}, "name,company\nJane,Acme\n", ExitUsage, "no header cell names an email column"},
		{[]string{"verify", "--dns-server", "127.0.0.1:1"}, "jane@acme.test,Acme\n", ExitUsage, "looks like data"},
		{[]string{"verify", "--dns-server", "127.0.0.1:1", "--column", "mail"}, "email\n", ExitUsage, "no column named"},
		{[]string{"verify", "--dns-server", "127.0.0.1:1"}, "", ExitUsage, "empty"},
		{[]string{"verify", "--dns-server", "127.0.0.1:1", "/no/such/file.csv"}, "", ExitError, "no such file"},
		{[]string{"frobnicate"}, "", ExitUsage, "unknown command"},
	} {
		code, _, stderr := run(t, tc.stdin, tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.msg) {
			t.Errorf("%q: exit %d, stderr %q; want exit %d with %q", tc.args, code, stderr, tc.code, tc.msg)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for the progress goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestProgressBar(t *testing.T) {
	t.Parallel()
	var buf syncBuffer
	var done atomic.Int64
	done.Store(50)
	stop := progress(&buf, &done, 200, time.Now().Add(-time.Second))
	for !strings.Contains(buf.String(), "ETA") {
		time.Sleep(10 * time.Millisecond) // the bar redraws every 250 ms
	}
	stop()
	out := buf.String()
	if !strings.Contains(out, "50/200") || !strings.Contains(out, "/s") {
		t.Fatalf("progress line %q", out)
	}
}
