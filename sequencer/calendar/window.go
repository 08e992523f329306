package calendar

import (
	"errors"
	"fmt"
	"time"
)

// ErrInvalidWindow is returned (wrapped, with the reason) by [Window.Validate].
var ErrInvalidWindow = errors.New("calendar: invalid sending window")

// Window is when a cadence may send, read in the lead's time zone. The zero
// Window is invalid (End is not after Start); give at least Start and End.
type Window struct {
	// Days are the sending days of the week; empty means Monday to Friday.
	Days []time.Weekday
	// Start is when sending opens each sending day; End, exclusive, when it
	// closes. End must be after Start; 24:00 means until midnight.
	Start, End Clock
	// Holidays are civil dates on which nothing is sent, in the lead's zone.
	Holidays []Date
}

var weekdays = []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}

// Validate reports the first problem with w, wrapping ErrInvalidWindow. The
// other methods do not return errors, so a cadence's window should be
// validated when it is saved.
func (w Window) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidWindow, fmt.Sprintf(format, args...))
	}
	switch {
	case !w.Start.valid() || w.Start.Hour == 24:
		return bad("start %s is not a time of day from 00:00 to 23:59", w.Start)
	case !w.End.valid():
		return bad("end %s is not a time of day from 00:00 to 24:00", w.End)
	case w.End.sinceMidnight() <= w.Start.sinceMidnight():
		return bad("end %s is not after start %s; windows that cross midnight are not supported (an end of 24:00 means until midnight)", w.End, w.Start)
	}
	for _, d := range w.Days {
		if d < time.Sunday || d > time.Saturday {
			return bad("day %d is not a weekday (0 Sunday to 6 Saturday)", int(d))
		}
	}
	for _, h := range w.Holidays {
		if !h.IsValid() {
			return bad("holiday %s is not a real date", h)
		}
	}
	return nil
}

// onCalendar reports whether civil date d is a listed weekday
// and not a holiday. Whether its window actually opens is interval's job.
func (w Window) onCalendar(d Date) bool {
	days := w.Days
	if len(days) == 0 {
		days = weekdays
	}
	wd := d.Weekday()
	listed := false
	for _, x := range days {
		if x == wd {
			listed = true
			break
		}
	}
	if !listed {
		return false
	}
	for _, h := range w.Holidays {
		if h == d {
			return false
		}
	}
	return true
}

// interval returns the window's opening on civil date d as [open, close),
// and false when d is not a sending day or the opening is empty (the zone
// skipped the date, or the whole window lies in a DST gap).
func (w Window) interval(d Date, loc *time.Location) (open, close time.Time, ok bool) {
	if !w.onCalendar(d) {
		return time.Time{}, time.Time{}, false
	}
	open = wallTime(d, w.Start.sinceMidnight(), loc)
	close = wallTime(d, w.End.sinceMidnight(), loc)
	return open, close, open.Before(close)
}

// Contains reports whether the window is open at instant t in loc (nil
// means UTC). It is false for a window that fails Validate.
func (w Window) Contains(t time.Time, loc *time.Location) bool {
	loc = orUTC(loc)
	if w.Validate() != nil {
		return false
	}
	return w.contains(t, loc)
}

func (w Window) contains(t time.Time, loc *time.Location) bool {
	d := DateOf(t.In(loc))
	// The neighbouring dates matter only in zones whose clocks jump back
	// across midnight, where an instant read as date D can still lie in
	// the interval of D+1 (or after D's interval has closed).
	for _, dd := range []Date{d.addDays(-1), d, d.addDays(1)} {
		if open, close, ok := w.interval(dd, loc); ok && !t.Before(open) && t.Before(close) {
			return true
		}
	}
	return false
}

// NextOpen returns t if the window is open at t, else the start of the
// next opening, in loc (nil means UTC). The result r satisfies r >= t,
// Contains(r), and NextOpen(r) == r. For a window that fails Validate it
// returns t unchanged: there is no opening to move to.
func (w Window) NextOpen(t time.Time, loc *time.Location) time.Time {
	loc = orUTC(loc)
	t = t.In(loc)
	if w.Validate() != nil || w.contains(t, loc) {
		return t
	}
	return w.nextOpen(t, loc)
}

// nextOpen is NextOpen for a valid window and a t it does not contain.
func (w Window) nextOpen(t time.Time, loc *time.Location) time.Time {
	d := DateOf(t).addDays(-1)
	// Each holiday can hide one sending day; a week always holds one
	// otherwise, give or take a DST-emptied day. So this bound is never
	// reached for a valid window; it only guarantees termination.
	for range 7*(len(w.Holidays)+3) + 2 {
		if open, close, ok := w.interval(d, loc); ok && t.Before(close) {
			// t is not inside, so the opening is still ahead.
			return open
		}
		d = d.addDays(1)
	}
	return t
}

// Due returns when a step with delay d becomes due after prev, the time of
// the previous touch (or of enrollment), in loc (nil means UTC):
//
//   - A duration is added as elapsed time: "4h" is 4 real hours even across
//     a DST change.
//   - Business days move to the N-th sending day after prev's local date,
//     at prev's local wall-clock time, so 10:00 stays 10:00 across a DST
//     change (23 or 25 elapsed hours). A prev before Start uses Start; a prev
//     at or after End uses the window's last minute (End minus one minute):
//     the touch stays on the day that was counted to instead of sliding to
//     the next morning, which would make it N+1 business days.
//     The days are counted on the calendar, not from the window's next
//     opening, so enrolling on Saturday with "1d" gives Monday.
//   - The result is then moved to the next opening with NextOpen.
//
// Due never returns a time before prev. For a window that fails Validate
// it adds business days as calendar days and applies no window.
func (w Window) Due(prev time.Time, d Delay, loc *time.Location) time.Time {
	loc = orUTC(loc)
	t := prev.In(loc)
	if w.Validate() != nil {
		return t.AddDate(0, 0, max(d.BusinessDays, 0)).Add(max(d.Duration, 0))
	}
	if d.BusinessDays > 0 {
		t = w.addBusinessDays(t, d.BusinessDays, loc)
	}
	if d.Duration > 0 {
		t = t.Add(d.Duration)
	}
	return w.NextOpen(t, loc)
}

// addBusinessDays implements Due's business-day rule for a valid window.
func (w Window) addBusinessDays(t time.Time, n int, loc *time.Location) time.Time {
	at := wallOffset(t)
	start, end := w.Start.sinceMidnight(), w.End.sinceMidnight()
	switch {
	case at < start:
		at = start
	case at >= end:
		at = end - time.Minute
	}
	d := DateOf(t)
	// Bounded like nextOpen: n sending days fit in this many calendar days.
	for limit := 7*(n+len(w.Holidays)+3) + 2; n > 0 && limit > 0; limit-- {
		d = d.addDays(1)
		if _, _, ok := w.interval(d, loc); ok {
			n--
		}
	}
	r := wallTime(d, at, loc)
	// Only a zone whose clock jumps back across midnight could resolve the
	// later date to an earlier instant; never schedule into the past.
	if r.Before(t) {
		return t
	}
	return r
}
