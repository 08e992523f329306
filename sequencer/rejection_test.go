package sequencer_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/touchline/touchline/internal/mailsim"
	"github.com/touchline/touchline/internal/mailsim/sendertest"
	"github.com/touchline/touchline/internal/store"
	"github.com/touchline/touchline/sequencer"
	"github.com/touchline/touchline/verifier"
)

// Refusals at send time are classified like bounces (issue: "SMTP
// rejections at send time are classified the same way"): a 5.1.1 is a
// hard bounce of the address; a 5.7.26 refuses the sender, never the
// address, and backs the mailbox off that provider; a 5.2.2 is soft.
func TestSendTimeRejectionsAreClassified(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	ctx := context.Background()
	r.world.AddHost(mailsim.Host{Name: "mx.gone.test"})
	r.world.AddDomain(mailsim.Domain{Name: "gone.test", MX: []mailsim.MX{{Pref: 10, Host: "mx.gone.test"}}, AcceptData: true})
	r.world.AddHost(mailsim.Host{Name: "aspmx.l.bigmail.test"})
	r.world.AddDomain(mailsim.Domain{Name: "policy.test", MX: []mailsim.MX{{Pref: 10, Host: "aspmx.l.bigmail.test"}}, AcceptData: true,
		PolicyBlock: &mailsim.Reply{Code: 550, Text: "5.7.26 Unauthenticated email from sender.test is not accepted due to domain's DMARC policy."}})
	r.world.AddHost(mailsim.Host{Name: "mx.full.test"})
	r.world.AddDomain(mailsim.Domain{Name: "full.test", MX: []mailsim.MX{{Pref: 10, Host: "mx.full.test"}}, AcceptData: true,
		Mailboxes: map[string]mailsim.Mailbox{"pat": mailsim.Full}})

	m := r.mailbox(100)
	c, _, err := r.op.CreateCadence(ctx, r.ws.ID, sequencer.Spec{Name: "rej", Steps: eightSteps()[:1], Window: sendertest.AllDay(), MailboxIDs: []int64{m.ID}})
	if err != nil {
		t.Fatal(err)
	}
	leads := []store.LeadInput{{Email: "lead1@prospect.test", FirstName: "Ok"}, {Email: "nobody@gone.test", FirstName: "Gone"},
		{Email: "cfo@policy.test", FirstName: "Pol"}, {Email: "pat@full.test", FirstName: "Pat"}}
	out, err := r.op.Enroll(ctx, r.ws.ID, c.ID, sequencer.EnrollRequest{Start: "now", Leads: leads})
	if err != nil {
		t.Fatal(err)
	}
	ids, leadIDs := map[string]int64{}, map[string]int64{}
	mx := map[string]string{"prospect.test": "mx.prospect.test", "gone.test": "mx.gone.test", "policy.test": "aspmx.l.bigmail.test", "full.test": "mx.full.test"}
	for _, o := range out {
		ids[o.Email], leadIDs[o.Email] = o.EnrollmentID, o.LeadID
		// Verified deliverable a while ago (the verifier would have
		// caught gone.test; lists go stale): the send finds out.
		v := verifier.Verdict{Status: verifier.Deliverable, MXHosts: []string{mx[o.Email[len(o.Email)-len(domainPart(o.Email)):]]}}
		if err := r.st.SetLeadVerification(ctx, r.ws.ID, o.LeadID, "deliverable", "accepted", v); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.op.Launch(ctx, r.ws.ID, c.ID, false); err != nil {
		t.Fatal(err)
	}

	types := func(email string) map[string]int {
		evs, err := r.st.LeadEvents(ctx, r.ws.ID, leadIDs[email])
		if err != nil {
			t.Fatal(err)
		}
		n := map[string]int{}
		for _, ev := range evs {
			n[ev.Type]++
		}
		return n
	}
	waitFor(t, 20*time.Second, "every touch tried", func() bool {
		return types("nobody@gone.test")["hard_bounce"] == 1 && types("cfo@policy.test")["sender_rejection"] == 1 &&
			types("pat@full.test")["soft_bounce"] >= 1 && types("lead1@prospect.test")["touch_sent"] == 1
	})

	// Hard: the address is dead: undeliverable (bounced), suppressed,
	// enrollment stopped, the touch failed with outcome hard_bounce.
	gone, _ := r.st.GetEnrollment(ctx, r.ws.ID, ids["nobody@gone.test"])
	if gone.State != "stopped" || gone.StateReason != "bounced" || gone.Touches[0].Status != "failed" || gone.Touches[0].Outcome != "hard_bounce" {
		t.Errorf("gone.test: %s (%s), touch %+v", gone.State, gone.StateReason, gone.Touches[0])
	}
	if lead, _ := r.st.GetLead(ctx, r.ws.ID, leadIDs["nobody@gone.test"]); lead.Verification == nil || lead.Verification.Status != "undeliverable" || lead.Verification.Reason != "bounced" {
		t.Errorf("gone.test verdict %+v", lead.Verification)
	}
	if sup, _ := r.st.IsSuppressed(ctx, r.ws.ID, "nobody@gone.test"); !sup {
		t.Error("hard-bounced address not suppressed")
	}

	// Sender: the address is fine and the touch waits; the mailbox backs
	// off the provider (bigmail.test, from the MX), 5 minutes between sends.
	pol, _ := r.st.GetEnrollment(ctx, r.ws.ID, ids["cfo@policy.test"])
	if pol.State != "active" || pol.Touches[0].Status != "scheduled" {
		t.Errorf("policy.test: %s, touch %+v", pol.State, pol.Touches[0])
	}
	if sup, _ := r.st.IsSuppressed(ctx, r.ws.ID, "cfo@policy.test"); sup {
		t.Error("a sender-side rejection suppressed the recipient")
	}
	if lead, _ := r.st.GetLead(ctx, r.ws.ID, leadIDs["cfo@policy.test"]); lead.Verification.Status != "deliverable" {
		t.Errorf("a sender-side rejection changed the verdict: %+v", lead.Verification)
	}
	bo, err := r.st.Backoffs(ctx, m.ID)
	if err != nil || len(bo) != 1 || bo[0].Provider != "bigmail.test" || bo[0].Level != 1 || bo[0].Spacing != "5m0s" {
		t.Fatalf("back-offs %+v %v", bo, err)
	}
	if all, _ := r.st.WorkspaceBackoffs(ctx, r.ws.ID); len(all[m.ID]) != 1 || all[m.ID][0] != bo[0] {
		t.Errorf("GET /v1/mailboxes would show %+v", all)
	}
	if ok, next, _ := r.st.TakeProviderSlot(ctx, m.ID, "bigmail.test"); ok || time.Until(next) < 4*time.Minute {
		t.Errorf("provider slot taken during back-off (ok %v, next in %s)", ok, time.Until(next))
	}
	if ok, _, _ := r.st.TakeProviderSlot(ctx, m.ID, "prospect.test"); !ok {
		t.Error("back-off spilled over to another provider")
	}

	// Soft: the touch waits a day (SoftRetryAfter), not River's quick
	// retries, which would call a full mailbox dead within a minute;
	// nothing against the address yet.
	time.Sleep(1500 * time.Millisecond)
	full, _ := r.st.GetEnrollment(ctx, r.ws.ID, ids["pat@full.test"])
	if full.State != "active" || full.Touches[0].Status != "scheduled" || types("pat@full.test")["soft_bounce"] != 1 {
		t.Errorf("full.test: %s, touch %+v, events %v", full.State, full.Touches[0], types("pat@full.test"))
	}
	if sup, _ := r.st.IsSuppressed(ctx, r.ws.ID, "pat@full.test"); sup {
		t.Error("one soft bounce suppressed the address")
	}
	var to []string
	for _, msg := range r.world.Messages() {
		to = append(to, msg.To...)
	}
	if len(to) != 1 || to[0] != "lead1@prospect.test" {
		t.Errorf("delivered to %v", to)
	}
}

// Each further rejection from the same provider halves the mailbox's rate
// to it, up to 160 minutes between sends; a quiet day resets it.
func TestBackoffLevels(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	ctx := context.Background()
	m := r.mailbox(100)
	for i, want := range []string{"5m0s", "10m0s", "20m0s", "40m0s", "1h20m0s", "2h40m0s", "2h40m0s"} {
		var b store.Backoff
		err := r.st.InTx(ctx, func(tx pgx.Tx) error {
			var err error
			b, err = r.st.RecordSenderRejection(ctx, tx, store.SenderRejection{Workspace: r.ws.ID, MailboxID: m.ID, Provider: "bigmail.test",
				AtSend: true, Status: "5.7.26", Reason: "authentication"})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if b.Spacing != want || time.Until(b.NextAt) < 0 {
			t.Fatalf("rejection %d: spacing %s (level %d), want %s", i+1, b.Spacing, b.Level, want)
		}
	}
	if _, err := r.st.Pool().Exec(ctx, `UPDATE mailbox_backoffs SET rejected_at = now() - interval '25 hours', next_at = now() - interval '1 hour'`); err != nil {
		t.Fatal(err)
	}
	if ok, _, _ := r.st.TakeProviderSlot(ctx, m.ID, "bigmail.test"); !ok {
		t.Error("a back-off outlived a day without rejections")
	}
	if bo, _ := r.st.Backoffs(ctx, m.ID); len(bo) != 0 {
		t.Errorf("expired back-offs listed: %+v", bo)
	}
}

// Sender-side refusals from several providers, one each, pause the mailbox
// once they pass the guardrail (more than 3 in its last 100 attempts).
func TestSendTimeSenderRejectionsPauseTheMailbox(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	ctx := context.Background()
	var leads []store.LeadInput
	for i := range 5 {
		d := fmt.Sprintf("policy%d.test", i)
		r.world.AddHost(mailsim.Host{Name: "mx." + d})
		r.world.AddDomain(mailsim.Domain{Name: d, MX: []mailsim.MX{{Pref: 10, Host: "mx." + d}}, AcceptData: true,
			PolicyBlock: &mailsim.Reply{Code: 554, Text: "5.7.1 Service unavailable; Client host [127.0.0.1] blocked using zen.spamhaus.org"}})
		leads = append(leads, store.LeadInput{Email: "buyer@" + d, FirstName: "B"})
	}
	m := r.mailbox(100)
	c, _, err := r.op.CreateCadence(ctx, r.ws.ID, sequencer.Spec{Name: "bl", Steps: eightSteps()[:1], Window: sendertest.AllDay(), MailboxIDs: []int64{m.ID}})
	if err != nil {
		t.Fatal(err)
	}
	out, err := r.op.Enroll(ctx, r.ws.ID, c.ID, sequencer.EnrollRequest{Start: "now", Leads: leads})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range out {
		r.st.SetLeadVerification(ctx, r.ws.ID, o.LeadID, "deliverable", "accepted", nil)
	}
	if _, err := r.op.Launch(ctx, r.ws.ID, c.ID, false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "mailbox paused", func() bool {
		mb, _ := r.st.GetMailbox(ctx, r.ws.ID, m.ID)
		return mb.PausedReason != ""
	})
	mb, _ := r.st.GetMailbox(ctx, r.ws.ID, m.ID)
	var hits, sends int
	if _, err := fmt.Sscanf(mb.PausedReason, "sender_rejections: %d in the last %d sends (limit 3%%)", &hits, &sends); err != nil || hits < 4 || hits != sends {
		t.Errorf("paused reason %q", mb.PausedReason)
	}
	sc, _ := r.st.GetCadence(ctx, r.ws.ID, c.ID)
	if sc.Status != "active" {
		t.Errorf("the cadence paused too (%s): the list is not to blame", sc.PausedReason)
	}
	for _, o := range out {
		if sup, _ := r.st.IsSuppressed(ctx, r.ws.ID, o.Email); sup {
			t.Errorf("%s suppressed for the sender's trouble", o.Email)
		}
	}
}

func domainPart(email string) string {
	for i := len(email) - 1; i >= 0; i-- {
		if email[i] == '@' {
			return email[i+1:]
		}
	}
	return ""
}

// waitFor polls cond every 20 ms until it holds, or fails the test.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(limit); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %s", what, limit)
		}
	}
}

