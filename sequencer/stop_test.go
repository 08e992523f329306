package sequencer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/touchline/touchline/internal/inbound"
	"github.com/touchline/touchline/internal/mailsim/sendertest"
	"github.com/touchline/touchline/internal/store"
	"github.com/touchline/touchline/sequencer"
)

// stopRig is a rig with one launched cadence of two emails, the second an
// hour after the first, and its leads enrolled "now".
type stopRig struct {
	*rig
	cadence store.Cadence
	enr     map[string]int64 // email → enrollment
}

func newStopRig(t *testing.T, spec sequencer.Spec, leads ...string) *stopRig {
	t.Helper()
	return newStopRigSetup(t, nil, spec, leads...)
}

// newStopRigSetup is newStopRig with setup run on the rig before the
// cadence is made (to add domains to the world).
func newStopRigSetup(t *testing.T, setup func(*rig), spec sequencer.Spec, leads ...string) *stopRig {
	t.Helper()
	r := newRig(t)
	if setup != nil {
		setup(r)
	}
	ctx := context.Background()
	m := r.mailbox(1000)
	spec.Window, spec.MailboxIDs = sendertest.AllDay(), []int64{m.ID}
	if spec.Steps == nil {
		spec.Steps = []sequencer.Step{
			{Channel: "email", Delay: "0", Subject: "Hello {{first_name}}", Body: "Hi {{first_name}}."},
			{Channel: "email", Delay: "1h", Thread: true, Body: "Following up."},
		}
	}
	c, _, err := r.op.CreateCadence(ctx, r.ws.ID, spec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.op.Launch(ctx, r.ws.ID, c.ID, false); err != nil {
		t.Fatal(err)
	}
	req := sequencer.EnrollRequest{Start: "now"}
	for _, l := range leads {
		req.Leads = append(req.Leads, store.LeadInput{Email: l, FirstName: "F"})
	}
	out, err := r.op.Enroll(ctx, r.ws.ID, c.ID, req)
	if err != nil {
		t.Fatal(err)
	}
	sr := &stopRig{rig: r, cadence: c, enr: map[string]int64{}}
	for _, o := range out {
		if o.Outcome != "enrolled" {
			t.Fatalf("enroll %+v", o)
		}
		sr.enr[o.Email] = o.EnrollmentID
	}
	return sr
}

// sentTo returns the header of the first message the world received for
// rcpt, waiting for it and for its touch to be recorded as sent (the world
// has the message a moment before the engine records SMTP's answer).
func (r *stopRig) sentTo(t *testing.T, rcpt string) mail.Header {
	t.Helper()
	var h mail.Header
	waitFor(t, 30*time.Second, "first email to "+rcpt, func() bool {
		e, err := r.st.GetEnrollment(context.Background(), r.ws.ID, r.enr[rcpt])
		if err != nil || len(e.Touches) == 0 || e.Touches[0].Status != "sent" {
			return false
		}
		for _, m := range r.world.Messages() {
			if len(m.To) == 1 && m.To[0] == rcpt {
				pm, err := mail.ReadMessage(bytes.NewReader(m.Data))
				if err != nil {
					t.Fatal(err)
				}
				h = pm.Header
				return true
			}
		}
		return false
	})
	return h
}

// listUnsubscribe returns the one-click URL's token and the mailto
// address of a message's List-Unsubscribe (RFC 2369, RFC 8058).
func listUnsubscribe(t *testing.T, h mail.Header) (token, mailto string) {
	t.Helper()
	for _, part := range strings.Split(h.Get("List-Unsubscribe"), ",") {
		u := strings.Trim(strings.TrimSpace(part), "<>")
		switch {
		case strings.HasPrefix(u, "https://"):
			token = u[strings.LastIndexByte(u, '/')+1:]
		case strings.HasPrefix(u, "mailto:"):
			mailto, _, _ = strings.Cut(strings.TrimPrefix(u, "mailto:"), "?")
		}
	}
	if token == "" || mailto == "" {
		t.Fatalf("List-Unsubscribe %q", h.Get("List-Unsubscribe"))
	}
	return token, mailto
}

// stoppedEvents returns the enrollment.stopped events by enrollment.
func (r *stopRig) stoppedEvents(t *testing.T) map[int64][]map[string]any {
	t.Helper()
	evs, err := r.st.ListEvents(context.Background(), r.ws.ID, "enrollment.stopped", 0, 500)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int64][]map[string]any{}
	for _, ev := range evs {
		var p map[string]any
		if err := json.Unmarshal(ev.Payload, &p); err != nil {
			t.Fatal(err)
		}
		id, _ := p["enrollment_id"].(float64)
		out[int64(id)] = append(out[int64(id)], p)
	}
	return out
}

