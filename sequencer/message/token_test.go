package message

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"
)

var (
	testKey  = bytes.Repeat([]byte{0x42}, 32)
	otherKey = bytes.Repeat([]byte{0x43}, 32)
)

// flip returns s with its i-th character replaced by another of the same
// kind: a letter by another letter of the same case, a digit by a digit,
// so that the result is still plausible and only the MAC can catch it.
func flip(s string, i int) string {
	c := s[i]
	switch {
	case 'a' <= c && c <= 'z':
		c = 'a' + (c-'a'+1)%26
	case 'A' <= c && c <= 'Z':
		c = 'A' + (c-'A'+1)%26
	case '2' <= c && c <= '7':
		c = '2' + (c-'2'+1)%6
	case '0' <= c && c <= '9':
		c = '0' + (c-'0'+1)%10
	default:
		c ^= 1
	}
	return s[:i] + string(c) + s[i+1:]
}

func TestReturnPath(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		enrollment int64
		step       int
	}{
		{0, 0}, {1, 1}, {42, 3}, {1 << 40, 12}, {math.MaxInt64, math.MaxInt}, {-1, -1},
	} {
		rp := ReturnPath(testKey, tc.enrollment, tc.step, "Bounce.Acme.Test.")
		local, domain, _ := strings.Cut(rp, "@")
		if domain != "bounce.acme.test" {
			t.Errorf("%s: domain not normalized", rp)
		}
		if !strings.HasPrefix(local, "b-") || len(local) > 64 || local != strings.ToLower(local) {
			t.Errorf("%s: local part of %d octets, want b-..., lowercase, at most 64", rp, len(local))
		}
		if strings.Trim(local[2:], "abcdefghijklmnopqrstuvwxyz234567") != "" {
			t.Errorf("%s: token outside the base32 alphabet", rp)
		}
		for _, in := range []string{rp, strings.ToUpper(rp), "<" + rp + ">", " " + rp + "\t", "B-" + rp[2:], rp + "."} {
			e, s, err := ParseReturnPath(testKey, in)
			if err != nil || e != tc.enrollment || s != tc.step {
				t.Errorf("ParseReturnPath(%q) = %d, %d, %v; want %d, %d", in, e, s, err, tc.enrollment, tc.step)
			}
		}
		if _, _, err := ParseReturnPath(otherKey, rp); !errors.Is(err, ErrReturnPath) {
			t.Errorf("%s parses with another key: %v", rp, err)
		}
		for i := 2; i < len(local); i++ {
			bad := flip(rp, i)
			if _, _, err := ParseReturnPath(testKey, bad); !errors.Is(err, ErrReturnPath) {
				t.Fatalf("%s (character %d of %s changed) parses: %v", bad, i, rp, err)
			}
		}
	}
	if ReturnPath(testKey, 1, 1, "b.test") == ReturnPath(testKey, 1, 2, "b.test") {
		t.Fatal("steps share a return path")
	}

	good := ReturnPath(testKey, 42, 3, "bounce.acme.test")
	local := strings.TrimSuffix(good, "@bounce.acme.test")
	for _, bad := range []string{
		"",
		local,
		local + "@",
		"@bounce.acme.test",
		local + "@localhost",
		local + "@[127.0.0.1]",
		local + "@192.0.2.1",
		local + "@bounce..acme.test",
		local + "@-bounce.acme.test",
		local + "@bounce_acme.test",
		local + "@bücher.example",
		local + "@bounce.acme.test@bounce.acme.test",
		"x" + good,
		"bx" + good[1:],
		strings.Replace(good, "b-", "b+", 1),
		local + "a@bounce.acme.test",
		local[:len(local)-1] + "@bounce.acme.test",
		local + "=@bounce.acme.test",
		"Jane <" + good + ">",
		"b-" + strings.Repeat("a", 70) + "@bounce.acme.test",
		"b-@bounce.acme.test",
	} {
		if e, s, err := ParseReturnPath(testKey, bad); !errors.Is(err, ErrReturnPath) {
			t.Errorf("ParseReturnPath(%q) = %d, %d, %v; want ErrReturnPath", bad, e, s, err)
		}
	}
	if _, _, err := ParseReturnPath(nil, good); !errors.Is(err, ErrReturnPath) {
		t.Errorf("nil key: %v", err)
	}
	// A token of the other kind, under the same key, is not a return path.
	tok := strings.TrimPrefix(UnsubscribeToken(testKey, 42, 3, 0), "u1-")
	if _, _, err := ParseReturnPath(testKey, "b-"+tok+"@bounce.acme.test"); !errors.Is(err, ErrReturnPath) {
		t.Errorf("unsubscribe token accepted as a return path: %v", err)
	}
}

