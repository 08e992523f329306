package cli

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/touchline/touchline/internal/secret"
	"github.com/touchline/touchline/internal/store"
	"github.com/touchline/touchline/internal/store/storetest"
	"github.com/touchline/touchline/sequencer/message"
)

// sentTouch enrolls email in a new cadence of workspace wsName and records
// its first touch as sent with msgID, as the sequencer does.
func sentTouch(t *testing.T, st *store.Store, wsName, email, msgID string) (store.Workspace, int64) {
	t.Helper()
	ctx := context.Background()
	ws, err := st.EnsureWorkspace(ctx, wsName)
	if err != nil {
		t.Fatal(err)
	}
	mb, err := st.CreateMailbox(ctx, ws.ID, store.Mailbox{FromAddress: "ana@" + wsName + ".test", SMTPHost: "smtp." + wsName + ".test",
		SMTPPort: 587, SMTPSecurity: "starttls", DailyCap: 50, Timezone: "UTC"},
		func(int64) (store.Sealed, error) { return store.Sealed{}, nil })
	if err != nil {
		t.Fatal(err)
	}
	cad, err := st.CreateCadence(ctx, ws.ID, store.Cadence{Name: "Q3 " + wsName, RiskyPolicy: "skip", MailboxIDs: []int64{mb.ID},
		Window: json.RawMessage(`{}`), Steps: json.RawMessage(`[]`)})
	if err != nil {
		t.Fatal(err)
	}
	var en int64
	err = st.InTx(ctx, func(tx pgx.Tx) error {
		lead, err := st.UpsertLead(ctx, tx, ws.ID, store.LeadInput{Email: email})
		if err != nil {
			return err
		}
		en, _, err = st.InsertEnrollment(ctx, tx, ws.ID, cad.ID, lead.ID, mb.ID, "email", time.Now())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	en0, err := st.GetEnrollment(ctx, ws.ID, en)
	if err != nil {
		t.Fatal(err)
	}
	c, err := st.ClaimTouch(ctx, store.ClaimRequest{EnrollmentID: en, Step: 1, Workspace: ws.ID, Email: email,
		Domain: email[strings.IndexByte(email, '@')+1:], MailboxID: mb.ID, CapToday: 50, Day: time.Now().UTC().Truncate(24 * time.Hour), MessageID: msgID})
	if err != nil || !c.Claimed {
		t.Fatalf("claim: %+v, %v", c, err)
	}
	err = st.InTx(ctx, func(tx pgx.Tx) error {
		return st.RecordSent(ctx, tx, store.Sent{Workspace: ws.ID, EnrollmentID: en, LeadID: en0.LeadID, Step: 1, Finish: true})
	})
	if err != nil {
		t.Fatal(err)
	}
	return ws, en
}

// postfixDSN is a bounce as Postfix writes it for an unknown user: sent to
// the VERP return path, the original's headers attached.
func postfixDSN(verp, rcpt, origID string, extra ...string) string {
	b := "4ZkBoundary.1772447460/mx.prospect.test"
	h := "Return-Path: <>\n"
	for _, e := range extra {
		h += e + "\n"
	}
	return h + "From: MAILER-DAEMON@mx.prospect.test (Mail Delivery System)\nTo: " + verp + "\n" +
		"Subject: Undelivered Mail Returned to Sender\nDate: Mon, 2 Mar 2026 10:31:00 +0000\n" +
		"Message-Id: <20260302103100.4ZkB@mx.prospect.test>\nAuto-Submitted: auto-replied\nMIME-Version: 1.0\n" +
		"Content-Type: multipart/report; report-type=delivery-status; boundary=\"" + b + "\"\n\n" +
		"--" + b + "\nContent-Description: Notification\nContent-Type: text/plain; charset=us-ascii\n\n" +
		"I'm sorry to have to inform you that your message could not\nbe delivered to one or more recipients.\n\n" +
		"--" + b + "\nContent-Description: Delivery report\nContent-Type: message/delivery-status\n\n" +
		"Reporting-MTA: dns; mx.prospect.test\nArrival-Date: Mon,  2 Mar 2026 10:30:59 +0000 (UTC)\n\n" +
		"Final-Recipient: rfc822; " + rcpt + "\nOriginal-Recipient: rfc822;" + rcpt + "\nAction: failed\nStatus: 5.1.1\n" +
		"Diagnostic-Code: smtp; 550 5.1.1 <" + rcpt + ">: Recipient address rejected: User unknown in local recipient table\n\n" +
		"--" + b + "\nContent-Description: Undelivered Message Headers\nContent-Type: text/rfc822-headers\n\n" +
		"From: Ana Ruiz <ana@acme.test>\nTo: " + rcpt + "\nSubject: Quick question\nMessage-ID: " + origID + "\n\n" +
		"--" + b + "--\n"
}

// TestClassifyMatch enrolls a lead in two workspaces, sends it a touch from
// each, and asks classify which enrollment a bounce and a reply match.
func TestClassifyMatch(t *testing.T) {
	t.Parallel()
	st, url := storetest.New(t)
	ctx := context.Background()
	const lead = "jane@prospect.test"
	acme, acmeEn := sentTouch(t, st, "acme", lead, "<touch1.acme@acme.test>")
	other, otherEn := sentTouch(t, st, "other", lead, "<touch1.other@other.test>") // sent later
	keyBytes := make([]byte, 32)
	for i := range keyBytes {
		keyBytes[i] = byte(i + 1)
	}
	key := base64.StdEncoding.EncodeToString(keyBytes)
	verp := message.ReturnPath(secret.Derive(keyBytes, "verp"), acmeEn, 1, "bounces.acme.test")

	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// The bounce reports on acme's touch; its VERP address is acme's.
	bounce := write("bounce.eml", postfixDSN(verp, lead, "<touch1.acme@acme.test>"))
	// A bounce whose copy of the original lost its Message-ID, saved by
	// Postfix's local delivery (X-Original-To).
	bounceNoID := write("bounce-noid.eml", strings.Replace(postfixDSN(verp, lead, "<x@y>", "X-Original-To: "+verp, "Delivered-To: "+verp), "Message-ID: <x@y>\n", "", 1))
	// A reply from the lead that kept no In-Reply-To.
	reply := write("reply.eml", "From: Jane <Jane@Prospect.test>\nTo: ana@acme.test\nSubject: your email\nDate: Tue, 3 Mar 2026 09:00:00 +0000\n"+
		"Message-ID: <r1@prospect.test>\nContent-Type: text/plain\n\nYes, let's talk on Thursday.\n")

	type want struct {
		by        string
		ws        store.Workspace
		en        int64
		tried     []string // substrings of Tried, in order
		notTried  string
		envSource string
	}
	db := []string{"--database-url", url}
	tests := []struct {
		name string
		args []string
		want want
	}{
		{"verp from --rcpt", []string{"--rcpt", verp, "--secret-key", key, bounce},
			want{by: "verp", ws: acme, en: acmeEn, envSource: "--rcpt"}},
		{"verp from X-Original-To", []string{"--secret-key", key, bounceNoID},
			want{by: "verp", ws: acme, en: acmeEn, envSource: "header"}},
		{"no key: the reported Message-ID", []string{"--rcpt", verp, bounce},
			want{by: "in-reply-to", ws: acme, en: acmeEn, tried: []string{"verp: give --secret-key"}, envSource: "--rcpt"}},
		{"another server's key", []string{"--rcpt", verp, "--secret-key", base64.StdEncoding.EncodeToString(make([]byte, 32)), bounce},
			want{by: "in-reply-to", ws: acme, en: acmeEn, tried: []string{"MAC does not match"}}},
		{"bounce in another workspace", []string{"--workspace", "other", "--rcpt", verp, "--secret-key", key, bounce},
			want{tried: []string{fmt.Sprintf("which does not exist in workspace %d", other.ID),
				fmt.Sprintf("Touchline sent none of <touch1.acme@acme.test> in workspace %d", other.ID),
				"sender: not tried for a bounce"}}},
		{"bounce, no VERP, no Message-ID", []string{bounceNoID},
			want{tried: []string{"verp: give --secret-key", "names no Message-ID", "sender: not tried for a bounce"}, envSource: "header"}},
		{"reply by sender, every workspace: the latest touch", []string{reply},
			want{by: "sender", ws: other, en: otherEn, tried: []string{"verp: no envelope recipient", "names no Message-ID"}}},
		{"reply by sender in acme", []string{"--workspace", "acme", reply},
			want{by: "sender", ws: acme, en: acmeEn}},
		{"workspace by ID", []string{"--workspace", fmt.Sprint(acme.ID), reply},
			want{by: "sender", ws: acme, en: acmeEn}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, stderr := run(t, "", append(append([]string{"classify", "--format", "json"}, db...), tc.args...)...)
			if code != ExitOK || stderr != "" {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
			got := decodeLines(t, out)
			if len(got) != 1 || got[0].Verdict == nil || got[0].Match == nil {
				t.Fatalf("want one matched verdict:\n%s", out)
			}
			m := got[0].Match
			w := tc.want
			if m.By != w.by || m.Found != (w.by != "") || m.WorkspaceID != w.ws.ID || m.Workspace != w.ws.Name || m.EnrollmentID != w.en {
				t.Errorf("match %+v\nwant by %q, workspace %+v, enrollment %d", *m, w.by, w.ws, w.en)
			}
			if w.by != "" && (m.Step != 1 || m.LeadEmail != lead || m.LeadID == 0 || m.Cadence != "Q3 "+w.ws.Name ||
				m.EnrollmentState != "finished" || m.TouchStatus != "sent" || m.TouchMessageID != "<touch1."+w.ws.Name+"@"+w.ws.Name+".test>") {
				t.Errorf("match details %+v", *m)
			}
			if w.envSource != "" && (m.EnvelopeSource != w.envSource || len(m.EnvelopeTo) != 1 || m.EnvelopeTo[0] != verp) {
				t.Errorf("envelope %q from %q, want %s from %s", m.EnvelopeTo, m.EnvelopeSource, verp, w.envSource)
			}
			i := 0
			for _, tr := range m.Tried {
				if i < len(w.tried) && strings.Contains(tr, w.tried[i]) {
					i++
				}
			}
			if i < len(w.tried) {
				t.Errorf("tried %q\nwant, in order, %q", m.Tried, w.tried)
			}
		})
	}

	// The text form, as a person reads it.
	code, out, stderr := run(t, "", append([]string{"classify", "--rcpt", verp, "--secret-key", key, bounce}, db...)...)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, s := range []string{
		"class:       bounce\n",
		"recipient:   " + lead + "\n",
		"kind hard (mailbox_not_found), status 5.1.1, action failed\n",
		"550 5.1.1 <" + lead + ">: Recipient address rejected",
		"envelope to: " + verp + "\n",
		fmt.Sprintf("match:       enrollment %d, step 1, by verp\n", acmeEn),
		fmt.Sprintf("workspace %d (acme); lead ", acme.ID),
		"enrollment finished; touch sent as <touch1.acme@acme.test>\n",
	} {
		if !strings.Contains(out, s) {
			t.Errorf("text lacks %q:\n%s", s, out)
		}
	}
	code, out, _ = run(t, "", append([]string{"classify", "--workspace", "other", bounce}, db...)...)
	if code != ExitOK || !strings.Contains(out, "match:       none\n") {
		t.Errorf("exit %d:\n%s", code, out)
	}

	// Bad settings are refused before any message is read.
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--workspace", "nobody", bounce}, ExitUsage, `--workspace "nobody": no workspace has that name or ID`},
		{[]string{"--secret-key", "short", bounce}, ExitUsage, "--secret-key / TOUCHLINE_SECRET_KEY: "},
	} {
		code, out, stderr := run(t, "", append(append([]string{"classify"}, db...), tc.args...)...)
		if code != tc.code || out != "" || !strings.Contains(stderr, tc.msg) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want %d and %q", tc.args, code, out, stderr, tc.code, tc.msg)
		}
	}

	// The command's connections cannot write.
	ro, err := store.OpenReadOnly(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if _, err := ro.EnsureWorkspace(ctx, "written"); err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Errorf("a write through OpenReadOnly: %v, want a read-only transaction error", err)
	}
}