// A lead that cannot be mailed as it stands is skipped once, not retried;
// a mailbox whose secrets cannot be opened is paused, its touch left
// unclaimed (never marked uncertain for a message that never left).
func TestUnsendableTouches(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	ctx := context.Background()
	m := r.mailbox(100)
	c, _, err := r.op.CreateCadence(ctx, r.ws.ID, sequencer.Spec{Name: "x", Steps: eightSteps()[:1], Window: sendertest.AllDay(), MailboxIDs: []int64{m.ID}})
	if err != nil {
		t.Fatal(err)
	}
	out, err := r.op.Enroll(ctx, r.ws.ID, c.ID, sequencer.EnrollRequest{Start: "now", Leads: []store.LeadInput{{Email: "jürgen@prospect.test", FirstName: "Jürgen"}}})
	if err != nil || out[0].Outcome != "enrolled" {
		t.Fatalf("%+v %v", out, err)
	}
	r.st.SetLeadVerification(ctx, r.ws.ID, out[0].LeadID, "deliverable", "accepted", nil)
	if _, err := r.op.Launch(ctx, r.ws.ID, c.ID, false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "non-ASCII local part skipped", func() bool {
		e, _ := r.st.GetEnrollment(ctx, r.ws.ID, out[0].EnrollmentID)
		return e.State == "stopped" && strings.HasPrefix(e.StateReason, "invalid_message:") && e.Touches[0].Status == "skipped"
	})

	// Another mailbox's DKIM key moved onto this row: AES-GCM's associated
	// data (the row) refuses it.
	ip, _ := r.world.HostIP("smtp.sender.test")
	zero := 0
	m2, err := r.op.CreateMailbox(ctx, r.ws.ID, sequencer.MailboxInput{FromAddress: "bo@sender.test", FromName: "Bo Lind", SMTPHost: ip.String(), SMTPPort: r.world.SMTPPort(),
		SMTPSecurity: "starttls", DailyCap: 100, MinSpacingSeconds: &zero, JitterSeconds: &zero, DKIMSelector: "s1", DKIMPrivateKey: r.dkim})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.st.Pool().Exec(ctx, `UPDATE mailboxes SET dkim_key_sealed = (SELECT dkim_key_sealed FROM mailboxes WHERE id = $1) WHERE id = $2`, m.ID, m2.ID); err != nil {
		t.Fatal(err)
	}
	c2, _, err := r.op.CreateCadence(ctx, r.ws.ID, sequencer.Spec{Name: "y", Steps: eightSteps()[:1], Window: sendertest.AllDay(), MailboxIDs: []int64{m2.ID}})
	if err != nil {
		t.Fatal(err)
	}
	out2, err := r.op.Enroll(ctx, r.ws.ID, c2.ID, sequencer.EnrollRequest{Start: "now", Leads: []store.LeadInput{{Email: "lead7@prospect.test", FirstName: "L"}}})
	if err != nil {
		t.Fatal(err)
	}
	r.st.SetLeadVerification(ctx, r.ws.ID, out2[0].LeadID, "deliverable", "accepted", nil)
	if _, err := r.op.Launch(ctx, r.ws.ID, c2.ID, true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "mailbox paused", func() bool {
		mb, _ := r.st.GetMailbox(ctx, r.ws.ID, m2.ID)
		return strings.HasPrefix(mb.PausedReason, "secrets: ")
	})
	e, _ := r.st.GetEnrollment(ctx, r.ws.ID, out2[0].EnrollmentID)
	if e.State != "active" || e.Touches[0].Status != "scheduled" {
		t.Errorf("enrollment %s, touch %+v: want active and still scheduled", e.State, e.Touches[0])
	}
	if n := len(r.world.Messages()); n != 0 {
		t.Errorf("%d messages sent", n)
	}
}
