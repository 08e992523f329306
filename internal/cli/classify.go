package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"os"
	"strings"
	"time"

	"github.com/touchline/touchline/internal/inbound/classify"
	"github.com/touchline/touchline/internal/secret"
	"github.com/touchline/touchline/internal/store"
	"github.com/touchline/touchline/sequencer"
)

func init() {
	register("classify", "say what a returned message is (bounce, reply, ...), why, and which enrollment it matches", runClassify)
}

// classified is one message's line of `touchline classify --format json`.
// The field names are part of the command's interface (README.md,
// "Why was this counted as a bounce?"): add fields, never rename them.
type classified struct {
	Input   string `json:"input"`   // the file name, or "-" for stdin
	Message int    `json:"message"` // 1-based position in the input (an mbox holds several)
	Line    int    `json:"line"`    // line of the input the message starts on
	mbox    bool
	// Error is set, and the classification fields left out, when the
	// message could not be read as one.
	Error string `json:"error,omitempty"`

	*Verdict
}

// Verdict is the classification part of a classified message.
type Verdict struct {
	Class             classify.Class        `json:"class"`
	Rule              string                `json:"rule"`
	Recipients        []classifiedRecipient `json:"recipients"`
	OriginalMessageID string                `json:"original_message_id"`
	References        []string              `json:"references"`
	FeedbackType      string                `json:"feedback_type"`
	ReturnDate        *time.Time            `json:"return_date"`
	Snippet           string                `json:"snippet"`
	From              string                `json:"from"`
	// Match is null without a database.
	Match *matchReport `json:"match"`
}

type classifiedRecipient struct {
	Address    string              `json:"address"`
	Kind       classify.BounceKind `json:"kind"`
	Reason     string              `json:"reason"`
	Status     string              `json:"status"`
	Action     string              `json:"action"`
	Diagnostic string              `json:"diagnostic"`
}

type matchReport struct {
	Found bool `json:"found"`
	// EnvelopeTo is where a VERP token was looked for: --rcpt, else the
	// message's X-Original-To and Delivered-To fields.
	EnvelopeTo     []string `json:"envelope_to"`
	EnvelopeSource string   `json:"envelope_source"` // "--rcpt", "header" or ""
	// Tried lists, in order, each way that did not match and why.
	Tried []string `json:"tried"`
	// Error is a database error met while matching.
	Error string `json:"error,omitempty"`

	By              string `json:"by,omitempty"` // verp, in-reply-to or sender
	WorkspaceID     int64  `json:"workspace_id,omitempty"`
	Workspace       string `json:"workspace,omitempty"`
	EnrollmentID    int64  `json:"enrollment_id,omitempty"`
	EnrollmentState string `json:"enrollment_state,omitempty"`
	Step            int    `json:"step,omitempty"`
	TouchStatus     string `json:"touch_status,omitempty"`
	TouchMessageID  string `json:"touch_message_id,omitempty"`
	LeadID          int64  `json:"lead_id,omitempty"`
	LeadEmail       string `json:"lead_email,omitempty"`
	CadenceID       int64  `json:"cadence_id,omitempty"`
	Cadence         string `json:"cadence,omitempty"`
}

// matcher looks messages up in the database, read-only.
type matcher struct {
	st        *store.Store
	keys      sequencer.MatchKeys
	workspace store.Workspace // ID 0: every workspace (store.AnyWorkspace)
	rcpts     []string
}

