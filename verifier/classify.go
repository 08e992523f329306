package verifier

import (
	"strings"

	"github.com/touchline/touchline/internal/smtpreply"
)

// Reply classification. The reading of a reply - codes first, text only to
// refine what the codes leave open, and only a reply about the mailbox may
// make an address undeliverable - is package smtpreply's, shared with the
// inbound bounce classifier so that a reply gets the same answer at probe
// time and at send time. This file maps its causes to verdicts.

// enhanced is a parsed RFC 3463 status code; zero when absent.
type enhanced struct{ class, subject, detail int }

// replyEnhanced returns the reply's enhanced code, also finding one that a
// server wrote later in the text ("550 #5.1.0 Address rejected", Exchange's
// "550 5.1.10 ..." on a continuation line) when its class matches the reply.
func replyEnhanced(r Reply) enhanced {
	if e, ok := smtpreply.ParseEnhanced(r.Enhanced); ok {
		return enhanced{e.Class, e.Subject, e.Detail}
	}
	for _, f := range strings.FieldsFunc(r.Text, func(c rune) bool { return c == ' ' || c == '#' || c == '\n' || c == '(' || c == ')' }) {
		if ec, _, ok := splitEnhanced(r.Code, f); ok {
			e, _ := smtpreply.ParseEnhanced(ec)
			return enhanced{e.Class, e.Subject, e.Detail}
		}
	}
	return enhanced{}
}

func sharedReply(r Reply, stage smtpreply.Stage) smtpreply.Reply {
	e := replyEnhanced(r)
	return smtpreply.Reply{Code: r.Code, Enhanced: smtpreply.Enhanced{Class: e.class, Subject: e.subject, Detail: e.detail}, Text: r.Text, Stage: stage}
}

// classifyRcpt turns a reply to RCPT TO into a verdict. It is the table that
// decides whether a lead is thrown away, so it errs towards unknown.
func classifyRcpt(r Reply) (Status, Reason) {
	c := smtpreply.Read(sharedReply(r, smtpreply.StageRcpt))
	if r.Code == 421 && c != smtpreply.TLSRequired && c != smtpreply.MailboxFull {
		// RFC 5321 §3.8: the server is closing the channel; for a probe
		// this is about the session, whatever the text.
		return Unknown, ReasonTemporary
	}
	switch c {
	case smtpreply.Accepted:
		return Deliverable, ReasonAccepted
	case smtpreply.MailboxNotFound, smtpreply.HostNotFound, smtpreply.NullMX, smtpreply.Moved:
		// X.1.1 bad mailbox, X.1.2 bad system, X.1.10 null MX (RFC 7505
		// §4.2), X.1.6 moved: mail to this address will not arrive.
		return Undeliverable, ReasonMailboxNotFound
	case smtpreply.BadSyntax:
		// X.1.3: our parser accepted what the server will never deliver to.
		return Undeliverable, ReasonSyntax
	case smtpreply.MailboxDisabled:
		return Undeliverable, ReasonMailboxDisabled
	case smtpreply.MailboxFull:
		return Risky, ReasonMailboxFull
	case smtpreply.Greylisted:
		return Unknown, ReasonGreylisted
	case smtpreply.Temporary, smtpreply.DNSFailure, smtpreply.Expired:
		return Unknown, ReasonTemporary
	case smtpreply.RateLimited:
		if r.Code < 500 {
			return Unknown, ReasonTemporary
		}
		return Unknown, ReasonBlocked
	case smtpreply.Unexplained, smtpreply.Protocol:
		return Unknown, ReasonProtocol
	}
	// A refusal of the sender, its server or its message says nothing
	// about the mailbox.
	return Unknown, ReasonBlocked
}

// classifySession turns a failure before RCPT (banner, EHLO, MAIL) into the
// verdict every recipient on that host gets: none of them is about a mailbox.
func classifySession(r Reply) (Status, Reason) {
	w := smtpreply.Words(r.Text)
	e := replyEnhanced(r)
	switch {
	case r.Code >= 400 && r.Code < 500:
		if r.Code != 421 && w.Has(smtpreply.SaysGreylist) && !w.Has(smtpreply.SaysRate) {
			return Unknown, ReasonGreylisted
		}
		if e.subject == 7 && sessionPolicy(w) {
			return Unknown, ReasonBlocked
		}
		return Unknown, ReasonTemporary
	case r.Code >= 500:
		return Unknown, ReasonBlocked
	}
	return Unknown, ReasonProtocol
}

// sessionPolicy reports whether text refuses the client for who it is.
func sessionPolicy(w smtpreply.Signals) bool {
	for _, s := range []smtpreply.Signal{smtpreply.SaysBlocklist, smtpreply.SaysReputation, smtpreply.SaysSpam,
		smtpreply.SaysPolicy, smtpreply.SaysRelay, smtpreply.SaysSender, smtpreply.SaysAuth, smtpreply.SaysTLS} {
		if w.Has(s) {
			return true
		}
	}
	return false
}
