package sequencer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/touchline/touchline/internal/inbound"
	"github.com/touchline/touchline/internal/inbound/classify"
	"github.com/touchline/touchline/internal/inbound/senderauth"
	"github.com/touchline/touchline/internal/metrics"
	"github.com/touchline/touchline/internal/store"
	"github.com/touchline/touchline/sequencer/calendar"
)

// Inbox turns mail that comes back - over Touchline's inbound SMTP or
// polled from the reps' mailboxes - into effects on leads and enrollments.
// It implements inbound.Handler. Every message is stored raw (up to
// MaxRaw bytes) with the rule that classified it, once per Message-ID, so
// a retried delivery or a re-poll acts once.
//
// Matching, in order: the VERP return path a bounce comes back to, the
// token of the List-Unsubscribe mailto: address it was sent to, then
// In-Reply-To/References against the Message-IDs Touchline sent, then the
// sender's address against the leads it mailed. A reply from another
// address at the lead's domain is a colleague reply. A match by the
// sender's address alone needs evidence before it has any effect (see
// the package documentation, "Evidence").
type Inbox struct {
	*Engine
	// River inserts jobs when the message did not come through a worker
	// (inbound SMTP).
	River *river.Client[pgx.Tx]
	// Auth checks whether a message's From domain vouched for it (aligned
	// DKIM, or SPF over inbound SMTP). Nil: no message matched only by
	// its sender's address takes effect before a person confirms it.
	Auth   *senderauth.Checker
	MaxRaw int // default 1 MiB
	// AutoReplyPause is how long an out-of-office pauses an enrollment
	// when it names no return date (default 3 days).
	AutoReplyPause time.Duration
}

var _ inbound.Handler = (*Inbox)(nil)

// HandleMessage implements inbound.Handler.
func (ib *Inbox) HandleMessage(ctx context.Context, m inbound.Message) error {
	res, err := classify.Classify(m.Raw)
	if err != nil {
		// Not mail at all: keep nothing, but do not make the sender retry.
		ib.log().Warn("inbound: unparsable message dropped", "source", m.Source, "from", m.From, "err", err)
		return nil
	}
	hdr, _ := mail.ReadMessage(strings.NewReader(string(m.Raw)))
	var msgID, fromAddr string
	if hdr != nil {
		msgID = strings.TrimSpace(hdr.Header.Get("Message-ID"))
		if a, err := mail.ParseAddress(hdr.Header.Get("From")); err == nil {
			fromAddr = strings.ToLower(a.Address)
		}
	}
	match, by := ib.match(ctx, m, res, fromAddr)
	if by == matchUnsubscribe && res.Class != classify.ClassBounce && res.Class != classify.ClassComplaint {
		// Mail to the unsubscribe address asks to unsubscribe, whatever
		// its subject and body say (most say nothing).
		res.Class, res.Rule = classify.ClassUnsubscribe, "unsub:address"
	}
	metrics.Inbound.WithLabelValues(string(res.Class)).Inc()
	for _, r := range res.Recipients {
		if r.Kind != "" {
			metrics.Bounces.WithLabelValues(string(r.Kind)).Inc()
		}
	}
	to := m.To
	if to == nil {
		to = []string{}
	}
	rec := store.InboundRecord{Source: m.Source, EnvelopeFrom: m.From, EnvelopeTo: to, MessageID: msgID,
		Class: string(res.Class), Rule: res.Rule, MatchedBy: by, Detail: map[string]any{}}
	maxRaw := ib.MaxRaw
	if maxRaw <= 0 {
		maxRaw = 1 << 20
	}
	rec.Raw, rec.Truncated = m.Raw, len(m.Raw) > maxRaw
	if rec.Truncated {
		rec.Raw = m.Raw[:maxRaw]
	}
	if match != nil {
		rec.Workspace, rec.EnrollmentID, rec.LeadID, rec.Step = &match.Workspace, &match.EnrollmentID, &match.LeadID, &match.Step
	}
	if res.Snippet != "" {
		rec.Detail["snippet"] = res.Snippet
	}
	if len(res.Recipients) > 0 {
		rec.Detail["recipients"] = res.Recipients
	}
	if res.ReturnDate != nil {
		rec.Detail["return_date"] = res.ReturnDate
	}
	if match != nil {
		rec.Evidence = evidenceOf[by]
		if by == matchSender {
			// Anyone can write a From field: the sender's domain must
			// vouch for the message, or a person confirm it.
			auth := ib.authenticate(ctx, m, fromAddr)
			rec.Detail["auth"] = auth
			if auth.Pass {
				rec.Evidence = "dmarc: " + auth.By
			} else {
				rec.Unverified, rec.Evidence = true, ""
				ib.log().Info("inbound: matched by sender address only, without evidence; stored unverified",
					"from", fromAddr, "enrollment", match.EnrollmentID, "class", res.Class, "auth", auth.String())
			}
		}
	}
	colleague := match != nil && fromAddr != "" && !strings.EqualFold(fromAddr, match.LeadEmail) && by != matchVERP && by != matchUnsubscribe &&
		domainOf(fromAddr) == domainOf(match.LeadEmail)
	if colleague {
		rec.Detail["colleague"] = fromAddr
	}
	return ib.Store.InTx(ctx, func(tx pgx.Tx) error {
		id, fresh, err := ib.Store.InsertInbound(ctx, tx, rec)
		if err != nil || !fresh || match == nil || rec.Unverified {
			return err
		}
		return ib.apply(ctx, tx, id, res, *match, colleague, fromAddr)
	})
}

