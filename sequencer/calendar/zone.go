package calendar

import (
	"errors"
	"fmt"
	"time"
)

// ErrUnknownTimeZone is returned (wrapped) by [LoadLocation].
var ErrUnknownTimeZone = errors.New("calendar: unknown time zone")

// LoadLocation loads an IANA time zone such as "Europe/Berlin" from the
// embedded database. "" means UTC. "Local" is rejected: the server's own
// zone says nothing about when a lead reads mail, and tests would pass or
// fail with the machine they run on.
func LoadLocation(name string) (*time.Location, error) {
	if name == "" {
		return time.UTC, nil
	}
	if name == "Local" {
		return nil, fmt.Errorf(`%w %q: the server's local zone is not allowed; name an IANA zone such as "America/New_York"`, ErrUnknownTimeZone, name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf(`%w %q: want an IANA name such as "Europe/Berlin" (names are case-sensitive): %w`, ErrUnknownTimeZone, name, err)
	}
	return loc, nil
}

func orUTC(loc *time.Location) *time.Location {
	if loc == nil {
		return time.UTC
	}
	return loc
}

// resolveWall returns the earliest instant whose wall-clock reading in loc
// is at or after the reading naive (whose UTC fields hold that reading).
//
// time.Date is no use here: in a spring-forward gap it answers with a time
// before the gap (02:30 on 2026-03-08 in New York becomes 01:30 EST), and in
// a fall-back overlap it picks the second occurrence. This rule gives the
// first instant after a gap and the first of two occurrences, which is what
// "the window opens at 09:00" means on those days.
//
// It walks the zone's offset periods forward from a point certainly before
// the answer. Within one period reading = instant + offset rises with the
// instant, so the earliest qualifying instant in it is naive - offset, or
// the period's start when a forward jump skipped past naive.
func resolveWall(naive time.Time, loc *time.Location) time.Time {
	// Real offsets stay within ±15h, so from 26h before, the reading is
	// still earlier than naive.
	x := naive.Add(-26 * time.Hour)
	for range 64 {
		lx := x.In(loc)
		_, offset := lx.Zone()
		_, end := lx.ZoneBounds()
		at := naive.Add(-time.Duration(offset) * time.Second)
		if at.Before(x) {
			at = x
		}
		if end.IsZero() || at.Before(end) {
			return at.In(loc)
		}
		x = end
	}
	// Unreachable with real zone data (a day has a handful of transitions at
	// most); fall back to the standard library's choice.
	y, m, d := naive.Date()
	h, mi, s := naive.Clock()
	return time.Date(y, m, d, h, mi, s, naive.Nanosecond(), loc)
}

// wallTime is resolveWall for civil date d and wall-clock offset w into it
// (w may be 24h, meaning the next midnight).
func wallTime(d Date, w time.Duration, loc *time.Location) time.Time {
	return resolveWall(d.midnight().Add(w), loc)
}

// wallOffset is t's wall-clock reading as an offset into its civil day.
func wallOffset(t time.Time) time.Duration {
	h, m, s := t.Clock()
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute +
		time.Duration(s)*time.Second + time.Duration(t.Nanosecond())
}
