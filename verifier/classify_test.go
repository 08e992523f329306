package verifier

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestClassifyRealReplies runs the classifier over real reply texts from
// Gmail, Microsoft 365, Yahoo, Postfix, Exim, Exchange, Mimecast,
// Proofpoint and others (testdata/replies.tsv, sources in its last column).
func TestClassifyRealReplies(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/replies.tsv")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	for i, line := range lines[1:] {
		f := strings.Split(line, "\t")
		provider, stage, codeStr, text, wantStatus, wantReason := f[0], f[1], f[2], f[3], f[4], f[5]
		code, err := strconv.Atoi(codeStr)
		if err != nil {
			t.Fatalf("line %d: code %q", i+2, codeStr)
		}
		text = strings.ReplaceAll(text, `\n`, "\n")
		r := Reply{Code: code, Text: text}
		if ec, rest, ok := splitEnhanced(code, text); ok {
			r.Enhanced, r.Text = ec, rest
		}
		var st Status
		var rs Reason
		if stage == "rcpt" {
			st, rs = classifyRcpt(r)
		} else {
			st, rs = classifySession(r)
		}
		if string(st) != wantStatus || string(rs) != wantReason {
			t.Errorf("line %d %s %s: %d %s\n  got %s/%s, want %s/%s", i+2, provider, stage, code, text, st, rs, wantStatus, wantReason)
		}
	}
}

func TestClassifyByCodeFirst(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		r      Reply
		status Status
		reason Reason
	}{
		// The enhanced code decides even when the text is unhelpful.
		{Reply{Code: 550, Enhanced: "5.1.1", Text: "Rejected"}, Undeliverable, ReasonMailboxNotFound},
		{Reply{Code: 550, Enhanced: "5.2.1", Text: "Rejected"}, Undeliverable, ReasonMailboxDisabled},
		{Reply{Code: 552, Enhanced: "5.2.2", Text: "Rejected"}, Risky, ReasonMailboxFull},
		{Reply{Code: 452, Enhanced: "4.2.2", Text: "Try later"}, Risky, ReasonMailboxFull},
		// A policy code is not a missing mailbox, whatever the text adds.
		{Reply{Code: 550, Enhanced: "5.7.1", Text: "Rejected: message refused"}, Unknown, ReasonBlocked},
		{Reply{Code: 550, Enhanced: "5.7.606", Text: "Access denied, banned sending IP [1.2.3.4]"}, Unknown, ReasonBlocked},
		{Reply{Code: 451, Enhanced: "4.7.1", Text: "Please try again later"}, Unknown, ReasonGreylisted},
		{Reply{Code: 450, Enhanced: "4.7.1", Text: "Client host rejected: too many connections"}, Unknown, ReasonTemporary},
		{Reply{Code: 421, Enhanced: "4.7.0", Text: "Try again later, closing connection"}, Unknown, ReasonTemporary},
		{Reply{Code: 252, Enhanced: "2.1.5", Text: "Cannot VRFY user, but will accept message"}, Deliverable, ReasonAccepted},
		// No enhanced code: text decides, then the bare code.
		{Reply{Code: 550, Text: "Requested action not taken: mailbox unavailable"}, Undeliverable, ReasonMailboxNotFound},
		{Reply{Code: 550, Text: "Blocked by SpamCop"}, Unknown, ReasonBlocked},
		{Reply{Code: 550, Text: "Requested action not taken"}, Undeliverable, ReasonMailboxNotFound},
		{Reply{Code: 554, Text: "Transaction failed"}, Unknown, ReasonBlocked},
		{Reply{Code: 552, Text: "Requested mail action aborted: exceeded storage allocation"}, Risky, ReasonMailboxFull},
		{Reply{Code: 501, Enhanced: "5.1.3", Text: "Bad recipient address syntax"}, Undeliverable, ReasonSyntax},
		// Our sender refused at RCPT time quotes "user unknown" about the
		// sender, not the recipient.
		{Reply{Code: 550, Enhanced: "5.1.7", Text: "<postmaster@probe.test>: Sender address rejected: undeliverable address: host x said: 550 5.1.1 User unknown"}, Unknown, ReasonBlocked},
		{Reply{Code: 550, Text: "Sender verify failed: no such user"}, Unknown, ReasonBlocked},
		{Reply{Code: 553, Enhanced: "5.7.1", Text: "Sender domain does not exist"}, Unknown, ReasonBlocked},
		{Reply{Code: 550, Enhanced: "5.1.8", Text: "Domain of sender address does not exist"}, Unknown, ReasonBlocked},
		// An enhanced code written later in the text still counts.
		{Reply{Code: 550, Text: "#5.1.0 Address rejected"}, Undeliverable, ReasonMailboxNotFound},
	} {
		st, rs := classifyRcpt(tc.r)
		if st != tc.status || rs != tc.reason {
			t.Errorf("%d %s %s: got %s/%s, want %s/%s", tc.r.Code, tc.r.Enhanced, tc.r.Text, st, rs, tc.status, tc.reason)
		}
	}
}
