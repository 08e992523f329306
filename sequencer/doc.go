// Package sequencer runs outbound cadences: multi-step sequences of emails
// and person-done tasks (calls, LinkedIn touches, to-dos) over days or
// weeks, scheduled as River jobs on PostgreSQL and sent over SMTP
// submission through the team's own mailboxes, DKIM-signed.
//
// # Model
//
// A cadence has 1 to 20 steps, each with a channel and a delay from the
// previous step ("2d" business days, or "4h", "90s"), a sending window
// (days, hours, holidays, a default time zone that a lead's own zone
// replaces) and a pool of mailboxes. Email steps have subject and body
// templates (package template) validated against the workspace's fields
// when the cadence is created, optional weighted A/B variants, and may be
// sent as replies in the thread of the first email. An enrollment is one
// lead's run through one cadence; it keeps one mailbox for its whole
// thread.
//
// # Guarantees
//
// One touch, once. Each (enrollment, step) has one row in touches and at
// most one pending River job per due time (unique by arguments). The next
// step's job is inserted in the same transaction that records the current
// step as sent and moves the enrollment on, so a chain can neither break
// nor fork. River's completer then completes the current job, in batches;
// a job run again before it does finds its enrollment past its step and
// does nothing. (Other outcomes complete their job in their transaction,
// with river.JobCompleteTx.)
//
// Before any byte of a message goes to SMTP, one committed statement
// (store.ClaimTouch) locks the enrollment, the touch and the mailbox,
// checks that the enrollment is still at this step, that the
// address and its domain are not suppressed, and the mailbox's daily cap
// and spacing, counts the send and moves the touch to 'sending'. After SMTP
// answers, the touch becomes 'sent' (or 'failed' on a 5xx, which stops the
// enrollment). If the process dies between the two, the retried job finds the
// touch in 'sending' and cannot know whether SMTP queued the message: it
// marks the touch 'uncertain' (whatever became of the enrollment
// meanwhile: stopped, paused or moved on), never sends it again, and goes
// on with the next step if the enrollment is still at this one. So across any crash: no touch is sent twice; every touch ends
// 'sent', 'failed', 'skipped', 'uncertain' or done as a task, none is lost
// without a record. A touch whose job fails its last attempt (River gives
// up on a job after MaxAttempts; 4xx replies or an unreachable submission
// server for about a week) ends 'failed' with the last error, and its
// enrollment stops as send_failed, with an enrollment.stopped event: the
// later steps follow up on a message the lead never got. TestWorkerKilledWhileSending SIGKILLs a worker process
// mid-cadence and checks exactly that.
//
// Nothing to an address known to bounce. Before its first email, a lead's
// address is verified unless it has a verdict fresher than FreshFor (30
// days): undeliverable is never sent; risky (and unknown) only as the
// cadence's risky_policy allows (skip by default; allow_catch_all sends to
// catch-all domains); suppressed addresses and domains never. A 5xx at send
// time about the mailbox (5.1.x) stops the enrollment as undeliverable.
//
// Nothing outside the window. A touch due outside its window waits for the
// next opening in the lead's time zone (calendar.Window, correct across
// daylight-saving changes). A mailbox never exceeds its daily cap (counted
// per local day of the mailbox, ramped up for new mailboxes) or its
// spacing; a touch that finds no capacity waits for the next day's window,
// never dropped. Delays count from the previous touch's actual hand-off, so
// a held-back touch shifts the later ones: no catch-up bursts.
//
// Messages carry a Message-ID on the sender's domain, a plain-text part,
// RFC 8058 one-click List-Unsubscribe (both headers DKIM-signed), a
// Feedback-ID naming the cadence, and a VERP return path that names the
// touch, so bounces come back to it.
//
// # Evidence
//
// Mail that comes back (Inbox) changes an enrollment, a lead's stage or
// the suppression list only with evidence that it is about that lead:
//
//   - a bounce or complaint names the touch by its VERP return path or our
//     Message-ID (never by sender: a DSN comes from a MAILER-DAEMON);
//   - mail to the List-Unsubscribe mailto: address, unsubscribe+TOKEN@,
//     carries a token with a MAC naming the lead and enrollment: it is an
//     unsubscribe whoever sends it (an alias of the lead, a forwarding
//     account);
//   - a reply whose In-Reply-To or References names a Message-ID we sent;
//   - otherwise, a reply matched only by its From address counts if the
//     From domain vouched for it, checked on receipt (package senderauth):
//     a valid DKIM signature, or over inbound SMTP an SPF pass for the
//     MAIL FROM (or HELO) identity, of a domain aligned with From as
//     DMARC defines it (RFC 7489 §3.1, §4.2). Authentication-Results fields
//     are never trusted; mail polled over IMAP has no envelope, so only
//     DKIM can vouch for it.
//
// A message matched by its sender's address without that evidence is
// stored, matched to its lead and shown as unverified (GET /v1/inbound,
// the dashboard's replies) and has no effect - no stop, promotion,
// suppression, event or webhook - until a person confirms it with POST
// /v1/inbound/{id}/reclassify (the same class confirms it). Anyone who
// knows a lead's address can write a From field; only the lead's domain
// can sign for it.
//
// # Stops
//
// Every path that stops an enrollment - a reply, a colleague's reply
// (stop_domain_on_reply), an unsubscribe by mail or one click, a
// complaint, a hard bounce, the verification gate and the other reasons a
// touch is skipped, a person - records the stop and emits
// enrollment.stopped for each enrollment it stopped, with the reason, in
// one transaction (Engine.stopEnrollments). Every unsubscribe, whichever
// way it came, is one "unsubscribe" lead event that /v1/stats counts, once
// per lead.
package sequencer
