// Package secret keeps secrets at rest: the SMTP passwords of the team's
// mailboxes and their DKIM private keys are stored sealed, never in the
// clear, and every HMAC key Touchline needs is derived from the same one
// configured secret.
//
// The secret is 32 random bytes given in the environment variable
// TOUCHLINE_SECRET_KEY (see [EnvVar]) as base64 or hex; [ParseKey] reads it
// and says how to make one when it cannot (`openssl rand -base64 32`).
// The configured key is never used directly: [NewBox] and [Derive] feed it
// to HKDF-SHA256 (RFC 5869) with a distinct info string each, so the AES
// key and every HMAC key are independent of one another.
//
// A [Box] seals with AES-256-GCM (NIST SP 800-38D) under a random 96-bit
// nonce. A sealed value is text, "v1:" followed by the standard base64 of
// nonce || ciphertext || tag, so it fits a text column. The additional
// authenticated data names where the value lives, for example
// "mailbox:42:smtp_password": a ciphertext copied to another row or column
// does not open there, so someone who can write the database but not read
// the key cannot swap one mailbox's password for another's.
//
// Random nonces bound the number of values one key may seal to about 2^32
// (SP 800-38D §8.3); secrets at rest are written once per mailbox change,
// many orders of magnitude below that.
//
// Errors wrap the sentinels below; test them with errors.Is. No error
// message contains key material or plaintext.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// EnvVar is the environment variable that holds the configured secret.
const EnvVar = "TOUCHLINE_SECRET_KEY"

// KeySize is the length of the configured secret in bytes.
const KeySize = 32

// Sentinel errors.
var (
	ErrKey            = errors.New("secret: invalid key")
	ErrNoAAD          = errors.New("secret: no additional data (name the row and column the value belongs to)")
	ErrNotSealed      = errors.New("secret: value is not sealed")
	ErrUnknownVersion = errors.New("secret: unknown sealed-value version")
	ErrMalformed      = errors.New("secret: malformed sealed value")
	ErrOpen           = errors.New("secret: cannot open sealed value (wrong key, value moved from another row, or tampered with)")
)

// sealedPrefix marks the format of Seal's output. A new format (another
// AEAD, a key identifier for rotation) gets a new prefix; Open keeps reading
// the old ones.
const sealedPrefix = "v1:"

// boxInfo is the HKDF info string of the AES key, distinct from every
// purpose given to Derive.
const boxInfo = "touchline secret box v1 aes-256-gcm"

// Box seals and opens secrets with AES-256-GCM. It is safe for concurrent
// use.
type Box struct {
	aead cipher.AEAD
}

// NewBox returns a Box for the configured key, which must be exactly
// KeySize bytes (use ParseKey on the configured text).
func NewBox(key []byte) (*Box, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrKey, len(key), KeySize)
	}
	aesKey, err := hkdfSHA256(key, nil, boxInfo, 32)
	if err != nil {
		return nil, fmt.Errorf("secret: derive box key: %w", err)
	}
	block, err := aes.NewCipher(aesKey)
	if err != nil {
		return nil, fmt.Errorf("secret: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secret: %w", err)
	}
	return &Box{aead: aead}, nil
}

// Seal encrypts plaintext bound to aad, which names the value's place, as
// "mailbox:42:smtp_password", and must not be empty. The result is
// "v1:" + base64(nonce || ciphertext || tag).
func (b *Box) Seal(plaintext []byte, aad string) (string, error) {
	if aad == "" {
		return "", ErrNoAAD
	}
	ns := b.aead.NonceSize()
	buf := make([]byte, ns, ns+len(plaintext)+b.aead.Overhead())
	if _, err := rand.Read(buf); err != nil {
		return "", fmt.Errorf("secret: nonce: %w", err)
	}
	buf = b.aead.Seal(buf, buf[:ns], plaintext, []byte(aad))
	return sealedPrefix + base64.StdEncoding.EncodeToString(buf), nil
}

// Open decrypts a value made by Seal with the same key and the same aad.
func (b *Box) Open(sealed string, aad string) ([]byte, error) {
	if aad == "" {
		return nil, ErrNoAAD
	}
	enc, ok := strings.CutPrefix(sealed, sealedPrefix)
	if !ok {
		if v, _, found := strings.Cut(sealed, ":"); found && isVersion(v) {
			return nil, fmt.Errorf("%w %q (this build reads %q)", ErrUnknownVersion, v, strings.TrimSuffix(sealedPrefix, ":"))
		}
		return nil, fmt.Errorf("%w (want a value starting %q; was it stored before encryption was configured?)", ErrNotSealed, sealedPrefix)
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(enc)
	if err != nil {
		return nil, fmt.Errorf("%w: bad base64", ErrMalformed)
	}
	ns := b.aead.NonceSize()
	if len(raw) < ns+b.aead.Overhead() {
		return nil, fmt.Errorf("%w: %d bytes, shorter than nonce and tag", ErrMalformed, len(raw))
	}
	pt, err := b.aead.Open(nil, raw[:ns], raw[ns:], []byte(aad))
	if err != nil {
		return nil, fmt.Errorf("%w (aad %q)", ErrOpen, aad)
	}
	if pt == nil {
		pt = []byte{}
	}
	return pt, nil
}

// isVersion reports whether s looks like a format version, "v" and digits.
func isVersion(s string) bool {
	if len(s) < 2 || s[0] != 'v' {
		return false
	}
	for _, c := range s[1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
