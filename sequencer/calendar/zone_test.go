package calendar

import (
	"errors"
	"testing"
	"time"
)

func TestLoadLocation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		wantOK bool
	}{
		{"", true},
		{"UTC", true},
		{"America/New_York", true},
		{"Europe/Berlin", true},
		{"Australia/Lord_Howe", true},
		{"Asia/Kolkata", true},
		{"Pacific/Apia", true},
		{"Local", false},
		{"Mars/Olympus_Mons", false},
		{"america/new_york", false},
		{"../etc/passwd", false},
	}
	for _, tt := range tests {
		loc, err := LoadLocation(tt.name)
		if (err == nil) != tt.wantOK {
			t.Errorf("LoadLocation(%q) = %v, %v; want ok=%v", tt.name, loc, err, tt.wantOK)
		}
		if err != nil && !errors.Is(err, ErrUnknownTimeZone) {
			t.Errorf("LoadLocation(%q) error %v does not wrap ErrUnknownTimeZone", tt.name, err)
		}
	}
	if loc, _ := LoadLocation(""); loc != time.UTC {
		t.Errorf(`LoadLocation("") = %v; want UTC`, loc)
	}
}

// TestResolveWall pins the rule that replaces time.Date on DST days.
func TestResolveWall(t *testing.T) {
	t.Parallel()
	tests := []struct {
		zone string
		wall string // local reading, written as if UTC
		want string
	}{
		{"America/New_York", "2026-03-08T02:30:00Z", "2026-03-08T03:00:00-04:00"}, // gap: time.Date gives 01:30 EST
		{"America/New_York", "2026-03-08T03:00:00Z", "2026-03-08T03:00:00-04:00"},
		{"America/New_York", "2026-11-01T01:30:00Z", "2026-11-01T01:30:00-04:00"}, // overlap: first occurrence
		{"Europe/Berlin", "2026-03-29T02:00:00Z", "2026-03-29T03:00:00+02:00"},
		{"Europe/Berlin", "2026-10-25T02:59:59Z", "2026-10-25T02:59:59+02:00"},
		{"Australia/Lord_Howe", "2026-10-04T02:15:00Z", "2026-10-04T02:30:00+11:00"},
		{"Australia/Lord_Howe", "2026-04-05T01:45:00Z", "2026-04-05T01:45:00+11:00"}, // time.Date gives +10:30
		{"Asia/Kolkata", "2026-03-08T02:30:00Z", "2026-03-08T02:30:00+05:30"},
		{"Pacific/Apia", "2011-12-30T09:00:00Z", "2011-12-31T00:00:00+14:00"},
		{"UTC", "2026-03-08T02:30:00Z", "2026-03-08T02:30:00Z"},
	}
	for _, tt := range tests {
		loc := loadZone(t, tt.zone)
		if got := resolveWall(instant(t, tt.wall), loc).Format(time.RFC3339); got != tt.want {
			t.Errorf("resolveWall(%s in %s) = %s; want %s", tt.wall, tt.zone, got, tt.want)
		}
	}
}
