package sequencer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/touchline/touchline/internal/dkimkey"
	"github.com/touchline/touchline/internal/inbound/classify"
	"github.com/touchline/touchline/internal/store"
	"github.com/touchline/touchline/sequencer/message"
	"github.com/touchline/touchline/verifier"
	"github.com/touchline/touchline/verifier/domaincheck"
	"github.com/touchline/touchline/verifier/resolver"
)

// Operator is what the API calls: the Engine plus what only requests need.
type Operator struct {
	*Engine
	River    *river.Client[pgx.Tx]
	Resolver resolver.Resolver // for the launch preflight
}

// BadRequest is an invalid request, with what is wrong.
type BadRequest struct{ Problems []string }

func (e *BadRequest) Error() string { return strings.Join(e.Problems, "; ") }

func (o *Operator) insert(ctx context.Context, tx pgx.Tx, enrollmentID int64, step int, due, now time.Time) error {
	opts := touchOpts(due, now)
	_, err := o.River.InsertTx(ctx, tx, touchArgs(enrollmentID, step, due), &opts)
	return err
}

// MailboxInput is POST /v1/mailboxes.
type MailboxInput struct {
	FromAddress        string `json:"from_address"`
	FromName           string `json:"from_name"`
	SMTPHost           string `json:"smtp_host"`
	SMTPPort           int    `json:"smtp_port"`
	SMTPSecurity       string `json:"smtp_security"`
	SMTPUsername       string `json:"smtp_username"`
	SMTPPassword       string `json:"smtp_password"`
	DailyCap           int    `json:"daily_cap"`
	MinSpacingSeconds  *int   `json:"min_spacing_seconds"`
	JitterSeconds      *int   `json:"jitter_seconds"`
	RampStartCap       *int   `json:"ramp_start_cap"`
	RampDailyIncrement *int   `json:"ramp_daily_increment"`
	Timezone           string `json:"timezone"`
	DKIMDomain         string `json:"dkim_domain"`
	DKIMSelector       string `json:"dkim_selector"`
	DKIMPrivateKey     string `json:"dkim_private_key"` // PEM from touchline dkim keygen
	// IMAP, when set, is polled read-only for the replies that land in
	// the mailbox itself.
	IMAPHost     string `json:"imap_host"`
	IMAPPort     int    `json:"imap_port"`
	IMAPSecurity string `json:"imap_security"` // tls (default), starttls, none
	IMAPUsername string `json:"imap_username"`
	IMAPPassword string `json:"imap_password"`
	IMAPFolder   string `json:"imap_folder"`
}

