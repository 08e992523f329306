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
