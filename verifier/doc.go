// Package verifier tells, for an email address, whether mail sent to it will
// be delivered, without sending any mail. It checks syntax (RFC 5321 §4.1.2,
// RFC 5322 §3.4.1, RFC 6531 for UTF-8), finds the domain's mail exchangers
// in DNS (RFC 5321 §5.1, RFC 7505 null MX), and asks them in a live SMTP
// session whether they accept the recipient (banner, EHLO, STARTTLS per
// RFC 3207, MAIL FROM, RCPT TO, RSET, QUIT — never DATA). Replies are read
// by reply code and RFC 3463 enhanced status code first, text second.
//
// The package needs no database. A Verifier is safe for concurrent use;
// concurrent calls share DNS answers, per-domain catch-all probes and SMTP
// sessions, so VerifyEach over a list asks each MX host about many
// recipients in one session: up to Config.RcptPerTransaction RCPTs per
// MAIL transaction, sent together when the server offers PIPELINING
// (RFC 2920), each reply classified on its own, RSET only when a
// transaction is full. A host starts with one session and gets more, up to
// Config.PerHost, while it answers cleanly; hosts of one provider (one
// registrable domain, or one IP address) share Config.PerProvider.
//
// # Verdicts
//
// A Verdict is a value, never an error: "this mailbox does not exist" is a
// successful answer. Its Status is one of four, each with a Reason:
//
//   - deliverable / accepted: an MX host of the domain accepted the
//     recipient (2xx to RCPT) and the domain rejected a random local part,
//     so the acceptance is about this mailbox. Also given when the
//     catch-all probe was inconclusive (the Verdict's CatchAll says so).
//
//   - undeliverable: mail will bounce. Reasons: syntax (the address is not
//     one a mail system accepts; also a server's 501 / X.1.3),
//     no_mail_server (NXDOMAIN, a null MX, neither MX nor address records,
//     or MX hosts with no address), mx_private_address (every MX resolves
//     to loopback, RFC 1918, RFC 4193, link-local, CGNAT or reserved
//     addresses, which the verifier refuses to connect to unless allowed),
//     mailbox_not_found (a 5xx about the mailbox: X.1.1, X.1.0, X.1.6,
//     X.1.10, "user unknown" and the like, or a bare 550/551/553 with no
//     policy wording), mailbox_disabled (X.2.1 or "disabled", "inactive",
//     "suspended"), smtputf8_unsupported (a non-ASCII local part and a
//     server without SMTPUTF8, RFC 6531 §3.2).
//
//   - risky: mail may be delivered but a send is a gamble. Reasons:
//     catch_all (the address was accepted, but so was a random local part
//     at the same domain), mailbox_full (X.2.2, 552, or quota wording, 4xx
//     or 5xx: the mailbox exists but bounces now), disposable (a throwaway
//     mailbox service; such addresses are not probed).
//
//   - unknown: no trustworthy answer. Reasons: blocked (the server refused
//     us, not the mailbox: X.7.x, blocklists, reputation, authentication,
//     relay denied, a 5xx banner; it says nothing about the mailbox),
//     greylisted (450/451 with X.7.x or greylisting wording still returned
//     after Config.GreylistBudget of retries every Config.GreylistRetry),
//     temporary_failure (other 4xx, such as rate limits, 421), timeout (a
//     stage exceeded its timeout, such as a tarpit banner), connection_failed
//     (no MX host could be connected to), dns_error (SERVFAIL or timeout:
//     never undeliverable, the domain may be fine), protocol_error.
//
// Beside the status, a Verdict carries the evidence: the normalized address,
// the MX hosts in the order tried, the deciding reply (code, enhanced code,
// text), whether that session used STARTTLS, the time taken, and flags for
// role accounts (info@, sales@), free providers and disposable domains, and
// the domain's catch-all state: not_checked, accepting, rejecting (a random
// local part was refused, or this address was refused for itself) or
// inconclusive (the random probe got no clear answer).
//
// # Politeness and safety
//
// MX hosts are tried in preference order and the next is used when one
// cannot be connected to or refuses the session. A host answering 421,
// a 4.7.x rate limit, a timeout or a slow banner gets half its sessions
// at once (and its provider too); a 421 while k sessions were open caps
// the host at k-1 for good, and a 421 is also backed off exponentially.
// Verifier.Throttled names the hosts that made the verifier slow down. Sessions that a
// server drops (anti-harvesting) are reopened transparently. Each stage has
// its own timeout. Greylisted questions are asked again later, without
// holding a connection. By default MX hosts on non-public addresses are
// never contacted (Config.AllowPrivateMX, Config.AllowMXNetworks).
package verifier