func TestUnsubscribeToken(t *testing.T) {
	t.Parallel()
	for _, ids := range [][3]int64{
		{1, 1, 1}, {7, 123456, 0}, {math.MaxInt64, math.MaxInt64, math.MaxInt64}, {-1, -2, -3},
	} {
		tok := UnsubscribeToken(testKey, ids[0], ids[1], ids[2])
		if !strings.HasPrefix(tok, "u1-") || strings.Trim(tok[3:], "abcdefghijklmnopqrstuvwxyz234567") != "" {
			t.Errorf("token %q: want u1- and lowercase base32", tok)
		}
		w, l, e, err := ParseUnsubscribeToken(testKey, tok)
		if err != nil || [3]int64{w, l, e} != ids {
			t.Errorf("ParseUnsubscribeToken(%q) = %d, %d, %d, %v; want %v", tok, w, l, e, err, ids)
		}
		if _, _, _, err := ParseUnsubscribeToken(otherKey, tok); !errors.Is(err, ErrUnsubscribeToken) {
			t.Errorf("%s parses with another key: %v", tok, err)
		}
		for i := range len(tok) {
			if bad := flip(tok, i); bad != tok {
				if _, _, _, err := ParseUnsubscribeToken(testKey, bad); !errors.Is(err, ErrUnsubscribeToken) {
					t.Fatalf("%s (character %d of %s changed) parses: %v", bad, i, tok, err)
				}
			}
		}
		for _, bad := range []string{strings.ToUpper(tok), tok + "a", tok[:len(tok)-1], " " + tok, tok + "\n", "u2-" + tok[3:], tok[3:], "u1-"} {
			if _, _, _, err := ParseUnsubscribeToken(testKey, bad); !errors.Is(err, ErrUnsubscribeToken) {
				t.Errorf("ParseUnsubscribeToken(%q): %v, want ErrUnsubscribeToken", bad, err)
			}
		}
	}
	a, b := UnsubscribeToken(testKey, 1, 2, 3), UnsubscribeToken(testKey, 2, 2, 3)
	if a == b {
		t.Fatal("workspaces share a token")
	}
	if _, _, _, err := ParseUnsubscribeToken(testKey[:8], a); !errors.Is(err, ErrUnsubscribeToken) {
		t.Errorf("short key: %v", err)
	}
	// A return path's token, under the same key, is not an unsubscribe token.
	rp := ReturnPath(testKey, 1, 2, "b.test")
	if _, _, _, err := ParseUnsubscribeToken(testKey, "u1-"+strings.TrimSuffix(rp[2:], "@b.test")); !errors.Is(err, ErrUnsubscribeToken) {
		t.Errorf("return path accepted as an unsubscribe token: %v", err)
	}
}

func TestShortKeyPanics(t *testing.T) {
	t.Parallel()
	for name, f := range map[string]func(){
		"ReturnPath":       func() { ReturnPath(nil, 1, 1, "b.test") },
		"UnsubscribeToken": func() { UnsubscribeToken(make([]byte, 15), 1, 1, 1) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s with a short key did not panic", name)
				}
			}()
			f()
		}()
	}
}

func FuzzParseReturnPath(f *testing.F) {
	for _, s := range []string{
		ReturnPath(testKey, 42, 3, "bounce.acme.test"),
		ReturnPath(testKey, math.MaxInt64, 0, "b.test"),
		strings.ToUpper(ReturnPath(testKey, 1, 1, "b.test")),
		"<" + ReturnPath(testKey, 7, 2, "b.test") + ">",
		ReturnPath(otherKey, 42, 3, "bounce.acme.test"),
		"b-aaaaaaaaaaaaaaaa@b.test", "b-@b.test", "@", "", "b-\x00@b.test",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, addr string) {
		e, s, err := ParseReturnPath(testKey, addr)
		if err != nil {
			if !errors.Is(err, ErrReturnPath) {
				t.Fatalf("error %v does not wrap ErrReturnPath", err)
			}
			return
		}
		// Only what ReturnPath makes parses.
		in := strings.ToLower(strings.TrimSpace(addr))
		in = strings.TrimSuffix(strings.TrimPrefix(in, "<"), ">")
		domain := strings.TrimSuffix(in[strings.LastIndexByte(in, '@')+1:], ".")
		if want := ReturnPath(testKey, e, s, domain); strings.TrimSuffix(in, ".") != want {
			t.Fatalf("%q parsed as %d, %d, which makes %q", addr, e, s, want)
		}
	})
}

func FuzzParseUnsubscribeToken(f *testing.F) {
	for _, s := range []string{
		UnsubscribeToken(testKey, 1, 2, 3),
		UnsubscribeToken(testKey, math.MaxInt64, 0, -1),
		UnsubscribeToken(otherKey, 1, 2, 3),
		"u1-", "u1-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "u2-abc", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		w, l, e, err := ParseUnsubscribeToken(testKey, tok)
		if err != nil {
			if !errors.Is(err, ErrUnsubscribeToken) {
				t.Fatalf("error %v does not wrap ErrUnsubscribeToken", err)
			}
			return
		}
		if want := UnsubscribeToken(testKey, w, l, e); tok != want {
			t.Fatalf("%q parsed as %d, %d, %d, which makes %q", tok, w, l, e, want)
		}
	})
}
