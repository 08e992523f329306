package sequencer

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"golang.org/x/net/publicsuffix"

	"github.com/touchline/touchline/internal/inbound/classify"
	"github.com/touchline/touchline/internal/store"
)

// What a failed delivery does, whether a DSN reported it (Inbox) or the
// SMTP server refused the message at send time (Engine.touch): the same
// classification (classify.Rejection follows the bounce rules) and the
// same effects.

// eventFunc appends an event to the lead's history in the caller's
// transaction.
type eventFunc func(typ string, data map[string]any) error

// hardBounce: the address is bad. Its verdict becomes undeliverable
// (bounced), it is suppressed, its enrollments stop; a deliverable verdict
// before is a verifier miss, and the domain's cached facts are dropped.
// The cadence's bounce guardrail counts it.
func (e *Engine) hardBounce(ctx context.Context, tx pgx.Tx, client *river.Client[pgx.Tx], tm store.TouchMatch, r classify.Recipient, event eventFunc) error {
	prev, err := e.Store.MarkBounced(ctx, tx, tm.Workspace, tm.LeadID, tm.LeadEmail, strings.TrimSpace(r.Status+" "+r.Diagnostic))
	if err != nil {
		return err
	}
	data := map[string]any{"status": r.Status, "diagnostic": r.Diagnostic, "reason": r.Reason, "verdict_before": prev}
	if prev == "deliverable" {
		// The verifier said it would not bounce: a miss, and its cached
		// facts of the domain are suspect.
		data["verifier_miss"] = true
		if err := e.Store.ForgetDomain(ctx, tx, domainOf(tm.LeadEmail)); err != nil {
			return err
		}
	}
	if err := event("hard_bounce", data); err != nil {
		return err
	}
	if _, err := e.stopEnrollments(ctx, tx, client, tm.Workspace, store.StopWhich{LeadID: tm.LeadID}, "bounced"); err != nil {
		return err
	}
	return e.guard(ctx, tx, client, tm, "hard_bounce")
}

// softBounce: the address may work later (a delay, a full mailbox). A
// report that the remote side gave up sends the touch again after
// SoftRetryAfter; the SoftBounceLimit-th soft bounce of an address counts
// as hard: a mailbox that keeps failing is as good as gone. It reports
// whether it did.
func (e *Engine) softBounce(ctx context.Context, tx pgx.Tx, client *river.Client[pgx.Tx], tm store.TouchMatch, r classify.Recipient, event eventFunc) (bool, error) {
	if err := event("soft_bounce", map[string]any{"status": r.Status, "diagnostic": r.Diagnostic, "reason": r.Reason}); err != nil {
		return false, err
	}
	n, err := e.Store.CountLeadEvents(ctx, tx, tm.Workspace, tm.LeadID, "soft_bounce")
	if err != nil {
		return false, err
	}
	if n >= SoftBounceLimit {
		r.Diagnostic = fmt.Sprintf("%d soft bounces; last: %s", n, r.Diagnostic)
		return true, e.hardBounce(ctx, tx, client, tm, r, event)
	}
	if r.Action == "failed" {
		// The remote side gave up (a full mailbox, a queue that expired):
		// the touch is sent again later. A "delayed" report means it is
		// still trying, and a refusal at send time is retried by River.
		due := e.now().Add(cmpDur(e.SoftRetryAfter, 24*time.Hour))
		ok, err := e.Store.ReopenTouch(ctx, tx, tm.EnrollmentID, tm.Step, due, fmt.Sprintf("soft_bounce %s: resending (%d of %d)", r.Status, n, SoftBounceLimit-1))
		if err != nil || !ok {
			return false, err
		}
		if err := e.requeueNext(ctx, tx, client, tm.EnrollmentID, tm.Step); err != nil {
			return false, err
		}
	}
	return false, nil
}

