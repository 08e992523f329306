package dashboard_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/touchline/touchline/internal/dashboard"
)

func TestSessionRoundTripAndTampering(t *testing.T) {
	t.Parallel()
	key := bytes.Repeat([]byte{7}, 32)
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	s := dashboard.Session{Workspace: 42, KeyID: 9, Expires: now.Add(12 * time.Hour)}
	v := dashboard.SignSession(key, s)
	got, err := dashboard.ParseSession(key, v, now)
	if err != nil || got.Workspace != 42 || got.KeyID != 9 || !got.Expires.Equal(s.Expires) {
		t.Fatalf("round trip: %+v, %v", got, err)
	}

	payload, mac, _ := strings.Cut(v, ".")
	forged := base64.RawURLEncoding.EncodeToString([]byte("43.9." + strings.Split(mustDecode(t, payload), ".")[2]))
	flip := []byte(mac)
	flip[3] ^= 1
	for name, value := range map[string]string{
		"other workspace, same MAC": forged + "." + mac,
		"flipped MAC":               payload + "." + string(flip),
		"no MAC":                    payload,
		"empty":                     "",
		"garbage":                   "not.a.session",
		"signed with another key":   dashboard.SignSession(bytes.Repeat([]byte{8}, 32), s),
		"MAC of a longer payload":   payload + "AA." + mac,
	} {
		if _, err := dashboard.ParseSession(key, value, now); !errors.Is(err, dashboard.ErrBadSession) {
			t.Errorf("%s: err %v, want ErrBadSession", name, err)
		}
	}
	if _, err := dashboard.ParseSession(key, v, s.Expires); !errors.Is(err, dashboard.ErrSessionExpired) {
		t.Errorf("at expiry: err %v, want ErrSessionExpired", err)
	}
	if _, err := dashboard.ParseSession(nil, v, now); !errors.Is(err, dashboard.ErrBadSession) {
		t.Errorf("no key: err %v, want ErrBadSession", err)
	}
}

func mustDecode(t *testing.T, s string) string {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
