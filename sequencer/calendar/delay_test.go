package calendar

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseDelay(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    Delay
		wantErr string // substring of the error; "" means success
	}{
		{in: "0", want: Delay{}},
		{in: "0d", want: Delay{}},
		{in: "0s", want: Delay{}},
		{in: "2d", want: Delay{BusinessDays: 2}},
		{in: "02d", want: Delay{BusinessDays: 2}},
		{in: "365d", want: Delay{BusinessDays: 365}},
		{in: "4h", want: Delay{Duration: 4 * time.Hour}},
		{in: "30m", want: Delay{Duration: 30 * time.Minute}},
		{in: "90s", want: Delay{Duration: 90 * time.Second}},
		{in: "8760h", want: Delay{Duration: MaxDuration}},
		{in: "525600m", want: Delay{Duration: MaxDuration}},
		{in: "31536000s", want: Delay{Duration: MaxDuration}},

		{in: "", wantErr: "empty"},
		{in: "-1d", wantErr: "negative"},
		{in: "2x", wantErr: `unknown unit "x"`},
		{in: "2D", wantErr: `unknown unit "D"`},
		{in: "2days", wantErr: `unknown unit "days"`},
		{in: "1d4h", wantErr: `unknown unit "d4h"`},
		{in: "1.5d", wantErr: "fractions"},
		{in: "1,5d", wantErr: "fractions"},
		{in: "2", wantErr: "missing unit"},
		{in: "d", wantErr: "whole number"},
		{in: "+2d", wantErr: "whole number"},
		{in: " 2d", wantErr: "whole number"},
		{in: "2d ", wantErr: `unknown unit "d "`},
		{in: "366d", wantErr: "at most 365d"},
		{in: "8761h", wantErr: "at most 8760h"},
		{in: "525601m", wantErr: "too large"},
		{in: "31536001s", wantErr: "too large"},
		{in: "99999999999999999999999d", wantErr: "too large"},
		{in: "99999999999999999999999", wantErr: "missing unit"},
		{in: "2µs", wantErr: "unknown unit"},
	}
	for _, tt := range tests {
		got, err := ParseDelay(tt.in)
		if tt.wantErr == "" {
			if err != nil || got != tt.want {
				t.Errorf("ParseDelay(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
			continue
		}
		if err == nil || !errors.Is(err, ErrInvalidDelay) || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("ParseDelay(%q) error = %v; want ErrInvalidDelay mentioning %q", tt.in, err, tt.wantErr)
		}
	}
}

func TestDelayString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		d    Delay
		want string
	}{
		{Delay{}, "0"},
		{Delay{BusinessDays: 2}, "2d"},
		{Delay{Duration: 4 * time.Hour}, "4h"},
		{Delay{Duration: 90 * time.Minute}, "90m"},
		{Delay{Duration: 120 * time.Second}, "2m"},
		{Delay{Duration: 90 * time.Second}, "90s"},
		{Delay{BusinessDays: 1, Duration: 2 * time.Hour}, "1d2h"},
		{Delay{Duration: 1500 * time.Millisecond}, "1.5s"},
	}
	for _, tt := range tests {
		if got := tt.d.String(); got != tt.want {
			t.Errorf("%+v.String() = %q; want %q", tt.d, got, tt.want)
		}
	}
}

func TestDelayText(t *testing.T) {
	t.Parallel()
	var d Delay
	if err := d.UnmarshalText([]byte("3d")); err != nil || d != (Delay{BusinessDays: 3}) {
		t.Fatalf("UnmarshalText(3d) = %+v, %v", d, err)
	}
	if err := d.UnmarshalText([]byte("3w")); !errors.Is(err, ErrInvalidDelay) {
		t.Fatalf("UnmarshalText(3w) error = %v; want ErrInvalidDelay", err)
	}
	if b, _ := (Delay{Duration: time.Hour}).MarshalText(); string(b) != "1h" {
		t.Fatalf("MarshalText = %q; want 1h", b)
	}
}

// FuzzParseDelay: delays come from cadence definitions users write. Whatever
// parses must be in range, of one kind, and survive a String round trip.
func FuzzParseDelay(f *testing.F) {
	for _, s := range []string{"0", "2d", "4h", "30m", "90s", "", "-1d", "2x", "1.5d", "365d", "8761h", "99999999999999999999d", "0000", "1d4h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDelay(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidDelay) {
				t.Fatalf("ParseDelay(%q) error %v does not wrap ErrInvalidDelay", s, err)
			}
			return
		}
		if d.BusinessDays < 0 || d.BusinessDays > MaxBusinessDays || d.Duration < 0 || d.Duration > MaxDuration {
			t.Fatalf("ParseDelay(%q) = %+v out of range", s, d)
		}
		if d.BusinessDays != 0 && d.Duration != 0 {
			t.Fatalf("ParseDelay(%q) = %+v sets both fields", s, d)
		}
		back, err := ParseDelay(d.String())
		if err != nil || back != d {
			t.Fatalf("ParseDelay(%q) = %+v; String %q parses to %+v, %v", s, d, d.String(), back, err)
		}
	})
}
