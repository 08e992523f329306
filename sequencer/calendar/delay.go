package calendar

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrInvalidDelay is returned (wrapped, with the reason) by [ParseDelay].
var ErrInvalidDelay = errors.New("calendar: invalid delay")

// Limits on a single step's delay. A cadence spans weeks; a step of more than
// a year is a typo ("3650d"), not a plan.
const (
	MaxBusinessDays = 365
	MaxDuration     = 8760 * time.Hour
)

// Delay is the wait between two touches of a cadence. ParseDelay sets at most
// one field; a Delay built in code with both set is applied business days
// first (see [Window.Due]). Negative fields are treated as zero.
type Delay struct {
	// BusinessDays counts sending days of the window, keeping the local
	// wall-clock time of the previous touch.
	BusinessDays int
	// Duration is elapsed time.
	Duration time.Duration
}

// IsZero reports whether d waits for nothing but the window.
func (d Delay) IsZero() bool { return d.BusinessDays <= 0 && d.Duration <= 0 }

// delayUnits maps a unit suffix to its size and the largest count allowed,
// so that every unit stops at the same MaxDuration.
var delayUnits = map[string]struct {
	size time.Duration
	max  uint64
}{
	"h": {time.Hour, uint64(MaxDuration / time.Hour)},
	"m": {time.Minute, uint64(MaxDuration / time.Minute)},
	"s": {time.Second, uint64(MaxDuration / time.Second)},
}

// ParseDelay parses a step delay: a whole number followed by one unit, "d"
// for business days or "h", "m", "s" for elapsed time, or a bare "0" for no
// delay. Fractions ("1.5d"), signs, spaces, compound forms ("1d4h") and
// upper-case units are rejected rather than guessed at, because a cadence
// author who typed them meant something this package would otherwise
// silently get wrong. The limits are MaxBusinessDays and MaxDuration.
func ParseDelay(s string) (Delay, error) {
	bad := func(format string, args ...any) (Delay, error) {
		return Delay{}, fmt.Errorf("%w %q: %s", ErrInvalidDelay, s, fmt.Sprintf(format, args...))
	}
	if s == "" {
		return bad(`empty; use e.g. "2d", "4h", "30m", "90s" or "0"`)
	}
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	digits, unit := s[:i], s[i:]
	switch {
	case s[0] == '-':
		return bad("negative delays are not allowed")
	case digits == "":
		return bad(`must start with a whole number, e.g. "2d"`)
	case strings.HasPrefix(unit, ".") || strings.HasPrefix(unit, ","):
		return bad(`fractions are not supported; use a whole number, of a smaller unit if need be ("90m")`)
	}
	n, tooLarge := parseCount(digits)
	if unit == "" {
		if n == 0 && !tooLarge {
			return Delay{}, nil
		}
		return bad(`missing unit; add "d" (business days), "h", "m" or "s"`)
	}
	if unit == "d" {
		if tooLarge || n > MaxBusinessDays {
			return bad("too large; at most %dd", MaxBusinessDays)
		}
		return Delay{BusinessDays: int(n)}, nil
	}
	u, ok := delayUnits[unit]
	if !ok {
		return bad(`unknown unit %q; use "d" (business days), "h", "m" or "s"`, unit)
	}
	if tooLarge || n > u.max {
		return bad("too large; at most %d%s (%dd or %dh)", u.max, unit, MaxBusinessDays, MaxDuration/time.Hour)
	}
	return Delay{Duration: time.Duration(n) * u.size}, nil
}

// parseCount parses ASCII digits, saturating instead of overflowing so that
// "99999999999999999999d" reports "too large" rather than a parse error.
func parseCount(digits string) (n uint64, tooLarge bool) {
	for _, c := range []byte(digits) {
		n = n*10 + uint64(c-'0')
		if n > 1<<40 {
			return 0, true
		}
	}
	return n, false
}

// String formats d in the syntax ParseDelay reads, choosing the largest
// unit that represents it exactly ("120s" prints as "2m"). A Delay built in
// code with both fields set prints both ("2d4h"), and a duration that is not
// a whole number of seconds uses time.Duration's format; neither parses back.
func (d Delay) String() string {
	if d.BusinessDays == 0 && d.Duration == 0 {
		return "0"
	}
	var b strings.Builder
	if d.BusinessDays != 0 {
		b.WriteString(strconv.Itoa(d.BusinessDays))
		b.WriteByte('d')
	}
	switch v := d.Duration; {
	case v == 0:
	case v%time.Hour == 0:
		b.WriteString(strconv.FormatInt(int64(v/time.Hour), 10) + "h")
	case v%time.Minute == 0:
		b.WriteString(strconv.FormatInt(int64(v/time.Minute), 10) + "m")
	case v%time.Second == 0:
		b.WriteString(strconv.FormatInt(int64(v/time.Second), 10) + "s")
	default:
		b.WriteString(v.String())
	}
	return b.String()
}

// MarshalText lets a Delay appear as "2d" in JSON or YAML cadence definitions.
func (d Delay) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText parses with ParseDelay.
func (d *Delay) UnmarshalText(b []byte) error {
	v, err := ParseDelay(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}
