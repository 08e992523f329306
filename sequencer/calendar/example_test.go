package calendar_test

import (
	"fmt"
	"time"

	"github.com/touchline/touchline/sequencer/calendar"
)

// A seven-touch cadence for a lead in New York, enrolled on a Saturday just
// before the spring DST change and a public holiday. Each step's delay runs
// from the previous touch.
func ExampleWindow_Due() {
	loc, err := calendar.LoadLocation("America/New_York")
	if err != nil {
		panic(err)
	}
	holiday, _ := calendar.ParseDate("2026-03-17")
	w := calendar.Window{
		Start:    calendar.Clock{Hour: 9},
		End:      calendar.Clock{Hour: 17},
		Holidays: []calendar.Date{holiday},
	}
	if err := w.Validate(); err != nil {
		panic(err)
	}
	touch := time.Date(2026, 3, 7, 11, 30, 0, 0, loc) // enrollment
	for _, step := range []string{"0", "4h", "2d", "3d", "2d", "30m", "5d"} {
		d, err := calendar.ParseDelay(step)
		if err != nil {
			panic(err)
		}
		touch = w.Due(touch, d, loc)
		fmt.Printf("%-3s %s\n", step, touch.Format("Mon 2006-01-02 15:04 MST"))
	}
	// Output:
	// 0   Mon 2026-03-09 09:00 EDT
	// 4h  Mon 2026-03-09 13:00 EDT
	// 2d  Wed 2026-03-11 13:00 EDT
	// 3d  Mon 2026-03-16 13:00 EDT
	// 2d  Thu 2026-03-19 13:00 EDT
	// 30m Thu 2026-03-19 13:30 EDT
	// 5d  Thu 2026-03-26 13:30 EDT
}

// A window that starts inside the spring-forward gap opens when the gap ends.
func ExampleWindow_NextOpen() {
	loc, _ := calendar.LoadLocation("Europe/Berlin")
	early, _ := calendar.ParseClock("02:30")
	w := calendar.Window{
		Days:  []time.Weekday{time.Sunday},
		Start: early,
		End:   calendar.Clock{Hour: 6},
	}
	midnight := time.Date(2026, 3, 29, 0, 0, 0, 0, loc)
	fmt.Println(w.NextOpen(midnight, loc).Format(time.RFC3339))
	// Output: 2026-03-29T03:00:00+02:00
}

func ExampleParseDelay() {
	for _, s := range []string{"2d", "90s", "1.5d", "366d"} {
		d, err := calendar.ParseDelay(s)
		fmt.Println(d, err)
	}
	// Output:
	// 2d <nil>
	// 90s <nil>
	// 0 calendar: invalid delay "1.5d": fractions are not supported; use a whole number, of a smaller unit if need be ("90m")
	// 0 calendar: invalid delay "366d": too large; at most 365d
}
