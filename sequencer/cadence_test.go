package sequencer

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/touchline/touchline/sequencer/template"
)

func validSpec() Spec {
	return Spec{
		Name:       "c",
		Steps:      []Step{{Channel: ChannelEmail, Subject: "Hi {{first_name}}", Body: "Hello {{first_name|there}}"}},
		MailboxIDs: []int64{1},
	}
}

// Issue 13: "ẞ" lower-cases to the shorter "ß", and the old code sliced the
// lower-cased string by the original length: a panic from one API request.
func TestCompileDayNames(t *testing.T) {
	for _, tc := range []struct {
		day  string
		want time.Weekday
		ok   bool
	}{
		{"mon", time.Monday, true},
		{" Tue ", time.Tuesday, true},
		{"SUNDAY", time.Sunday, true},
		{"Saturday", time.Saturday, true},
		{"ẞ", 0, false},
		{"ẞẞẞẞ", 0, false},
		{"İ", 0, false}, // lower-cases to two runes
		{"monkey", 0, false},
		{"mo", 0, false},
		{"", 0, false},
		{"\xff\xfe", 0, false},
	} {
		spec := validSpec()
		spec.Window.Days = []string{tc.day}
		c, _, err := Compile(spec, template.Standard())
		if !tc.ok {
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "window.days") {
				t.Errorf("day %q: err = %v, want a window.days problem", tc.day, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("day %q: %v", tc.day, err)
			continue
		}
		if len(c.window.Days) != 1 || c.window.Days[0] != tc.want {
			t.Errorf("day %q: window days %v, want %v", tc.day, c.window.Days, tc.want)
		}
	}
}

// FuzzCompile: a cadence as POST /v1/cadences takes it (days, window,
// holidays, time zone, delays, templates). Compile answers a cadence or a
// ValidationError naming each problem; never a panic, and a compiled
// cadence schedules its steps.
func FuzzCompile(f *testing.F) {
	f.Add("mon", "09:00", "17:00", "America/New_York", "2026-12-25", "2d", "Hi {{first_name}}", "Hello {{company|there}}")
	f.Add("ẞ", "9", "24:00", "Local", "2026-02-30", "1d2h", "{{", "}}{{first_name|")
	f.Add("SUNDAY", "23:59", "00:00", "", "", "90s", "{{thread_subject}}", "{{ first_name | x }}")
	f.Add("İ", "-1:00", "17:60", "../../etc/passwd", "0000-00-00", "-1d", "{{#if}}", "\xff")
	fields := template.Standard()
	f.Fuzz(func(t *testing.T, day, start, end, tz, holiday, delay, subject, body string) {
		spec := Spec{
			Name:       "fuzz",
			Window:     WindowSpec{Days: []string{day}, Start: start, End: end, Timezone: tz, Holidays: []string{holiday}},
			MailboxIDs: []int64{1},
			Steps: []Step{
				{Channel: ChannelEmail, Delay: delay, Subject: subject, Body: body},
				{Channel: ChannelEmail, Delay: delay, Thread: true, Body: body},
				{Channel: ChannelCall, Delay: delay, Title: subject, AutoAdvance: true, AdvanceAfter: delay},
			},
		}
		c, _, err := Compile(spec, fields)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v is not a ValidationError", err)
			}
			return
		}
		at := time.Date(2026, 3, 9, 10, 0, 0, 0, time.UTC)
		for step := 1; step <= c.StepCount(); step++ {
			if due := c.due(step, at, c.location("")); due.Before(at) {
				t.Fatalf("step %d due %v before %v", step, due, at)
			}
		}
		// What was stored loads back the same.
		window, steps := c.marshal()
		if _, err := Load(spec.Name, window, steps, spec.MailboxIDs, c.RiskyPolicy, fields); err != nil {
			t.Fatalf("a compiled cadence does not load back: %v", err)
		}
	})
}
