package sequencer

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"regexp"
	"strings"
	"time"

	"github.com/touchline/touchline/sequencer/calendar"
	"github.com/touchline/touchline/sequencer/template"
)

// Channels of a step.
const (
	ChannelEmail    = "email"
	ChannelCall     = "call"
	ChannelLinkedIn = "linkedin"
	ChannelTask     = "task"
)

// Variant is one weighted A/B version of an email step.
type Variant struct {
	Name    string `json:"name"`
	Weight  int    `json:"weight"`
	Subject string `json:"subject"`
	Body    string `json:"body"`
}

// Step is one touch of a cadence, as the API takes it.
type Step struct {
	Channel  string    `json:"channel"`
	Delay    string    `json:"delay"` // from the previous step (the first: from enrollment): "2d" business days, "4h", "90s"
	Subject  string    `json:"subject,omitempty"`
	Body     string    `json:"body,omitempty"`
	Variants []Variant `json:"variants,omitempty"`
	Thread   bool      `json:"thread,omitempty"` // reply in the first email's thread
	Title    string    `json:"title,omitempty"`  // the task of a call, linkedin or task step
	// AutoAdvance moves the cadence on when a task is still open at the end
	// of its due day (in the lead's zone), or after AdvanceAfter if set.
	AutoAdvance  bool   `json:"auto_advance,omitempty"`
	AdvanceAfter string `json:"advance_after,omitempty"` // "4h", "90s"
}

// WindowSpec is a sending window as the API takes it.
type WindowSpec struct {
	Days     []string `json:"days,omitempty"`  // "mon".."sun"; default mon-fri
	Start    string   `json:"start,omitempty"` // "09:00"
	End      string   `json:"end,omitempty"`   // "17:00"
	Timezone string   `json:"timezone,omitempty"`
	Holidays []string `json:"holidays,omitempty"` // "2026-12-25"
}

// Spec is a cadence as the API takes it.
type Spec struct {
	Name        string     `json:"name"`
	Steps       []Step     `json:"steps"`
	Window      WindowSpec `json:"window"`
	MailboxIDs  []int64    `json:"mailbox_ids"`
	RiskyPolicy string     `json:"risky_policy,omitempty"` // skip (default) or allow_catch_all
	// StopDomainOnReply: a reply from one lead stops the cadence for every
	// lead at the same domain.
	StopDomainOnReply bool `json:"stop_domain_on_reply,omitempty"`
}

// ValidationError lists every problem of a Spec, each with its JSON path.
type ValidationError struct {
	Problems []string
}

func (e *ValidationError) Error() string {
	return "sequencer: invalid cadence: " + strings.Join(e.Problems, "; ")
}

// ErrInvalid is what ValidationError matches with errors.Is.
var ErrInvalid = errors.New("sequencer: invalid cadence")

func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

