package sequencer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/touchline/touchline/internal/inbound"
	"github.com/touchline/touchline/internal/mailsim/sendertest"
	"github.com/touchline/touchline/internal/store"
	"github.com/touchline/touchline/sequencer"
)

// sent is what a lead received from the cadence.
type sent struct {
	messageID, subject, returnPath string
}

func firstMessages(t *testing.T, r *rig, n int) map[string]sent {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for len(r.world.Messages()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d first emails", len(r.world.Messages()), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	out := map[string]sent{}
	for _, m := range r.world.Messages() {
		pm, err := mail.ReadMessage(bytes.NewReader(m.Data))
		if err != nil {
			t.Fatal(err)
		}
		out[m.To[0]] = sent{pm.Header.Get("Message-ID"), pm.Header.Get("Subject"), m.From}
	}
	return out
}

func reply(from, to, inReplyTo, subject, body string, extra ...string) []byte {
	h := fmt.Sprintf("From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: <%d.%s>\r\nIn-Reply-To: %s\r\nReferences: %s\r\n",
		from, to, subject, time.Now().Format(time.RFC1123Z), time.Now().UnixNano(), strings.ReplaceAll(from, "@", "."), inReplyTo, inReplyTo)
	for _, e := range extra {
		h += e + "\r\n"
	}
	return []byte(h + "Content-Type: text/plain; charset=utf-8\r\n\r\n" + body + "\r\n")
}

func dsn(verp, rcpt, status, diag, origID string) []byte {
	b := "dsnboundary42"
	return []byte("From: Mail Delivery System <MAILER-DAEMON@mx.prospect.test>\r\n" +
		"To: " + verp + "\r\nSubject: Undelivered Mail Returned to Sender\r\nDate: " + time.Now().Format(time.RFC1123Z) + "\r\n" +
		"Message-ID: <dsn." + fmt.Sprint(time.Now().UnixNano()) + "@mx.prospect.test>\r\nAuto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/report; report-type=delivery-status; boundary=\"" + b + "\"\r\n\r\n" +
		"--" + b + "\r\nContent-Type: text/plain\r\n\r\nI'm sorry to have to inform you that your message could not be delivered.\r\n\r\n" +
		"--" + b + "\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.prospect.test\r\n\r\n" +
		"Final-Recipient: rfc822; " + rcpt + "\r\nOriginal-Recipient: rfc822; " + rcpt + "\r\nAction: failed\r\nStatus: " + status + "\r\n" +
		"Diagnostic-Code: smtp; " + diag + "\r\n\r\n" +
		"--" + b + "\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: " + origID + "\r\nFrom: Ana Ruiz <ana@sender.test>\r\nTo: " + rcpt + "\r\nSubject: Quick question\r\n\r\n" +
		"--" + b + "--\r\n")
}

// TestRepliesAndBounces runs a cadence and answers it as recipients would:
// a human reply, an out-of-office, a hard bounce over the inbound SMTP
// server to the VERP address, an unsubscribe request, and a colleague's
// reply. Each has its effect, once, and the next touch does not go out.
func TestRepliesAndBounces(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	ctx := context.Background()
	m := r.mailbox(1000)
	c, _, err := r.op.CreateCadence(ctx, r.ws.ID, sequencer.Spec{Name: "replies", Window: sendertest.AllDay(), MailboxIDs: []int64{m.ID},
		Steps: []sequencer.Step{
			{Channel: "email", Delay: "0", Subject: "Quick question, {{first_name}}", Body: "Hi {{first_name}}, hiring?"},
			{Channel: "email", Delay: "3s", Thread: true, Body: "Following up."},
		}})
	if err != nil {
		t.Fatal(err)
	}
	r.op.Launch(ctx, r.ws.ID, c.ID, false)
	req := sequencer.EnrollRequest{Start: "now"}
	for i := range 6 {
		req.Leads = append(req.Leads, store.LeadInput{Email: fmt.Sprintf("lead%d@prospect.test", i), FirstName: fmt.Sprintf("L%d", i)})
	}
	out, err := r.op.Enroll(ctx, r.ws.ID, c.ID, req)
	if err != nil {
		t.Fatal(err)
	}
	enr := map[string]int64{}
	for _, o := range out {
		enr[o.Email] = o.EnrollmentID
	}
	first := firstMessages(t, r, 6)
	inbox := &sequencer.Inbox{Engine: r.op.Engine, River: r.op.River}
	deliver := func(raw []byte, to ...string) {
		t.Helper()
		if err := inbox.HandleMessage(ctx, inbound.Message{Source: "smtp", To: to, Raw: raw, Received: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}

	// 1. A human reply: stopped before the next touch, promoted.
	hr := reply("L0 <lead0@prospect.test>", "ana@sender.test", first["lead0@prospect.test"].messageID, "Re: Quick question",
		"Yes, we are hiring. Can you call me on Tuesday?\r\n\r\nOn Mon, Ana wrote:\r\n> Hi L0, hiring?")
	deliver(hr)
	deliver(hr) // delivered twice: acted on once

	// 2. Out of office: paused, resumes after the return date.
	deliver(reply("L1 <lead1@prospect.test>", "ana@sender.test", first["lead1@prospect.test"].messageID,
		"Out of Office: Quick question", "I am out of the office until next Monday with limited access to email.", "Auto-Submitted: auto-replied"))

	// 3. A hard bounce, through the inbound SMTP server, to the VERP
	// return path of lead2's first touch.
	srv := inbound.NewSMTPServer(inbound.SMTPConfig{Domains: []string{"bounces.sender.test"}, Hostname: "in.sender.test"}, inbox)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	verp := first["lead2@prospect.test"].returnPath
	sc, err := smtp.Dial(ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if err := sc.SendMail("", []string{verp}, bytes.NewReader(dsn(verp, "lead2@prospect.test", "5.1.1",
		"550 5.1.1 <lead2@prospect.test>: Recipient address rejected: User unknown", first["lead2@prospect.test"].messageID))); err != nil {
		t.Fatalf("DSN over inbound SMTP: %v", err)
	}
	sc.Quit()

	// 4. An unsubscribe request by reply.
	deliver(reply("lead3@prospect.test", "ana@sender.test", first["lead3@prospect.test"].messageID, "Re: Quick question", "Please remove me from your list."))

	// Let the second touch fall due for the others.
	time.Sleep(4 * time.Second)

	check := func(email, state, reason string) store.Enrollment {
		t.Helper()
		e, err := r.st.GetEnrollment(ctx, r.ws.ID, enr[email])
		if err != nil {
			t.Fatal(err)
		}
		if e.State != state || (reason != "" && e.StateReason != reason) {
			t.Fatalf("%s: enrollment %s (%s), want %s (%s)", email, e.State, e.StateReason, state, reason)
		}
		return e
	}
	e0 := check("lead0@prospect.test", "stopped", "replied")
	if e0.Touches[1].Status == "sent" {
		t.Fatal("the next touch went out after the reply")
	}
	lead0, _ := r.st.GetLead(ctx, r.ws.ID, e0.LeadID)
	if lead0.Stage != "prospect" {
		t.Fatalf("stage %s", lead0.Stage)
	}
	events, _ := r.st.LeadEvents(ctx, r.ws.ID, e0.LeadID)
	replies := 0
	for _, ev := range events {
		if ev.Type == "replied" {
			replies++
			if !strings.Contains(fmt.Sprint(ev.Data["snippet"]), "we are hiring") || strings.Contains(fmt.Sprint(ev.Data["snippet"]), "Ana wrote") {
				t.Fatalf("snippet %q", ev.Data["snippet"])
			}
		}
	}
	if replies != 1 {
		t.Fatalf("%d reply events for one reply delivered twice", replies)
	}
	check("lead1@prospect.test", "paused", "auto_reply")
	e2 := check("lead2@prospect.test", "stopped", "bounced")
	l2, _ := r.st.GetLead(ctx, r.ws.ID, e2.LeadID)
	if l2.Verification == nil || l2.Verification.Status != "undeliverable" || l2.Verification.Reason != "bounced" {
		t.Fatalf("lead2 verdict %+v", l2.Verification)
	}
	if ok, _ := r.st.IsSuppressed(ctx, r.ws.ID, "lead2@prospect.test"); !ok {
		t.Fatal("bounced address not suppressed")
	}
	ev2, _ := r.st.LeadEvents(ctx, r.ws.ID, e2.LeadID)
	miss := false
	for _, ev := range ev2 {
		if ev.Type == "hard_bounce" && ev.Data["verifier_miss"] == true {
			miss = true
		}
	}
	if !miss {
		t.Fatalf("a bounce of a deliverable verdict not recorded as a verifier miss: %+v", ev2)
	}
	check("lead3@prospect.test", "stopped", "unsubscribe")
	if ok, _ := r.st.IsSuppressed(ctx, r.ws.ID, "lead3@prospect.test"); !ok {
		t.Fatal("unsubscribe request not suppressed")
	}
	// Untouched by all this, lead4 got its second email.
	e4 := check("lead4@prospect.test", "finished", "")
	if e4.Touches[1].Status != "sent" {
		t.Fatalf("lead4 touches %+v", e4.Touches)
	}

	// 5. A colleague answers lead5's (finished) thread: matched by
	// In-Reply-To, recorded as a colleague reply, lead5 promoted.
	deliver(reply("Boss <boss@prospect.test>", "ana@sender.test", first["lead5@prospect.test"].messageID, "Re: Quick question", "I handle hiring here, let's talk."))
	e5, _ := r.st.GetEnrollment(ctx, r.ws.ID, enr["lead5@prospect.test"])
	l5, _ := r.st.GetLead(ctx, r.ws.ID, e5.LeadID)
	ev5, _ := r.st.LeadEvents(ctx, r.ws.ID, e5.LeadID)
	colleague := false
	for _, ev := range ev5 {
		if ev.Type == "replied" && ev.Data["colleague"] == true {
			colleague = true
		}
	}
	if l5.Stage != "prospect" || !colleague {
		t.Fatalf("colleague reply: stage %s, events %+v", l5.Stage, ev5)
	}

	// The numbers add up: 6 first emails and the second of lead4 and
	// lead5; 2 replies (one of a colleague), 1 auto-reply, 1 hard
	// bounce, 1 unsubscribe, 2 prospects.
	periods, steps, err := r.st.Stats(ctx, r.ws.ID, store.StatsFilter{CadenceID: c.ID, From: time.Now().Add(-48 * time.Hour), To: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	var tot store.PeriodStats
	for _, p := range periods {
		tot.Enrolled += p.Enrolled
		tot.Sent += p.Sent
		tot.Replies += p.Replies
		tot.AutoReplies += p.AutoReplies
		tot.HardBounces += p.HardBounces
		tot.Unsubscribes += p.Unsubscribes
		tot.ProspectsCreated += p.ProspectsCreated
	}
	if tot.Enrolled != 6 || tot.Sent != 8 || tot.Replies != 2 || tot.AutoReplies != 1 || tot.HardBounces != 1 || tot.Unsubscribes != 1 || tot.ProspectsCreated != 2 {
		t.Fatalf("stats totals %+v", tot)
	}
	if len(steps) != 2 || steps[0].Step != 1 || steps[0].Sent != 6 || steps[0].Replies != 2 || steps[1].Sent != 2 {
		t.Fatalf("per-step stats %+v", steps)
	}
}

// TestGuardrailsKnowTheCause: hard bounces pause the cadence (the list is
// bad) and leave the mailbox alone; sender-side rejections pause the
// mailbox (the sender is in trouble) and leave the cadence alone.
func TestGuardrailsKnowTheCause(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	ctx := context.Background()
	ip, _ := r.world.HostIP("smtp.sender.test")
	zero := 0
	mk := func(addr string) store.Mailbox {
		m, err := r.op.CreateMailbox(ctx, r.ws.ID, sequencer.MailboxInput{FromAddress: addr, SMTPHost: ip.String(), SMTPPort: r.world.SMTPPort(),
			DailyCap: 1000, MinSpacingSeconds: &zero, JitterSeconds: &zero, DKIMSelector: "s1", DKIMPrivateKey: r.dkim})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	run := func(name string, m store.Mailbox, from int) (store.Cadence, map[string]sent) {
		c, _, err := r.op.CreateCadence(ctx, r.ws.ID, sequencer.Spec{Name: name, Window: sendertest.AllDay(), MailboxIDs: []int64{m.ID},
			Steps: []sequencer.Step{{Channel: "email", Delay: "0", Subject: "Hello {{first_name}}", Body: "Hi."}, {Channel: "email", Delay: "1h", Subject: "Again", Body: "Hi."}}})
		if err != nil {
			t.Fatal(err)
		}
		r.op.Launch(ctx, r.ws.ID, c.ID, false)
		req := sequencer.EnrollRequest{Start: "now"}
		for i := from; i < from+10; i++ {
			req.Leads = append(req.Leads, store.LeadInput{Email: fmt.Sprintf("lead%d@prospect.test", i), FirstName: "X"})
		}
		if _, err := r.op.Enroll(ctx, r.ws.ID, c.ID, req); err != nil {
			t.Fatal(err)
		}
		return c, firstMessages(t, r, from+10)
	}
	inbox := &sequencer.Inbox{Engine: r.op.Engine, River: r.op.River}
	bounce := func(s sent, rcpt, status, diag string) {
		t.Helper()
		if err := inbox.HandleMessage(ctx, inbound.Message{Source: "smtp", To: []string{s.returnPath}, Raw: dsn(s.returnPath, rcpt, status, diag, s.messageID)}); err != nil {
			t.Fatal(err)
		}
	}
	m1, m2 := mk("one@sender.test"), mk("two@sender.test")
	c1, first := run("bad list", m1, 0)
	for i := range 4 {
		a := fmt.Sprintf("lead%d@prospect.test", i)
		bounce(first[a], a, "5.1.1", "550 5.1.1 User unknown")
	}
	c2, second := run("troubled sender", m2, 10)
	for i := 10; i < 14; i++ {
		a := fmt.Sprintf("lead%d@prospect.test", i)
		bounce(second[a], a, "5.7.26", "550 5.7.26 Unauthenticated email from sender.test is not accepted due to domain's DMARC policy")
	}
	g1, _ := r.st.GetCadence(ctx, r.ws.ID, c1.ID)
	g2, _ := r.st.GetCadence(ctx, r.ws.ID, c2.ID)
	mb1, _ := r.st.GetMailbox(ctx, r.ws.ID, m1.ID)
	mb2, _ := r.st.GetMailbox(ctx, r.ws.ID, m2.ID)
	if g1.Status != "paused" || !strings.HasPrefix(g1.PausedReason, "bounce_rate") || mb1.PausedReason != "" {
		t.Fatalf("hard bounces: cadence %s (%s), mailbox paused %q", g1.Status, g1.PausedReason, mb1.PausedReason)
	}
	if g2.Status != "active" || !strings.HasPrefix(mb2.PausedReason, "sender_rejections") {
		t.Fatalf("sender rejections: cadence %s (%s), mailbox paused %q", g2.Status, g2.PausedReason, mb2.PausedReason)
	}
	// Sender-side rejections leave the addresses alone.
	if ok, _ := r.st.IsSuppressed(ctx, r.ws.ID, "lead10@prospect.test"); ok {
		t.Fatal("a sender-side rejection suppressed the recipient")
	}
}

func TestSoftBouncesBecomeHard(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.op.Engine.SoftRetryAfter = 300 * time.Millisecond
	ctx := context.Background()
	m := r.mailbox(100)
	c, _, err := r.op.CreateCadence(ctx, r.ws.ID, sequencer.Spec{Name: "soft", Window: sendertest.AllDay(), MailboxIDs: []int64{m.ID},
		Steps: []sequencer.Step{{Channel: "email", Delay: "0", Subject: "Hello {{first_name}}", Body: "Hi."}, {Channel: "email", Delay: "1h", Subject: "Again", Body: "Hi."}}})
	if err != nil {
		t.Fatal(err)
	}
	r.op.Launch(ctx, r.ws.ID, c.ID, false)
	out, err := r.op.Enroll(ctx, r.ws.ID, c.ID, sequencer.EnrollRequest{Start: "now", Leads: []store.LeadInput{{Email: "lead8@prospect.test", FirstName: "H"}}})
	if err != nil {
		t.Fatal(err)
	}
	inbox := &sequencer.Inbox{Engine: r.op.Engine, River: r.op.River}
	// Each soft bounce (the remote side gave up: mailbox full) sends the
	// first email again after SoftRetryAfter; the third is hard.
	for i := range sequencer.SoftBounceLimit {
		first := firstMessages(t, r, i+1)["lead8@prospect.test"]
		raw := dsn(first.returnPath, "lead8@prospect.test", "5.2.2", "552 5.2.2 Mailbox full", first.messageID)
		if err := inbox.HandleMessage(ctx, inbound.Message{Source: "smtp", To: []string{first.returnPath}, Raw: raw}); err != nil {
			t.Fatal(err)
		}
		e, _ := r.st.GetEnrollment(ctx, r.ws.ID, out[0].EnrollmentID)
		if i < sequencer.SoftBounceLimit-1 {
			// The resend is due SoftRetryAfter later and may already be
			// under way (or out) on a busy machine when this reads it:
			// the touch is scheduled again, or being sent again; the next
			// round waits for the resent message itself.
			var resending bool
			if len(e.Touches) == 1 {
				switch t := e.Touches[0]; t.Status {
				case "scheduled", "sending":
					resending = e.NextStep == 1 && strings.HasPrefix(t.Outcome, "soft_bounce 5.2.2: resending")
				case "sent":
					resending = true // sent again already
				}
			}
			if e.State != "active" || !resending {
				t.Fatalf("after soft bounce %d: %s, next step %d, touches %+v", i+1, e.State, e.NextStep, e.Touches)
			}
			continue
		}
		if e.State != "stopped" || e.StateReason != "bounced" {
			t.Fatalf("after %d soft bounces the enrollment is %s (%s), want stopped (bounced)", i+1, e.State, e.StateReason)
		}
	}
	if ok, _ := r.st.IsSuppressed(ctx, r.ws.ID, "lead8@prospect.test"); !ok {
		t.Fatal("not suppressed after the soft-bounce limit")
	}
	time.Sleep(600 * time.Millisecond)
	var subjects []string
	for _, msg := range r.world.Messages() {
		pm, _ := mail.ReadMessage(bytes.NewReader(msg.Data))
		subjects = append(subjects, pm.Header.Get("Subject"))
	}
	if len(subjects) != sequencer.SoftBounceLimit || subjects[0] != "Hello H" || subjects[len(subjects)-1] != "Hello H" {
		t.Fatalf("sent %q: want the first email %d times, then nothing", subjects, sequencer.SoftBounceLimit)
	}
}

// TestReclassify: an out-of-office that was really a reply is corrected;
// the pause is lifted and the reply's effects replayed.
func TestReclassify(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	ctx := context.Background()
	m := r.mailbox(100)
	c, _, err := r.op.CreateCadence(ctx, r.ws.ID, sequencer.Spec{Name: "rc", Window: sendertest.AllDay(), MailboxIDs: []int64{m.ID},
		Steps: []sequencer.Step{{Channel: "email", Delay: "0", Subject: "Hello {{first_name}}", Body: "Hi."}, {Channel: "email", Delay: "1h", Subject: "Again", Body: "Hi."}}})
	if err != nil {
		t.Fatal(err)
	}
	r.op.Launch(ctx, r.ws.ID, c.ID, false)
	out, _ := r.op.Enroll(ctx, r.ws.ID, c.ID, sequencer.EnrollRequest{Start: "now", Leads: []store.LeadInput{{Email: "lead9@prospect.test", FirstName: "I"}}})
	first := firstMessages(t, r, 1)["lead9@prospect.test"]
	inbox := &sequencer.Inbox{Engine: r.op.Engine, River: r.op.River}
	raw := reply("lead9@prospect.test", "ana@sender.test", first.messageID, "Automatic reply: Hello", "Thanks, yes let's talk next week.", "Auto-Submitted: auto-replied")
	if err := inbox.HandleMessage(ctx, inbound.Message{Source: "imap:1", Raw: raw}); err != nil {
		t.Fatal(err)
	}
	if e, _ := r.st.GetEnrollment(ctx, r.ws.ID, out[0].EnrollmentID); e.State != "paused" {
		t.Fatalf("state %s", e.State)
	}
	msgs, err := r.st.ListInbound(ctx, r.ws.ID, "auto_reply", 0, 10)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("inbound %v %v", msgs, err)
	}
	if _, err := inbox.Reclassify(ctx, r.ws.ID, msgs[0].ID, "bounce"); err == nil {
		t.Fatal("reclassified to a class that needs recipients")
	}
	rec, err := inbox.Reclassify(ctx, r.ws.ID, msgs[0].ID, "human_reply")
	if err != nil || rec.Class != "human_reply" || rec.Rule != "manual: was auto_reply" {
		t.Fatalf("%+v %v", rec, err)
	}
	e, _ := r.st.GetEnrollment(ctx, r.ws.ID, out[0].EnrollmentID)
	l, _ := r.st.GetLead(ctx, r.ws.ID, e.LeadID)
	if e.State != "stopped" || e.StateReason != "replied" || l.Stage != "prospect" {
		t.Fatalf("after reclassify: %s (%s), stage %s", e.State, e.StateReason, l.Stage)
	}
}

// TestWebhookOnPromotion: a reply fires lead.promoted to a registered
// endpoint, signed with its secret; a failing endpoint is retried.
func TestWebhookOnPromotion(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	ctx := context.Background()
	type delivery struct {
		event, sig string
		body       []byte
	}
	got := make(chan delivery, 10)
	fails := 1
	var mu sync.Mutex
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if fails > 0 { // the first delivery fails: it must be retried
			fails--
			w.WriteHeader(503)
			return
		}
		b, _ := io.ReadAll(req.Body)
		got <- delivery{req.Header.Get("Touchline-Event"), req.Header.Get("Touchline-Signature"), b}
	}))
	defer hook.Close()
	wh, secret, err := r.op.CreateWebhook(ctx, r.ws.ID, hook.URL+"/touchline", []string{"lead.promoted"})
	if err != nil || !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("%+v %q %v", wh, secret, err)
	}
	if _, _, err := r.op.CreateWebhook(ctx, r.ws.ID, "ftp://x", []string{"lead.exploded"}); err == nil {
		t.Fatal("bad webhook accepted")
	}
	m := r.mailbox(100)
	c, _, _ := r.op.CreateCadence(ctx, r.ws.ID, sequencer.Spec{Name: "wh", Window: sendertest.AllDay(), MailboxIDs: []int64{m.ID},
		Steps: []sequencer.Step{{Channel: "email", Delay: "0", Subject: "Hello {{first_name}}", Body: "Hi."}}})
	r.op.Launch(ctx, r.ws.ID, c.ID, false)
	r.op.Enroll(ctx, r.ws.ID, c.ID, sequencer.EnrollRequest{Start: "now", Leads: []store.LeadInput{{Email: "lead12@prospect.test", FirstName: "L"}}})
	first := firstMessages(t, r, 1)["lead12@prospect.test"]
	inbox := &sequencer.Inbox{Engine: r.op.Engine, River: r.op.River}
	if err := inbox.HandleMessage(ctx, inbound.Message{Source: "smtp", Raw: reply("lead12@prospect.test", "ana@sender.test", first.messageID, "Re: Hello", "Sure, call me.")}); err != nil {
		t.Fatal(err)
	}
	select {
	case d := <-got:
		var p map[string]any
		if err := json.Unmarshal(d.body, &p); err != nil || d.event != "lead.promoted" || p["email"] != "lead12@prospect.test" || p["stage"] != "prospect" {
			t.Fatalf("delivery %s %s", d.event, d.body)
		}
		ts := strings.TrimPrefix(strings.Split(d.sig, ",")[0], "t=")
		sec, _ := strconv.ParseInt(ts, 10, 64)
		if want := sequencer.WebhookSignature([]byte(secret), time.Unix(sec, 0), d.body); d.sig != want {
			t.Fatalf("signature %s, want %s", d.sig, want)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no webhook delivered (the first attempt fails and must be retried)")
	}
}
