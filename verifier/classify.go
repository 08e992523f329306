package verifier

import (
	"strconv"
	"strings"
)

// Reply classification. The reply code and the RFC 3463 enhanced status code
// decide first; the text is read only to refine what the codes leave open,
// because text differs between servers, languages and software versions
// while codes are standardised. The guiding rule: only a reply that is about
// the mailbox may make an address undeliverable. A rejection of the client
// (its IP, its reputation, its authentication, its rate) says nothing about
// the mailbox and leaves the address unknown.

// Words that mark a rejection as about the client rather than the mailbox.
var policyWords = []string{
	"spamhaus", "spamcop", "barracuda", "blocklist", "block list", "blacklist", "black list",
	"blocked", "blacklisted", "denylist", "reputation", "rbl", "dnsbl", "sorbs", "spam",
	"unsolicited", "policy", "not authorized", "not authorised", "unauthorized", "relay",
	"access denied", "denied access", "banned", "prohibited", "abuse", "client host",
	"your ip", "ip address", "sender address rejected", "sender rejected", "sender verify",
	"spf", "dkim", "dmarc", "authentication", "unauthenticated", "ptr record", "reverse dns",
	"reverse dns", "helo", "ehlo", "starttls", "tls required", "must issue", "proofpoint",
	"mimecast", "ironport", "[bl", "rate limit", "not permitted", "bulk mail",
}

var notFoundWords = []string{
	"user unknown", "unknown user", "no such user", "no such recipient", "no such mailbox",
	"no such address", "no mailbox", "mailbox unavailable", "mailbox not found",
	"mailbox does not exist", "mailbox doesn't exist", "does not exist", "doesn't exist",
	"not exist", "recipientnotfound", "recipient not found", "user not found",
	"address not found", "unknown recipient", "recipient unknown", "invalid recipient",
	"invalid mailbox", "not a valid mailbox", "unknown address", "address unknown",
	"unrouteable address", "unroutable address", "no such person", "bad destination mailbox",
	"doesn't have a", "does not have a", "account that you tried to reach does not",
	"is not a known user", "recipient address rejected: user", "unknown local part",
	"addressee unknown",
	"undeliverable address", "not our customer", "no longer available", "has moved",
}

var disabledWords = []string{
	"disabled", "inactive", "deactivated", "suspended", "account has been locked",
	"account is locked", "no longer active", "no longer valid", "expired", "closed",
}

// disabledStrong are statements about the recipient's account that use
// words ("blocked") that would otherwise read as a policy block.
var disabledStrong = []string{
	"recipient account is blocked", "recipient account isblocked", "compte du destinataire est bloque",
	"account is disabled", "account has been disabled", "mailbox is disabled", "mailbox disabled",
	"mailbox has been disabled", "account disabled",
}

// senderWords mark a rejection of our MAIL FROM delayed to RCPT time
// (Postfix smtpd_delay_reject, Exim sender verification): it often quotes
// "user unknown" about the sender, never about the recipient.
var senderWords = []string{
	"sender address rejected", "sender verify", "sender verification", "sender domain",
	"sender rejected", "sender address", "envelope sender", "from address", "return path",
	"return-path", "mail from",
}

var tlsWords = []string{"tls required", "must issue a starttls", "encryption required", "requires tls"}

var fullWords = []string{
	"quota", "mailbox full", "mailbox is full", "storage space",
	"out of storage", "insufficient storage", "storage allocation", "over quota",
	"overquota", "exceeded storage", "exceeds storage", "inbox is full",
}

// greylistWords are specific to greylisting; "try again later" is not, as
// every temporary failure says it.
var greylistWords = []string{
	"greylist", "graylist", "grey list", "gray list", "postgrey", "sqlgrey",
	"not yet authorized to deliver", "internal resource temporarily unavailable",
}

var rateWords = []string{
	"too many", "rate", "limit", "throttl", "exceeded the", "unusual", "overload",
	"resources", "concurrent", "volume", "too quickly",
}

func containsAny(s string, words []string) bool {
	for _, w := range words {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

// normText lowercases reply text and folds "-" and "_" into spaces, so that
// "Invalid-Recipient" and "invalid recipient" read alike.
func normText(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == '_' {
			return ' '
		}
		return r
	}, strings.ToLower(s))
}

// enhanced is a parsed RFC 3463 status code; zero when absent.
type enhanced struct{ class, subject, detail int }

func parseEnhanced(s string) enhanced {
	var e enhanced
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return e
	}
	e.class, _ = strconv.Atoi(parts[0])
	e.subject, _ = strconv.Atoi(parts[1])
	e.detail, _ = strconv.Atoi(parts[2])
	return e
}

// replyEnhanced returns the reply's enhanced code, also finding one that a
// server wrote later in the text or with a missing class digit match.
func replyEnhanced(r Reply) enhanced {
	if r.Enhanced != "" {
		return parseEnhanced(r.Enhanced)
	}
	// Some servers put the enhanced code after a "#" or inside the text
	// ("550 #5.1.0 Address rejected", Exchange's "550 5.1.10 ..." on a
	// continuation line). Take the first token shaped like one whose class
	// matches the reply.
	for _, f := range strings.FieldsFunc(r.Text, func(c rune) bool { return c == ' ' || c == '#' || c == '\n' || c == '(' || c == ')' }) {
		if ec, _, ok := splitEnhanced(r.Code, f); ok {
			return parseEnhanced(ec)
		}
	}
	return enhanced{}
}