func runClassify(ctx context.Context, env *Env, args []string) int {
	fs := newFlagSet(env, "classify", "classify [FILE...|-] [--format text|json] [--database-url URL [--workspace NAME] [--rcpt ADDR]... [--secret-key KEY]]")
	format := fs.String("format", "text", "output format: text, or json (one object per message and line)")
	url := databaseFlag(env, fs)
	workspace := fs.String("workspace", "", "workspace `name` (or ID) to match enrollments in (default: every workspace, and say which matched)")
	var rcpts listFlag
	fs.Var(&rcpts, "rcpt", "envelope recipient `address` the message was delivered to, to read its VERP token (repeatable; default: the X-Original-To and Delivered-To fields)")
	secretKey := fs.String("secret-key", "", "the server's key, to check VERP return paths (prefer TOUCHLINE_SECRET_KEY: process lists show command lines)")
	if err := envDefaults(env, fs); err != nil {
		fmt.Fprintf(env.Stderr, "touchline classify: %v\n", err)
		return ExitUsage
	}
	pos, err := parseArgs(fs, args)
	if err != nil {
		return flagError(err)
	}
	if *format != "text" && *format != "json" {
		fmt.Fprintf(env.Stderr, "touchline classify: --format %q: want text or json\n", *format)
		return ExitUsage
	}
	if *url == "" && (*workspace != "" || len(rcpts) > 0) {
		fmt.Fprintln(env.Stderr, "touchline classify: --workspace and --rcpt match enrollments: give --database-url (or set DATABASE_URL)")
		return ExitUsage
	}
	var m *matcher
	if *url != "" {
		var code int
		if m, code = openMatcher(ctx, env, *url, *workspace, *secretKey); m == nil {
			return code
		}
		defer m.st.Close()
		m.rcpts = rcpts
	}
	if len(pos) == 0 {
		pos = []string{"-"}
	}
	out := &classifyOutput{w: env.Stdout, json: *format == "json"}
	failed := false
	for _, name := range pos {
		ok, err := classifyInput(ctx, env, m, out, name)
		if err != nil { // the output is gone: nothing more to say
			fmt.Fprintf(env.Stderr, "touchline classify: %v\n", err)
			return ExitError
		}
		failed = failed || !ok
		if ctx.Err() != nil {
			return ExitError
		}
	}
	if failed {
		return ExitError
	}
	return ExitOK
}

// classifyInput writes a verdict per message of one input; false when
// the input or one of its messages could not be read or matched. An error
// only when the output cannot be written.
func classifyInput(ctx context.Context, env *Env, m *matcher, out *classifyOutput, name string) (ok bool, err error) {
	var r io.Reader = env.Stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			fmt.Fprintf(env.Stderr, "touchline classify: %v\n", err)
			return false, nil
		}
		defer f.Close()
		r = f
	}
	ok = true
	mr := newMessageReader(r)
	for n := 1; ctx.Err() == nil; n++ {
		raw, line, err := mr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Fprintf(env.Stderr, "touchline classify: %s: %v\n", inputName(name), err)
			return false, nil
		}
		c := classified{Input: name, Message: n, Line: line, mbox: mr.mbox}
		if err := classifyOne(ctx, m, raw, &c); err != nil {
			c.Error, ok = err.Error(), false
		} else if c.Match != nil && c.Match.Error != "" {
			ok = false
		}
		if err := out.write(c); err != nil {
			return false, err
		}
	}
	return ok, nil
}

func inputName(name string) string {
	if name == "-" {
		return "stdin"
	}
	return name
}

// openMatcher connects read-only and resolves the workspace.
func openMatcher(ctx context.Context, env *Env, url, workspace, secretKey string) (*matcher, int) {
	st, err := store.OpenReadOnly(ctx, url)
	if err != nil {
		fmt.Fprintf(env.Stderr, "touchline classify: %v\n", err)
		return nil, ExitError
	}
	fail := func(code int, format string, a ...any) (*matcher, int) {
		st.Close()
		fmt.Fprintf(env.Stderr, "touchline classify: "+format+"\n", a...)
		return nil, code
	}
	pending, err := st.Pending(ctx)
	if err != nil {
		return fail(ExitError, "%v", err)
	}
	if len(pending) > 0 {
		return fail(ExitError, "%d database migrations are pending (%s).\nApply them first with: touchline migrate", len(pending), strings.Join(pending, ", "))
	}
	m := &matcher{st: st}
	if workspace != "" {
		w, err := st.FindWorkspace(ctx, workspace)
		if errors.Is(err, store.ErrNotFound) {
			return fail(ExitUsage, "--workspace %q: no workspace has that name or ID", workspace)
		}
		if err != nil {
			return fail(ExitError, "%v", err)
		}
		m.workspace = w
	}
	if secretKey != "" {
		key, err := secret.ParseKey(secretKey)
		if err != nil {
			return fail(ExitUsage, "--secret-key / TOUCHLINE_SECRET_KEY: %v", err)
		}
		// As serve derives them.
		m.keys = sequencer.MatchKeys{VERP: secret.Derive(key, "verp"), Unsubscribe: secret.Derive(key, "unsubscribe")}
	}
	return m, ExitOK
}