// Warning is a lint finding on a step.
type Warning struct {
	Step    int    `json:"step"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// compiledStep is a Step ready to run.
type compiledStep struct {
	Step
	delay        calendar.Delay
	advanceAfter time.Duration
	title        *template.Template
	variants     []compiledVariant
}

type compiledVariant struct {
	name          string
	weight        int
	subject, body *template.Template
}

// Cadence is a validated Spec.
type Cadence struct {
	Spec
	window calendar.Window
	loc    *time.Location
	steps  []compiledStep
}

var weekdays = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// parseWeekday reads a day as the API takes it: "mon".."sun" or the full
// English name, in any case. The name is compared whole, never sliced:
// lower-casing can change a string's length in bytes ("ẞ", 3 bytes, becomes
// "ß", 2), so an index taken before it is not an index after it.
func parseWeekday(d string) (time.Weekday, bool) {
	d = strings.ToLower(strings.TrimSpace(d))
	if wd, ok := weekdays[d]; ok {
		return wd, true
	}
	for _, wd := range weekdays {
		if d == strings.ToLower(wd.String()) {
			return wd, true
		}
	}
	return 0, false
}

// Compile validates spec against the fields templates may use and returns
// the runnable cadence with its lint warnings. Every problem is reported at
// once, with its path (steps[2].body: ...).
func Compile(spec Spec, fields template.FieldSet) (*Cadence, []Warning, error) {
	var problems []string
	bad := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }
	c := &Cadence{Spec: spec}
	if strings.TrimSpace(spec.Name) == "" {
		bad("name: required")
	}
	if n := len(spec.Steps); n < 1 || n > 20 {
		bad("steps: a cadence has 1 to 20 steps, got %d", n)
	}
	if len(spec.MailboxIDs) == 0 {
		bad("mailbox_ids: at least one sending mailbox is required")
	}
	switch spec.RiskyPolicy {
	case "", "skip", "allow_catch_all":
	default:
		bad("risky_policy: %q is not skip or allow_catch_all", spec.RiskyPolicy)
	}
	if c.RiskyPolicy == "" {
		c.RiskyPolicy = "skip"
	}
	// Window.
	w := spec.Window
	for _, d := range w.Days {
		wd, ok := parseWeekday(d)
		if !ok {
			bad("window.days: %q is not a day of the week", d)
			continue
		}
		c.window.Days = append(c.window.Days, wd)
	}
	start, end := cmpOr(w.Start, "09:00"), cmpOr(w.End, "17:00")
	var err error
	if c.window.Start, err = calendar.ParseClock(start); err != nil {
		bad("window.start: %v", err)
	}
	if c.window.End, err = calendar.ParseClock(end); err != nil {
		bad("window.end: %v", err)
	}
	for _, h := range w.Holidays {
		d, err := calendar.ParseDate(h)
		if err != nil {
			bad("window.holidays: %v", err)
			continue
		}
		c.window.Holidays = append(c.window.Holidays, d)
	}
	if err := c.window.Validate(); err != nil && len(problems) == 0 {
		bad("window: %v", err)
	}
	if c.loc, err = calendar.LoadLocation(w.Timezone); err != nil {
		bad("window.timezone: %v", err)
	}
	if c.Window.Timezone == "" {
		c.Window.Timezone = "UTC"
	}
	var warnings []Warning
	sawEmail := false
	for i, s := range spec.Steps {
		p := fmt.Sprintf("steps[%d]", i)
		cs := compiledStep{Step: s}
		if cs.delay, err = calendar.ParseDelay(cmpOr(s.Delay, "0")); err != nil {
			bad("%s.delay: %v", p, err)
		}
		switch s.Channel {
		case ChannelEmail:
			if s.AutoAdvance || s.AdvanceAfter != "" {
				bad("%s.auto_advance: only tasks (call, linkedin, task) advance on their own", p)
			}
			variants := s.Variants
			if len(variants) == 0 {
				variants = []Variant{{Name: "a", Weight: 1, Subject: s.Subject, Body: s.Body}}
			} else if s.Subject != "" || s.Body != "" {
				bad("%s: give subject and body, or variants, not both", p)
			}
			for j, v := range variants {
				vp := p
				if len(s.Variants) > 0 {
					vp = fmt.Sprintf("%s.variants[%d]", p, j)
					if v.Weight <= 0 {
						bad("%s.weight: must be positive", vp)
					}
					if v.Name == "" {
						v.Name = string(rune('a' + j))
					}
				}
				subj := v.Subject
				if s.Thread && sawEmail && strings.TrimSpace(subj) == "" {
					subj = "{{thread_subject}}" // a reply keeps the thread's subject
				}
				if strings.TrimSpace(subj) == "" {
					bad("%s.subject: required", vp)
				}
				if strings.TrimSpace(v.Body) == "" {
					bad("%s.body: required", vp)
				}
				cv := compiledVariant{name: v.Name, weight: max(v.Weight, 1)}
				var e1, e2 error
				if cv.subject, e1 = template.Parse(subj, fields.With("thread_subject")); e1 != nil {
					bad("%s.subject: %v", vp, e1)
				}
				if cv.body, e2 = template.Parse(v.Body, fields); e2 != nil {
					bad("%s.body: %v", vp, e2)
				}
				if e1 == nil && e2 == nil {
					for _, lw := range template.Lint(subj, v.Body, cv.subject, cv.body) {
						warnings = append(warnings, Warning{Step: i + 1, Code: lw.Code, Message: lw.Message})
					}
				}
				cs.variants = append(cs.variants, cv)
			}
			if s.Thread && !sawEmail {
				bad("%s.thread: the first email step has no thread to reply in", p)
			}
			sawEmail = true
		case ChannelCall, ChannelLinkedIn, ChannelTask:
			if s.Subject != "" || s.Body != "" || len(s.Variants) > 0 {
				bad("%s: a %s step is done by a person: give a title, not subject/body", p, s.Channel)
			}
			if cs.title, err = template.Parse(cmpOr(s.Title, s.Channel+" {{first_name|}} {{last_name|}}"), fields); err != nil {
				bad("%s.title: %v", p, err)
			}
			if s.AdvanceAfter != "" {
				d, err := calendar.ParseDelay(s.AdvanceAfter)
				switch {
				case err != nil:
					bad("%s.advance_after: %v", p, err)
				case d.BusinessDays > 0 || d.Duration <= 0:
					bad("%s.advance_after: a duration such as \"4h\" or \"90s\"", p)
				default:
					cs.advanceAfter = d.Duration
				}
				if !s.AutoAdvance {
					bad("%s.advance_after: set auto_advance too", p)
				}
			}
		default:
			bad("%s.channel: %q is not email, call, linkedin or task", p, s.Channel)
		}
		c.steps = append(c.steps, cs)
	}
	if len(problems) > 0 {
		return nil, warnings, &ValidationError{Problems: problems}
	}
	return c, warnings, nil
}

// StepCount returns how many steps the cadence has.
func (c *Cadence) StepCount() int { return len(c.steps) }

// location returns the lead's time zone when it is a valid one, else the
// cadence's.
func (c *Cadence) location(leadTZ string) *time.Location {
	if leadTZ != "" {
		if loc, err := calendar.LoadLocation(leadTZ); err == nil {
			return loc
		}
	}
	return c.loc
}

// due returns when step (1-based) is due after prev for a lead in loc.
func (c *Cadence) due(step int, prev time.Time, loc *time.Location) time.Time {
	return c.window.Due(prev, c.steps[step-1].delay, loc)
}

// variant picks an A/B variant of an email step, stably per enrollment, by
// weight.
func (s *compiledStep) variant(enrollmentID int64) compiledVariant {
	if len(s.variants) == 1 {
		return s.variants[0]
	}
	total := 0
	for _, v := range s.variants {
		total += v.weight
	}
	h := fnv.New32a()
	fmt.Fprintf(h, "%d", enrollmentID)
	n := int(h.Sum32() % uint32(total))
	for _, v := range s.variants {
		if n < v.weight {
			return v
		}
		n -= v.weight
	}
	return s.variants[0]
}

// MarshalSteps and the window are stored as JSON; Load compiles them back.
func (c *Cadence) marshal() (window, steps []byte) {
	window, _ = json.Marshal(c.Window)
	steps, _ = json.Marshal(c.Spec.Steps)
	return window, steps
}

// Load compiles a stored cadence.
func Load(name string, window, steps []byte, mailboxes []int64, risky string, fields template.FieldSet) (*Cadence, error) {
	spec := Spec{Name: name, MailboxIDs: mailboxes, RiskyPolicy: risky}
	if err := json.Unmarshal(window, &spec.Window); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(steps, &spec.Steps); err != nil {
		return nil, err
	}
	// The cadence was validated against the workspace's fields when it was
	// created; the custom fields it references are known to exist.
	var refs []string
	for _, st := range spec.Steps {
		for _, t := range append([]string{st.Subject, st.Body, st.Title}, variantTexts(st.Variants)...) {
			for _, m := range fieldRef.FindAllStringSubmatch(t, -1) {
				refs = append(refs, m[1])
			}
		}
	}
	c, _, err := Compile(spec, fields.With(refs...))
	return c, err
}

var fieldRef = regexp.MustCompile(`\{\{\s*([a-z0-9_.]+)`)

func variantTexts(vs []Variant) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.Subject, v.Body)
	}
	return out
}

func cmpOr(s, def string) string {
	if strings.TrimSpace(s) == "" {
		return def
	}
	return s
}