// classifyRcpt turns a reply to RCPT TO into a verdict. It is the table that
// decides whether a lead is thrown away, so it errs towards unknown.
func classifyRcpt(r Reply) (Status, Reason) {
	text := normText(r.Text)
	e := replyEnhanced(r)
	switch {
	case r.Code >= 200 && r.Code < 300:
		return Deliverable, ReasonAccepted
	case r.Code >= 400 && r.Code < 500:
		return classifyTemporary(r.Code, e, text)
	case r.Code >= 500 && r.Code < 600:
		return classifyPermanent(r.Code, e, text)
	}
	return Unknown, ReasonProtocol
}

func classifyTemporary(code int, e enhanced, text string) (Status, Reason) {
	switch {
	case containsAny(text, tlsWords):
		return Unknown, ReasonBlocked
	case e.subject == 2 && e.detail == 2, containsAny(text, fullWords) && code != 421:
		// RFC 3463 X.2.2 mailbox full; 452 "insufficient system storage"
		// is only about the mailbox when the text says quota.
		return Risky, ReasonMailboxFull
	case code == 421:
		// RFC 5321 §3.8: the server is closing the channel; whatever the
		// text, this is about the session, not the recipient.
		return Unknown, ReasonTemporary
	case containsAny(text, greylistWords) && !containsAny(text, rateWords):
		return Unknown, ReasonGreylisted
	case (code == 450 || code == 451) && e.subject == 7 && !containsAny(text, rateWords):
		if containsAny(text, []string{"spamhaus", "blocked", "blocklist", "blacklist", "rbl", "reputation", "spf", "dmarc", "dkim", "authentication"}) {
			return Unknown, ReasonBlocked
		}
		// 450/451 4.7.x with no other explanation is how greylisting
		// presents itself (RFC 6647 §2.1 recommends 4.7.1 or 4.2.0).
		return Unknown, ReasonGreylisted
	}
	return Unknown, ReasonTemporary
}

func classifyPermanent(code int, e enhanced, text string) (Status, Reason) {
	policy := containsAny(text, policyWords)
	notFound := containsAny(text, notFoundWords)
	switch {
	case e.subject == 1 && (e.detail == 7 || e.detail == 8), containsAny(text, senderWords):
		// X.1.7 bad sender mailbox, X.1.8 bad sender system (RFC 3463):
		// our envelope sender was refused, the recipient was not judged.
		return Unknown, ReasonBlocked
	case containsAny(text, disabledStrong):
		return Undeliverable, ReasonMailboxDisabled
	case e.subject == 2 && e.detail == 2, code == 552 && (e == enhanced{} || e.subject == 2) && !notFound, containsAny(text, fullWords):
		// RFC 5321 §4.2.2: 552 "exceeded storage allocation"; X.2.2 full.
		return Risky, ReasonMailboxFull
	case e.subject == 7:
		// X.7.x is security or policy (RFC 3463 §3.8). Only an explicit
		// statement that the mailbox does not exist outweighs it.
		if notFound && !policy {
			return Undeliverable, ReasonMailboxNotFound
		}
		return Unknown, ReasonBlocked
	case e.subject == 2 && e.detail == 1 && notFound && !containsAny(text, disabledWords):
		// "550 5.2.1 ... Addressee unknown": the words are more precise
		// than the code here.
		return Undeliverable, ReasonMailboxNotFound
	case e.subject == 2 && e.detail == 1, containsAny(text, disabledWords) && !policy:
		return Undeliverable, ReasonMailboxDisabled
	case e.subject == 1 && e.detail == 3, code == 501 && e == (enhanced{}):
		// X.1.3 bad destination mailbox address syntax: our parser accepted
		// what the server will never deliver to.
		return Undeliverable, ReasonSyntax
	case e.subject == 1 && (e.detail == 1 || e.detail == 0 || e.detail == 6 || e.detail == 10 || e.detail == 2):
		// X.1.1 bad mailbox, X.1.0 other address status, X.1.6 moved,
		// X.1.10 recipient has a null MX (RFC 7505 §4.2), X.1.2 bad system.
		if policy && !notFound {
			return Unknown, ReasonBlocked
		}
		return Undeliverable, ReasonMailboxNotFound
	case e.subject == 4 && e.detail == 1 && strings.Contains(text, "recipient address rejected"):
		// Exchange Online directory-based edge blocking answers recipients
		// absent from the tenant "550 5.4.1 Recipient address rejected:
		// Access denied. AS(201806281)".
		return Undeliverable, ReasonMailboxNotFound
	case policy && !notFound:
		return Unknown, ReasonBlocked
	case notFound:
		return Undeliverable, ReasonMailboxNotFound
	case code == 550 || code == 551 || code == 553:
		// RFC 5321 §4.2.2 550 "mailbox unavailable", 551 "user not local",
		// 553 "mailbox name not allowed". Without a policy hint these are
		// the forms mailbox rejections take on servers that explain nothing.
		return Undeliverable, ReasonMailboxNotFound
	case code == 554:
		// 554 at RCPT without a mailbox statement is a transaction refusal.
		return Unknown, ReasonBlocked
	}
	return Unknown, ReasonProtocol
}

// classifySession turns a failure before RCPT (banner, EHLO, MAIL) into the
// verdict every recipient on that host gets: none of them is about a mailbox.
func classifySession(r Reply) (Status, Reason) {
	text := normText(r.Text)
	e := replyEnhanced(r)
	switch {
	case r.Code >= 400 && r.Code < 500:
		if r.Code != 421 && containsAny(text, greylistWords) && !containsAny(text, rateWords) {
			return Unknown, ReasonGreylisted
		}
		if e.subject == 7 && containsAny(text, policyWords) {
			return Unknown, ReasonBlocked
		}
		return Unknown, ReasonTemporary
	case r.Code >= 500:
		return Unknown, ReasonBlocked
	}
	return Unknown, ReasonProtocol
}