// wantStopped checks an enrollment is stopped with reason and that
// exactly one enrollment.stopped event says so.
func (r *stopRig) wantStopped(t *testing.T, email, reason string) {
	t.Helper()
	e, err := r.st.GetEnrollment(context.Background(), r.ws.ID, r.enr[email])
	if err != nil {
		t.Fatal(err)
	}
	if e.State != "stopped" || !strings.HasPrefix(e.StateReason, reason) {
		t.Fatalf("%s: enrollment %s (%s), want stopped (%s)", email, e.State, e.StateReason, reason)
	}
	evs := r.stoppedEvents(t)[e.ID]
	if len(evs) != 1 || evs[0]["reason"] != e.StateReason || evs[0]["email"] != email {
		t.Fatalf("%s: stopped (%s) with enrollment.stopped events %v, want one with its reason", email, e.StateReason, evs)
	}
}

// Issue 14, defect 1: an unsubscribe mailed to the List-Unsubscribe
// mailto: address from another address of the lead (an alias, a
// forwarding account) is read by the token in the recipient address.
func TestUnsubscribeMailFromAnotherAddress(t *testing.T) {
	t.Parallel()
	r := newStopRig(t, sequencer.Spec{Name: "unsub-alias"}, "lead20@prospect.test")
	ctx := context.Background()
	_, mailto := listUnsubscribe(t, r.sentTo(t, "lead20@prospect.test"))

	inbox := &sequencer.Inbox{Engine: r.op.Engine, River: r.op.River}
	srv := inbound.NewSMTPServer(inbound.SMTPConfig{Domains: []string{"bounces.sender.test"}, Hostname: "in.sender.test"}, inbox)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	// What a mail client sends for a mailto: link, from the account the
	// person reads the lead's mail in.
	alias := "l.twenty@home.example"
	raw := fmt.Sprintf("From: %s\r\nTo: %s\r\nSubject: unsubscribe\r\nDate: %s\r\nMessage-ID: <alias.%d@home.example>\r\n\r\n\r\n",
		alias, mailto, time.Now().Format(time.RFC1123Z), time.Now().UnixNano())
	sc, err := smtp.Dial(ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if err := sc.SendMail(alias, []string{mailto}, strings.NewReader(raw)); err != nil {
		t.Fatalf("unsubscribe over inbound SMTP: %v", err)
	}
	sc.Quit()

	msgs, err := r.st.ListInbound(ctx, r.ws.ID, "", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || msgs[0].Class != "unsubscribe" || msgs[0].LeadID == nil || msgs[0].EnrollmentID == nil || *msgs[0].EnrollmentID != r.enr["lead20@prospect.test"] {
		t.Fatalf("GET /v1/inbound shows %+v, want the unsubscribe matched to lead20's enrollment", msgs)
	}
	if ok, _ := r.st.IsSuppressed(ctx, r.ws.ID, "lead20@prospect.test"); !ok {
		t.Fatal("the lead is not suppressed")
	}
	r.wantStopped(t, "lead20@prospect.test", "unsubscribe")
}

// Issue 14, defects 2 and 3: a one-click unsubscribe (RFC 8058 POST) is
// counted by /v1/stats, once however often it is posted, at the step it
// answered, and its stop emits enrollment.stopped.
func TestOneClickUnsubscribeCountedAndReported(t *testing.T) {
	t.Parallel()
	r := newStopRig(t, sequencer.Spec{Name: "one-click"}, "lead21@prospect.test")
	ctx := context.Background()
	tok, _ := listUnsubscribe(t, r.sentTo(t, "lead21@prospect.test"))
	for range 2 { // a mail client may post twice
		if err := r.op.Unsubscribe(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	periods, steps, err := r.st.Stats(ctx, r.ws.ID, store.StatsFilter{CadenceID: r.cadence.ID, From: time.Now().Add(-48 * time.Hour), To: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range periods {
		n += p.Unsubscribes
	}
	if n != 1 {
		t.Fatalf("stats count %d unsubscribes, want 1", n)
	}
	if len(steps) != 1 || steps[0].Step != 1 || steps[0].Unsubscribes != 1 {
		t.Fatalf("per-step stats %+v, want 1 unsubscribe at step 1", steps)
	}
	r.wantStopped(t, "lead21@prospect.test", "unsubscribed")
}

// Issue 14, defect 3: a reply stops the other enrollments of its domain
// (stop_domain_on_reply); each one stopped emits enrollment.stopped.
func TestColleagueStopsAreReported(t *testing.T) {
	t.Parallel()
	r := newStopRig(t, sequencer.Spec{Name: "domain", StopDomainOnReply: true}, "lead22@prospect.test", "lead23@prospect.test")
	ctx := context.Background()
	h := r.sentTo(t, "lead22@prospect.test")
	r.sentTo(t, "lead23@prospect.test")
	inbox := &sequencer.Inbox{Engine: r.op.Engine, River: r.op.River}
	raw := reply("lead22@prospect.test", "ana@sender.test", h.Get("Message-ID"), "Re: Hello", "Yes, let's talk on Monday.")
	if err := inbox.HandleMessage(ctx, inbound.Message{Source: "smtp", Raw: raw}); err != nil {
		t.Fatal(err)
	}
	r.wantStopped(t, "lead22@prospect.test", "replied")
	r.wantStopped(t, "lead23@prospect.test", "colleague_replied")
}

// Issue 14, defect 3: the verification gate stops an enrollment whose
// address bounces, and says so with enrollment.stopped.
func TestGateStopsAreReported(t *testing.T) {
	t.Parallel()
	r := newStopRig(t, sequencer.Spec{Name: "gate"}, "nobody@prospect.test")
	ctx := context.Background()
	waitFor(t, 30*time.Second, "the gate's stop", func() bool {
		e, err := r.st.GetEnrollment(ctx, r.ws.ID, r.enr["nobody@prospect.test"])
		return err == nil && e.State == "stopped"
	})
	r.wantStopped(t, "nobody@prospect.test", "undeliverable")
	if n := len(r.world.Messages()); n != 0 {
		t.Fatalf("%d messages sent to an undeliverable address", n)
	}
}

// Issue 14, defect 3: a disposition that ends a lead's run (disqualify,
// recycle) stops its enrollments and says so with enrollment.stopped.
func TestDispositionStopsAreReported(t *testing.T) {
	t.Parallel()
	r := newStopRig(t, sequencer.Spec{Name: "disposition"}, "lead24@prospect.test")
	ctx := context.Background()
	r.sentTo(t, "lead24@prospect.test")
	e, err := r.st.GetEnrollment(ctx, r.ws.ID, r.enr["lead24@prospect.test"])
	if err != nil {
		t.Fatal(err)
	}
	l, err := r.op.Disposition(ctx, r.ws.ID, e.LeadID, "disqualify", "not a fit")
	if err != nil || l.Stage != "disqualified" {
		t.Fatalf("disposition: %+v %v", l, err)
	}
	r.wantStopped(t, "lead24@prospect.test", "disqualify")
}
