package sequencer_test

import (
	"bytes"
	"context"
	"crypto"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-smtp"

	"github.com/touchline/touchline/internal/dkimkey"
	"github.com/touchline/touchline/internal/inbound"
	"github.com/touchline/touchline/internal/inbound/senderauth"
	"github.com/touchline/touchline/internal/mailsim"
	"github.com/touchline/touchline/internal/store"
	"github.com/touchline/touchline/sequencer"
)

// addSignedDomain adds to the world the leads' domain signed.test: its MX
// accepts mail for the three leads; it publishes a DKIM key (selector
// k1), an SPF record that does not list loopback (where the forger
// connects from) and DMARC p=reject. It returns the key.
func addSignedDomain(t *testing.T, r *rig) crypto.Signer {
	t.Helper()
	key, err := dkimkey.Generate(dkimkey.Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	line, err := dkimkey.ZoneLine("k1", "signed.test", key.Public())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.world.AddHost(mailsim.Host{Name: "mx.signed.test"}); err != nil {
		t.Fatal(err)
	}
	if err := r.world.AddDomain(mailsim.Domain{Name: "signed.test", MX: []mailsim.MX{{Pref: 10, Host: "mx.signed.test"}}, AcceptData: true,
		Mailboxes: map[string]mailsim.Mailbox{"forged": mailsim.Exists, "unsub": mailsim.Exists, "dkim": mailsim.Exists},
		Records:   []string{line, `@ IN TXT "v=spf1 ip4:192.0.2.0/24 -all"`, `_dmarc IN TXT "v=DMARC1; p=reject"`}}); err != nil {
		t.Fatal(err)
	}
	return key
}

// Issue 13: a reply or unsubscribe that matches an enrollment only by its
// sender's address changes nothing unless the sender's domain vouches for
// it (an aligned DKIM or SPF pass, checked on receipt); it is stored as
// unverified for a person to confirm.
func TestRepliesNeedEvidence(t *testing.T) {
	t.Parallel()
	var key crypto.Signer
	r := newStopRigSetup(t, func(r *rig) { key = addSignedDomain(t, r) }, sequencer.Spec{Name: "evidence"},
		"forged@signed.test", "unsub@signed.test", "dkim@signed.test")
	ctx := context.Background()
	for email := range r.enr {
		r.sentTo(t, email)
	}
	inbox := &sequencer.Inbox{Engine: r.op.Engine, River: r.op.River, Auth: &senderauth.Checker{Resolver: r.res}}
	srv := inbound.NewSMTPServer(inbound.SMTPConfig{Domains: []string{"sender.test"}, Hostname: "in.sender.test"}, inbox)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	// send delivers a message that names no Message-ID of ours, From the
	// lead, over inbound SMTP from 127.0.0.1 (which signed.test's SPF does
	// not list), signed by signed.test when sign is set.
	send := func(from, body string, sign bool) {
		t.Helper()
		raw := []byte(fmt.Sprintf("From: %s\r\nTo: ana@sender.test\r\nSubject: Hello\r\nDate: %s\r\nMessage-ID: <%d@signed.test>\r\n\r\n%s\r\n",
			from, time.Now().Format(time.RFC1123Z), time.Now().UnixNano(), body))
		if sign {
			var out bytes.Buffer
			if err := dkim.Sign(&out, bytes.NewReader(raw), &dkim.SignOptions{Domain: "signed.test", Selector: "k1", Signer: key}); err != nil {
				t.Fatal(err)
			}
			raw = out.Bytes()
		}
		sc, err := smtp.Dial(ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer sc.Close()
		envFrom := from
		if i := strings.IndexByte(from, '<'); i >= 0 {
			envFrom = strings.Trim(from[i:], "<>")
		}
		if err := sc.SendMail(envFrom, []string{"ana@sender.test"}, bytes.NewReader(raw)); err != nil {
			t.Fatal(err)
		}
	}
	state := func(email string) (store.Enrollment, store.Lead, bool) {
		t.Helper()
		e, err := r.st.GetEnrollment(ctx, r.ws.ID, r.enr[email])
		if err != nil {
			t.Fatal(err)
		}
		l, err := r.st.GetLead(ctx, r.ws.ID, e.LeadID)
		if err != nil {
			t.Fatal(err)
		}
		sup, err := r.st.IsSuppressed(ctx, r.ws.ID, email)
		if err != nil {
			t.Fatal(err)
		}
		return e, l, sup
	}
	events := func(typ string) int {
		t.Helper()
		evs, err := r.st.ListEvents(ctx, r.ws.ID, typ, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		return len(evs)
	}
	inboundOf := func(email string) store.InboundRecord {
		t.Helper()
		_, l, _ := state(email)
		msgs, err := r.st.ListInbound(ctx, r.ws.ID, "", l.ID, 10)
		if err != nil || len(msgs) != 1 {
			t.Fatalf("inbound of %s: %+v %v", email, msgs, err)
		}
		return msgs[0]
	}

	// A forged reply and a forged unsubscribe: stored, matched, unverified;
	// no stop, no promotion, no suppression, no event, so no webhook.
	send("Forged Lead <forged@signed.test>", "Yes, we are hiring. Call me on Tuesday.", false)
	send("unsub@signed.test", "Please remove me from your list.", false)
	for _, email := range []string{"forged@signed.test", "unsub@signed.test"} {
		if e, l, sup := state(email); e.State != "active" || l.Stage != "lead" || sup {
			t.Fatalf("%s: a forged message took effect: enrollment %s (%s), stage %s, suppressed %v", email, e.State, e.StateReason, l.Stage, sup)
		}
		if m := inboundOf(email); !m.Unverified || m.MatchedBy != "sender" || m.EnrollmentID == nil {
			t.Fatalf("%s: stored as %+v, want matched by sender and unverified", email, m)
		}
	}
	if n, p := events("enrollment.stopped"), events("lead.promoted"); n+p != 0 {
		t.Fatalf("forged mail emitted %d enrollment.stopped and %d lead.promoted events", n, p)
	}

	// The same reply signed by signed.test (DKIM aligned with From): the
	// domain vouches for it; its effects apply.
	send("dkim@signed.test", "Yes, we are hiring. Call me on Tuesday.", true)
	if e, l, _ := state("dkim@signed.test"); e.State != "stopped" || e.StateReason != "replied" || l.Stage != "prospect" {
		t.Fatalf("signed reply: enrollment %s (%s), stage %s", e.State, e.StateReason, l.Stage)
	}
	if m := inboundOf("dkim@signed.test"); m.Unverified || !strings.HasPrefix(m.Evidence, "dmarc: dkim d=signed.test") {
		t.Fatalf("signed reply stored as %+v", m)
	}
	if events("lead.promoted") != 1 {
		t.Fatal("no lead.promoted for the signed reply")
	}

	// A person confirms the forged unsubscribe (the reclassify API, same
	// class): now it takes effect, and is no longer unverified.
	m := inboundOf("unsub@signed.test")
	rec, err := inbox.Reclassify(ctx, r.ws.ID, m.ID, "unsubscribe")
	if err != nil || rec.Unverified {
		t.Fatalf("confirm: %+v %v", rec, err)
	}
	if e, _, sup := state("unsub@signed.test"); e.State != "stopped" || !sup {
		t.Fatalf("confirmed unsubscribe: enrollment %s, suppressed %v", e.State, sup)
	}
	if m := inboundOf("unsub@signed.test"); m.Unverified {
		t.Fatalf("still unverified after confirmation: %+v", m)
	}
	r.wantStopped(t, "unsub@signed.test", "unsubscribe")
}

// Issue 13, over IMAP: a polled message has no SMTP envelope, so only a
// DKIM signature aligned with From can vouch for it; an unsigned one
// matched by sender is stored unverified, without effect.
func TestIMAPRepliesNeedDKIM(t *testing.T) {
	t.Parallel()
	var key crypto.Signer
	r := newStopRigSetup(t, func(r *rig) { key = addSignedDomain(t, r) }, sequencer.Spec{Name: "imap-evidence"},
		"forged@signed.test", "dkim@signed.test")
	ctx := context.Background()
	for email := range r.enr {
		r.sentTo(t, email)
	}
	inbox := &sequencer.Inbox{Engine: r.op.Engine, River: r.op.River, Auth: &senderauth.Checker{Resolver: r.res}}
	deliver := func(from string, uid uint32, sign bool) {
		t.Helper()
		raw := []byte(fmt.Sprintf("From: %s\r\nTo: ana@sender.test\r\nSubject: Re: Hello\r\nDate: %s\r\nMessage-ID: <%d@signed.test>\r\n\r\nYes, call me.\r\n",
			from, time.Now().Format(time.RFC1123Z), time.Now().UnixNano()))
		if sign {
			var out bytes.Buffer
			if err := dkim.Sign(&out, bytes.NewReader(raw), &dkim.SignOptions{Domain: "signed.test", Selector: "k1", Signer: key}); err != nil {
				t.Fatal(err)
			}
			raw = out.Bytes()
		}
		// As the poller hands it over: no envelope, no client address.
		if err := inbox.HandleMessage(ctx, inbound.Message{Source: "imap:1", UID: uid, UIDValidity: 1, Raw: raw, Received: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	deliver("forged@signed.test", 1, false)
	deliver("dkim@signed.test", 2, true)
	for email, want := range map[string]string{"forged@signed.test": "active", "dkim@signed.test": "stopped"} {
		e, err := r.st.GetEnrollment(ctx, r.ws.ID, r.enr[email])
		if err != nil {
			t.Fatal(err)
		}
		if e.State != want {
			t.Errorf("%s: enrollment %s (%s), want %s", email, e.State, e.StateReason, want)
		}
		msgs, err := r.st.ListInbound(ctx, r.ws.ID, "", e.LeadID, 10)
		if err != nil || len(msgs) != 1 || msgs[0].Unverified != (want == "active") {
			t.Errorf("%s: inbound %+v %v", email, msgs, err)
		}
	}
}
