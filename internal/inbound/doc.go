// Package inbound brings replies and bounces back to Touchline.
//
// Two sources feed one [Handler]:
//
//   - [SMTPServer] receives mail for Touchline's own bounce and reply
//     domains: DSNs sent to VERP return paths (b-TOKEN@bounces.example.com)
//     and replies forwarded to tracking addresses. It accepts recipients in
//     [SMTPConfig.Domains] only and is never an open relay. It follows
//     RFC 5321 (null reverse-path for DSNs, §4.5.5; a Received trace header
//     per §4.4), RFC 3207 (STARTTLS), RFC 1870 (SIZE) and RFC 3848
//     (ESMTPS in the Received "with" clause).
//   - [Poller] reads a sales rep's own mailbox over IMAP (RFC 3501/9051)
//     strictly read-only: the folder is opened with EXAMINE, bodies are
//     fetched with BODY.PEEK[] so \Seen is never set, and it never
//     STOREs, MOVEs, COPYs, EXPUNGEs or deletes. Until go.sum records
//     github.com/emersion/go-message (go-imap's client needs it), the
//     go-imap code builds only with -tags goimap; without the tag Poll
//     returns [ErrIMAPUnavailable].
//
// # Delivery contract
//
// The Handler owns a message from the moment it returns nil. A Handler error is never
// swallowed: over SMTP the sender gets 451 4.3.0 and retries; over IMAP the
// poll stops and the saved state still points before that message.
// Both paths deliver at least once, so a Handler must be idempotent
// (key on Message-ID, or for IMAP on Source, UIDValidity and UID): a crash
// after the Handler succeeded but before the state was saved, or a sender
// that missed our 250, re-delivers.
package inbound