// CreateMailbox validates and stores a mailbox, sealing its secrets.
func (o *Operator) CreateMailbox(ctx context.Context, ws int64, in MailboxInput) (store.Mailbox, error) {
	var p []string
	addr, err := verifier.ParseAddress(in.FromAddress)
	if err != nil {
		p = append(p, "from_address: "+err.Error())
	}
	if strings.TrimSpace(in.SMTPHost) == "" {
		p = append(p, "smtp_host: required")
	} else if err := o.Outbound.CheckHost(in.SMTPHost); err != nil {
		p = append(p, fmt.Sprintf("smtp_host: %q is refused by policy: Touchline connects only to public addresses", in.SMTPHost))
	}
	if in.SMTPSecurity == "" {
		in.SMTPSecurity = "starttls"
	}
	switch in.SMTPSecurity {
	case "starttls", "tls", "none":
	default:
		p = append(p, fmt.Sprintf("smtp_security: %q is not starttls, tls or none", in.SMTPSecurity))
	}
	if in.SMTPPort == 0 {
		in.SMTPPort = map[string]int{"starttls": 587, "tls": 465, "none": 25}[in.SMTPSecurity]
	}
	if in.SMTPPort < 1 || in.SMTPPort > 65535 {
		p = append(p, "smtp_port: 1 to 65535")
	}
	if in.DailyCap == 0 {
		in.DailyCap = 50
	}
	if in.DailyCap < 1 || in.DailyCap > 10000 {
		p = append(p, "daily_cap: 1 to 10000")
	}
	spacing, jitter := 90, 30
	if in.MinSpacingSeconds != nil {
		spacing = *in.MinSpacingSeconds
	}
	if in.JitterSeconds != nil {
		jitter = *in.JitterSeconds
	}
	if spacing < 0 || jitter < 0 {
		p = append(p, "min_spacing_seconds and jitter_seconds: not negative")
	}
	if in.Timezone == "" {
		in.Timezone = "UTC"
	}
	if _, err := time.LoadLocation(in.Timezone); err != nil {
		p = append(p, fmt.Sprintf("timezone: %q is not an IANA time zone", in.Timezone))
	}
	if in.DKIMPrivateKey != "" {
		if _, err := dkimkey.ParsePrivateKey([]byte(in.DKIMPrivateKey)); err != nil {
			p = append(p, "dkim_private_key: "+err.Error())
		}
		if in.DKIMSelector == "" {
			p = append(p, "dkim_selector: required with a DKIM key")
		}
		if in.DKIMDomain == "" && err == nil {
			in.DKIMDomain = addr.Domain
		}
	}
	if in.IMAPHost != "" {
		if err := o.Outbound.CheckHost(in.IMAPHost); err != nil {
			p = append(p, fmt.Sprintf("imap_host: %q is refused by policy: Touchline connects only to public addresses", in.IMAPHost))
		}
		if in.IMAPSecurity == "" {
			in.IMAPSecurity = "tls"
		}
		if in.IMAPPort == 0 {
			in.IMAPPort = map[string]int{"tls": 993, "starttls": 143, "none": 143}[in.IMAPSecurity]
		}
		switch in.IMAPSecurity {
		case "tls", "starttls", "none":
		default:
			p = append(p, fmt.Sprintf("imap_security: %q is not tls, starttls or none", in.IMAPSecurity))
		}
		if in.IMAPUsername == "" {
			p = append(p, "imap_username: required with imap_host")
		}
	}
	if len(p) > 0 {
		return store.Mailbox{}, &BadRequest{Problems: p}
	}
	m := store.Mailbox{IMAPHost: in.IMAPHost, IMAPPort: in.IMAPPort, IMAPSecurity: in.IMAPSecurity, IMAPUsername: in.IMAPUsername, IMAPFolder: in.IMAPFolder, FromAddress: addr.String(), FromName: in.FromName, SMTPHost: in.SMTPHost, SMTPPort: in.SMTPPort,
		SMTPSecurity: in.SMTPSecurity, SMTPUsername: in.SMTPUsername, DailyCap: in.DailyCap, MinSpacingSeconds: spacing,
		JitterSeconds: jitter, RampStartCap: in.RampStartCap, RampDailyIncrement: in.RampDailyIncrement, Timezone: in.Timezone,
		DKIMDomain: in.DKIMDomain, DKIMSelector: in.DKIMSelector}
	return o.Store.CreateMailbox(ctx, ws, m, func(id int64) (store.Sealed, error) {
		var sl store.Sealed
		var err error
		for _, s := range []struct {
			in  string
			out *string
			aad string
		}{
			{in.SMTPPassword, &sl.Password, "smtp_password"},
			{in.DKIMPrivateKey, &sl.DKIMKey, "dkim_key"},
			{in.IMAPPassword, &sl.IMAPPassword, "imap_password"},
		} {
			if s.in == "" {
				continue
			}
			if *s.out, err = o.Secrets.Seal([]byte(s.in), fmt.Sprintf("mailbox:%d:%s", id, s.aad)); err != nil {
				return sl, err
			}
		}
		return sl, nil
	})
}

// CreateCadence validates and stores a cadence as a draft, with its lint
// warnings.
func (o *Operator) CreateCadence(ctx context.Context, ws int64, spec Spec) (store.Cadence, []Warning, error) {
	fields, err := o.Fields(ctx, ws)
	if err != nil {
		return store.Cadence{}, nil, err
	}
	c, warnings, err := Compile(spec, fields)
	if err != nil {
		return store.Cadence{}, warnings, err
	}
	window, steps := c.marshal()
	sc, err := o.Store.CreateCadence(ctx, ws, store.Cadence{Name: c.Name, Window: window, Steps: steps,
		MailboxIDs: c.MailboxIDs, RiskyPolicy: c.RiskyPolicy, StopDomainOnReply: c.StopDomainOnReply})
	if warnings == nil {
		warnings = []Warning{}
	}
	return sc, warnings, err
}

// PreflightError refuses a launch: the sending domains would be rejected or
// junked.
type PreflightError struct {
	Failures []PreflightFailure
}

