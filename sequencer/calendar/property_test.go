package calendar

import (
	"math/rand/v2"
	"testing"
	"time"
)

// propertyZones mixes the zones the spec names with ones whose rules are
// unusual: clocks that fall back across midnight (Beirut, Santiago, Havana),
// a two-hour shift (Troll), DST suspended for Ramadan (Casablanca), a
// 45-minute offset (Chatham, Kathmandu), negative DST (Dublin).
var propertyZones = []string{
	"UTC", "America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "Asia/Kolkata", "Pacific/Apia",
	"Asia/Beirut", "America/Santiago", "America/Havana", "Antarctica/Troll", "Africa/Casablanca",
	"Pacific/Chatham", "Asia/Kathmandu", "America/St_Johns", "Europe/Dublin",
}

// propertyCase builds a window and instant from raw numbers, so the seeded
// random test and the fuzz test share one generator.
func propertyCase(t testing.TB, unixSec int64, nsec uint32, zone uint8, startMin, lenMin uint16, days uint8, holidays uint32) (Window, time.Time, *time.Location) {
	loc := loadZone(t, propertyZones[int(zone)%len(propertyZones)])
	// 1990 to 2040: the zone database's history and its rules for the future.
	const lo, span = 631152000, 50 * 365 * 24 * 3600
	at := time.Unix(lo+((unixSec%span)+span)%span, int64(nsec%1e9))
	// Edges on a 15-minute grid hit DST gaps and overlaps often.
	start := int(startMin) % 96 * 15
	end := start + 15 + int(lenMin)%(96*15-start-15+1)
	w := Window{Start: Clock{start / 60, start % 60}, End: Clock{end / 60, end % 60}}
	for wd := range 7 {
		if days&(1<<wd) != 0 {
			w.Days = append(w.Days, time.Weekday(wd))
		}
	}
	// Up to four holidays within two weeks of at.
	base := DateOf(at.In(loc))
	for i := range int(holidays & 3) {
		w.Holidays = append(w.Holidays, base.addDays(int(holidays>>(8+4*i)&15)-2))
	}
	if err := w.Validate(); err != nil {
		t.Fatalf("generated window %+v: %v", w, err)
	}
	return w, at, loc
}

func checkProperties(t testing.TB, w Window, at time.Time, loc *time.Location, d Delay) {
	t.Helper()
	r := w.NextOpen(at, loc)
	if r.Before(at) {
		t.Fatalf("%+v in %v: NextOpen(%v) = %v is earlier", w, loc, at, r)
	}
	if !w.Contains(r, loc) {
		t.Fatalf("%+v in %v: NextOpen(%v) = %v is not inside", w, loc, at, r)
	}
	if rr := w.NextOpen(r, loc); !rr.Equal(r) {
		t.Fatalf("%+v in %v: NextOpen(%v) = %v but NextOpen of that = %v", w, loc, at, r, rr)
	}
	// Nothing between at and r is open: r is the opening's first instant.
	if r.After(at) && w.Contains(r.Add(-time.Nanosecond), loc) {
		t.Fatalf("%+v in %v: NextOpen(%v) = %v but the window was already open just before", w, loc, at, r)
	}
	// An oracle that knows nothing of DST: away from any offset change,
	// Contains is the plain wall-clock test.
	local := at.In(loc)
	if zs, ze := local.ZoneBounds(); (zs.IsZero() || at.Sub(zs) > 48*time.Hour) && (ze.IsZero() || ze.Sub(at) > 48*time.Hour) {
		wall := wallOffset(local)
		want := w.onCalendar(DateOf(local)) && wall >= w.Start.sinceMidnight() && wall < w.End.sinceMidnight()
		if got := w.Contains(at, loc); got != want {
			t.Fatalf("%+v in %v: Contains(%v) = %v; wall-clock oracle says %v", w, loc, local, got, want)
		}
	}
	due := w.Due(at, d, loc)
	if due.Before(at) || due.Before(at.Add(d.Duration)) {
		t.Fatalf("%+v in %v: Due(%v, %v) = %v is too early", w, loc, at, d, due)
	}
	if !w.Contains(due, loc) {
		t.Fatalf("%+v in %v: Due(%v, %v) = %v is not inside", w, loc, at, d, due)
	}
	if d.BusinessDays > 0 && !DateOf(due.In(loc)).midnight().After(DateOf(local).midnight()) {
		t.Fatalf("%+v in %v: Due(%v, %v) = %v is not on a later day", w, loc, local, d, due.In(loc))
	}
}

// TestWindowProperties runs the properties over seeded random windows and
// instants; FuzzWindow explores further under `go test -fuzz`.
func TestWindowProperties(t *testing.T) {
	t.Parallel()
	n := 10000
	if testing.Short() {
		n = 2000
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range n {
		w, at, loc := propertyCase(t, rng.Int64(), rng.Uint32(), uint8(rng.Uint32()), uint16(rng.Uint32()), uint16(rng.Uint32()), uint8(rng.Uint32()), rng.Uint32())
		d := Delay{BusinessDays: rng.IntN(12)}
		if rng.IntN(2) == 0 {
			d = Delay{Duration: time.Duration(rng.Int64N(int64(72 * time.Hour)))}
		}
		checkProperties(t, w, at, loc, d)
	}
}

// TestDSTDays sweeps every window start on a 15-minute grid across each
// test zone's 2026 transition days, where the properties are most fragile.
func TestDSTDays(t *testing.T) {
	t.Parallel()
	days := map[string][]string{
		"America/New_York":    {"2026-03-08", "2026-11-01"},
		"Europe/Berlin":       {"2026-03-29", "2026-10-25"},
		"Australia/Lord_Howe": {"2026-04-05", "2026-10-04"},
		"Asia/Beirut":         {"2026-03-29", "2026-10-24", "2026-10-25"},
		"Pacific/Apia":        {"2011-12-30", "2011-12-31"},
	}
	for zone, ds := range days {
		loc := loadZone(t, zone)
		for _, ds := range ds {
			d := date(t, ds)
			for start := 0; start < 24*60; start += 15 {
				for _, length := range []int{15, 30, 60, 180} {
					end := min(start+length, 24*60)
					w := Window{Days: allWeek, Start: Clock{start / 60, start % 60}, End: Clock{end / 60, end % 60}}
					for _, from := range []time.Time{wallTime(d, 0, loc), wallTime(d, 0, loc).Add(-3 * time.Hour), wallTime(d, time.Duration(start)*time.Minute, loc).Add(time.Minute)} {
						checkProperties(t, w, from, loc, Delay{BusinessDays: 1})
					}
				}
			}
		}
	}
}

func FuzzWindow(f *testing.F) {
	f.Add(int64(1772953200), uint32(0), uint8(1), uint16(10), uint16(8), uint8(0x7f), uint32(0), uint8(2), uint32(0))
	f.Add(int64(1793512800), uint32(5), uint8(3), uint16(6), uint16(2), uint8(0), uint32(0x301), uint8(0), uint32(14400))
	f.Fuzz(func(t *testing.T, unixSec int64, nsec uint32, zone uint8, startMin, lenMin uint16, days uint8, holidays uint32, bdays uint8, secs uint32) {
		w, at, loc := propertyCase(t, unixSec, nsec, zone, startMin, lenMin, days, holidays)
		d := Delay{BusinessDays: int(bdays % 30)}
		if bdays >= 128 {
			d = Delay{Duration: time.Duration(secs%(30*24*3600)) * time.Second}
		}
		checkProperties(t, w, at, loc, d)
	})
}
