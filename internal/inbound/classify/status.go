package classify

import (
	"fmt"
	"strings"

	"github.com/touchline/touchline/internal/smtpreply"
)

// status is an RFC 3463 enhanced status code; zero when absent.
type status = smtpreply.Enhanced

// parseStatus finds the first enhanced status code in s, tolerating what
// real reports put around it: "5.0.0 (permanent failure)", "smtp; 550
// 5.1.1 ...", "#5.1.2".
func parseStatus(s string) status { return smtpreply.FindEnhanced(s) }

// diagnosticStatus chooses the status of a failed recipient from the
// report's Status field (the reporting MTA's summary, "outer") and the
// code in the remote server's reply quoted in the diagnostic ("inner"):
//
//   - the inner code's subject and detail win when it is specific and
//     differs: the receiving server saw the cause, the reporting MTA only
//     summarises it (Amazon SES writes "5.1.0 Unknown address error" around
//     an inner 5.2.2 mailbox full);
//   - the outer class wins: whether the failure is final is the reporting
//     MTA's to say (RFC 3464 §2.3.3-2.3.4), as when it gives up on a
//     recipient that kept answering 4.2.2;
//   - without either, the class comes from the reply code in the text, or
//     from whether the report calls the failure permanent.
func diagnosticStatus(field string, diag string, permanent bool) status {
	outer := parseStatus(field)
	inner := parseStatus(diag)
	if inner.Valid() {
		if code := smtpreply.FindCode(diag); code != 0 && code/100 != inner.Class && code/100 != 2 {
			// "550 4.2.2": the reply code's class is the server's verdict.
			inner.Class = code / 100
		}
	}
	switch {
	case outer.Valid() && inner.Valid() && !inner.Generic() && inner.Class != 2:
		return status{Class: outer.Class, Subject: inner.Subject, Detail: inner.Detail}
	case outer.Valid():
		return outer
	case inner.Valid():
		return inner
	}
	class := 5
	if code := smtpreply.FindCode(diag); code >= 400 {
		class = code / 100
	} else if !permanent {
		class = 4
	}
	return status{Class: class}
}

// replyStage reads which SMTP command a quoted reply answered, where the
// reporting MTA says so (Postfix "(in reply to RCPT TO command)", Exim
// "after RCPT TO:", Sendmail ">>> RCPT To:").
func replyStage(diag string) smtpreply.Stage {
	l := strings.ToLower(diag)
	switch {
	case strings.Contains(l, "rcpt to"):
		return smtpreply.StageRcpt
	case strings.Contains(l, "end of data"), strings.Contains(l, "after data"), strings.Contains(l, "reply to data"):
		return smtpreply.StageData
	case strings.Contains(l, "mail from"):
		return smtpreply.StageSession
	}
	return smtpreply.StageUnknown
}

// kindOf decides what a failed recipient's status and diagnostic say about
// the address, by package smtpreply's reading of replies (the verifier's
// reading, applied to bounces). Action "delayed" and 4.x.x are soft
// whatever the cause: the message may still arrive (RFC 3464 §2.3.3).
func kindOf(st status, action, diag string) (BounceKind, string) {
	code := smtpreply.FindCode(diag)
	if code/100 != st.Class {
		code = st.Class * 100
	}
	stage := replyStage(diag)
	if stage == smtpreply.StageSession {
		// A reply to MAIL FROM is about the sender, not any recipient.
		stage = smtpreply.StageUnknown
	}
	c := smtpreply.Read(smtpreply.Reply{Code: code, Enhanced: st, Text: diag, Stage: stage})
	delayed := action == "delayed"
	soft := delayed || st.Class == 4
	if l := strings.ToLower(diag); strings.Contains(l, "suppressed sending to this address") || strings.Contains(l, "on the suppression list") ||
		strings.Contains(l, "on the account-level suppression list") {
		// Amazon SES refused to send from its own suppression list, as in
		// its JSON notifications: nothing was tried against the mailbox.
		return Soft, "suppressed"
	}
	switch {
	case c.AboutAddress() && !soft:
		return Hard, string(c)
	case c == smtpreply.MailboxFull:
		return Soft, "mailbox_full"
	case c == smtpreply.Expired:
		return Soft, "expired"
	case c.AboutSender() && !delayed:
		// A 4.x.x refusal of the sender in a final report is still the
		// sender's problem; a delayed one is not final yet.
		return Sender, string(c)
	case delayed && c.AboutSender():
		return Soft, string(c)
	case delayed:
		return Soft, "delayed"
	case c == smtpreply.DNSFailure:
		return Soft, "dns_failure"
	case soft:
		return Soft, "temporary"
	}
	// A permanent failure that says nothing about the mailbox (5.0.0,
	// 5.3.x, 5.4.x, 5.5.x): not evidence against the address.
	return Soft, "unknown"
}

// Rejection classifies an SMTP reply that refused a message at send time
// (RFC 5321 reply code, the RFC 3463 enhanced code if the server gave one,
// and the reply text) with the same rules as a bounce: what it says about
// the address (Hard, Soft) or about the sender (Sender).
func Rejection(code int, enhanced, text string) Recipient {
	diag := strings.TrimSpace(fmt.Sprintf("%d %s %s", code, enhanced, text))
	st := diagnosticStatus(enhanced, diag, code >= 500)
	kind, reason := kindOf(st, "failed", diag)
	return Recipient{Status: st.String(), Action: "failed", Diagnostic: diag, Kind: kind, Reason: reason}
}
