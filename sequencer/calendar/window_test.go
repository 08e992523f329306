package calendar

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func loadZone(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// instant parses an RFC 3339 time with an explicit offset, so every test
// input names one instant whatever the machine's zone and DST rules.
func instant(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func date(t testing.TB, s string) Date {
	t.Helper()
	d, err := ParseDate(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

var (
	allWeek = []time.Weekday{time.Sunday, time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday}
	office  = Window{Start: Clock{9, 0}, End: Clock{17, 0}}
	daily   = Window{Days: allWeek, Start: Clock{9, 0}, End: Clock{17, 0}}
)

func within(days []time.Weekday, start, end Clock) Window {
	return Window{Days: days, Start: start, End: end}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		w       Window
		wantErr string
	}{
		{"office", office, ""},
		{"until midnight", within(nil, Clock{20, 0}, Clock{24, 0}), ""},
		{"one minute", within(nil, Clock{9, 0}, Clock{9, 1}), ""},
		{"zero window", Window{}, "not after start"},
		{"across midnight", within(nil, Clock{22, 0}, Clock{2, 0}), "cross midnight"},
		{"empty", within(nil, Clock{9, 0}, Clock{9, 0}), "not after start"},
		{"start 24:00", within(nil, Clock{24, 0}, Clock{24, 0}), "start 24:00"},
		{"bad minute", within(nil, Clock{9, 60}, Clock{17, 0}), "start 09:60"},
		{"bad end", within(nil, Clock{9, 0}, Clock{25, 0}), "end 25:00"},
		{"bad weekday", within([]time.Weekday{7}, Clock{9, 0}, Clock{17, 0}), "day 7"},
		{"bad holiday", Window{Start: Clock{9, 0}, End: Clock{17, 0}, Holidays: []Date{{2026, 2, 30}}}, "holiday 2026-02-30"},
	}
	for _, tt := range tests {
		err := tt.w.Validate()
		if tt.wantErr == "" {
			if err != nil {
				t.Errorf("%s: Validate() = %v", tt.name, err)
			}
			continue
		}
		if !errors.Is(err, ErrInvalidWindow) || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: Validate() = %v; want ErrInvalidWindow mentioning %q", tt.name, err, tt.wantErr)
		}
	}
}

// TestNextOpen also checks Contains: t is inside exactly when NextOpen(t) is t.
// Times are written with the offset in force locally, so each "want" shows
// the wall clock the lead sees.
func TestNextOpen(t *testing.T) {
	t.Parallel()
	holidays := Window{Start: Clock{9, 0}, End: Clock{17, 0}, Holidays: []Date{
		date(t, "2026-12-24"), date(t, "2026-12-25"), date(t, "2026-12-28"), date(t, "2026-12-29"),
		date(t, "2026-12-30"), date(t, "2026-12-31"), date(t, "2027-01-01"),
	}}
	saturdays := Window{Days: []time.Weekday{time.Saturday}, Start: Clock{9, 0}, End: Clock{17, 0}}
	tests := []struct {
		name string
		zone string
		w    Window
		t    string
		want string
	}{
		// Plain days, New York, Monday 2026-03-09.
		{"inside", "America/New_York", office, "2026-03-09T10:00:00-04:00", "2026-03-09T10:00:00-04:00"},
		{"exactly start", "America/New_York", office, "2026-03-09T09:00:00-04:00", "2026-03-09T09:00:00-04:00"},
		{"just before start", "America/New_York", office, "2026-03-09T08:59:59.999999999-04:00", "2026-03-09T09:00:00-04:00"},
		{"just before end", "America/New_York", office, "2026-03-09T16:59:59.999999999-04:00", "2026-03-09T16:59:59.999999999-04:00"},
		{"exactly end is closed", "America/New_York", office, "2026-03-09T17:00:00-04:00", "2026-03-10T09:00:00-04:00"},
		{"friday evening to monday", "America/New_York", office, "2026-03-13T18:00:00-04:00", "2026-03-16T09:00:00-04:00"},
		{"weekend across spring forward", "America/New_York", office, "2026-03-07T12:00:00-05:00", "2026-03-09T09:00:00-04:00"},
		{"saturday-only window", "America/New_York", saturdays, "2026-03-09T10:00:00-04:00", "2026-03-14T09:00:00-04:00"},
		{"saturday-only inside", "America/New_York", saturdays, "2026-03-14T16:00:00-04:00", "2026-03-14T16:00:00-04:00"},
		{"saturday-only holiday", "America/New_York", Window{Days: saturdays.Days, Start: Clock{9, 0}, End: Clock{17, 0}, Holidays: []Date{date(t, "2026-03-14")}}, "2026-03-13T10:00:00-04:00", "2026-03-21T09:00:00-04:00"},
		{"holiday run and weekends", "America/New_York", holidays, "2026-12-23T17:30:00-05:00", "2027-01-04T09:00:00-05:00"},
		{"inside a holiday", "America/New_York", holidays, "2026-12-25T10:00:00-05:00", "2027-01-04T09:00:00-05:00"},
		{"until midnight", "UTC", within(allWeek, Clock{20, 0}, Clock{24, 0}), "2026-03-09T23:59:59Z", "2026-03-09T23:59:59Z"},
		{"midnight after 24:00 end", "UTC", within(allWeek, Clock{20, 0}, Clock{24, 0}), "2026-03-10T00:00:00Z", "2026-03-10T20:00:00Z"},

		// One instant, 2026-03-09T14:00Z, read in different zones.
		{"same instant New York", "America/New_York", office, "2026-03-09T14:00:00Z", "2026-03-09T10:00:00-04:00"},
		{"same instant Berlin", "Europe/Berlin", office, "2026-03-09T14:00:00Z", "2026-03-09T15:00:00+01:00"},
		{"same instant Kolkata", "Asia/Kolkata", office, "2026-03-09T14:00:00Z", "2026-03-10T09:00:00+05:30"},
		{"same instant Lord Howe", "Australia/Lord_Howe", office, "2026-03-09T14:00:00Z", "2026-03-10T09:00:00+11:00"},
		{"same instant Apia", "Pacific/Apia", office, "2026-03-09T14:00:00Z", "2026-03-10T09:00:00+13:00"},
		{"same instant UTC", "UTC", office, "2026-03-09T14:00:00Z", "2026-03-09T14:00:00Z"},
		{"Kolkata half-hour offset", "Asia/Kolkata", office, "2026-03-09T03:29:00Z", "2026-03-09T09:00:00+05:30"},

		// Spring forward: a start inside the gap opens when the gap ends.
		{"New York start in gap", "America/New_York", within(allWeek, Clock{2, 30}, Clock{5, 0}), "2026-03-08T00:00:00-05:00", "2026-03-08T03:00:00-04:00"},
		{"New York last instant before gap", "America/New_York", within(allWeek, Clock{2, 30}, Clock{5, 0}), "2026-03-08T01:59:59.999999999-05:00", "2026-03-08T03:00:00-04:00"},
		{"New York inside after gap", "America/New_York", within(allWeek, Clock{2, 30}, Clock{5, 0}), "2026-03-08T03:00:00-04:00", "2026-03-08T03:00:00-04:00"},
		{"New York window wholly in gap", "America/New_York", within(allWeek, Clock{2, 0}, Clock{2, 30}), "2026-03-08T00:00:00-05:00", "2026-03-09T02:00:00-04:00"},
		{"New York 09:00 on switch day", "America/New_York", daily, "2026-03-08T00:00:00-05:00", "2026-03-08T09:00:00-04:00"},
		{"Berlin start in gap", "Europe/Berlin", within(allWeek, Clock{2, 30}, Clock{4, 0}), "2026-03-29T01:00:00+01:00", "2026-03-29T03:00:00+02:00"},
		{"Lord Howe start in half-hour gap", "Australia/Lord_Howe", within(allWeek, Clock{2, 15}, Clock{4, 0}), "2026-10-04T01:00:00+10:30", "2026-10-04T02:30:00+11:00"},

		// Fall back: the window opens once, at the first occurrence.
		{"New York first occurrence", "America/New_York", within(allWeek, Clock{1, 30}, Clock{3, 0}), "2026-11-01T00:00:00-04:00", "2026-11-01T01:30:00-04:00"},
		{"New York repeat inside window stays open", "America/New_York", within(allWeek, Clock{1, 30}, Clock{3, 0}), "2026-11-01T01:15:00-05:00", "2026-11-01T01:15:00-05:00"},
		{"New York repeat after end does not reopen", "America/New_York", within(allWeek, Clock{1, 0}, Clock{1, 30}), "2026-11-01T01:10:00-05:00", "2026-11-02T01:00:00-05:00"},
		{"New York first pass inside", "America/New_York", within(allWeek, Clock{1, 0}, Clock{1, 30}), "2026-11-01T01:10:00-04:00", "2026-11-01T01:10:00-04:00"},
		{"New York 09:00 on 25-hour day", "America/New_York", daily, "2026-11-01T00:00:00-04:00", "2026-11-01T09:00:00-05:00"},
		{"Berlin first occurrence", "Europe/Berlin", within(allWeek, Clock{2, 15}, Clock{2, 45}), "2026-10-25T00:00:00+02:00", "2026-10-25T02:15:00+02:00"},
		{"Berlin repeat after end does not reopen", "Europe/Berlin", within(allWeek, Clock{2, 15}, Clock{2, 45}), "2026-10-25T02:20:00+01:00", "2026-10-26T02:15:00+01:00"},
		{"Lord Howe first occurrence", "Australia/Lord_Howe", within(allWeek, Clock{1, 45}, Clock{3, 0}), "2026-04-05T00:00:00+11:00", "2026-04-05T01:45:00+11:00"},

		// Samoa skipped Friday 2011-12-30 when it crossed the date line.
		{"Apia skipped day", "Pacific/Apia", office, "2011-12-29T18:00:00-10:00", "2012-01-02T09:00:00+14:00"},
	}
	for _, tt := range tests {
		loc := loadZone(t, tt.zone)
		in := instant(t, tt.t)
		got := tt.w.NextOpen(in, loc)
		if s := got.Format(time.RFC3339Nano); s != tt.want || got.Location() != loc {
			t.Errorf("%s: NextOpen(%s) = %s in %v; want %s in %v", tt.name, tt.t, s, got.Location(), tt.want, loc)
		}
		wantInside := got.Equal(in)
		if inside := tt.w.Contains(in, loc); inside != wantInside {
			t.Errorf("%s: Contains(%s) = %v; want %v", tt.name, tt.t, inside, wantInside)
		}
		if !tt.w.Contains(got, loc) {
			t.Errorf("%s: Contains(NextOpen(%s) = %s) = false", tt.name, tt.t, got.Format(time.RFC3339))
		}
	}
}

func TestInvalidWindowIsNeverOpen(t *testing.T) {
	t.Parallel()
	w := within(nil, Clock{22, 0}, Clock{2, 0})
	at := instant(t, "2026-03-09T23:00:00Z")
	if w.Contains(at, nil) {
		t.Error("Contains on an invalid window = true")
	}
	if got := w.NextOpen(at, nil); !got.Equal(at) {
		t.Errorf("NextOpen on an invalid window = %v; want its input", got)
	}
	if got, want := w.Due(at, Delay{BusinessDays: 2, Duration: time.Hour}, nil), instant(t, "2026-03-12T00:00:00Z"); !got.Equal(want) {
		t.Errorf("Due on an invalid window = %v; want %v (calendar days, no window)", got, want)
	}
}

func TestNilLocationIsUTC(t *testing.T) {
	t.Parallel()
	got := office.NextOpen(instant(t, "2026-03-09T18:00:00+01:00"), nil)
	if want := "2026-03-10T09:00:00Z"; got.Format(time.RFC3339) != want || got.Location() != time.UTC {
		t.Errorf("NextOpen with nil loc = %v; want %s", got, want)
	}
}

func TestDue(t *testing.T) {
	t.Parallel()
	holidays := Window{Start: Clock{9, 0}, End: Clock{17, 0}, Holidays: []Date{
		date(t, "2026-12-24"), date(t, "2026-12-25"), date(t, "2026-12-28"), date(t, "2026-12-29"),
		date(t, "2026-12-30"), date(t, "2026-12-31"), date(t, "2027-01-01"),
	}}
	tests := []struct {
		name    string
		zone    string
		w       Window
		prev    string
		delay   string
		want    string
		elapsed time.Duration // checked when non-zero
	}{
		// Business days keep the wall clock.
		{"2d midweek", "America/New_York", office, "2026-03-09T10:00:00-04:00", "2d", "2026-03-11T10:00:00-04:00", 48 * time.Hour},
		{"2d over weekend", "America/New_York", office, "2026-03-12T10:00:00-04:00", "2d", "2026-03-16T10:00:00-04:00", 96 * time.Hour},
		{"1d over weekend and DST", "America/New_York", office, "2026-03-06T10:00:00-05:00", "1d", "2026-03-09T10:00:00-04:00", 71 * time.Hour},
		{"holiday run", "America/New_York", holidays, "2026-12-23T10:00:00-05:00", "1d", "2027-01-04T10:00:00-05:00", 0},
		{"saturday-only", "America/New_York", within([]time.Weekday{time.Saturday}, Clock{9, 0}, Clock{17, 0}), "2026-03-14T10:00:00-04:00", "1d", "2026-03-21T10:00:00-04:00", 0},

		// 10:00 stays 10:00 across DST: 23 or 25 elapsed hours, not 24.
		{"New York spring 23h", "America/New_York", daily, "2026-03-07T10:00:00-05:00", "1d", "2026-03-08T10:00:00-04:00", 23 * time.Hour},
		{"New York fall 25h", "America/New_York", daily, "2026-10-31T10:00:00-04:00", "1d", "2026-11-01T10:00:00-05:00", 25 * time.Hour},
		{"Berlin spring 23h", "Europe/Berlin", daily, "2026-03-28T10:00:00+01:00", "1d", "2026-03-29T10:00:00+02:00", 23 * time.Hour},
		{"Berlin fall 25h", "Europe/Berlin", daily, "2026-10-24T10:00:00+02:00", "1d", "2026-10-25T10:00:00+01:00", 25 * time.Hour},
		{"Lord Howe spring 23.5h", "Australia/Lord_Howe", daily, "2026-10-03T10:00:00+10:30", "1d", "2026-10-04T10:00:00+11:00", 23*time.Hour + 30*time.Minute},
		{"Lord Howe fall 24.5h", "Australia/Lord_Howe", daily, "2026-04-04T10:00:00+11:00", "1d", "2026-04-05T10:00:00+10:30", 24*time.Hour + 30*time.Minute},
		{"Kolkata no DST", "Asia/Kolkata", daily, "2026-03-07T10:00:00+05:30", "1d", "2026-03-08T10:00:00+05:30", 24 * time.Hour},
		{"Apia no DST now", "Pacific/Apia", office, "2026-03-09T10:00:00+13:00", "1d", "2026-03-10T10:00:00+13:00", 24 * time.Hour},
		{"UTC", "UTC", office, "2026-03-09T10:00:00Z", "3d", "2026-03-12T10:00:00Z", 72 * time.Hour},
		{"Apia skipped Friday is not a business day", "Pacific/Apia", office, "2011-12-29T10:00:00-10:00", "1d", "2012-01-02T10:00:00+14:00", 0},
		{"wall time in gap opens after it", "America/New_York", within(allWeek, Clock{1, 0}, Clock{5, 0}), "2026-03-07T02:30:00-05:00", "1d", "2026-03-08T03:00:00-04:00", 0},
		{"wall time repeated takes first", "America/New_York", within(allWeek, Clock{1, 0}, Clock{5, 0}), "2026-10-31T01:30:00-04:00", "1d", "2026-11-01T01:30:00-04:00", 24 * time.Hour},

		// Durations are elapsed time.
		{"30m", "America/New_York", office, "2026-03-09T10:00:00-04:00", "30m", "2026-03-09T10:30:00-04:00", 30 * time.Minute},
		{"90s", "America/New_York", office, "2026-03-09T10:00:00-04:00", "90s", "2026-03-09T10:01:30-04:00", 90 * time.Second},
		{"30m past end", "America/New_York", office, "2026-03-09T16:45:00-04:00", "30m", "2026-03-10T09:00:00-04:00", 0},
		{"4h friday to monday", "America/New_York", office, "2026-03-13T16:00:00-04:00", "4h", "2026-03-16T09:00:00-04:00", 0},
		{"4h across spring gap", "America/New_York", within(allWeek, Clock{0, 0}, Clock{24, 0}), "2026-03-08T00:30:00-05:00", "4h", "2026-03-08T05:30:00-04:00", 4 * time.Hour},
		{"24h is not 1d across DST", "America/New_York", daily, "2026-03-07T10:00:00-05:00", "24h", "2026-03-08T11:00:00-04:00", 24 * time.Hour},
		{"0 inside", "America/New_York", office, "2026-03-09T10:00:00-04:00", "0", "2026-03-09T10:00:00-04:00", 0},
		{"0 on sunday", "America/New_York", office, "2026-03-08T20:00:00-04:00", "0", "2026-03-09T09:00:00-04:00", 0},

		// A prev outside the window.
		{"before start clamps to start", "America/New_York", office, "2026-03-09T07:00:00-04:00", "2d", "2026-03-11T09:00:00-04:00", 0},
		{"after end clamps to last minute", "America/New_York", office, "2026-03-09T18:00:00-04:00", "2d", "2026-03-11T16:59:00-04:00", 0},
		{"exactly end clamps to last minute", "America/New_York", office, "2026-03-09T17:00:00-04:00", "1d", "2026-03-10T16:59:00-04:00", 0},
		{"saturday enrollment 1d is monday", "America/New_York", office, "2026-03-14T10:00:00-04:00", "1d", "2026-03-16T10:00:00-04:00", 0},
		{"saturday enrollment 2d is tuesday", "America/New_York", office, "2026-03-14T10:00:00-04:00", "2d", "2026-03-17T10:00:00-04:00", 0},
		{"holiday prev", "America/New_York", holidays, "2026-12-25T11:00:00-05:00", "1d", "2027-01-04T11:00:00-05:00", 0},

		// The lead's zone decides: the same instant, 2026-03-09T14:00Z.
		{"lead in New York", "America/New_York", office, "2026-03-09T14:00:00Z", "1d", "2026-03-10T10:00:00-04:00", 24 * time.Hour},
		{"lead in Kolkata", "Asia/Kolkata", office, "2026-03-09T14:00:00Z", "1d", "2026-03-10T16:59:00+05:30", 0},
	}
	for _, tt := range tests {
		loc := loadZone(t, tt.zone)
		prev := instant(t, tt.prev)
		d, err := ParseDelay(tt.delay)
		if err != nil {
			t.Fatal(err)
		}
		got := tt.w.Due(prev, d, loc)
		if s := got.Format(time.RFC3339); s != tt.want {
			t.Errorf("%s: Due(%s, %s) = %s; want %s", tt.name, tt.prev, tt.delay, s, tt.want)
		}
		if tt.elapsed != 0 && got.Sub(prev) != tt.elapsed {
			t.Errorf("%s: Due(%s, %s) is %v after prev; want %v", tt.name, tt.prev, tt.delay, got.Sub(prev), tt.elapsed)
		}
	}
}

func TestDueBothFields(t *testing.T) {
	t.Parallel()
	loc := loadZone(t, "America/New_York")
	got := office.Due(instant(t, "2026-03-09T10:00:00-04:00"), Delay{BusinessDays: 1, Duration: 2 * time.Hour}, loc)
	if want := "2026-03-10T12:00:00-04:00"; got.Format(time.RFC3339) != want {
		t.Errorf("Due(1d + 2h) = %s; want %s", got.Format(time.RFC3339), want)
	}
}
