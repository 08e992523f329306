package calendar

import (
	"errors"
	"fmt"
	"time"
)

// Sentinel errors for the civil-time parsers, wrapped with the input and the
// reason.
var (
	ErrInvalidClock = errors.New("calendar: invalid clock time")
	ErrInvalidDate  = errors.New("calendar: invalid date")
)

// Clock is a wall-clock time of day with minute precision, as written in a
// sending window ("09:00"). 24:00 is allowed, and only meaningful, as a
// window's End: "until midnight".
type Clock struct {
	Hour, Minute int
}

// ParseClock parses 24-hour "HH:MM" (or "H:MM"), from "00:00" to "24:00".
// Seconds, "9am" and similar are rejected: window edges are minutes.
func ParseClock(s string) (Clock, error) {
	bad := func(reason string) (Clock, error) {
		return Clock{}, fmt.Errorf("%w %q: %s", ErrInvalidClock, s, reason)
	}
	h, rest, ok := leadingNumber(s, 1, 2)
	if !ok || len(rest) != 3 || rest[0] != ':' {
		return bad(`want 24-hour "HH:MM", e.g. "09:00"`)
	}
	m, rest, ok := leadingNumber(rest[1:], 2, 2)
	if !ok || rest != "" {
		return bad(`want 24-hour "HH:MM", e.g. "09:00"`)
	}
	c := Clock{Hour: h, Minute: m}
	if !c.valid() {
		return bad("out of range 00:00 to 24:00")
	}
	return c, nil
}

func (c Clock) valid() bool {
	if c.Hour == 24 {
		return c.Minute == 0
	}
	return c.Hour >= 0 && c.Hour < 24 && c.Minute >= 0 && c.Minute < 60
}

// sinceMidnight is c as a wall-clock offset into a civil day (not elapsed
// time, which differs on DST days).
func (c Clock) sinceMidnight() time.Duration {
	return time.Duration(c.Hour)*time.Hour + time.Duration(c.Minute)*time.Minute
}

// String formats c as "HH:MM".
func (c Clock) String() string { return fmt.Sprintf("%02d:%02d", c.Hour, c.Minute) }

// MarshalText lets a Clock appear as "09:00" in cadence definitions.
func (c Clock) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// UnmarshalText parses with ParseClock.
func (c *Clock) UnmarshalText(b []byte) error {
	v, err := ParseClock(string(b))
	if err != nil {
		return err
	}
	*c = v
	return nil
}

// Date is a civil (calendar) date with no time zone: a holiday is "25
// December" wherever the lead is, not a 24-hour span of UTC.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// ParseDate parses an ISO 8601 calendar date "YYYY-MM-DD" and rejects dates
// that do not exist ("2026-02-30").
func ParseDate(s string) (Date, error) {
	bad := func(reason string) (Date, error) {
		return Date{}, fmt.Errorf("%w %q: %s", ErrInvalidDate, s, reason)
	}
	y, rest, ok1 := leadingNumber(s, 4, 4)
	if !ok1 || len(rest) != 6 || rest[0] != '-' || rest[3] != '-' {
		return bad(`want "YYYY-MM-DD", e.g. "2026-12-25"`)
	}
	m, _, ok2 := leadingNumber(rest[1:3], 2, 2)
	d, _, ok3 := leadingNumber(rest[4:], 2, 2)
	if !ok2 || !ok3 {
		return bad(`want "YYYY-MM-DD", e.g. "2026-12-25"`)
	}
	date := Date{Year: y, Month: time.Month(m), Day: d}
	if !date.IsValid() {
		return bad("no such day")
	}
	return date, nil
}

// DateOf returns the civil date of t in t's own location; use
// DateOf(t.In(loc)) for the date in another zone.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{Year: y, Month: m, Day: d}
}

// IsValid reports whether d names a real day in years 1 to 9999 (the years
// "YYYY" can write).
func (d Date) IsValid() bool {
	if d.Year < 1 || d.Year > 9999 || d.Month < time.January || d.Month > time.December || d.Day < 1 {
		return false
	}
	return DateOf(d.midnight()) == d
}

// midnight is d at 00:00 in UTC, used as a zone-free anchor for date
// arithmetic and as the "naive" wall-clock reading that resolveWall maps into a
// zone.
func (d Date) midnight() time.Time {
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC)
}

// Weekday returns the day of the week of a valid date.
func (d Date) Weekday() time.Weekday { return d.midnight().Weekday() }

// addDays moves by whole civil days (never 24-hour spans).
func (d Date) addDays(n int) Date { return DateOf(d.midnight().AddDate(0, 0, n)) }

// String formats d as "YYYY-MM-DD".
func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day) }

// MarshalText lets a Date appear as "2026-12-25" in cadence definitions.
func (d Date) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText parses with ParseDate.
func (d *Date) UnmarshalText(b []byte) error {
	v, err := ParseDate(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// leadingNumber reads between fewest and most ASCII digits from the start of s.
func leadingNumber(s string, fewest, most int) (n int, rest string, ok bool) {
	i := 0
	for i < len(s) && i < most && s[i] >= '0' && s[i] <= '9' {
		n = n*10 + int(s[i]-'0')
		i++
	}
	if i < fewest {
		return 0, s, false
	}
	return n, s[i:], true
}
