// Package calendar decides when a cadence touch may go out: it parses step
// delays ("2d", "4h", "30m", "90s", "0"), describes a sending window (days of
// week, a daily start and end wall-clock time, holidays) and computes due
// times in a lead's time zone.
//
// # Contract
//
// All functions are pure: they never read the current time or the machine's
// local time zone. Callers pass the instant and the *time.Location, which is
// the lead's own IANA zone when known and the cadence's default zone
// otherwise; a nil location means UTC. Zone data is embedded (time/tzdata), so
// results do not depend on /usr/share/zoneinfo being present.
//
// A window is a set of half-open intervals of real time, one per sending day:
// on local civil date D it is open from the first instant whose local
// wall-clock reading is at or after D Start until the first instant whose
// reading is at or after D End. A sending day is a weekday listed in Days
// (Monday to Friday when Days is empty) that is not in Holidays and whose
// interval is not empty. From that one definition follow the daylight-saving
// rules:
//
//   - A start inside a spring-forward gap (02:30 on 2026-03-08 in New York)
//     opens at the first instant after the gap (03:00 EDT).
//   - On a fall-back day the window opens once, at the first occurrence of
//     its start; a repeated hour inside the window keeps it open, and a
//     repeated hour after End does not reopen it.
//   - A civil date the zone skips altogether (Pacific/Apia, 2011-12-30) or a
//     window lying wholly inside a gap has an empty interval, so that date is
//     not a sending day.
//
// Delays come in two kinds. Business days ("2d") count sending days and keep
// the previous touch's local wall-clock time, so a 10:00 touch is followed by a
// 10:00 touch even when a DST change makes that 23 or 25 hours of elapsed
// time. Durations ("4h") are elapsed time, which is what a same-day follow-up
// means. Either way the result is then moved to the next window opening; see
// [Window.Due].
//
// Windows that cross midnight (22:00–02:00) are rejected by [Window.Validate]:
// which day such a window belongs to, for weekdays and holidays, has no
// answer a user would agree on. Use an End of 24:00 for "until midnight".
package calendar

// The embedded zone database: production images may lack /usr/share/zoneinfo,
// and a missing zone must not silently become UTC.
import _ "time/tzdata"
