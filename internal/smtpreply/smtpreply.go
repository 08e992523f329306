// Package smtpreply reads an SMTP reply - the basic reply code of RFC 5321
// §4.2, the enhanced status code of RFC 3463 and RFC 5248, and the text a
// server wrote beside them - and says what it means for the recipient
// address: a [Cause]. It is the one reading of replies in Touchline: the
// verifier's RCPT probes and the inbound classifier's bounces (whose
// Diagnostic-Code fields and text quote the same replies) both call
// [Read], so the same 5xx text gets the same answer at probe time and at
// send time.
//
// # Rules
//
// Codes decide; the text refines only what the codes leave open, because
// text differs between servers, languages and software versions while codes
// are standardised. Only a reply that is about the mailbox may condemn an
// address: a rejection of the client (its IP, reputation, authentication,
// rate, content) says nothing about the mailbox. In order:
//
//  1. 2xx is [Accepted]; a code outside 2xx-5xx is [Protocol].
//  2. A refusal of our envelope sender (X.1.7, X.1.8, "sender address
//     rejected", "sender verify failed") is [SenderAddress], whatever else
//     the text quotes: such replies often quote "user unknown" about the
//     sender.
//  3. 4xx is temporary: [MailboxFull] for X.2.2 or quota words,
//     [Greylisted], [DNSFailure], [RateLimited], a sender-side cause for
//     X.7.x that names a blocklist or authentication, else [Temporary].
//  4. 5xx: a disabled account stated outright, a full mailbox (X.2.2, 552
//     "exceeded storage allocation", quota words); null MX (X.1.10, or the
//     5.7.27 and words some MTAs write when the recipient's domain
//     publishes a null MX, RFC 7505 §3); X.7.x is policy unless the words
//     say the mailbox does not exist and nothing about policy; X.1.x is
//     about the address unless the words are only about the sender's IP,
//     rate or reputation (code against words: "550 5.1.1 ... IP has sent to
//     too many recipients" is a rate limit); X.4.4 is an unknown host only
//     when the words say the name does not exist, and DNS trouble ("try
//     again", "malformed reply", SERVFAIL, timeout) is never a dead domain;
//     X.3.4 and X.6.x refuse the message; then words; then, at the RCPT
//     stage only, a bare 550, 551 or 553 is a mailbox rejection (RFC 5321
//     §4.2.2) and 554 a refusal of the transaction.
//  5. A permanent failure that says nothing about the address is
//     [Unexplained]: no evidence against it.
package smtpreply

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Enhanced is an RFC 3463 enhanced status code, class.subject.detail; the
// zero value means absent.
type Enhanced struct{ Class, Subject, Detail int }

// Valid reports whether e is a code (class 2, 4 or 5).
func (e Enhanced) Valid() bool { return e.Class == 2 || e.Class == 4 || e.Class == 5 }

// Is reports whether e has the given subject and detail, whatever its class.
func (e Enhanced) Is(subject, detail int) bool { return e.Subject == subject && e.Detail == detail }

// String is "x.y.z", or "" when e is absent.
func (e Enhanced) String() string {
	if !e.Valid() {
		return ""
	}
	return fmt.Sprintf("%d.%d.%d", e.Class, e.Subject, e.Detail)
}

// Generic reports whether e says only its class (X.0.0).
func (e Enhanced) Generic() bool { return e.Subject == 0 && e.Detail == 0 }

// reEnhanced finds an enhanced status code in text: "550 5.1.1", "550-5.7.26",
// "#5.1.2", "(4.4.7)", but not the inside of an IP address or a version.
var reEnhanced = regexp.MustCompile(`(?:^|[\s\-#(\[;:'"=,])([245])\.(\d{1,3})\.(\d{1,3})(?:$|[^\d.]|\.(?:$|\D))`)

// FindEnhanced returns the first enhanced status code in text, or the zero
// Enhanced.
func FindEnhanced(text string) Enhanced {
	m := reEnhanced.FindStringSubmatch(" " + text)
	if m == nil {
		return Enhanced{}
	}
	var e Enhanced
	e.Class, _ = strconv.Atoi(m[1])
	e.Subject, _ = strconv.Atoi(m[2])
	e.Detail, _ = strconv.Atoi(m[3])
	return e
}

