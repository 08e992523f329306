package secret

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"testing"
)

func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func newBox(t *testing.T, key []byte) *Box {
	t.Helper()
	b, err := NewBox(key)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSealOpen(t *testing.T) {
	t.Parallel()
	box := newBox(t, testKey(1))
	for _, pt := range [][]byte{
		[]byte("hunter2"),
		{},
		[]byte("-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIB...\n-----END PRIVATE KEY-----\n"),
		bytes.Repeat([]byte{0, 0xff}, 5000),
	} {
		const aad = "mailbox:42:smtp_password"
		sealed, err := box.Seal(pt, aad)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(sealed, "v1:") {
			t.Fatalf("sealed value %q lacks the v1: prefix", sealed)
		}
		if len(pt) > 4 && strings.Contains(sealed, base64.StdEncoding.EncodeToString(pt[:4])) {
			t.Fatalf("sealed value shows the plaintext")
		}
		got, err := box.Open(sealed, aad)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, pt) {
			t.Fatalf("Open = %q, want %q", got, pt)
		}
		// A fresh nonce every time: sealing twice gives two values.
		again, _ := box.Seal(pt, aad)
		if again == sealed {
			t.Fatal("two seals of the same value are identical")
		}
	}
}

func TestOpenRefuses(t *testing.T) {
	t.Parallel()
	box := newBox(t, testKey(1))
	const aad = "mailbox:42:smtp_password"
	sealed, err := box.Seal([]byte("hunter2"), aad)
	if err != nil {
		t.Fatal(err)
	}

	// The value cannot be moved to another row or column.
	for _, other := range []string{"mailbox:43:smtp_password", "mailbox:42:dkim_key", "mailbox:42:smtp_password ", "Mailbox:42:smtp_password"} {
		if _, err := box.Open(sealed, other); !errors.Is(err, ErrOpen) {
			t.Errorf("Open with aad %q: err %v, want ErrOpen", other, err)
		}
	}
	// Another key does not open it.
	if _, err := newBox(t, testKey(2)).Open(sealed, aad); !errors.Is(err, ErrOpen) {
		t.Errorf("Open with another key: err %v, want ErrOpen", err)
	}

	// Every changed bit of the raw value is detected.
	raw, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(sealed, "v1:"))
	for i := range raw {
		for _, bit := range []byte{0x01, 0x80} {
			c := bytes.Clone(raw)
			c[i] ^= bit
			if _, err := box.Open("v1:"+base64.StdEncoding.EncodeToString(c), aad); !errors.Is(err, ErrOpen) {
				t.Fatalf("byte %d bit %#x flipped: err %v, want ErrOpen", i, bit, err)
			}
		}
	}
	// Every changed character of the text is detected.
	for i := len("v1:"); i < len(sealed); i++ {
		c := []byte(sealed)
		c[i] ^= 0x20
		if _, err := box.Open(string(c), aad); err == nil {
			t.Fatalf("character %d changed: opened", i)
		}
	}

	for _, tc := range []struct {
		sealed string
		aad    string
		want   error
	}{
		{sealed, "", ErrNoAAD},
		{"hunter2", aad, ErrNotSealed},
		{"", aad, ErrNotSealed},
		{"v2:" + strings.TrimPrefix(sealed, "v1:"), aad, ErrUnknownVersion},
		{"v1:", aad, ErrMalformed},
		{"v1:!!!!", aad, ErrMalformed},
		{"v1:" + base64.StdEncoding.EncodeToString(raw[:27]), aad, ErrMalformed},
		{"v1:" + base64.StdEncoding.EncodeToString(raw[:len(raw)-1]), aad, ErrOpen},
		{"v1:" + base64.StdEncoding.EncodeToString(append(bytes.Clone(raw), 0)), aad, ErrOpen},
	} {
		if _, err := box.Open(tc.sealed, tc.aad); !errors.Is(err, tc.want) {
			t.Errorf("Open(%.20q, %q): err %v, want %v", tc.sealed, tc.aad, err, tc.want)
		} else if strings.Contains(err.Error(), "hunter2") && tc.sealed != "hunter2" {
			t.Errorf("error shows the plaintext: %v", err)
		}
	}
	if _, err := box.Seal([]byte("x"), ""); !errors.Is(err, ErrNoAAD) {
		t.Errorf("Seal with no aad: err %v, want ErrNoAAD", err)
	}
}

