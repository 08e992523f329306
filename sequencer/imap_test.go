package sequencer_test

import (
	"bytes"
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"

	"github.com/touchline/touchline/internal/mailsim/sendertest"
	"github.com/touchline/touchline/internal/store"
	"github.com/touchline/touchline/sequencer"
)

type literal struct{ *bytes.Reader }

func (l literal) Size() int64 { return int64(l.Len()) }

// TestReplyPolledOverIMAP: a reply that lands in the rep's own mailbox is
// read over IMAP, read-only, and stops the enrollment.
func TestReplyPolledOverIMAP(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	ctx := context.Background()
	mem := imapmemserver.New()
	user := imapmemserver.NewUser("ana@sender.test", "imap-secret")
	user.Create("INBOX", nil)
	mem.AddUser(user)
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps:         imap.CapSet{imap.CapIMAP4rev1: {}},
		InsecureAuth: true,
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	p, _ := strconv.Atoi(port)

	ip, _ := r.world.HostIP("smtp.sender.test")
	zero := 0
	m, err := r.op.CreateMailbox(ctx, r.ws.ID, sequencer.MailboxInput{FromAddress: "ana@sender.test", SMTPHost: ip.String(), SMTPPort: r.world.SMTPPort(),
		DailyCap: 100, MinSpacingSeconds: &zero, JitterSeconds: &zero, DKIMSelector: "s1", DKIMPrivateKey: r.dkim,
		IMAPHost: "127.0.0.1", IMAPPort: p, IMAPSecurity: "none", IMAPUsername: "ana@sender.test", IMAPPassword: "imap-secret"})
	if err != nil {
		t.Fatal(err)
	}
	if !m.HasPassword && m.IMAPHost != "127.0.0.1" {
		t.Fatalf("mailbox %+v", m)
	}
	c, _, err := r.op.CreateCadence(ctx, r.ws.ID, sequencer.Spec{Name: "imap", Window: sendertest.AllDay(), MailboxIDs: []int64{m.ID},
		Steps: []sequencer.Step{{Channel: "email", Delay: "0", Subject: "Hello {{first_name}}", Body: "Hi."}, {Channel: "email", Delay: "1h", Subject: "Again", Body: "Hi."}}})
	if err != nil {
		t.Fatal(err)
	}
	r.op.Launch(ctx, r.ws.ID, c.ID, false)
	out, _ := r.op.Enroll(ctx, r.ws.ID, c.ID, sequencer.EnrollRequest{Start: "now", Leads: []store.LeadInput{{Email: "lead11@prospect.test", FirstName: "K"}}})
	first := firstMessages(t, r, 1)["lead11@prospect.test"]
	raw := reply("lead11@prospect.test", "ana@sender.test", first.messageID, "Re: Hello K", "Yes, let's meet on Thursday.")
	if _, err := user.Append("INBOX", literal{bytes.NewReader(raw)}, &imap.AppendOptions{Time: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.op.River.Insert(ctx, sequencer.PollIMAPArgs{Workspace: r.ws.ID, MailboxID: m.ID}, nil); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		e, _ := r.st.GetEnrollment(ctx, r.ws.ID, out[0].EnrollmentID)
		if e.State == "stopped" && e.StateReason == "replied" {
			break
		}
		if time.Now().After(deadline) {
			mb, _ := r.st.GetMailbox(ctx, r.ws.ID, m.ID)
			t.Fatalf("enrollment %s (%s) after polling; mailbox IMAP error %q", e.State, e.StateReason, mb.IMAPError)
		}
		time.Sleep(20 * time.Millisecond)
	}
	st, err := user.Status("INBOX", &imap.StatusOptions{NumUnseen: true})
	if err != nil || st.NumUnseen == nil || *st.NumUnseen != 1 {
		t.Fatalf("the reply is no longer unread in the rep's mailbox: %+v %v", st, err)
	}
	msgs, _ := r.st.ListInbound(ctx, r.ws.ID, "human_reply", 0, 10)
	if len(msgs) != 1 || msgs[0].Source != "imap:"+strconv.FormatInt(m.ID, 10) || msgs[0].MatchedBy != "in-reply-to" {
		t.Fatalf("inbound %+v", msgs)
	}
}