// ParseEnhanced reads a code that is exactly "x.y.z" (RFC 3463 §2: class
// one digit, subject and detail one to three).
func ParseEnhanced(s string) (Enhanced, bool) {
	parts := strings.Split(strings.TrimSpace(s), ".")
	if len(parts) != 3 || len(parts[0]) != 1 {
		return Enhanced{}, false
	}
	var n [3]int
	for i, p := range parts {
		if p == "" || len(p) > 3 {
			return Enhanced{}, false
		}
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 {
			return Enhanced{}, false
		}
		n[i] = v
	}
	e := Enhanced{n[0], n[1], n[2]}
	return e, e.Valid()
}

// reCode finds a basic reply code (RFC 5321 §4.2) in text.
var reCode = regexp.MustCompile(`(?:^|[\s'"(:\[])([245][0-5]\d)(?:[\s\-]|$)`)

// FindCode returns the first basic reply code in text, or 0.
func FindCode(text string) int {
	m := reCode.FindStringSubmatch(text)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// Stage is the SMTP command a reply answered.
type Stage int

const (
	// StageUnknown: the reply was quoted without its command (most
	// bounces).
	StageUnknown Stage = iota
	// StageSession: the greeting, EHLO or MAIL FROM: nothing about any
	// one recipient.
	StageSession
	// StageRcpt: RCPT TO, the command that names the recipient.
	StageRcpt
	// StageData: DATA or the end of data: about the message.
	StageData
)

// Reply is one SMTP reply.
type Reply struct {
	Code     int      // RFC 5321 reply code; 0 when unknown
	Enhanced Enhanced // RFC 3463 code; zero when absent
	Text     string   // the text after the codes
	Stage    Stage
}

// Parse splits a reply line as servers write it ("550 5.1.1 text", "550-5.1.1
// text", "5.1.1 text") into a Reply. A code missing at the start is looked
// for in the text ("550 #5.1.0 Address rejected").
func Parse(s string) Reply {
	s = strings.TrimSpace(s)
	var r Reply
	if len(s) >= 3 {
		if n, err := strconv.Atoi(s[:3]); err == nil && n >= 200 && n < 600 && (len(s) == 3 || s[3] == ' ' || s[3] == '-') {
			r.Code = n
			s = strings.TrimLeft(s[3:], " -")
		}
	}
	head, rest, _ := strings.Cut(s, " ")
	if e, ok := ParseEnhanced(head); ok && (r.Code == 0 || e.Class == r.Code/100) {
		r.Enhanced, s = e, rest
	}
	r.Text = s
	if r.Code == 0 {
		r.Code = FindCode(" " + s)
	}
	if !r.Enhanced.Valid() {
		if e := FindEnhanced(s); e.Valid() && (r.Code == 0 || e.Class == r.Code/100) {
			r.Enhanced = e
		}
	}
	return r
}

// Cause is what a reply says about the recipient address.
type Cause string

const (
	Accepted Cause = "accepted"

	// About the address: it does not work and will not.
	MailboxNotFound Cause = "mailbox_not_found"
	HostNotFound    Cause = "host_not_found"
	NullMX          Cause = "null_mx" // RFC 7505
	BadSyntax       Cause = "bad_syntax"
	Moved           Cause = "moved" // X.1.6, 551 user not local
	MailboxDisabled Cause = "mailbox_disabled"

	// The recipient's state: may work later.
	MailboxFull Cause = "mailbox_full"

	// Temporary: try again.
	Greylisted Cause = "greylisted"
	Temporary  Cause = "temporary"
	DNSFailure Cause = "dns_failure"
	Expired    Cause = "expired" // X.4.7: the sending MTA gave up

	// About the sender, its server or its message: the address is fine.
	Authentication  Cause = "authentication"
	Blocklist       Cause = "blocklist"
	Reputation      Cause = "reputation"
	RateLimited     Cause = "rate_limited"
	Policy          Cause = "policy"
	SenderAddress   Cause = "sender_address"
	MessageRejected Cause = "message_rejected"
	TLSRequired     Cause = "tls_required"

	// Unexplained: a permanent failure that says nothing about the address.
	Unexplained Cause = "unknown"
	// Protocol: not an SMTP reply code at all.
	Protocol Cause = "protocol"
)

// AboutAddress reports whether c says the address itself is bad.
func (c Cause) AboutAddress() bool {
	switch c {
	case MailboxNotFound, HostNotFound, NullMX, BadSyntax, Moved, MailboxDisabled:
		return true
	}
	return false
}

// AboutSender reports whether c is a refusal of the sender, its server or
// its message.
func (c Cause) AboutSender() bool {
	switch c {
	case Authentication, Blocklist, Reputation, RateLimited, Policy, SenderAddress, MessageRejected, TLSRequired:
		return true
	}
	return false
}

// Read says what reply r means for the recipient. See the package comment
// for the rules.
func Read(r Reply) Cause {
	e := r.Enhanced
	if !e.Valid() {
		e = FindEnhanced(r.Text)
	}
	code := r.Code
	if code == 0 && e.Valid() {
		code = e.Class * 100
	}
	if e.Valid() && code/100 != e.Class && code != 0 {
		// A code whose class disagrees with the reply's is not this
		// reply's (a quoted inner reply): keep its subject and detail.
		e.Class = code / 100
	}
	w := Words(r.Text)
	switch {
	case code >= 200 && code < 300:
		return Accepted
	case code >= 400 && code < 500:
		return temporary(code, e, w)
	case code >= 500 && code < 600:
		return permanent(code, e, w, r.Stage)
	}
	return Protocol
}

func temporary(code int, e Enhanced, w Signals) Cause {
	switch {
	case w.Has(SaysGreylist) && !w.Has(SaysRate):
		return Greylisted
	case w.Has(SaysSender) && !w.Has(SaysNotFound):
		return SenderAddress
	case w.Has(SaysTLS):
		return TLSRequired
	case e.Is(2, 2), w.Has(SaysFull) && code != 421:
		// RFC 3463 X.2.2; 452 "insufficient system storage" is only about
		// the mailbox when the text says quota.
		return MailboxFull
	case e.Subject == 7 && e.Detail >= 26 && e.Detail <= 32:
		// Gmail's 4.7.26-4.7.32: unauthenticated, SPF, DKIM, reverse DNS,
		// unsolicited rate. The sender must fix them.
		return senderCause(e, w)
	case code == 421:
		// RFC 5321 §3.8: the server is closing the channel; whatever the
		// text, this is about the session, not the recipient.
		return Temporary
	case w.Has(SaysDNSTrouble):
		return DNSFailure
	case (code == 450 || code == 451) && e.Subject == 7 && !w.Has(SaysRate):
		if w.Has(SaysBlocklist) || w.Has(SaysAuth) || w.Has(SaysReputation) {
			return senderCause(e, w)
		}
		// 450/451 4.7.x with no other explanation is how greylisting
		// presents itself (RFC 6647 §2.1 recommends 4.7.1 or 4.2.0).
		return Greylisted
	}
	return Temporary
}

func permanent(code int, e Enhanced, w Signals, stage Stage) Cause {
	notFound := w.Has(SaysNotFound)
	policy := w.Has(SaysBlocklist) || w.Has(SaysPolicy) || w.Has(SaysAuth) || w.Has(SaysReputation) || w.Has(SaysRate) || w.Has(SaysRelay)
	switch {
	case e.Subject == 1 && (e.Detail == 7 || e.Detail == 8), w.Has(SaysSender):
		// X.1.7 bad sender mailbox, X.1.8 bad sender system (RFC 3463
		// §3.2): our envelope sender was refused, not the recipient.
		return SenderAddress
	case w.Has(SaysDisabledStrongly):
		return MailboxDisabled
	case e.Is(1, 10), w.Has(SaysNullMX):
		// RFC 7505 §4.2: the recipient's domain publishes a null MX.
		// Microsoft also answers 5.1.10 for a recipient its directory
		// lacks.
		if notFound {
			return MailboxNotFound
		}
		return NullMX
	case e.Is(2, 2), code == 552 && (!e.Valid() || e.Subject == 2 && e.Detail != 3 || e.Generic()) && !notFound && !w.Has(SaysSize),
		w.Has(SaysFull) && !notFound:
		// RFC 3463 X.2.2 mailbox full; RFC 5321 §4.2.2 552 "exceeded
		// storage allocation" (but X.2.3 is a message too big for it).
		return MailboxFull
	case w.Has(SaysTLS):
		return TLSRequired
	case e.Subject == 7:
		// X.7.x is security or policy (RFC 3463 §3.8). Only an explicit
		// statement that the mailbox does not exist outweighs it.
		if notFound && !policy {
			return MailboxNotFound
		}
		return senderCause(e, w)
	case e.Is(4, 7), w.Has(SaysExpired) && !notFound:
		// X.4.7 delivery time expired, or its words ("Message expired",
		// qmail's "in the queue too long"): the sending MTA gave up.
		return Expired
	case e.Is(2, 1) && notFound && !w.Has(SaysDisabled):
		// "550 5.2.1 ... Addressee unknown": the words are more precise
		// than the code here.
		return MailboxNotFound
	case e.Is(2, 1), w.Has(SaysDisabled) && !policy && !w.Has(SaysDNSTrouble):
		return MailboxDisabled
	case e.Is(1, 3), code == 501 && !e.Valid() && notFound:
		// X.1.3 bad destination mailbox address syntax; "501 5.1.3
		// Recipient does not exist" is still about the address.
		if notFound && !w.Has(SaysSyntax) {
			return MailboxNotFound
		}
		return BadSyntax
	case e.Subject == 1 && e.Detail <= 6:
		// X.1.0 other address status, X.1.1 bad mailbox, X.1.2 bad
		// system, X.1.4 ambiguous, X.1.5 (unused for failures), X.1.6
		// moved. Words only about the sender's IP, rate or reputation
		// outweigh the code.
		if policy && !notFound {
			return senderCause(e, w)
		}
		if !notFound && w.Has(SaysFull) {
			return MailboxFull
		}
		if !notFound && w.Has(SaysSize) {
			// "550 5.1.1 ... max message size exceeded": the words name
			// another cause the code does not.
			return MessageRejected
		}
		switch e.Detail {
		case 2:
			if w.Has(SaysDNSTrouble) {
				return DNSFailure
			}
			return HostNotFound
		case 6:
			return Moved
		}
		return MailboxNotFound
	case e.Is(4, 1) && w.Has(SaysRecipientRejected):
		// Exchange Online directory-based edge blocking: "550 5.4.1
		// Recipient address rejected: Access denied".
		return MailboxNotFound
	case w.Has(SaysDNSTrouble) && !notFound:
		// "Host not found, try again", "Malformed or unexpected name
		// server reply": the lookup failed, the domain may well exist.
		return DNSFailure
	case e.Is(4, 4) && w.Has(SaysHostNotFound):
		return HostNotFound
	case e.Is(3, 4), e.Is(2, 3), e.Subject == 6, w.Has(SaysSize):
		// X.3.4 message too big for system, X.2.3 too big for the
		// mailbox, X.6.x media and content.
		return MessageRejected
	case policy && !notFound:
		return senderCause(e, w)
	case w.Has(SaysSpam) && !notFound:
		return Reputation
	case notFound:
		return MailboxNotFound
	case w.Has(SaysHostNotFound):
		return HostNotFound
	case code == 551 && !e.Valid():
		// RFC 5321 §4.2.2 551 "user not local".
		return Moved
	case stage == StageRcpt && (code == 550 || code == 553):
		// RFC 5321 §4.2.2 550 "mailbox unavailable", 553 "mailbox name
		// not allowed". Without a policy hint these are the forms mailbox
		// rejections take on servers that explain nothing.
		return MailboxNotFound
	case stage == StageRcpt && code == 554:
		// 554 at RCPT without a mailbox statement is a transaction refusal.
		return Policy
	case w.Has(SaysContent):
		return MessageRejected
	}
	return Unexplained
}

// senderCause names the sender-side cause more precisely.
func senderCause(e Enhanced, w Signals) Cause {
	if e.Subject == 7 {
		switch e.Detail {
		case 23, 25, 26, 27, 30, 32, 509, 510, 511, 515:
			// 5.7.23 SPF, 5.7.25 reverse DNS (RFC 7372), Gmail's 26, 27,
			// 30, 32 and Microsoft's 509-511, 515: authentication.
			return Authentication
		case 28:
			return Reputation
		}
	}
	switch {
	case w.Has(SaysBlocklist):
		return Blocklist
	case w.Has(SaysAuth):
		return Authentication
	case w.Has(SaysReputation), w.Has(SaysSpam):
		return Reputation
	case w.Has(SaysRate):
		return RateLimited
	case w.Has(SaysSize):
		return MessageRejected
	}
	return Policy
}