func TestBoxConcurrent(t *testing.T) {
	t.Parallel()
	box := newBox(t, testKey(3))
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				aad := "mailbox:" + string(rune('a'+g)) + ":" + string(rune('a'+i%26))
				s, err := box.Seal([]byte(aad), aad)
				if err != nil {
					t.Error(err)
					return
				}
				if p, err := box.Open(s, aad); err != nil || string(p) != aad {
					t.Errorf("Open = %q, %v", p, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestNewBoxKeyLength(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 16, 24, 31, 33, 64} {
		if _, err := NewBox(make([]byte, n)); !errors.Is(err, ErrKey) {
			t.Errorf("NewBox(%d bytes): err %v, want ErrKey", n, err)
		}
	}
}

func TestParseKey(t *testing.T) {
	t.Parallel()
	key := make([]byte, KeySize)
	for i := range key {
		key[i] = byte(0xf0 + i) // '+' and '/' in std base64, '-' and '_' in URL
	}
	for _, tc := range []struct {
		name, in string
		ok       bool
		text     string // in the error
	}{
		{"std", base64.StdEncoding.EncodeToString(key), true, ""},
		{"std unpadded", base64.RawStdEncoding.EncodeToString(key), true, ""},
		{"url", base64.URLEncoding.EncodeToString(key), true, ""},
		{"url unpadded", base64.RawURLEncoding.EncodeToString(key), true, ""},
		{"hex", hex.EncodeToString(key), true, ""},
		{"HEX", strings.ToUpper(hex.EncodeToString(key)), true, ""},
		{"newline from a file", base64.StdEncoding.EncodeToString(key) + "\n", true, ""},
		{"empty", "", false, "openssl rand -base64 32"},
		{"blank", "  \n", false, "empty"},
		{"16 bytes", base64.StdEncoding.EncodeToString(key[:16]), false, "16 bytes, want 32"},
		{"48 bytes", base64.StdEncoding.EncodeToString(append(key, key[:16]...)), false, "48 bytes"},
		{"hex of 31", hex.EncodeToString(key[:31]), false, "62 hex digits, want 64"},
		{"passphrase", "correct horse battery staple", false, "openssl rand -base64 32"},
		{"bad padding", base64.StdEncoding.EncodeToString(key)[:43] + "==", false, "neither base64 nor hex"},
	} {
		got, err := ParseKey(tc.in)
		if tc.ok {
			if err != nil || !bytes.Equal(got, key) {
				t.Errorf("%s: ParseKey = %x, %v; want the key", tc.name, got, err)
			}
			continue
		}
		if !errors.Is(err, ErrKey) || !strings.Contains(err.Error(), tc.text) || !strings.Contains(err.Error(), "openssl rand -base64 32") {
			t.Errorf("%s: err %v; want ErrKey mentioning %q and how to make a key", tc.name, err, tc.text)
		}
	}
}

// TestHKDFVector is RFC 5869 Appendix A.1, test case 1.
func TestHKDFVector(t *testing.T) {
	t.Parallel()
	unhex := func(s string) []byte {
		b, err := hex.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	ikm := unhex("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b")
	salt := unhex("000102030405060708090a0b0c")
	info := unhex("f0f1f2f3f4f5f6f7f8f9")
	want := unhex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")
	got, err := hkdfSHA256(ikm, salt, string(info), 42)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("OKM\n got %x\nwant %x", got, want)
	}
}

func TestDerive(t *testing.T) {
	t.Parallel()
	k := testKey(7)
	verp, unsub := Derive(k, "verp"), Derive(k, "unsubscribe")
	if len(verp) != 32 || len(unsub) != 32 {
		t.Fatalf("lengths %d, %d", len(verp), len(unsub))
	}
	if bytes.Equal(verp, unsub) || bytes.Equal(verp, k) {
		t.Fatal("sub-keys are not distinct")
	}
	if !bytes.Equal(verp, Derive(bytes.Clone(k), "verp")) {
		t.Fatal("Derive is not deterministic")
	}
	if bytes.Equal(verp, Derive(testKey(8), "verp")) {
		t.Fatal("another key gives the same sub-key")
	}
	// The box key is none of the derived keys.
	boxKey, _ := hkdfSHA256(k, nil, boxInfo, 32)
	for _, p := range []string{"", "verp", "unsubscribe", boxInfo} {
		if bytes.Equal(Derive(k, p), boxKey) {
			t.Fatalf("Derive(%q) is the box key", p)
		}
	}
}
