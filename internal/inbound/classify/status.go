package classify

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// status is a parsed RFC 3463 enhanced status code; zero when absent.
type status struct{ class, subject, detail int }

func (s status) valid() bool { return s.class == 2 || s.class == 4 || s.class == 5 }

func (s status) String() string {
	if !s.valid() {
		return ""
	}
	return fmt.Sprintf("%d.%d.%d", s.class, s.subject, s.detail)
}

func (s status) is(subject, detail int) bool { return s.subject == subject && s.detail == detail }

// reStatus finds an enhanced status code in text: "550 5.1.1", "550-5.7.26",
// "#5.1.2", "(4.4.7)", but not the inside of an IP address or version.
var reStatus = regexp.MustCompile(`(?:^|[\s\-#(\[;:'"=])([245])\.(\d{1,3})\.(\d{1,3})(?:$|[^\d.]|\.(?:$|\D))`)

func parseStatus(s string) status {
	m := reStatus.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return status{}
	}
	return statusOf(m)
}

func statusOf(m []string) status {
	var st status
	st.class, _ = strconv.Atoi(m[1])
	st.subject, _ = strconv.Atoi(m[2])
	st.detail, _ = strconv.Atoi(m[3])
	return st
}

// reReplyCode finds a basic SMTP reply code (RFC 5321 §4.2) in text.
var reReplyCode = regexp.MustCompile(`(?:^|[\s'"(:])([45])[0-5]\d(?:[\s\-]|$)`)

// diagnosticStatus chooses the status for a failed recipient: the DSN's
// Status field unless it is the uninformative X.0.0 and the diagnostic
// carries a finer code of the same class; without either, one inferred
// from the reply code and the words.
func diagnosticStatus(field string, diag string, permanent bool) status {
	st := parseStatus(" " + field)
	ds := parseStatus(" " + diag)
	switch {
	case st.valid() && (st.subject != 0 || st.detail != 0):
		return st
	case ds.valid() && (!st.valid() || ds.class == st.class):
		return ds
	case st.valid():
		return st
	}
	class := 5
	if m := reReplyCode.FindStringSubmatch(diag); m != nil {
		class, _ = strconv.Atoi(m[1])
	} else if !permanent {
		class = 4
	}
	text := normText(diag)
	switch {
	case containsAny(text, fullWords):
		return status{class, 2, 2}
	case containsAny(text, blocklistWords), containsAny(text, authWords):
		return status{class, 7, 1}
	case containsAny(text, notFoundWords):
		return status{class, 1, 1}
	case containsAny(text, hostNotFoundWords):
		return status{class, 1, 2}
	}
	return status{class, 0, 0}
}

// kindOf decides what a failed recipient's status says about the address.
// The code decides; the text only refines what the code leaves open (the
// rule of verifier/classify.go, applied to bounces).
func kindOf(st status, action, diag string) (BounceKind, string) {
	text := normText(diag)
	if action == "delayed" || st.class == 4 {
		// RFC 3464 §2.3.3: delayed means the MTA is still trying; the
		// message may yet arrive, whatever the reason.
		return temporaryKind(st, text, action == "delayed")
	}
	notFound := containsAny(text, notFoundWords)
	blocked := containsAny(text, blocklistWords)
	policy := blocked || containsAny(text, policyWords)
	switch {
	case st.subject == 1 && (st.detail == 7 || st.detail == 8), containsAny(text, senderWords):
		// X.1.7 bad sender mailbox, X.1.8 bad sender system (RFC 3463
		// §3.2): our envelope sender was refused, not the recipient.
		return Sender, "sender_address"
	case containsAny(text, disabledStrong):
		return Hard, "mailbox_disabled"
	case st.is(2, 2), containsAny(text, fullWords) && !notFound:
		// X.2.2 mailbox full is the recipient's temporary state.
		return Soft, "mailbox_full"
	case st.subject == 7:
		// X.7.x security or policy (RFC 3463 §3.8): only an explicit
		// statement that the mailbox does not exist outweighs it.
		if notFound && !policy {
			return Hard, "mailbox_not_found"
		}
		return Sender, senderReason(st, text)
	case st.subject == 1 && st.detail <= 6 || st.is(1, 10):
		if blocked && !notFound {
			return Sender, "blocklist"
		}
		switch st.detail {
		case 2:
			return Hard, "host_not_found"
		case 3:
			return Hard, "bad_syntax"
		case 6:
			return Hard, "moved"
		case 10:
			// RFC 7505 §4.2: the domain publishes a null MX; Microsoft
			// uses the same code for a recipient its directory lacks.
			if notFound {
				return Hard, "mailbox_not_found"
			}
			return Hard, "null_mx"
		}
		return Hard, "mailbox_not_found"
	case st.is(2, 1):
		return Hard, "mailbox_disabled"
	case st.is(4, 4):
		return Hard, "host_not_found"
	case st.is(4, 1) && strings.Contains(text, "recipient address rejected"):
		// Exchange Online directory-based edge blocking: "550 5.4.1
		// Recipient address rejected: Access denied".
		return Hard, "mailbox_not_found"
	case st.is(4, 7):
		return Soft, "expired"
	case st.is(3, 4), st.subject == 6:
		// X.3.4 message too big, X.6.x media and content.
		return Sender, "message_rejected"
	case blocked, policy && !notFound:
		return Sender, senderReason(st, text)
	case notFound:
		return Hard, "mailbox_not_found"
	case containsAny(text, hostNotFoundWords):
		return Hard, "host_not_found"
	case containsAny(text, disabledWords):
		return Hard, "mailbox_disabled"
	}
	// A permanent failure that says nothing about the mailbox (5.0.0,
	// 5.3.x, 5.4.x, 5.5.x): not evidence against the address.
	return Soft, "unknown"
}

