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
//
//  2. Delivery status ([ClassBounce]), in this order:
//     - an RFC 3464 multipart/report with report-type=delivery-status (or
//     RFC 6533 global-delivery-status), rule "dsn:rfc3464", one
//     [Recipient] per recipient whose Action is "failed" or "delayed".
//     A report whose recipients all succeeded - Action delivered, relayed,
//     expanded or deliverable, or any 2.x.x Status (RFC 3463 §3.1), which
//     decides even beside another Action - is [ClassUnknown], rule
//     "dsn:success": a success is never a failure. Reports are read
//     tolerantly: comments in Status ("5.0.0 (permanent failure)"), a Status
//     without a code (its words join the diagnostic), "Action: failure",
//     repeated address types, recipient blocks without blank lines between
//     them, the report fields written into the text part (or, with no
//     report part at all, at the margin of the message's own text:
//     Final-Recipient and Action lines, not a quoted copy), a multipart
//     boundary lost from the header (the body's own delimiter is used),
//     a report forwarded inside another message. The recipient is the
//     Original-Recipient when that is an address (RFC 3464 §2.3.1: the
//     address the sender wrote), else the Final-Recipient; X.400 names,
//     "LOCAL;<user>" and a host alone ("@mx.example.org") are not
//     addresses. RFC 6533 "\x{HEX}" and RFC 3461 xtext escapes are decoded.
//     - an Amazon SES notification (JSON, by mail or wrapped in SNS):
//     "dsn:ses-json" for bounces, "arf:ses-json" ([ClassComplaint]) for
//     complaints, "dsn:success" for deliveries.
//     - bounces without a report, read from their text: the formats of
//     Exchange and Microsoft 365 ("dsn:exchange-ndr"), Gmail ("dsn:gmail"),
//     qmail ("dsn:qmail"), Postfix ("dsn:postfix") and Exim ("dsn:exim");
//     then, for every other mail system, the generic reader ("dsn:text"):
//     the addresses in the bounce's own text (cut before the copy of the
//     returned message), each with the words next to it, or the bounce's
//     statement of the failure when nothing is next to it. Not recipients:
//     the bounce's own header addresses (the sender it returns to),
//     postmaster and mailer-daemon, addresses in URLs, quoted header lines
//     and SMTP command echoes, an address introduced as a sender ("mail
//     from x"), and addresses in sentences of advice unless the returned
//     copy was sent to them. "(expanded from x)" and "(generated from x)"
//     make x the recipient. X-Failed-Recipients (Exim) lists them when
//     present. AOL names screen names only: name@aol.com. A failure notice
//     that names no address but returns a copy of a message sent to one
//     address only makes that address the recipient, unless a mailing
//     list sent it (List-Id, List-Post, X-BeenThere: the copy's To is
//     then the list). Mailing-list control addresses (-request, -owner,
//     -bounces, -ctl, -join, -leave, ...) are never recipients. Gmail's
//     quoted reply from the remote server is the diagnostic over its own
//     summary. Words of delay ("will keep trying", "has not yet been
//     delivered") make them "delayed".
//
//     A message from a mail system - a MAILER-DAEMON, postmaster or
//     similar sender, mailing-list software (-bounces, -owner, -request,
//     Majordomo, LISTSERV, ezmlm, X-List-Administrivia, fml's notices
//     from the list's -admin or -ctl address), a virus, spam or content
//     filter's notice (a filter's sender name such as virus-admin,
//     quarantine, antispam, amavis, or a subject such as "virus found",
//     "quarantined", "message blocked"), an
//     X-Failed-Recipients field, Exchange's X-MS-Exchange-Message-Is-Ndr
//     or X-MS-Embedded-Report, a multipart/report, a sentence only mail
//     software writes in the unquoted text ("Delivery has failed to these
//     recipients", "This is the mail system at host", "----- Transcript
//     of session follows -----", ...), a
//     bounce subject in English, German, French, Italian, Spanish, Dutch,
//     Portuguese, the Nordic languages, Polish, Russian, Japanese or
//     Chinese (not when it reads as a person's "Re:" without failure
//     words), or a provider notification - is read here, before the
//     auto-reply rules (bounces carry Precedence and Auto-Submitted too),
//     and is never [ClassHumanReply]: when no recipient can be read it is
//     [ClassUnknown] with rule "dsn:unparsed", and nothing is inferred about
//     any address from it. A message with a null return path (RFC 5321
//     §4.5.5) that matches no other rule is [ClassUnknown],
//     "machine:null-return-path".
//
//  3. Auto-reply ([ClassAutoReply]): RFC 3834 Auto-Submitted other than "no"
//     ("auto:auto-submitted"), X-Autoreply, X-Mail-Autoreply,
//     X-Autoreply-From, X-Autogenerated: Reply, X-Autorespond or
//     X-Autoresponder ("auto:x-autoreply", "auto:x-autorespond"),
//     Precedence auto_reply, bulk, junk or list ("auto:precedence"), X-Apple-Action: vacation
//     ("auto:x-apple-action"), or an out-of-office subject
//     (one starting "Auto:", or naming an absence in a known language:
//     "auto:subject-LANG", LANG one of en, de, fr, es, pt, nl, it, sv, da,
//     no, fi, ja, zh, ru, pl, cs, tr, ko, or nordic for words the
//     Scandinavian languages share), new text in which the message says
//     software wrote it ("this is an automated message", "your ticket
//     number is", in the languages above: "auto:automated-statement"), or a
//     challenge/response system asking the sender to confirm itself
//     ("auto:challenge-response": the words such systems use about
//     themselves - "challenge/response", "verify that you are a real
//     person", "approved senders").
//     X-Auto-Response-Suppress is a request to others not to answer
//     automatically; on its own it marks nothing (Outlook sets it on
//     ordinary mail). [Result.ReturnDate] is the day the person says they
//     are back, when the text says so (see below).
//
//  4. Unsubscribe ([ClassUnsubscribe]): a short reply - at most 40 words of
//     new text, quotes and signature removed - that asks to be removed, in
//     English, German, French, Spanish, Portuguese, Dutch, Italian or a
//     Nordic language ("unsub:body"), or whose subject is such a request and
//     whose new text is as short ("unsub:subject", as List-Unsubscribe
//     mailto: links produce). The word in a long reply or in quoted text
//     does not count.
//
//  5. Everything else is [ClassHumanReply] ("human"), except other reports
//     (multipart/report of another type, such as read receipts), which are
//     [ClassUnknown] with rule "report:TYPE".
//
// # Bounce kinds
//
// Each failed recipient gets a [BounceKind] from package smtpreply's
// reading of its status and diagnostic - the same reading the verifier
// gives its RCPT probes, so an address gets the same answer at probe time
// and at send time. Codes decide; the text refines what they leave open.
//
// When codes disagree, these rules decide:
//
//   - Outer against inner: the report's Status field (the reporting MTA's
//     summary) gives the class - whether the failure is final is its to say
//     (RFC 3464 §2.3.4) - and the code in the remote server's reply quoted
//     in Diagnostic-Code gives subject and detail when it is specific and
//     differs ("5.1.0 Unknown address error" around "552 5.2.2 Mailbox
//     full" is a full mailbox). A reply code whose class differs from its
//     own enhanced code ("550 4.2.2") gives the class.
//   - Code against words: X.1.x (address) stands unless the words are only
//     about the sender's IP, rate, reputation or authentication ("550 5.1.1
//     ... IP has sent to too many recipients this hour" is rate_limited),
//     or name a full mailbox or a message size instead; X.7.x (policy)
//     stands unless the words say the mailbox does not exist and nothing
//     about policy (Gmail and Yandex "5.7.1 No such user"); a refusal of
//     our envelope sender ("sender rejected", "sender address rejected",
//     X.1.7, X.1.8) is the sender's whatever address it quotes; a
//     statement that the mailbox does not exist outweighs other words
//     ("550 5.1.1 ... does not exist").
//   - DNS trouble ("Host not found, try again", "Malformed or unexpected
//     name server reply", SERVFAIL, timeouts) is never a dead domain, even
//     under 5.1.2 or 5.4.4; X.4.4 is an unknown host only when the words say
//     the name does not exist. "DNS error" alone is trouble, but beside a
//     statement that the name does not exist ("DNS Error: Domain name not
//     found") it is an unknown host.
//   - "Message expired", "in the queue too long" are the sending MTA
//     giving up (expired, soft), never an expired account.
//   - "mailbox unavailable", RFC 5321's generic text for 550, says the
//     mailbox does not exist only when no other cause is named ("...
//     mailbox unavailable (quota exceeded)" is a full mailbox). 552 with
//     X.2.3 is a message too big, not a full mailbox.
//   - Amazon SES's "suppressed sending to this address" is soft
//     (suppressed) in a mail report as in its JSON: nothing was tried.
//
// The kinds:
//
//   - [Hard], the address is bad: unknown user (mailbox_not_found), unknown
//     domain (host_not_found), null MX (null_mx: X.1.10, or 5.7.27 and "host
//     does not accept mail" written about the recipient's domain, RFC 7505),
//     bad syntax, moved, disabled account (mailbox_disabled).
//   - [Soft], try again later: every 4.x.x and every Action "delayed"
//     (even when the cause is sender-side, because the message may still
//     arrive), X.2.2 mailbox full, X.4.7 expired, DNS trouble
//     (dns_failure), and permanent failures that say nothing about the
//     address (unknown) - the package errs towards not condemning an
//     address on evidence that is not about it.
//   - [Sender], the address is fine and the sender has a problem: X.7.x
//     security and policy, authentication (5.7.26 Gmail DMARC, 5.7.515
//     Microsoft, SPF), blocklists, reputation and spam verdicts, rate
//     limits, relay refusals, a refused envelope sender (sender_address),
//     TLS required, and refusals of the message (message_rejected: X.3.4,
//     X.2.3, X.6.x, size and content).
//
// [Recipient.Reason] is a short word for the cause: mailbox_not_found,
// host_not_found, null_mx, moved, bad_syntax, mailbox_disabled,
// mailbox_full, delayed, expired, temporary, dns_failure, authentication,
// blocklist, reputation, rate_limited, policy, sender_address,
// message_rejected, tls_required, suppressed (Amazon SES suppression list)
// or unknown.
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