// classifyOne fills c from one raw message; an error when it is not one.
func classifyOne(ctx context.Context, m *matcher, raw []byte, c *classified) error {
	if len(raw) == 0 {
		return errors.New("empty input: no message")
	}
	res, err := classify.Classify(raw)
	if err != nil {
		return err
	}
	v := &Verdict{Class: res.Class, Rule: res.Rule, Recipients: []classifiedRecipient{},
		OriginalMessageID: res.OriginalMessageID, References: res.References, FeedbackType: res.FeedbackType,
		ReturnDate: res.ReturnDate, Snippet: res.Snippet}
	if v.References == nil {
		v.References = []string{}
	}
	for _, r := range res.Recipients {
		v.Recipients = append(v.Recipients, classifiedRecipient{Address: r.Address, Kind: r.Kind, Reason: r.Reason,
			Status: r.Status, Action: r.Action, Diagnostic: r.Diagnostic})
	}
	// The sender as the inbox reads it (sequencer.Inbox.HandleMessage).
	hdr, _ := mail.ReadMessage(strings.NewReader(string(raw)))
	if hdr != nil {
		if a, err := mail.ParseAddress(hdr.Header.Get("From")); err == nil {
			v.From = strings.ToLower(a.Address)
		}
	}
	c.Verdict = v
	if m == nil {
		return nil
	}
	rep := &matchReport{EnvelopeTo: m.rcpts, Tried: []string{}}
	if len(m.rcpts) > 0 {
		rep.EnvelopeSource = "--rcpt"
	} else if hdr != nil {
		// A message saved by the delivering MTA records its envelope
		// recipient: Postfix writes X-Original-To and Delivered-To,
		// Dovecot's LDA and most others Delivered-To.
		for _, f := range []string{"X-Original-To", "Delivered-To"} {
			for _, a := range hdr.Header[f] {
				if a = strings.TrimSpace(a); a != "" && !containsFold(rep.EnvelopeTo, a) {
					rep.EnvelopeTo = append(rep.EnvelopeTo, a)
				}
			}
		}
		if len(rep.EnvelopeTo) > 0 {
			rep.EnvelopeSource = "header"
		}
	}
	if rep.EnvelopeTo == nil {
		rep.EnvelopeTo = []string{}
	}
	v.Match = rep
	ws := m.workspace.ID
	if ws == 0 {
		ws = store.AnyWorkspace // an operator's tool: say which workspace matched
	}
	found, err := sequencer.MatchTouch(ctx, m.st, m.keys, ws, rep.EnvelopeTo, res, v.From)
	if err != nil {
		rep.Error = err.Error()
	}
	if len(m.keys.VERP) == 0 && len(rep.EnvelopeTo) > 0 {
		rep.Tried = append(rep.Tried, "verp: give --secret-key (or TOUCHLINE_SECRET_KEY), the server's key, to check the envelope recipient's token")
	}
	for _, t := range found.Tried {
		switch {
		case len(m.keys.VERP) == 0 && strings.HasPrefix(t, "verp: no VERP key"):
			continue // said above, with what to do
		case t == "verp: no envelope recipient":
			t += " (give --rcpt, the address the message was delivered to)"
		}
		rep.Tried = append(rep.Tried, t)
	}
	if found.Touch == nil {
		return nil
	}
	tm := found.Touch
	rep.Found, rep.By = true, found.By
	rep.WorkspaceID, rep.EnrollmentID, rep.Step, rep.LeadID, rep.LeadEmail, rep.CadenceID =
		tm.Workspace, tm.EnrollmentID, tm.Step, tm.LeadID, tm.LeadEmail, tm.CadenceID
	// What an operator wants beside the IDs; the match stands without them.
	var errs []error
	if w, err := m.st.GetWorkspace(ctx, tm.Workspace); err == nil {
		rep.Workspace = w.Name
	} else {
		errs = append(errs, fmt.Errorf("workspace %d: %w", tm.Workspace, err))
	}
	if cad, err := m.st.GetCadence(ctx, tm.Workspace, tm.CadenceID); err == nil {
		rep.Cadence = cad.Name
	} else {
		errs = append(errs, fmt.Errorf("cadence %d: %w", tm.CadenceID, err))
	}
	if en, err := m.st.GetEnrollment(ctx, tm.Workspace, tm.EnrollmentID); err == nil {
		rep.EnrollmentState = en.State
		for _, t := range en.Touches {
			if t.Step == tm.Step {
				rep.TouchStatus, rep.TouchMessageID = t.Status, t.MessageID
			}
		}
	} else {
		errs = append(errs, fmt.Errorf("enrollment %d: %w", tm.EnrollmentID, err))
	}
	if len(errs) > 0 {
		rep.Error = strings.TrimPrefix(rep.Error+"; "+errors.Join(errs...).Error(), "; ")
	}
	return nil
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// classifyOutput writes verdicts as text or JSON Lines.
type classifyOutput struct {
	w    io.Writer
	json bool
	n    int
}

func (o *classifyOutput) write(c classified) error {
	o.n++
	if o.json {
		enc := json.NewEncoder(o.w)
		enc.SetEscapeHTML(false)
		return enc.Encode(c)
	}
	var b strings.Builder
	if o.n > 1 {
		b.WriteString("\n")
	}
	label := inputName(c.Input)
	if c.mbox {
		label = fmt.Sprintf("%s, message %d (line %d)", label, c.Message, c.Line)
	}
	if c.Error != "" {
		fmt.Fprintf(&b, "%s: error: %s\n", label, c.Error)
		_, err := io.WriteString(o.w, b.String())
		return err
	}
	v := c.Verdict
	fmt.Fprintf(&b, "%s\n", label)
	field := func(name, format string, a ...any) {
		fmt.Fprintf(&b, "  %-12s %s\n", name+":", fmt.Sprintf(format, a...))
	}
	field("class", "%s", v.Class)
	field("rule", "%s", v.Rule)
	if v.From != "" {
		field("from", "%s", v.From)
	}
	if v.FeedbackType != "" {
		field("feedback", "%s", v.FeedbackType)
	}
	if v.ReturnDate != nil {
		field("back on", "%s", v.ReturnDate.Format("Mon 2006-01-02"))
	}
	if v.OriginalMessageID != "" {
		field("refers to", "%s", v.OriginalMessageID)
	}
	if v.Snippet != "" {
		field("snippet", "%q", v.Snippet)
	}
	for _, r := range v.Recipients {
		addr := r.Address
		if addr == "" {
			addr = "(address not stated)"
		}
		field("recipient", "%s", addr)
		var facts []string
		if r.Kind != "" {
			k := "kind " + string(r.Kind)
			if r.Reason != "" {
				k += " (" + r.Reason + ")"
			}
			facts = append(facts, k)
		}
		if r.Status != "" {
			facts = append(facts, "status "+r.Status)
		}
		if r.Action != "" {
			facts = append(facts, "action "+r.Action)
		}
		if len(facts) > 0 {
			fmt.Fprintf(&b, "  %-12s   %s\n", "", strings.Join(facts, ", "))
		}
		if r.Diagnostic != "" {
			fmt.Fprintf(&b, "  %-12s   diagnostic: %s\n", "", oneLine(r.Diagnostic))
		}
	}
	if m := v.Match; m != nil {
		if len(m.EnvelopeTo) > 0 {
			src := ""
			if m.EnvelopeSource == "header" {
				src = " (from the message's X-Original-To/Delivered-To)"
			}
			field("envelope to", "%s%s", strings.Join(m.EnvelopeTo, ", "), src)
		}
		if m.Found {
			field("match", "enrollment %d, step %d, by %s", m.EnrollmentID, m.Step, m.By)
			fmt.Fprintf(&b, "  %-12s workspace %d (%s); lead %d <%s>; cadence %d (%s)\n", "", m.WorkspaceID, m.Workspace, m.LeadID, m.LeadEmail, m.CadenceID, m.Cadence)
			touch := "touch " + m.TouchStatus
			if m.TouchMessageID != "" {
				touch += " as " + m.TouchMessageID
			}
			fmt.Fprintf(&b, "  %-12s enrollment %s; %s\n", "", m.EnrollmentState, touch)
		} else {
			field("match", "none")
		}
		if m.Error != "" {
			fmt.Fprintf(&b, "  %-12s   error: %s\n", "", m.Error)
		}
		for _, t := range m.Tried {
			fmt.Fprintf(&b, "  %-12s   %s\n", "", t)
		}
	}
	_, err := io.WriteString(o.w, b.String())
	return err
}

// oneLine folds a diagnostic's line breaks, so each stays on one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