func temporaryKind(st status, text string, delayed bool) (BounceKind, string) {
	reason := "temporary"
	if delayed {
		reason = "delayed"
	}
	kind := Soft
	switch {
	case st.is(2, 2), containsAny(text, fullWords):
		reason = "mailbox_full"
	case st.subject == 7 && st.detail >= 26 && st.detail <= 32:
		// Gmail's 4.7.26-4.7.32: unauthenticated, SPF, DKIM, reverse DNS,
		// rate of unsolicited mail. The sender must fix them.
		kind, reason = Sender, senderReason(st, text)
	case st.subject == 7 && (containsAny(text, blocklistWords) || containsAny(text, authWords)):
		kind, reason = Sender, senderReason(st, text)
	}
	if delayed {
		// The message is still queued: whatever the cause, this is not a
		// final word on the address or the sender.
		kind = Soft
	}
	return kind, reason
}

func senderReason(st status, text string) string {
	if st.subject == 7 {
		switch st.detail {
		case 23, 25, 26, 27, 30, 32, 509, 510, 511, 515:
			// 5.7.23 SPF, 5.7.25 reverse DNS (RFC 7372), Gmail's 26, 27,
			// 30, 32 and Microsoft's 509-511, 515: authentication.
			return "authentication"
		case 28:
			return "reputation"
		}
	}
	switch {
	case containsAny(text, blocklistWords):
		return "blocklist"
	case containsAny(text, authWords):
		return "authentication"
	case containsAny(text, reputationWords):
		return "reputation"
	case containsAny(text, rateWords):
		return "rate_limited"
	}
	return "policy"
}

func containsAny(s string, words []string) bool {
	for _, w := range words {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

// normText lowercases text and folds "-" and "_" into spaces, so that
// "Invalid-Recipient" and "invalid recipient" read alike.
func normText(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == '_' {
			return ' '
		}
		return r
	}, strings.ToLower(s))
}

// Word lists, matched on normText output. They follow the verifier's lists
// where the meaning is the same.
var (
	blocklistWords = []string{
		"spamhaus", "spamcop", "barracuda", "blocklist", "block list", "blacklist", "black list",
		"blocked using", "listed at", "listed on", "listed in", "rbl", "dnsbl", "sorbs", "uceprotect",
		"proofpoint", "mimecast", "cloudmark", "[bl", "blocked",
	}
	authWords = []string{
		"spf", "dkim", "dmarc", "authentication", "unauthenticated", "not authenticated", "authenticate",
		"ptr record", "reverse dns",
	}
	reputationWords = []string{"reputation", "unsolicited", "spam"}
	rateWords       = []string{"too many", "rate limit", "rate limited", "throttl", "exceeded the", "try again later"}
	policyWords     = []string{
		"policy", "not authorized", "not authorised", "unauthorized", "access denied", "denied access",
		"banned", "prohibited", "abuse", "client host", "your ip", "sender rejected", "not permitted",
		"bulk mail", "rejected by", "refused", "spam", "unsolicited", "reputation", "relay access denied",
		"relaying denied",
	}
	notFoundWords = []string{
		"user unknown", "unknown user", "no such user", "no such recipient", "no such mailbox",
		"no such address", "no mailbox", "mailbox unavailable", "mailbox not found",
		"mailbox does not exist", "mailbox doesn't exist", "does not exist", "doesn't exist",
		"not exist", "recipnotfound", "recipientnotfound", "recipient not found", "user not found",
		"address not found", "unknown recipient", "recipient unknown", "invalid recipient",
		"invalid mailbox", "not a valid mailbox", "unknown address", "address unknown",
		"unrouteable address", "unroutable address", "no such person", "bad destination mailbox",
		"account that you tried to reach does not", "is not a known user", "unknown local part",
		"addressee unknown", "address couldn't be found", "address could not be found",
		"wasn't found at", "was not found at", "no longer available", "has moved",
		"no such local user", "user doesn't have", "not listed in domino", "invalid address",
	}
	hostNotFoundWords = []string{
		"host not found", "unknown host", "no such domain", "domain not found", "couldn't find any host",
		"could not find any host", "nxdomain", "domain name not found", "no mx", "null mx",
		"domain does not accept mail", "host or domain name not found",
	}
	disabledWords = []string{
		"disabled", "inactive", "deactivated", "suspended", "account has been locked",
		"account is locked", "no longer active", "no longer valid", "expired", "closed",
	}
	disabledStrong = []string{
		"account is disabled", "account has been disabled", "mailbox is disabled", "mailbox disabled",
		"mailbox has been disabled", "account disabled", "recipient account is blocked",
	}
	senderWords = []string{
		"sender address rejected", "sender verify", "sender verification", "sender domain",
		"envelope sender", "return path",
	}
	fullWords = []string{
		"quota", "mailbox full", "mailbox is full", "storage space", "out of storage",
		"insufficient storage", "storage allocation", "over quota", "overquota", "exceeded storage",
		"exceeds storage", "inbox is full", "mailbox size limit", "full mailbox",
	}
)

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