// PreflightFailure is one failing check of a mailbox's domain.
type PreflightFailure struct {
	Mailbox string `json:"mailbox"`
	Domain  string `json:"domain"`
	Check   string `json:"check"`
	Detail  string `json:"detail"`
	Fix     string `json:"fix"`
}

func (e *PreflightError) Error() string {
	return fmt.Sprintf("sequencer: %d sending-domain checks fail", len(e.Failures))
}

// Launch runs the domain audit on every mailbox's domain and activates the
// cadence unless SPF, DKIM or DMARC fail (force launches anyway). Enrolled
// leads start.
func (o *Operator) Launch(ctx context.Context, ws, id int64, force bool) (store.Cadence, error) {
	sc, err := o.Store.GetCadence(ctx, ws, id)
	if err != nil {
		return sc, err
	}
	if !force && o.Resolver != nil {
		var fails []PreflightFailure
		for _, mid := range sc.MailboxIDs {
			m, err := o.Store.GetMailbox(ctx, ws, mid)
			if err != nil {
				return sc, err
			}
			domain := m.FromAddress[strings.LastIndexByte(m.FromAddress, '@')+1:]
			opts := domaincheck.Options{Resolver: o.Resolver}
			if m.DKIMSelector != "" {
				opts.DKIMSelectors = []string{m.DKIMSelector}
			}
			rep, err := domaincheck.Run(ctx, domain, opts)
			if err != nil {
				return sc, err
			}
			for _, c := range rep.Failed() {
				if c.Name == "spf" || c.Name == "dkim" || c.Name == "dmarc" {
					fails = append(fails, PreflightFailure{Mailbox: m.FromAddress, Domain: domain, Check: c.Name, Detail: c.Detail, Fix: c.Fix})
				}
			}
		}
		if len(fails) > 0 {
			return sc, &PreflightError{Failures: fails}
		}
	}
	sc, err = o.Store.SetCadenceStatus(ctx, ws, id, []string{"draft", "paused"}, "active")
	if err != nil {
		return sc, err
	}
	return sc, o.kick(ctx, sc)
}

// kick (re)inserts the job of every active enrollment's next step; the
// jobs are unique per (enrollment, step, due), so a job still pending for
// the same time is not queued twice, and the claim sends each touch once.
func (o *Operator) kick(ctx context.Context, sc store.Cadence) error {
	c, err := o.LoadCadence(sc)
	if err != nil {
		return err
	}
	now := o.now()
	return o.Store.InTx(ctx, func(tx pgx.Tx) error {
		due, err := o.Store.NextScheduledTouches(ctx, tx, sc.ID, c.StepCount())
		if err != nil {
			return err
		}
		// One statement per batch, not one round trip per enrollment: a
		// cadence resumed with 100,000 enrollments is one request.
		const batch = 5000
		for i := 0; i < len(due); i += batch {
			jobs := make([]river.InsertManyParams, 0, min(batch, len(due)-i))
			for _, t := range due[i:min(i+batch, len(due))] {
				opts := touchOpts(t.DueAt, now)
				jobs = append(jobs, river.InsertManyParams{Args: touchArgs(t.EnrollmentID, t.Step, t.DueAt), InsertOpts: &opts})
			}
			if _, err := o.River.InsertManyTx(ctx, tx, jobs); err != nil {
				return err
			}
		}
		return nil
	})
}

// SetCadenceStatus pauses, resumes or archives a cadence.
func (o *Operator) SetCadenceStatus(ctx context.Context, ws, id int64, action string) (store.Cadence, error) {
	switch action {
	case "pause":
		return o.Store.SetCadenceStatus(ctx, ws, id, []string{"active"}, "paused")
	case "resume":
		sc, err := o.Store.SetCadenceStatus(ctx, ws, id, []string{"paused"}, "active")
		if err != nil {
			return sc, err
		}
		return sc, o.kick(ctx, sc)
	case "archive":
		return o.Store.SetCadenceStatus(ctx, ws, id, []string{"draft", "active", "paused"}, "archived")
	}
	return store.Cadence{}, &BadRequest{Problems: []string{"unknown action " + action}}
}

