package calendar

import (
	"errors"
	"testing"
	"time"
)

func TestParseClock(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in     string
		want   Clock
		wantOK bool
	}{
		{"09:00", Clock{9, 0}, true},
		{"9:00", Clock{9, 0}, true},
		{"00:00", Clock{0, 0}, true},
		{"23:59", Clock{23, 59}, true},
		{"24:00", Clock{24, 0}, true},
		{"24:01", Clock{}, false},
		{"25:00", Clock{}, false},
		{"12:60", Clock{}, false},
		{"12:5", Clock{}, false},
		{"123:00", Clock{}, false},
		{"09:00:00", Clock{}, false},
		{"9am", Clock{}, false},
		{"", Clock{}, false},
		{" 09:00", Clock{}, false},
		{"-1:00", Clock{}, false},
	}
	for _, tt := range tests {
		got, err := ParseClock(tt.in)
		if (err == nil) != tt.wantOK || got != tt.want {
			t.Errorf("ParseClock(%q) = %v, %v; want %v, ok=%v", tt.in, got, err, tt.want, tt.wantOK)
		}
		if err != nil && !errors.Is(err, ErrInvalidClock) {
			t.Errorf("ParseClock(%q) error %v does not wrap ErrInvalidClock", tt.in, err)
		}
	}
}

func TestParseDate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in     string
		want   Date
		wantOK bool
	}{
		{"2026-12-25", Date{2026, time.December, 25}, true},
		{"2028-02-29", Date{2028, time.February, 29}, true},
		{"2026-02-29", Date{}, false},
		{"2026-02-30", Date{}, false},
		{"2026-13-01", Date{}, false},
		{"2026-00-10", Date{}, false},
		{"2026-01-00", Date{}, false},
		{"0000-01-01", Date{}, false},
		{"2026-1-5", Date{}, false},
		{"2026/12/25", Date{}, false},
		{"26-12-25", Date{}, false},
		{"2026-12-25T00:00:00Z", Date{}, false},
		{"", Date{}, false},
	}
	for _, tt := range tests {
		got, err := ParseDate(tt.in)
		if (err == nil) != tt.wantOK || got != tt.want {
			t.Errorf("ParseDate(%q) = %v, %v; want %v, ok=%v", tt.in, got, err, tt.want, tt.wantOK)
		}
		if err != nil && !errors.Is(err, ErrInvalidDate) {
			t.Errorf("ParseDate(%q) error %v does not wrap ErrInvalidDate", tt.in, err)
		}
	}
}

func TestDateWeekday(t *testing.T) {
	t.Parallel()
	if got := (Date{2026, time.March, 8}).Weekday(); got != time.Sunday {
		t.Errorf("2026-03-08 is %v; want Sunday", got)
	}
	if got := (Date{2026, time.December, 31}).addDays(1); got != (Date{2027, time.January, 1}) {
		t.Errorf("2026-12-31 + 1 day = %v", got)
	}
}

// FuzzParseClock and FuzzParseDate: window edges and holidays come from
// user-written cadence definitions.
func FuzzParseClock(f *testing.F) {
	for _, s := range []string{"09:00", "9:00", "24:00", "24:01", "12:60", "", "1:2:3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseClock(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidClock) {
				t.Fatalf("ParseClock(%q) error %v does not wrap ErrInvalidClock", s, err)
			}
			return
		}
		if !c.valid() {
			t.Fatalf("ParseClock(%q) = %+v, not valid", s, c)
		}
		if back, err := ParseClock(c.String()); err != nil || back != c {
			t.Fatalf("ParseClock(%q) = %v; String round trip gives %v, %v", s, c, back, err)
		}
	})
}

func FuzzParseDate(f *testing.F) {
	for _, s := range []string{"2026-12-25", "2026-02-29", "9999-12-31", "0001-01-01", "", "2026-1-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDate(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidDate) {
				t.Fatalf("ParseDate(%q) error %v does not wrap ErrInvalidDate", s, err)
			}
			return
		}
		if !d.IsValid() || d.String() != s {
			t.Fatalf("ParseDate(%q) = %v; valid=%v", s, d, d.IsValid())
		}
	})
}
