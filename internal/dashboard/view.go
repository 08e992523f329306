package dashboard

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/mail"
	"net/textproto"
	"strings"
	"sync"
	"time"

	"github.com/touchline/touchline/internal/store"
	"github.com/touchline/touchline/sequencer"
	"github.com/touchline/touchline/verifier/domaincheck"
)

// Panel sizes.
const (
	maxCadences = 20
	maxLists    = 20
	maxReplies  = 20
)

// overview is the data of the page at /.
type overview struct {
	Title     string
	Workspace store.Workspace
	Now       time.Time
	Refresh   int // seconds

	Totals    store.Totals
	Charts    []chart
	TotalsErr string

	Cadences    []cadenceRow
	CadencesErr string

	Mailboxes    []mailboxRow
	MailboxesErr string
	GuardWindow  int

	Lists     []store.List
	ListsMore int
	ListsErr  string

	Replies    []replyRow
	RepliesErr string

	// The do-not-contact list: its size and latest entries.
	SuppressedEmails, SuppressedDomains int
	Suppressions                        []store.Suppression
	SuppressionsErr                     string

	Alerts []alert
}

// cadenceRow is one cadence's funnel over the range.
type cadenceRow struct {
	store.Cadence
	store.Totals
}

// funnelBar is one stage of a cadence's funnel picture.
type funnelBar struct {
	Label string
	N     int
	X, W  float64
	Y     int
}

// FunnelBars draws enrolled, sent, replied and prospects as centred bars,
// each as wide as its share of the largest.
func (c cadenceRow) FunnelBars() []funnelBar {
	stages := []funnelBar{{Label: "Enrolled", N: c.Enrolled}, {Label: "Sent", N: c.Sent}, {Label: "Replied", N: c.Replies}, {Label: "Prospects", N: c.ProspectsCreated}}
	top := 1
	for _, s := range stages {
		top = max(top, s.N)
	}
	for i := range stages {
		w := 160 * float64(stages[i].N) / float64(top)
		if stages[i].N > 0 {
			w = max(w, 3) // one reply is still seen
		}
		stages[i].X, stages[i].W, stages[i].Y = (160-w)/2, w, i*11
	}
	return stages
}

// workspaceStats are the workspace's totals and daily charts, from Stats
// over the range GET /v1/stats uses by default.
func (d *dashboard) workspaceStats(ctx context.Context, ws int64, f store.StatsFilter, now time.Time) (store.Totals, []chart, string) {
	periods, _, err := d.cfg.Store.Stats(ctx, ws, f)
	if err != nil {
		return store.Totals{}, nil, errText(err)
	}
	// The range ends tomorrow (as the API's does); the charts end today.
	days := periods[:0:0]
	for _, p := range periods {
		if !p.Period.After(now) {
			days = append(days, p)
		}
	}
	return store.SumPeriods(periods), []chart{
		rateChart("bounce", "Bounce rate", "hard-bounced", days, func(p store.PeriodStats) int { return p.HardBounces },
			0.05, float64(sequencer.GuardLimit)/float64(sequencer.GuardWindow), "guardrail"),
		rateChart("reply", "Reply rate", "replied", days, func(p store.PeriodStats) int { return p.Replies }, 0.10, 0, ""),
	}, ""
}

// cadenceFunnels runs Stats per cadence: the very numbers of
// GET /v1/stats?cadence_id=ID, added up.
func (d *dashboard) cadenceFunnels(ctx context.Context, ws int64, f store.StatsFilter) ([]cadenceRow, string) {
	cs, err := d.cfg.Store.ListCadences(ctx, ws, maxCadences)
	if err != nil {
		return nil, errText(err)
	}
	rows := make([]cadenceRow, len(cs))
	errs := make([]error, len(cs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4) // keep a page to a few connections
	for i, c := range cs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			cf := f
			cf.CadenceID = c.ID
			periods, _, err := d.cfg.Store.Stats(ctx, ws, cf)
			rows[i], errs[i] = cadenceRow{Cadence: c, Totals: store.SumPeriods(periods)}, err
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, errText(err)
		}
	}
	return rows, ""
}

