// Package message builds the email of one touch of a cadence, signs it with
// DKIM, and makes the two tokens that come back from the outside world: the
// VERP return path a bounce is sent to and the token of the unsubscribe link.
//
// # The message
//
// [Message.Build] writes an Internet message (RFC 5322) with MIME (RFC 2045,
// RFC 2046): a text/plain part, and when there is HTML a
// multipart/alternative with the text first (RFC 2046 §5.1.4: the last part
// is the preferred one). Every line ends in CRLF and is at most 998 octets
// (RFC 5322 §2.1.1); header fields are folded at 78. Text parts are UTF-8
// in quoted-printable (RFC 2045 §6.7), never 8bit, so the message passes
// any relay without the 8BITMIME extension; a non-ASCII subject or display
// name is written as RFC 2047 encoded-words, each header line that holds
// one at most 76 characters (RFC 2047 §2). A field value or address with CR
// or LF is refused as header injection ([ErrHeaderInjection]), never cleaned
// up, because it means a template or an import let outside text through.
//
// Threading (RFC 5322 §3.6.4): a step sent as a reply carries In-Reply-To
// and References naming the first email's Message-ID, and its subject comes
// from [ThreadSubject]. Gmail, Outlook and Apple Mail thread on these.
//
// Bulk-mail rules of Gmail, Yahoo (February 2024) and Microsoft (May 2025):
// List-Unsubscribe (RFC 2369) with an https URL and List-Unsubscribe-Post:
// List-Unsubscribe=One-Click (RFC 8058), a mailto: alternative, and Gmail's
// Feedback-ID. RFC 8058 §4 requires both List-Unsubscribe fields to be
// covered by a DKIM signature, which [Sign] always does.
//
// # Tokens
//
// [ReturnPath] is the envelope sender (MAIL FROM, RFC 5321 §4.1.1.2) of a
// touch, "b-<token>@<bounce domain>", so that a bounce names the enrollment
// and step it is about; [ParseReturnPath] reads it back. [UnsubscribeToken]
// goes in the one-click unsubscribe URL; [ParseUnsubscribeToken] reads it
// back. Both are authenticated with HMAC-SHA256 under a key the caller
// derives from the configured secret (secret.Derive(key, "verp"),
// secret.Derive(key, "unsubscribe")), so nobody can bounce or unsubscribe a
// touch they did not receive, and only exact, canonical tokens parse.
//
// Errors wrap the sentinels in this package; test them with errors.Is.
package message
