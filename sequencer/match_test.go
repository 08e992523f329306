package sequencer

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/touchline/touchline/internal/inbound"
	"github.com/touchline/touchline/internal/inbound/classify"
	"github.com/touchline/touchline/internal/store"
	"github.com/touchline/touchline/internal/store/storetest"
	"github.com/touchline/touchline/sequencer/message"
)

// TestMatchTouchIsTheInboxsOrder: the inbox and `touchline classify` both
// match with MatchTouch; this pins its order, its scoping and that the
// inbox finds the same.
func TestMatchTouchIsTheInboxsOrder(t *testing.T) {
	t.Parallel()
	st, _ := storetest.New(t)
	ctx := context.Background()
	ws, err := st.EnsureWorkspace(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	mb, err := st.CreateMailbox(ctx, ws.ID, store.Mailbox{FromAddress: "ana@acme.test", SMTPHost: "smtp.acme.test", SMTPPort: 587,
		SMTPSecurity: "starttls", DailyCap: 50, Timezone: "UTC"}, func(int64) (store.Sealed, error) { return store.Sealed{}, nil })
	if err != nil {
		t.Fatal(err)
	}
	cad, err := st.CreateCadence(ctx, ws.ID, store.Cadence{Name: "q3", RiskyPolicy: "skip", MailboxIDs: []int64{mb.ID},
		Window: json.RawMessage(`{}`), Steps: json.RawMessage(`[]`)})
	if err != nil {
		t.Fatal(err)
	}
	const lead, sentID = "jane@prospect.test", "<t1@acme.test>"
	var en, leadID int64
	err = st.InTx(ctx, func(tx pgx.Tx) error {
		l, err := st.UpsertLead(ctx, tx, ws.ID, store.LeadInput{Email: lead})
		if err != nil {
			return err
		}
		leadID = l.ID
		en, _, err = st.InsertEnrollment(ctx, tx, ws.ID, cad.ID, l.ID, mb.ID, "email", time.Now())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if c, err := st.ClaimTouch(ctx, store.ClaimRequest{EnrollmentID: en, Step: 1, Workspace: ws.ID, Email: lead, Domain: "prospect.test",
		MailboxID: mb.ID, CapToday: 50, Day: time.Now().UTC().Truncate(24 * time.Hour), MessageID: sentID}); err != nil || !c.Claimed {
		t.Fatalf("claim: %+v, %v", c, err)
	}
	if err := st.InTx(ctx, func(tx pgx.Tx) error {
		return st.RecordSent(ctx, tx, store.Sent{Workspace: ws.ID, EnrollmentID: en, LeadID: leadID, Step: 1, Finish: true})
	}); err != nil {
		t.Fatal(err)
	}
	key := []byte("0123456789abcdef0123456789abcdef")
	verp := message.ReturnPath(key, en, 1, "bounces.acme.test")
	forged := message.ReturnPath([]byte("another key, another server 0000"), en, 1, "bounces.acme.test")
	unsubKey := []byte("fedcba9876543210fedcba9876543210")
	keys := MatchKeys{VERP: key, Unsubscribe: unsubKey}
	ib := &Inbox{Engine: &Engine{Store: st, VERPKey: key, UnsubscribeKey: unsubKey}}
	unsub := "unsubscribe+" + message.UnsubscribeToken(unsubKey, ws.ID, leadID, en) + "@bounces.acme.test"
	forgedUnsub := "unsubscribe+" + message.UnsubscribeToken(key, ws.ID, leadID, en) + "@bounces.acme.test"

	bounce := classify.Result{Class: classify.ClassBounce, OriginalMessageID: sentID}
	reply := classify.Result{Class: classify.ClassHumanReply}
	for _, tc := range []struct {
		name string
		to   []string
		res  classify.Result
		from string
		by   string
	}{
		{"verp", []string{"other@bounces.acme.test", verp}, classify.Result{Class: classify.ClassBounce}, "", "verp"},
		{"unsubscribe address, from an alias", []string{unsub}, classify.Result{Class: classify.ClassUnsubscribe}, "alias@elsewhere.test", "unsubscribe-address"},
		{"forged unsubscribe address", []string{forgedUnsub}, classify.Result{Class: classify.ClassUnsubscribe}, "alias@elsewhere.test", ""},
		{"forged verp, reported Message-ID", []string{forged}, bounce, "mailer-daemon@mx.prospect.test", "in-reply-to"},
		{"references", nil, classify.Result{Class: classify.ClassHumanReply, References: []string{"<x@y>", sentID}}, lead, "in-reply-to"},
		{"sender", nil, reply, lead, "sender"},
		{"a bounce is not matched by its sender", nil, classify.Result{Class: classify.ClassBounce}, lead, ""},
		{"a complaint neither", nil, classify.Result{Class: classify.ClassComplaint}, lead, ""},
		{"a stranger", nil, reply, "someone@else.test", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			itm, iby := ib.match(ctx, inbound.Message{To: tc.to}, tc.res, tc.from)
			m, err := MatchTouch(ctx, st, keys, store.AnyWorkspace, tc.to, tc.res, tc.from)
			if err != nil {
				t.Fatal(err)
			}
			if iby != tc.by || m.By != tc.by || (itm == nil) != (m.Touch == nil) || !reflect.DeepEqual(itm, m.Touch) {
				t.Fatalf("Inbox.match: %+v by %q; MatchTouch: %+v by %q; want by %q", itm, iby, m.Touch, m.By, tc.by)
			}
			if m.Touch != nil && (m.Touch.EnrollmentID != en || m.Touch.Step != 1 || m.Touch.Workspace != ws.ID) {
				t.Errorf("matched %+v, want enrollment %d step 1", *m.Touch, en)
			}
			// Scoped to the touch's own workspace: the same; to another,
			// or to an unset workspace (0): nothing.
			if own, err := MatchTouch(ctx, st, keys, ws.ID, tc.to, tc.res, tc.from); err != nil || own.By != tc.by {
				t.Errorf("in workspace %d: by %q (%v), want %q", ws.ID, own.By, err, tc.by)
			}
			for _, other := range []int64{0, ws.ID + 1000} {
				if o, err := MatchTouch(ctx, st, keys, other, tc.to, tc.res, tc.from); err != nil || o.Touch != nil {
					t.Errorf("in workspace %d: matched %+v by %q (%v), want nothing", other, o.Touch, o.By, err)
				}
			}
			if m.Touch == nil && len(m.Tried) != 3 {
				t.Errorf("tried %q: want one line per way (verp, in-reply-to, sender)", m.Tried)
			}
		})
	}
}