func domainOf(addr string) string {
	return strings.ToLower(addr[strings.LastIndexByte(addr, '@')+1:])
}

// How a message was matched to a touch (inbound_messages.matched_by).
const (
	matchVERP        = "verp"                // the VERP return path of a touch (bounces)
	matchUnsubscribe = "unsubscribe-address" // the List-Unsubscribe mailto: address of an enrollment
	matchThread      = "in-reply-to"         // In-Reply-To/References name a Message-ID we sent
	matchSender      = "sender"              // only the From address: needs evidence
)

func (ib *Inbox) match(ctx context.Context, m inbound.Message, res classify.Result, fromAddr string) (*store.TouchMatch, string) {
	// Mail reaches the server's own addresses before any tenant is known:
	// the match names the workspace. Lookup errors only mean no match here.
	found, _ := MatchTouch(ctx, ib.Store, MatchKeys{VERP: ib.VERPKey, Unsubscribe: ib.UnsubscribeKey}, store.AnyWorkspace, m.To, res, fromAddr)
	return found.Touch, found.By
}

// evidenceOf names what ties a message to its touch, by how it matched
// (InboundRecord.Evidence); a match by sender has evidence only if its
// domain vouched for it.
var evidenceOf = map[string]string{matchVERP: "verp", matchUnsubscribe: "unsubscribe token", matchThread: "message-id"}

// authenticate checks, on receipt, whether the domain of the From address
// vouched for the message (senderauth: DMARC's aligned DKIM or SPF pass).
// Mail polled over IMAP has no envelope: DKIM only.
func (ib *Inbox) authenticate(ctx context.Context, m inbound.Message, fromAddr string) senderauth.Result {
	if ib.Auth == nil {
		return senderauth.Result{Reason: "sender authentication is not configured"}
	}
	res := ib.Auth.Check(ctx, senderauth.Envelope{IP: m.RemoteIP, HELO: m.HELO, MailFrom: m.From}, m.Raw)
	if res.Pass && res.From != domainOf(fromAddr) {
		// Not the From that matched the lead (senderauth reads the one
		// From field; a second one would have failed it).
		res.Pass, res.By, res.Reason = false, "", "authenticated domain "+res.From+" is not the sender's "+domainOf(fromAddr)
	}
	return res
}

