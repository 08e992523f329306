package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net/mail"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/touchline/touchline/internal/dkimkey"
	"github.com/touchline/touchline/internal/jobs"
	"github.com/touchline/touchline/internal/mailsim"
	"github.com/touchline/touchline/internal/netpolicy"
	"github.com/touchline/touchline/internal/secret"
	"github.com/touchline/touchline/internal/store"
	"github.com/touchline/touchline/sequencer"
	"github.com/touchline/touchline/verifier/resolver"
)

// TestWorkerKilledWhileSending kills a worker process with SIGKILL while it
// sends a 3-email cadence to 100 leads. After another worker takes over,
// no lead has any step twice, and every step is accounted for: sent, or
// marked uncertain when the kill fell between the hand-off to SMTP and
// its record.
func TestWorkerKilledWhileSending(t *testing.T) {
	if testing.Short() {
		t.Skip("starts worker processes")
	}
	t.Parallel()
	st, url := newStore(t)
	ctx := context.Background()
	w, err := mailsim.New(mailsim.Options{SMTPLatency: 2 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	key, _ := dkimkey.Generate(dkimkey.Ed25519)
	zone, _ := dkimkey.ZoneLine("s1", "sender.test", key.Public())
	pemKey, _ := dkimkey.MarshalPrivateKey(key)
	w.AddHost(mailsim.Host{Name: "smtp.sender.test", StartTLS: true})
	w.AddDomain(mailsim.Domain{Name: "sender.test", MX: []mailsim.MX{{Pref: 10, Host: "smtp.sender.test"}},
		Records: []string{`@ IN TXT "v=spf1 ip4:127.0.0.0/8 -all"`, `_dmarc IN TXT "v=DMARC1; p=reject"`, zone}})
	const leads = 100
	boxes := map[string]mailsim.Mailbox{}
	for i := range leads {
		boxes[fmt.Sprintf("p%d", i)] = mailsim.Exists
	}
	w.AddHost(mailsim.Host{Name: "mx.prospect.test"})
	w.AddDomain(mailsim.Domain{Name: "prospect.test", MX: []mailsim.MX{{Pref: 10, Host: "mx.prospect.test"}}, Mailboxes: boxes, AcceptData: true})

	rawKey := make([]byte, 32)
	for i := range rawKey {
		rawKey[i] = byte(i * 7)
	}
	keyText := base64.StdEncoding.EncodeToString(rawKey)
	box, _ := secret.NewBox(rawKey)
	res, _ := resolver.New(resolver.Config{Servers: []string{w.DNSAddr()}})
	rc, err := jobs.NewClient(st, jobs.Config{}) // insert-only: the workers are the child processes
	if err != nil {
		t.Fatal(err)
	}
	op := &sequencer.Operator{Engine: &sequencer.Engine{Store: st, Secrets: box, Outbound: netpolicy.New(netpolicy.Loopback...)}, River: rc, Resolver: res}
	ws, _ := st.EnsureWorkspace(ctx, "sales")
	ip, _ := w.HostIP("smtp.sender.test")
	zero := 0
	m, err := op.CreateMailbox(ctx, ws.ID, sequencer.MailboxInput{FromAddress: "ana@sender.test", FromName: "Ana", SMTPHost: ip.String(),
		SMTPPort: w.SMTPPort(), DailyCap: 10000, MinSpacingSeconds: &zero, JitterSeconds: &zero, DKIMSelector: "s1", DKIMPrivateKey: string(pemKey)})
	if err != nil {
		t.Fatal(err)
	}
	window := sequencer.WindowSpec{Days: []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}, Start: "00:00", End: "24:00"}
	c, _, err := op.CreateCadence(ctx, ws.ID, sequencer.Spec{Name: "crash", Window: window, MailboxIDs: []int64{m.ID}, Steps: []sequencer.Step{
		{Channel: "email", Delay: "0", Subject: "One, {{first_name}}", Body: "First."},
		{Channel: "email", Delay: "1s", Subject: "Two, {{first_name}}", Body: "Second."},
		{Channel: "email", Delay: "1s", Subject: "Three, {{first_name}}", Body: "Third."},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := op.Launch(ctx, ws.ID, c.ID, false); err != nil {
		t.Fatal(err)
	}
	req := sequencer.EnrollRequest{Start: "now"}
	for i := range leads {
		req.Leads = append(req.Leads, store.LeadInput{Email: fmt.Sprintf("p%d@prospect.test", i), FirstName: fmt.Sprintf("P%d", i)})
	}
	if _, err := op.Enroll(ctx, ws.ID, c.ID, req); err != nil {
		t.Fatal(err)
	}

	args := []string{"worker", "--database-url", url, "--secret-key", keyText, "--dns-server", w.DNSAddr(),
		"--smtp-port", strconv.Itoa(w.SMTPPort()), "--allow-network", "127.0.0.0/8", "--helo", "app.sender.test",
		"--smtp-insecure-skip-verify", "--senders", "8", "--bounce-domain", "bounces.sender.test",
		"--public-url", "https://touchline.sender.test", "--job-timeout", "3s", "--touch-timeout", "3s", "--rescue-after", "4s", "--log-level", "warn"}
	first := touchline(t, args...)
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for len(w.Messages()) < leads*3/3 {
		if time.Now().After(deadline) {
			first.Process.Kill()
			t.Fatalf("only %d messages in a minute", len(w.Messages()))
		}
		time.Sleep(5 * time.Millisecond)
	}
	first.Process.Signal(syscall.SIGKILL)
	first.Wait()
	atKill := len(w.Messages())
	t.Logf("killed the worker after %d of %d messages", atKill, leads*3)

	second := touchline(t, args...)
	if err := second.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { second.Process.Signal(syscall.SIGTERM); second.Wait() }()
	// Done when no touch is scheduled or sending any more.
	deadline = time.Now().Add(3 * time.Minute)
	for {
		open, err := st.CountOpenTouches(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if open == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d touches still open 3 minutes after restart", open)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second) // anything duplicated would arrive now

	got := map[string]int{} // to + subject
	for _, msg := range w.Messages() {
		pm, err := mail.ReadMessage(bytes.NewReader(msg.Data))
		if err != nil {
			t.Fatal(err)
		}
		k := msg.To[0] + "|" + strings.SplitN(pm.Header.Get("Subject"), ",", 2)[0]
		got[k]++
		if got[k] > 1 {
			t.Fatalf("%s received twice", k)
		}
	}
	statuses, err := st.TouchStatusCounts(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("touches: %v; messages received: %d", statuses, len(got))
	if statuses["sent"]+statuses["uncertain"] != leads*3 {
		t.Fatalf("touches %v: some step of some lead is missing", statuses)
	}
	// Every touch recorded as sent was received; an uncertain one may or
	// may not have been.
	if len(got) < statuses["sent"] || len(got) > statuses["sent"]+statuses["uncertain"] {
		t.Fatalf("%d messages received for %v", len(got), statuses)
	}
}
