package secret

import (
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
)

// howTo tells the user how to make a key; every key error ends with it.
const howTo = "make one with: openssl rand -base64 32"

// ParseKey decodes the configured secret: KeySize bytes as 64 hex digits,
// or as base64 in the standard or URL alphabet, padded or not. Surrounding
// white space (a newline from a file) is ignored.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("%w: empty; %s", ErrKey, howTo)
	}
	// 64 hex digits are also valid base64 (of 48 bytes), so hex is tried
	// first, and only at the one length a 32-byte hex key has.
	if len(s) == 2*KeySize {
		if k, err := hex.DecodeString(s); err == nil {
			return k, nil
		}
	}
	for _, enc := range []*base64.Encoding{
		base64.StdEncoding, base64.RawStdEncoding,
		base64.URLEncoding, base64.RawURLEncoding,
	} {
		k, err := enc.Strict().DecodeString(s)
		if err != nil {
			continue
		}
		if len(k) != KeySize {
			return nil, fmt.Errorf("%w: decodes to %d bytes, want %d; %s", ErrKey, len(k), KeySize, howTo)
		}
		return k, nil
	}
	if _, err := hex.DecodeString(s); err == nil {
		return nil, fmt.Errorf("%w: %d hex digits, want %d (%d bytes); %s", ErrKey, len(s), 2*KeySize, KeySize, howTo)
	}
	return nil, fmt.Errorf("%w: neither base64 nor hex (%d characters); %s", ErrKey, len(s), howTo)
}

// deriveSalt is the HKDF salt of Derive. RFC 5869 §3.1 allows none for a
// key that is already uniformly random; a fixed application salt costs
// nothing and keeps Touchline's sub-keys apart from any other program's
// use of the same secret.
var deriveSalt = []byte("touchline hkdf salt v1")

// Derive returns a 32-byte sub-key of key for purpose ("verp",
// "unsubscribe"), by HKDF-SHA256 (RFC 5869) with purpose in the info
// string. Different purposes give independent keys, so one configured
// secret serves every HMAC and knowing one sub-key tells nothing about the
// others or about the secret. The result depends only on key and purpose:
// tokens made with it stay valid across restarts.
func Derive(key []byte, purpose string) []byte {
	k, err := hkdfSHA256(key, deriveSalt, "touchline derive v1: "+purpose, 32)
	if err != nil {
		// Expand fails only when more than 255 hash lengths are asked for.
		panic("secret: derive: " + err.Error())
	}
	return k
}

// hkdfSHA256 is HKDF (RFC 5869) with SHA-256: Extract then Expand. It uses
// the standard library's crypto/hkdf (Go 1.24+), so golang.org/x/crypto is
// not needed; the test checks it against the RFC's test vector.
func hkdfSHA256(secret, salt []byte, info string, n int) ([]byte, error) {
	return hkdf.Key(sha256.New, secret, salt, info, n)
}