// apply carries out a classified message's effects, in the transaction that
// stored it.
func (ib *Inbox) apply(ctx context.Context, tx pgx.Tx, inboundID int64, res classify.Result, tm store.TouchMatch, colleague bool, fromAddr string) error {
	ws := tm.Workspace
	event := func(typ string, data map[string]any) error {
		data["inbound_id"] = inboundID
		data["enrollment_id"] = tm.EnrollmentID
		data["step"] = tm.Step
		return ib.Store.LeadEvent(ctx, tx, ws, tm.LeadID, typ, data)
	}
	switch res.Class {
	case classify.ClassComplaint, classify.ClassUnsubscribe:
		return ib.unsubscribe(ctx, tx, ib.River, tm, string(res.Class), string(res.Class), map[string]any{"inbound_id": inboundID, "rule": res.Rule})
	case classify.ClassBounce:
		for _, r := range res.Recipients {
			switch r.Kind {
			case classify.Hard:
				// Only the address it is about; a DSN may list others.
				if r.Address != "" && !strings.EqualFold(r.Address, tm.LeadEmail) {
					continue
				}
				if err := ib.hardBounce(ctx, tx, ib.River, tm, r, event); err != nil {
					return err
				}
			case classify.Soft:
				if r.Address != "" && !strings.EqualFold(r.Address, tm.LeadEmail) {
					continue
				}
				if _, err := ib.softBounce(ctx, tx, ib.River, tm, r, event); err != nil {
					return err
				}
			case classify.Sender:
				// The address is fine; the sender is in trouble.
				if err := ib.senderRejected(ctx, tx, ib.River, tm, r, false, event); err != nil {
					return err
				}
			}
		}
		return nil
	case classify.ClassAutoReply:
		ok, err := ib.Store.PauseEnrollment(ctx, tx, tm.EnrollmentID, "auto_reply")
		if err != nil || !ok {
			return err
		}
		until := ib.resumeAt(ctx, tm, res)
		opts := ResumeArgs{}.InsertOpts()
		opts.ScheduledAt = until
		client := ib.River
		if c, err := river.ClientFromContextSafely[pgx.Tx](ctx); err == nil {
			client = c // inside a worker (IMAP polling)
		}
		if client == nil {
			return errors.New("sequencer: inbox has no River client to schedule the resume")
		}
		if _, err := client.InsertTx(ctx, tx, ResumeArgs{EnrollmentID: tm.EnrollmentID, Reason: "auto_reply"}, &opts); err != nil {
			return err
		}
		return event("auto_reply", map[string]any{"resume_at": until, "rule": res.Rule})
	case classify.ClassHumanReply:
		if _, err := ib.stopEnrollments(ctx, tx, ib.River, ws, store.StopWhich{LeadID: tm.LeadID}, "replied"); err != nil {
			return err
		}
		sc, err := ib.Store.GetCadence(ctx, ws, tm.CadenceID)
		if err != nil {
			return err
		}
		if sc.StopDomainOnReply || colleague {
			if _, err := ib.stopEnrollments(ctx, tx, ib.River, ws, store.StopWhich{CadenceID: tm.CadenceID, Domain: domainOf(tm.LeadEmail)}, "colleague_replied"); err != nil {
				return err
			}
		}
		promoted, err := ib.Store.PromoteLead(ctx, tx, ws, tm.LeadID, "prospect", "replied")
		if err != nil {
			return err
		}
		if promoted {
			if err := ib.emit(ctx, tx, ib.River, ws, "lead.promoted", map[string]any{"lead_id": tm.LeadID, "email": tm.LeadEmail,
				"stage": "prospect", "enrollment_id": tm.EnrollmentID, "snippet": res.Snippet, "colleague": colleague}); err != nil {
				return err
			}
		}
		data := map[string]any{"snippet": res.Snippet, "mailbox_id": tm.MailboxID, "from": fromAddr}
		if colleague {
			data["colleague"] = true
		}
		return event("replied", data)
	}
	return nil
}

// resumeAt is when an out-of-office pause ends: the next business day
// after the return date, at the window's opening in the lead's zone, or
// after the default pause.
func (ib *Inbox) resumeAt(ctx context.Context, tm store.TouchMatch, res classify.Result) time.Time {
	now := ib.now()
	sc, err := ib.Store.GetCadence(ctx, tm.Workspace, tm.CadenceID)
	if err != nil {
		return now.Add(cmpDur(ib.AutoReplyPause, 72*time.Hour))
	}
	c, err := ib.LoadCadence(sc)
	if err != nil {
		return now.Add(cmpDur(ib.AutoReplyPause, 72*time.Hour))
	}
	lead, err := ib.Store.GetLead(ctx, tm.Workspace, tm.LeadID)
	loc := c.loc
	if err == nil {
		loc = c.location(lead.Timezone)
	}
	if res.ReturnDate != nil && res.ReturnDate.After(now) {
		return c.window.Due(*res.ReturnDate, calendar.Delay{BusinessDays: 1}, loc)
	}
	return c.window.NextOpen(now.Add(cmpDur(ib.AutoReplyPause, 72*time.Hour)), loc)
}

