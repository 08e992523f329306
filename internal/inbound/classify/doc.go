// Package classify reads a message that came back to Touchline - a bounce,
// a complaint, an out-of-office, an unsubscribe request or a reply - and
// says which it is. It does no I/O and keeps no state: [Classify] takes the
// raw RFC 5322 message (CRLF or LF line endings) and returns a [Result].
// Matching the result to an enrollment happens elsewhere, by the
// [Result.OriginalMessageID] and [Result.References] it returns.
//
// # Contract
//
// Classify returns an error ([ErrNotMessage]) only when the input is not an
// RFC 5322 message at all: no header section. Everything else, however
// broken its MIME structure, gets a Result, at worst [ClassHumanReply].
//
// The rules apply in this order; the first that matches decides, and
// [Result.Rule] names it:
//
//  1. Complaint ([ClassComplaint], rule "arf"): an RFC 5965 abuse report, a
//     multipart/report with report-type=feedback-report or a
//     message/feedback-report part. [Result.FeedbackType] is its
//     Feedback-Type (abuse, fraud, virus, other, not-spam, auth-failure),
//     lowercased; [Result.Recipients] lists its Original-Rcpt-To addresses
//     (without Kind), when the reporter kept them.
//  2. Delivery status ([ClassBounce]): an RFC 3464 multipart/report with
//     report-type=delivery-status (or RFC 6533 global-delivery-status),
//     rule "dsn:rfc3464", one [Recipient] per recipient whose Action is
//     "failed" or "delayed"; a report whose recipients were all delivered,
//     relayed or expanded is [ClassUnknown] with rule "dsn:success". Then the
//     common bounces that carry no machine-readable report, read from their
//     text: "dsn:exchange-ndr" (Exchange, Microsoft 365), "dsn:gmail",
//     "dsn:postfix", "dsn:exim", "dsn:qmail". A message that looks like a
//     bounce (a mailer-daemon sender and a bounce subject, or a report
//     without recipients) but in which no recipient can be read is
//     [ClassUnknown] with rule "dsn:unparsed": nothing is inferred about any
//     address from it.
//  3. Auto-reply ([ClassAutoReply]): RFC 3834 Auto-Submitted other than "no"
//     ("auto:auto-submitted"), X-Autoreply, X-Autorespond or X-Autoresponder
//     ("auto:x-autoreply", "auto:x-autorespond"), Precedence auto_reply, bulk,
//     junk or list ("auto:precedence"), X-Apple-Action: vacation
//     ("auto:x-apple-action"), or an out-of-office subject
//     ("auto:subject-LANG", LANG one of en, de, fr, es, pt, nl, it, sv, da,
//     no, fi, or nordic for words the Scandinavian languages share).
//     X-Auto-Response-Suppress is a request to others not to answer
//     automatically; on its own it marks nothing (Outlook sets it on
//     ordinary mail). [Result.ReturnDate] is the day the person says they
//     are back, when the text says so (see below).
//  4. Unsubscribe ([ClassUnsubscribe]): a short reply - at most 40 words of
//     new text, quotes and signature removed - that asks to be removed, in
//     English, German, French, Spanish, Portuguese, Dutch, Italian or a
//     Nordic language ("unsub:body"), or whose subject is such a request and
//     whose new text is as short ("unsub:subject", as List-Unsubscribe
//     mailto: links produce). The word in a long reply or in quoted text
//     does not count.
//  5. Everything else is [ClassHumanReply] ("human"), except other reports
//     (multipart/report of another type, such as read receipts), which are
//     [ClassUnknown] with rule "report:TYPE".
//
// # Bounce kinds
//
// Each failed recipient gets a [BounceKind] from its RFC 3463 status code,
// with the diagnostic text read only where the code leaves the question
// open (the same policy as the verifier package: codes decide, text
// refines):
//
//   - [Hard], the address is bad: X.1.1 unknown user, X.1.2 unknown host,
//     X.1.3 bad syntax, X.1.6 moved, X.1.10 null MX (RFC 7505), X.2.1
//     disabled mailbox, X.4.4 unroutable, and an unexplained permanent
//     failure whose text says the mailbox does not exist.
//   - [Soft], try again later: every 4.x.x and every Action "delayed"
//     (even when the cause is sender-side, because the message may still
//     arrive), X.2.2 mailbox full, 5.4.7 expired, and permanent failures
//     that say nothing about the address - the package errs towards not
//     condemning an address on evidence that is not about it.
//   - [Sender], the address is fine and the sender has a problem: X.7.x
//     security and policy (5.7.1 blocks, 5.7.26 Gmail DMARC, 5.7.515
//     Microsoft authentication), Gmail 4.7.26 to 4.7.32, X.1.7/X.1.8 bad
//     sender, 5.3.4 and 5.6.x message rejected, and any rejection that
//     names a blocklist (Spamhaus, Barracuda, "blocked using ...").
//
// [Recipient.Reason] is a short word for the cause: mailbox_not_found,
// host_not_found, null_mx, moved, bad_syntax, mailbox_disabled,
// mailbox_full, delayed, expired, temporary, authentication, blocklist,
// reputation, rate_limited, policy, sender_address, message_rejected or
// unknown.
//
// # Return dates
//
// An auto-reply's new text and subject are searched for dates: ISO
// (2026-03-03), numeric (03.03.2026, 3.3., 3/3, 12/05/2026), day and
// month name and month name and day in the languages above (with or
// without weekday and year), weekdays ("back on Monday") and "tomorrow".
// A date after a return word ("back", "zurück", "de retour", "terug",
// "wieder ... ab") is the return date; failing that, a date after "until"
// ("bis", "jusqu'au", "hasta", "tot", "fino al"), plus one day when the
// text says the date is included ("through", "bis einschließlich", "t/m",
// "till och med"); failing that, the latest date stated. Dates without a
// year take the first year that puts them on or after the message's Date.
// A slash date that reads both ways (12/05) takes the reading nearest after
// the message's Date. Without a usable Date header only dates that carry
// their year are used. The time is midnight in the Date header's zone.
//
// # Other fields
//
// [Result.OriginalMessageID] is the Message-ID of the message a report is
// about (from its message/rfc822 or text/rfc822-headers part, or the copy
// of the original in a text bounce), else the first In-Reply-To.
// [Result.References] is In-Reply-To and then References, in order and
// without duplicates. Message-IDs keep their angle brackets.
// [Result.Snippet] is the first 200 or so characters of the new text of a
// reply, unsubscribe or auto-reply (text/plain preferred, else HTML
// rendered as text), with quoted history ("On ... wrote:", Outlook's
// "From: ... Sent: ..." block, "-----Original Message-----", "> " lines,
// Gmail and Outlook HTML quote containers) and signatures ("-- ", "Sent
// from my iPhone") removed. Text in any charset golang.org/x/net/html/charset
// knows (ISO-8859-x, Windows-125x, KOI8, Shift_JIS, ...) is read as UTF-8.
package classify