// EnrollRequest is POST /v1/cadences/{id}/enrollments.
type EnrollRequest struct {
	LeadIDs []int64           `json:"lead_ids"`
	Leads   []store.LeadInput `json:"leads"`
	Start   string            `json:"start"` // "now" for speed-to-lead
}

// EnrollOutcome is what happened to one lead.
type EnrollOutcome struct {
	LeadID       int64  `json:"lead_id,omitempty"`
	Email        string `json:"email,omitempty"`
	Outcome      string `json:"outcome"` // enrolled or skipped
	Reason       string `json:"reason,omitempty"`
	EnrollmentID int64  `json:"enrollment_id,omitempty"`
}

// Enroll enrolls leads, by ID or given (created or merged), and schedules
// their first step; leads that must not be mailed are skipped with why.
func (o *Operator) Enroll(ctx context.Context, ws, cadenceID int64, req EnrollRequest) ([]EnrollOutcome, error) {
	if len(req.LeadIDs)+len(req.Leads) == 0 {
		return nil, &BadRequest{Problems: []string{"give lead_ids or leads"}}
	}
	if len(req.LeadIDs)+len(req.Leads) > 10000 {
		return nil, &BadRequest{Problems: []string{"at most 10,000 leads per request"}}
	}
	if req.Start != "" && req.Start != "now" {
		return nil, &BadRequest{Problems: []string{fmt.Sprintf("start: %q is not \"now\"", req.Start)}}
	}
	sc, err := o.Store.GetCadence(ctx, ws, cadenceID)
	if err != nil {
		return nil, err
	}
	if sc.Status == "archived" {
		return nil, fmt.Errorf("%w: cadence %d is archived", store.ErrConflict, cadenceID)
	}
	c, err := o.LoadCadence(sc)
	if err != nil {
		return nil, err
	}
	now := o.now()
	var out []EnrollOutcome
	// Set-based: a handful of statements per request, however many leads
	// (an enrollment of 10,000 leads is one request).
	err = o.Store.InTx(ctx, func(tx pgx.Tx) error {
		out = out[:0]
		loads, err := o.Store.MailboxLoads(ctx, tx, sc.MailboxIDs)
		if err != nil {
			return err
		}
		var inputs []store.LeadInput
		for _, in := range req.Leads {
			a, err := verifier.ParseAddress(in.Email)
			if err != nil {
				out = append(out, EnrollOutcome{Email: in.Email, Outcome: "skipped", Reason: "undeliverable"})
				continue
			}
			in.Email = a.String()
			inputs = append(inputs, in)
		}
		leads, err := o.Store.UpsertLeads(ctx, tx, ws, inputs)
		if err != nil {
			return err
		}
		if len(req.LeadIDs) > 0 {
			byID, err := o.Store.LeadsByIDs(ctx, tx, ws, req.LeadIDs)
			if err != nil {
				return err
			}
			found := map[int64]bool{}
			for _, l := range byID {
				found[l.ID] = true
			}
			for _, id := range req.LeadIDs {
				if !found[id] {
					out = append(out, EnrollOutcome{LeadID: id, Outcome: "skipped", Reason: "not_found"})
				}
			}
			leads = append(leads, byID...)
		}
		emails := make([]string, len(leads))
		for i, l := range leads {
			emails[i] = l.Email
		}
		suppressed, err := o.Store.SuppressedAmong(ctx, tx, ws, emails)
		if err != nil {
			return err
		}
		var rows []store.NewEnrollment
		pending := map[int64]int{} // lead → index in out
		dues := map[int64]time.Time{}
		for _, l := range leads {
			oc := EnrollOutcome{LeadID: l.ID, Email: l.Email, Outcome: "skipped"}
			if suppressed[strings.ToLower(l.Email)] {
				oc.Reason = "suppressed"
				out = append(out, oc)
				continue
			}
			if v := l.Verification; v != nil && now.Sub(v.VerifiedAt) < cmpDur(o.FreshFor, 30*24*time.Hour) {
				if reason, ok := gateVerdict(v.Status, v.Reason, c.RiskyPolicy); !ok {
					oc.Reason = strings.SplitN(reason, ":", 2)[0]
					out = append(out, oc)
					continue
				}
			}
			if _, dup := pending[l.ID]; dup {
				continue
			}
			// The least-loaded mailbox of the pool; the lead keeps it.
			mbox := sc.MailboxIDs[0]
			for _, id := range sc.MailboxIDs {
				if loads[id] < loads[mbox] {
					mbox = id
				}
			}
			loads[mbox]++
			due := now
			if req.Start != "now" {
				due = c.due(1, now, c.location(l.Timezone))
			}
			dues[l.ID] = due
			rows = append(rows, store.NewEnrollment{LeadID: l.ID, MailboxID: mbox, Channel: c.steps[0].Channel, Due: due})
			pending[l.ID] = len(out)
			out = append(out, oc)
		}
		if len(rows) == 0 {
			return nil
		}
		created, err := o.Store.InsertEnrollments(ctx, tx, ws, sc.ID, rows)
		if err != nil {
			return err
		}
		var jobs []river.InsertManyParams
		for lead, i := range pending {
			id, ok := created[lead]
			if !ok {
				out[i].Reason = "already_enrolled"
				continue
			}
			out[i].Outcome, out[i].EnrollmentID = "enrolled", id
			if sc.Status == "active" {
				opts := touchOpts(dues[lead], now)
				jobs = append(jobs, river.InsertManyParams{Args: touchArgs(id, 1, dues[lead]), InsertOpts: &opts})
			}
		}
		if len(jobs) > 0 {
			if _, err := o.River.InsertManyTx(ctx, tx, jobs); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// SetEnrollmentState pauses, resumes or stops one enrollment.
func (o *Operator) SetEnrollmentState(ctx context.Context, ws, id int64, action string) (store.Enrollment, error) {
	en, err := o.Store.GetEnrollment(ctx, ws, id)
	if err != nil {
		return en, err
	}
	from, to := map[string][]string{"pause": {"active"}, "resume": {"paused"}, "stop": {"active", "paused"}}[action],
		map[string]string{"pause": "paused", "resume": "active", "stop": "stopped"}[action]
	if to == "" {
		return en, &BadRequest{Problems: []string{"unknown action " + action}}
	}
	err = o.Store.InTx(ctx, func(tx pgx.Tx) error {
		// Locked, so a send finishing at the same moment cannot interleave.
		cur, err := o.Store.EnrollmentForUpdate(ctx, tx, id)
		if err != nil {
			return err
		}
		var ok bool
		if action == "stop" {
			// Reported like every other stop.
			var stopped []store.StoppedEnrollment
			stopped, err = o.stopEnrollments(ctx, tx, o.River, ws, store.StopWhich{EnrollmentID: id}, "by request")
			ok = len(stopped) == 1
		} else {
			ok, err = o.Store.SetEnrollmentState(ctx, tx, id, from, to, "by request")
		}
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%w: enrollment %d is %s", store.ErrConflict, id, cur.State)
		}
		if action != "resume" {
			return nil
		}
		return o.requeueNext(ctx, tx, o.River, id, cur.NextStep)
	})
	if err != nil {
		return en, err
	}
	return o.Store.GetEnrollment(ctx, ws, id)
}

// Disposition sets a lead's outcome - convert, recycle or disqualify -
// with a reason (store.SetDisposition); recycle and disqualify stop its
// enrollments, reported like every stop (enrollment.stopped, with the
// disposition as the reason).
func (o *Operator) Disposition(ctx context.Context, ws, leadID int64, disposition, reason string) (store.Lead, error) {
	err := o.Store.InTx(ctx, func(tx pgx.Tx) error {
		if err := o.Store.SetDisposition(ctx, tx, ws, leadID, disposition, reason); err != nil || disposition == "convert" {
			return err
		}
		_, err := o.stopEnrollments(ctx, tx, o.River, ws, store.StopWhich{LeadID: leadID}, disposition)
		return err
	})
	if err != nil {
		return store.Lead{}, err
	}
	return o.Store.GetLead(ctx, ws, leadID)
}

// CompleteTask closes a person's task and moves the cadence on.
func (o *Operator) CompleteTask(ctx context.Context, ws, id int64, outcome string) (store.Task, error) {
	var t store.Task
	err := o.Store.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		if t, err = o.Store.CompleteTask(ctx, tx, ws, id, outcome); err != nil {
			return err
		}
		en, err := o.Store.EnrollmentForUpdate(ctx, tx, t.EnrollmentID)
		if err != nil {
			return err
		}
		// A paused enrollment moves on too: its next step waits, and
		// resume sends it.
		if (en.State != "active" && en.State != "paused") || en.NextStep != t.Step {
			return nil
		}
		sc, err := o.Store.GetCadence(ctx, ws, en.CadenceID)
		if err != nil {
			return err
		}
		c, err := o.LoadCadence(sc)
		if err != nil {
			return err
		}
		lead, err := o.Store.LeadTx(ctx, tx, ws, en.LeadID)
		if err != nil {
			return err
		}
		now := o.now()
		if t.Step >= c.StepCount() {
			_, err := o.Store.SetEnrollmentState(ctx, tx, en.ID, []string{"active"}, "finished", "all steps done")
			return err
		}
		next := t.Step + 1
		due := c.due(next, now, c.location(lead.Timezone))
		if err := o.Store.ScheduleTouch(ctx, tx, ws, en.ID, next, c.steps[next-1].Channel, due); err != nil {
			return err
		}
		if en.State != "active" {
			return nil
		}
		return o.insert(ctx, tx, en.ID, next, due, now)
	})
	return t, err
}

// ScheduledStep is one line of a dry run.
type ScheduledStep struct {
	Step    int       `json:"step"`
	Channel string    `json:"channel"`
	Due     time.Time `json:"due"`
	Local   string    `json:"local"`
}

// DryRun shows when each step would go out for a lead starting at start,
// from the same arithmetic that schedules real touches (assuming each step
// goes out when due).
func (o *Operator) DryRun(ctx context.Context, ws, cadenceID, leadID int64, start time.Time) ([]ScheduledStep, error) {
	sc, err := o.Store.GetCadence(ctx, ws, cadenceID)
	if err != nil {
		return nil, err
	}
	c, err := o.LoadCadence(sc)
	if err != nil {
		return nil, err
	}
	tz := ""
	if leadID != 0 {
		l, err := o.Store.GetLead(ctx, ws, leadID)
		if err != nil {
			return nil, err
		}
		tz = l.Timezone
	}
	loc := c.location(tz)
	var out []ScheduledStep
	at := start
	for i := range c.steps {
		at = c.due(i+1, at, loc)
		out = append(out, ScheduledStep{Step: i + 1, Channel: c.steps[i].Channel, Due: at.UTC(), Local: at.In(loc).Format("Mon 2006-01-02 15:04 MST")})
	}
	return out, nil
}

// ErrBadToken is an unsubscribe link that does not verify.
var ErrBadToken = errors.New("sequencer: invalid unsubscribe token")

// CheckUnsubscribe verifies an unsubscribe token without acting on it.
func (o *Operator) CheckUnsubscribe(tok string) error {
	if _, _, _, err := message.ParseUnsubscribeToken(o.UnsubscribeKey, tok); err != nil {
		return ErrBadToken
	}
	return nil
}

// Unsubscribe suppresses the lead of a token at once and stops every
// enrollment of it (RFC 8058 one-click; providers want it honoured within
// two days, Touchline does it in the request). The GET page only asks to
// confirm, by this same POST. It is counted (an "unsubscribe" event at the
// step last sent) and reported (enrollment.stopped) like an unsubscribe by
// mail, once however often it is posted.
func (o *Operator) Unsubscribe(ctx context.Context, tok string) error {
	ws, leadID, enrollmentID, err := message.ParseUnsubscribeToken(o.UnsubscribeKey, tok)
	if err != nil {
		return ErrBadToken
	}
	lead, err := o.Store.GetLead(ctx, ws, leadID)
	if errors.Is(err, store.ErrNotFound) {
		return nil // erased meanwhile; its suppression, if any, stays as a hash
	}
	if err != nil {
		return err
	}
	tm, err := o.Store.EnrollmentTouch(ctx, ws, enrollmentID)
	switch {
	case errors.Is(err, store.ErrNotFound) || (err == nil && tm.LeadID != leadID):
		// The enrollment is gone: the lead is unsubscribed all the same.
		tm = store.TouchMatch{Workspace: ws, EnrollmentID: enrollmentID, LeadID: leadID, LeadEmail: lead.Email}
	case err != nil:
		return err
	}
	return o.Store.InTx(ctx, func(tx pgx.Tx) error {
		return o.unsubscribe(ctx, tx, o.River, tm, string(classify.ClassUnsubscribe), "unsubscribed", map[string]any{"via": "one_click"})
	})
}