// ResumeArgs resumes an enrollment paused for a reason, if it still is.
type ResumeArgs struct {
	EnrollmentID int64  `json:"enrollment_id"`
	Reason       string `json:"reason"`
}

// Kind implements river.JobArgs.
func (ResumeArgs) Kind() string { return "resume_enrollment" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (ResumeArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueSend, MaxAttempts: 20}
}

// ResumeWorker resumes enrollments paused by an auto-reply.
type ResumeWorker struct {
	river.WorkerDefaults[ResumeArgs]
	Engine *Engine
}

// Work implements river.Worker.
func (w *ResumeWorker) Work(ctx context.Context, job *river.Job[ResumeArgs]) error {
	e := w.Engine
	return e.Store.InTx(ctx, func(tx pgx.Tx) error {
		en, err := e.Store.EnrollmentForUpdate(ctx, tx, job.Args.EnrollmentID)
		if errors.Is(err, store.ErrNotFound) {
			_, err = river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx, job)
			return err
		}
		if err != nil {
			return err
		}
		if en.State == "paused" && en.StateReason == job.Args.Reason {
			if _, err := e.Store.SetEnrollmentState(ctx, tx, en.ID, []string{"paused"}, "active", "resumed after "+job.Args.Reason); err != nil {
				return err
			}
			if err := e.requeueNext(ctx, tx, nil, en.ID, en.NextStep); err != nil {
				return err
			}
		}
		_, err = river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx, job)
		return err
	})
}

// Reclassify corrects the class of a stored message and replays the
// effects of the new class. An out-of-office pause it had caused is lifted
// first; a suppression or a promotion is never undone by a machine - a
// person re-enrolls or sets a disposition.
func (ib *Inbox) Reclassify(ctx context.Context, ws, id int64, class classify.Class) (store.InboundRecord, error) {
	switch class {
	case classify.ClassHumanReply, classify.ClassAutoReply, classify.ClassUnsubscribe, classify.ClassComplaint, classify.ClassUnknown:
	default:
		return store.InboundRecord{}, &BadRequest{Problems: []string{fmt.Sprintf("class %q: want human_reply, auto_reply, unsubscribe, complaint or unknown", class)}}
	}
	var rec store.InboundRecord
	err := ib.Store.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		if rec, err = ib.Store.InboundForUpdate(ctx, tx, ws, id); err != nil {
			return err
		}
		old := rec.Class
		if err := ib.Store.SetInboundClass(ctx, tx, id, string(class), "manual: was "+old); err != nil {
			return err
		}
		rec.Class, rec.Rule = string(class), "manual: was "+old
		// An unverified message had no effect yet: a person's word, even
		// for the same class, is the evidence it waited for.
		confirm := rec.Unverified
		if confirm {
			if err := ib.Store.ConfirmInbound(ctx, tx, id, "confirmed by a person"); err != nil {
				return err
			}
			rec.Unverified, rec.Evidence = false, "confirmed by a person"
		}
		if rec.EnrollmentID == nil || rec.Step == nil || (old == string(class) && !confirm) {
			return nil
		}
		tm, err := ib.Store.FindTouchByEnrollmentStep(ctx, ws, *rec.EnrollmentID, *rec.Step)
		if err != nil {
			return err
		}
		if old == string(classify.ClassAutoReply) && !confirm {
			if en, err := ib.Store.EnrollmentForUpdate(ctx, tx, tm.EnrollmentID); err == nil && en.State == "paused" && en.StateReason == "auto_reply" {
				if _, err := ib.Store.SetEnrollmentState(ctx, tx, en.ID, []string{"paused"}, "active", "reclassified"); err != nil {
					return err
				}
				if err := ib.requeueNext(ctx, tx, ib.River, en.ID, en.NextStep); err != nil {
					return err
				}
			}
		}
		if err := ib.Store.LeadEvent(ctx, tx, tm.Workspace, tm.LeadID, "reclassified", map[string]any{"inbound_id": id, "from": old, "to": string(class)}); err != nil {
			return err
		}
		return ib.apply(ctx, tx, id, classify.Result{Class: class, Rule: "manual"}, tm, false, "")
	})
	return rec, err
}