// mailboxRow is one sending mailbox's health.
type mailboxRow struct {
	store.Mailbox
	Domain    string
	SentToday int
	Recent    store.RecentSends
	// BounceRate is hard bounces over the last GuardWindow sends.
	BounceRate float64
	Checks     []authCheck // spf, dkim, dmarc
	Audit      string      // why Checks is empty: checking, no resolver, an error
	// Backoffs are the recipient providers it sends to slowly after they
	// refused the sender.
	Backoffs []backoffRow
}

// backoffRow is a provider a mailbox backs off from, for people.
type backoffRow struct {
	store.Backoff
	Every string // "10 min", "1 h 20 min"
}

func backoffRows(bs []store.Backoff) []backoffRow {
	out := make([]backoffRow, len(bs))
	for i, b := range bs {
		d, _ := time.ParseDuration(b.Spacing)
		every := fmt.Sprintf("%d min", int(d.Minutes()))
		if d >= time.Hour {
			every = fmt.Sprintf("%d h %d min", int(d.Hours()), int(d.Minutes())%60)
		}
		out[i] = backoffRow{b, every}
	}
	return out
}

// authCheck is the status of one of SPF, DKIM, DMARC for a domain.
type authCheck struct {
	Name, Status, Detail, Fix string
}

func (d *dashboard) mailboxHealth(ctx context.Context, ws int64) ([]mailboxRow, string) {
	ms, err := d.cfg.Store.ListMailboxes(ctx, ws)
	if err != nil {
		return nil, errText(err)
	}
	if len(ms) == 0 {
		return nil, ""
	}
	sent, err := d.cfg.Store.MailboxSentToday(ctx, ws)
	if err != nil {
		return nil, errText(err)
	}
	ids := make([]int64, len(ms))
	for i, m := range ms {
		ids[i] = m.ID
	}
	recent, err := d.cfg.Store.MailboxRecent(ctx, ws, ids, sequencer.GuardWindow)
	if err != nil {
		return nil, errText(err)
	}
	backoffs, err := d.cfg.Store.WorkspaceBackoffs(ctx, ws)
	if err != nil {
		return nil, errText(err)
	}
	rows := make([]mailboxRow, len(ms))
	var wg sync.WaitGroup
	for i, m := range ms {
		r := mailboxRow{Mailbox: m, Domain: strings.ToLower(m.FromAddress[strings.LastIndexByte(m.FromAddress, '@')+1:]),
			SentToday: sent[m.ID], Recent: recent[m.ID], Backoffs: backoffRows(backoffs[m.ID])}
		if r.Recent.Sends > 0 {
			r.BounceRate = float64(r.Recent.HardBounces) / float64(r.Recent.Sends)
		}
		rows[i] = r
		if d.cfg.Resolver == nil {
			rows[i].Audit = "not checked: the server has no DNS resolver configured"
			continue
		}
		// The launch preflight's audit: the From domain, with the
		// mailbox's DKIM selector.
		wg.Go(func() {
			rep, err := d.domains.audit(ctx, rows[i].Domain, m.DKIMSelector, d.cfg.DomainCheckWait)
			switch {
			case err != nil:
				rows[i].Audit = err.Error()
			case rep == nil:
				rows[i].Audit = "checking…"
			default:
				rows[i].Checks = authChecks(rep)
			}
		})
	}
	wg.Wait()
	return rows, ""
}

// authChecks picks SPF, DKIM (the worst of its selectors) and DMARC out of
// an audit.
func authChecks(rep *domaincheck.Report) []authCheck {
	out := []authCheck{{Name: "spf"}, {Name: "dkim"}, {Name: "dmarc"}}
	for _, c := range rep.Checks {
		for i := range out {
			if out[i].Name != c.Name {
				continue
			}
			if out[i].Status == "" {
				out[i] = authCheck{Name: c.Name, Status: string(c.Status), Detail: c.Detail, Fix: c.Fix}
				continue
			}
			// Several DKIM selectors: the worst decides, every detail shows.
			st := domaincheck.Worst(domaincheck.Status(out[i].Status), c.Status)
			if st != domaincheck.Status(out[i].Status) {
				out[i].Fix = c.Fix
			}
			out[i].Status = string(st)
			out[i].Detail += "; " + c.Detail
		}
	}
	for i := range out {
		if out[i].Status == "" {
			out[i].Status, out[i].Detail = "unknown", "not in the audit"
		}
	}
	return out
}