// senderRejected: the recipient's provider refused the sender (policy,
// authentication, reputation, blocklist); the address is fine and is
// never suppressed for it. The mailbox backs off from that provider
// (store.RecordSenderRejection) and its guardrail counts it.
func (e *Engine) senderRejected(ctx context.Context, tx pgx.Tx, client *river.Client[pgx.Tx], tm store.TouchMatch, r classify.Recipient, atSend bool, event eventFunc) error {
	if tm.MailboxID == nil {
		return event("sender_rejection", map[string]any{"status": r.Status, "diagnostic": r.Diagnostic, "reason": r.Reason})
	}
	lead, err := e.Store.LeadTx(ctx, tx, tm.Workspace, tm.LeadID)
	if err != nil {
		return err
	}
	provider := providerOf(lead)
	b, err := e.Store.RecordSenderRejection(ctx, tx, store.SenderRejection{Workspace: tm.Workspace, MailboxID: *tm.MailboxID, Provider: provider,
		EnrollmentID: tm.EnrollmentID, Step: tm.Step, AtSend: atSend, Status: r.Status, Reason: r.Reason, Diagnostic: r.Diagnostic})
	if err != nil {
		return err
	}
	e.log().Warn("sender-side rejection: backing off", "mailbox", *tm.MailboxID, "provider", provider, "level", b.Level,
		"spacing", b.Spacing, "status", r.Status, "reason", r.Reason)
	if err := event("sender_rejection", map[string]any{"status": r.Status, "diagnostic": r.Diagnostic, "reason": r.Reason,
		"mailbox_id": *tm.MailboxID, "provider": provider, "backoff_level": b.Level, "at_send": atSend}); err != nil {
		return err
	}
	if atSend {
		// The touch was not sent; its outcome stays for the retry.
		return e.guardMailbox(ctx, tx, client, tm)
	}
	return e.guard(ctx, tx, client, tm, "sender_rejection")
}

// providerOf names the lead's mailbox provider: the registrable domain of
// its first MX host as the verifier saw it (aspmx.l.google.com is
// google.com, *.mail.protection.outlook.com is outlook.com), else the
// address's own domain. Back-off is per provider because that is who
// judges the sender: ten domains hosted by Google are one reputation.
func providerOf(lead store.Lead) string {
	if v := lead.Verification; v != nil && v.Evidence != nil && len(v.Evidence.MXHosts) > 0 {
		host := strings.TrimSuffix(strings.ToLower(v.Evidence.MXHosts[0]), ".")
		if p, err := publicsuffix.EffectiveTLDPlusOne(host); err == nil {
			return p
		}
		return host
	}
	return domainOf(lead.Email)
}

// Guardrails: more than GuardLimit of the last GuardWindow sends coming
// back hard-bounced pauses the cadence (the list is bad); as many
// sender-side rejections pause the mailbox (the sender is in trouble).
// Each knows its cause and never trips for the other's. A person resumes.
const (
	GuardWindow = 100
	GuardLimit  = 3 // 3%
	// SoftBounceLimit soft bounces of one address make it a hard bounce.
	SoftBounceLimit = 3
)

// guard records a sent touch's outcome and trips the guardrail of its
// cause.
func (e *Engine) guard(ctx context.Context, tx pgx.Tx, client *river.Client[pgx.Tx], tm store.TouchMatch, outcome string) error {
	if err := e.Store.SetTouchOutcome(ctx, tx, tm.EnrollmentID, tm.Step, outcome); err != nil {
		return err
	}
	switch outcome {
	case "hard_bounce":
		sends, hits, err := e.Store.RecentOutcomes(ctx, tx, tm.Workspace, tm.CadenceID, 0, GuardWindow, outcome)
		if err != nil || hits <= GuardLimit {
			return err
		}
		reason := fmt.Sprintf("bounce_rate: %d hard bounces in the last %d sends (limit %d%%)", hits, sends, GuardLimit*100/GuardWindow)
		paused, err := e.Store.PauseCadenceFor(ctx, tx, tm.CadenceID, reason)
		if err != nil || !paused {
			return err
		}
		e.log().Warn("cadence paused by the bounce guardrail", "cadence", tm.CadenceID, "reason", reason)
		return e.emit(ctx, tx, client, tm.Workspace, "cadence.paused", map[string]any{"cadence_id": tm.CadenceID, "reason": reason})
	case "sender_rejection":
		return e.guardMailbox(ctx, tx, client, tm)
	}
	return nil
}

// guardMailbox pauses the touch's mailbox when sender-side rejections
// passed GuardLimit of its last GuardWindow sends.
func (e *Engine) guardMailbox(ctx context.Context, tx pgx.Tx, client *river.Client[pgx.Tx], tm store.TouchMatch) error {
	if tm.MailboxID == nil {
		return nil
	}
	sends, hits, err := e.Store.SenderRejectionRate(ctx, tx, *tm.MailboxID, GuardWindow)
	if err != nil || hits <= GuardLimit {
		return err
	}
	reason := fmt.Sprintf("sender_rejections: %d in the last %d sends (limit %d%%)", hits, sends, GuardLimit*100/GuardWindow)
	paused, err := e.Store.PauseMailbox(ctx, tx, *tm.MailboxID, reason)
	if err != nil || !paused {
		return err
	}
	e.log().Warn("mailbox paused by the sender-rejection guardrail", "mailbox", *tm.MailboxID, "reason", reason)
	return e.emit(ctx, tx, client, tm.Workspace, "mailbox.paused", map[string]any{"mailbox_id": *tm.MailboxID, "reason": reason})
}