// PollIMAPArgs polls one mailbox for replies.
type PollIMAPArgs struct {
	Workspace int64 `json:"workspace_id"`
	MailboxID int64 `json:"mailbox_id"`
}

// Kind implements river.JobArgs.
func (PollIMAPArgs) Kind() string { return "poll_imap" }

// InsertOpts: one poll of a mailbox at a time.
func (PollIMAPArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueSend, MaxAttempts: 1, UniqueOpts: river.UniqueOpts{ByArgs: true,
		ByState: []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRetryable,
			rivertype.JobStateRunning, rivertype.JobStateScheduled}}}
}

// PollIMAPWorker reads a mailbox's new messages, read-only, into the inbox.
type PollIMAPWorker struct {
	river.WorkerDefaults[PollIMAPArgs]
	Inbox *Inbox
	// InsecureSkipVerify accepts any IMAP certificate (labs only).
	InsecureSkipVerify bool
}

// Work implements river.Worker.
func (w *PollIMAPWorker) Work(ctx context.Context, job *river.Job[PollIMAPArgs]) error {
	ib := w.Inbox
	m, err := ib.Store.GetMailbox(ctx, job.Args.Workspace, job.Args.MailboxID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && m.IMAPHost == "") {
		return nil
	}
	if err != nil {
		return err
	}
	pw := ""
	if m.IMAPPasswordSealed != "" {
		b, err := ib.Secrets.Open(m.IMAPPasswordSealed, fmt.Sprintf("mailbox:%d:imap_password", m.ID))
		if err != nil {
			return fmt.Errorf("mailbox %d IMAP password: %w", m.ID, err)
		}
		pw = string(b)
	}
	p := &inbound.Poller{Handler: ib, InsecureSkipVerify: w.InsecureSkipVerify, Logger: ib.log(), Dialer: ib.Outbound.Dialer(30 * time.Second)}
	acct := inbound.IMAPAccount{ID: m.ID, Host: m.IMAPHost, Port: m.IMAPPort, TLS: m.IMAPSecurity, Username: m.IMAPUsername, Password: pw, Folder: m.IMAPFolder}
	_, perr := p.Poll(ctx, acct, inbound.PollState{UIDValidity: m.IMAPUIDValidity, LastUID: m.IMAPLastUID}, func(st inbound.PollState) error {
		return ib.Store.SaveIMAPState(ctx, m.ID, st.UIDValidity, st.LastUID)
	})
	errText := ""
	switch {
	case perr != nil:
		errText = imapErrorText(m.IMAPHost, m.IMAPPort, perr)
		// Said when it starts or changes, not at every tick: a mailbox
		// whose server is gone would log every poll interval. The
		// dashboard shows the standing error.
		level := slog.LevelWarn
		if errText == m.IMAPError {
			level = slog.LevelDebug
		}
		ib.log().Log(ctx, level, "IMAP poll failed", "mailbox", m.ID, "err", perr)
	case m.IMAPError != "":
		ib.log().Info("IMAP poll works again", "mailbox", m.ID)
	}
	// A failed poll is recorded on the mailbox and tried at the next tick,
	// not retried in a loop.
	return ib.Store.SetIMAPResult(ctx, m.ID, errText)
}

// PollAllArgs is the periodic job that polls every IMAP mailbox.
type PollAllArgs struct{}

// Kind implements river.JobArgs.
func (PollAllArgs) Kind() string { return "poll_all_imap" }

// PollAllWorker inserts one poll job per IMAP mailbox.
type PollAllWorker struct {
	river.WorkerDefaults[PollAllArgs]
	Store *store.Store
}

// Work implements river.Worker.
func (w *PollAllWorker) Work(ctx context.Context, job *river.Job[PollAllArgs]) error {
	refs, err := w.Store.IMAPMailboxes(ctx)
	if err != nil || len(refs) == 0 {
		return err
	}
	params := make([]river.InsertManyParams, len(refs))
	for i, m := range refs {
		params[i] = river.InsertManyParams{Args: PollIMAPArgs{Workspace: m.Workspace, MailboxID: m.ID}}
	}
	_, err = river.ClientFromContext[pgx.Tx](ctx).InsertMany(ctx, params)
	return err
}