func (d *dashboard) lists(ctx context.Context, ws int64) ([]store.List, int, string) {
	ls, err := d.cfg.Store.ListLists(ctx, ws)
	if err != nil {
		return nil, 0, errText(err)
	}
	if len(ls) > maxLists {
		return ls[:maxLists], len(ls) - maxLists, ""
	}
	return ls, 0, ""
}

// replyRow is one message that came back.
type replyRow struct {
	store.InboundSummary
	FromName, FromAddress string
	Back                  string // an out-of-office's return day
}

func (d *dashboard) replies(ctx context.Context, ws int64) ([]replyRow, string) {
	ms, err := d.cfg.Store.LatestInbound(ctx, ws, maxReplies)
	if err != nil {
		return nil, errText(err)
	}
	out := make([]replyRow, len(ms))
	for i, m := range ms {
		out[i] = replyRow{InboundSummary: m}
		out[i].FromName, out[i].FromAddress = headerFrom(m.Head)
		if out[i].FromAddress == "" {
			out[i].FromAddress = m.EnvelopeFrom
		}
		if t, err := time.Parse(time.RFC3339, m.ReturnDate); err == nil {
			out[i].Back = t.Format("Mon Jan 2")
		}
		out[i].Head = nil
	}
	return out, ""
}

// headerFrom reads the From header of the start of a raw message: the
// person who replied, or the MAILER-DAEMON of a bounce.
func headerFrom(head []byte) (name, addr string) {
	// A header cut off by the 16 KiB limit still gives the fields read.
	h, _ := textproto.NewReader(bufio.NewReader(bytes.NewReader(head))).ReadMIMEHeader()
	from := h.Get("From")
	if from == "" {
		return "", ""
	}
	a, err := mail.ParseAddress(from)
	if err != nil {
		return "", strings.TrimSpace(from)
	}
	return a.Name, a.Address
}

// alert is something a person should act on, shown above the panels.
type alert struct {
	Level string // bad, warn
	Text  string
}

func alerts(v *overview) []alert {
	var out []alert
	for _, c := range v.Cadences {
		if c.Status == "paused" && c.PausedReason != "" {
			out = append(out, alert{"bad", fmt.Sprintf("Cadence %q is paused by a guardrail: %s. Fix the cause, then resume it.", c.Name, c.PausedReason)})
		}
	}
	failing := map[string]bool{}
	for _, m := range v.Mailboxes {
		if m.PausedReason != "" {
			out = append(out, alert{"bad", fmt.Sprintf("Mailbox %s is paused: %s. Resume it with POST /v1/mailboxes/%d/resume once fixed.", m.FromAddress, m.PausedReason, m.ID)})
		}
		for _, c := range m.Checks {
			if c.Status == "fail" && !failing[m.Domain+c.Name] {
				failing[m.Domain+c.Name] = true
				out = append(out, alert{"bad", fmt.Sprintf("%s fails %s: providers will reject or junk its mail. Fix: %s", m.Domain, strings.ToUpper(c.Name), c.Fix)})
			}
		}
		if m.IMAPError != "" {
			out = append(out, alert{"warn", fmt.Sprintf("Replies to %s cannot be read over IMAP: %s", m.FromAddress, m.IMAPError)})
		}
	}
	return out
}

// maxSuppressions is how many of the latest do-not-contact entries show.
const maxSuppressions = 10

func (d *dashboard) suppressions(ctx context.Context, ws int64, v *overview) {
	var err error
	v.SuppressedEmails, v.SuppressedDomains, v.Suppressions, err = d.cfg.Store.SuppressionCounts(ctx, ws, maxSuppressions)
	for i := range v.Suppressions {
		v.Suppressions[i].Value = strings.TrimPrefix(v.Suppressions[i].Value, "@")
	}
	v.SuppressionsErr = errText(err)
}
