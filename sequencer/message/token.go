package message

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/touchline/touchline/internal/dkimkey"
)

// Sentinel errors of the token parsers. Every reason a token is refused
// wraps one of them; the message says which check failed, never the key.
var (
	ErrReturnPath       = errors.New("message: not a Touchline return path")
	ErrUnsubscribeToken = errors.New("message: invalid unsubscribe token")
)

// MinKeyLen is the shortest HMAC key ReturnPath and UnsubscribeToken take.
// secret.Derive gives 32 bytes.
const MinKeyLen = 16

// The HMAC inputs start with a label of what the token is, so that a MAC
// of one kind is never valid as another even under the same key.
const (
	verpLabel  = "touchline verp v1\x00"
	unsubLabel = "touchline unsubscribe v1\x00"
)

const (
	verpPrefix = "b-"
	verpMACLen = 10 // 80 bits: forging one takes 2^80 tries at the MTA
	// maxLocalPart is RFC 5321 §4.5.3.1.1.
	maxLocalPart = 64

	unsubPrefix = "u1-" // format version 1
	unsubMACLen = 16    // 128 bits
)

func mac(key []byte, label string, payload []byte, n int) []byte {
	if len(key) < MinKeyLen {
		// A programming error (the key comes from secret.Derive), not
		// input: failing loudly beats issuing forgeable tokens.
		panic(fmt.Sprintf("message: HMAC key of %d bytes, want at least %d (use secret.Derive)", len(key), MinKeyLen))
	}
	h := hmac.New(sha256.New, key)
	h.Write([]byte(label))
	h.Write(payload)
	return h.Sum(nil)[:n]
}

// ReturnPath returns the VERP envelope sender (MAIL FROM) of a touch:
// "b-<token>@bounceDomain", where the token is lowercase base32 of the
// enrollment and step (unsigned varints) followed by 80 bits of
// HMAC-SHA256 under key. A bounce, which RFC 5321 §4.5.5 sends to this
// address, then names the touch it is about and cannot be forged for
// another; the local part is at most 49 octets (the limit is 64) and
// contains only letters, digits and one hyphen, which every MTA passes.
// The receiving MTA copies it into Return-Path; it is not a field of the
// built message.
//
// bounceDomain is the domain whose MX delivers to Touchline's bounce
// handler (an ASCII domain name; it is lowercased). It is not covered by
// the MAC, so the bounce domain can change while earlier touches' bounces
// still parse. key must be at least MinKeyLen bytes, or ReturnPath panics.
func ReturnPath(key []byte, enrollmentID int64, step int, bounceDomain string) string {
	payload := binary.AppendUvarint(nil, uint64(enrollmentID))
	payload = binary.AppendUvarint(payload, uint64(step))
	tok := b32.EncodeToString(append(payload, mac(key, verpLabel, payload, verpMACLen)...))
	return verpPrefix + tok + "@" + strings.ToLower(strings.TrimSuffix(bounceDomain, "."))
}

// ParseReturnPath returns the enrollment and step of a return path made by
// ReturnPath with key. addr may be in angle brackets, as in a Return-Path
// field, and in any case: some MTAs change the case of addresses.
// It refuses, with an error wrapping ErrReturnPath, anything but a
// canonical token with a valid MAC at a valid domain name (and when key is
// shorter than MinKeyLen).
func ParseReturnPath(key []byte, addr string) (enrollmentID int64, step int, err error) {
	fail := func(why string) (int64, int, error) {
		return 0, 0, fmt.Errorf("%w %q: %s", ErrReturnPath, addr, why)
	}
	if len(key) < MinKeyLen {
		return fail("key too short")
	}
	s := strings.TrimSpace(addr)
	if strings.HasPrefix(s, "<") && strings.HasSuffix(s, ">") {
		s = s[1 : len(s)-1]
	}
	s = strings.ToLower(s)
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return fail("no @")
	}
	local, domain := s[:at], s[at+1:]
	if d, err := dkimkey.NormalizeDomain(domain); err != nil || d != strings.TrimSuffix(domain, ".") {
		return fail("domain is not a domain name")
	}
	tok, ok := strings.CutPrefix(local, verpPrefix)
	if !ok {
		return fail("local part does not start with " + verpPrefix)
	}
	if len(local) > maxLocalPart {
		return fail("local part too long")
	}
	raw, err := b32.DecodeString(tok)
	if err != nil || len(raw) <= verpMACLen {
		return fail("malformed token")
	}
	payload, sum := raw[:len(raw)-verpMACLen], raw[len(raw)-verpMACLen:]
	if !hmac.Equal(sum, mac(key, verpLabel, payload, verpMACLen)) {
		return fail("MAC does not match (tampered, or made with another key)")
	}
	ids, ok := uvarints(payload, 2)
	if !ok {
		return fail("malformed payload")
	}
	enrollmentID, step = int64(ids[0]), int(ids[1])
	if uint64(step) != ids[1] || ReturnPath(key, enrollmentID, step, "x.test") != local+"@x.test" {
		return fail("not canonical")
	}
	return enrollmentID, step, nil
}

// UnsubscribeToken returns the token of a one-click unsubscribe URL:
// "u1-" and lowercase base32 of the workspace, lead and enrollment
// (unsigned varints) followed by 128 bits of HMAC-SHA256 under key. It is
// made of letters, digits and one hyphen, safe in a URL path and intact
// through linkifiers that trim punctuation.
//
// The token has no expiry, on purpose: RFC 8058 and the mailbox providers
// want an unsubscribe link to work for as long as the mail sits in an inbox
// (CAN-SPAM asks for 30 days at least, and people unsubscribe from old
// mail), and the only power it grants is to stop mail to the lead who
// received it, which is never harmful and is idempotent. The workspace is
// inside the MAC, so a token cannot unsubscribe a lead of another
// workspace. To retire every token at once, derive the key anew; the "u1"
// version lets a later format coexist with this one.
//
// key must be at least MinKeyLen bytes, or UnsubscribeToken panics.
func UnsubscribeToken(key []byte, workspaceID, leadID, enrollmentID int64) string {
	payload := binary.AppendUvarint(nil, uint64(workspaceID))
	payload = binary.AppendUvarint(payload, uint64(leadID))
	payload = binary.AppendUvarint(payload, uint64(enrollmentID))
	return unsubPrefix + b32.EncodeToString(append(payload, mac(key, unsubLabel, payload, unsubMACLen)...))
}

// ParseUnsubscribeToken returns the IDs in a token made by UnsubscribeToken
// with key. Only the exact token parses (it is case-sensitive, as a URL
// path is); anything else, or a key shorter than MinKeyLen, is refused
// with an error wrapping ErrUnsubscribeToken.
func ParseUnsubscribeToken(key []byte, tok string) (workspaceID, leadID, enrollmentID int64, err error) {
	fail := func(why string) (int64, int64, int64, error) {
		return 0, 0, 0, fmt.Errorf("%w: %s", ErrUnsubscribeToken, why)
	}
	if len(key) < MinKeyLen {
		return fail("key too short")
	}
	body, ok := strings.CutPrefix(tok, unsubPrefix)
	if !ok {
		return fail("unknown version")
	}
	// Three 10-byte varints and the MAC, in base32.
	if len(body) > (3*binary.MaxVarintLen64+unsubMACLen)*8/5+1 {
		return fail("too long")
	}
	raw, err := b32.DecodeString(body)
	if err != nil || len(raw) <= unsubMACLen {
		return fail("malformed")
	}
	payload, sum := raw[:len(raw)-unsubMACLen], raw[len(raw)-unsubMACLen:]
	if !hmac.Equal(sum, mac(key, unsubLabel, payload, unsubMACLen)) {
		return fail("MAC does not match (tampered, or made with another key)")
	}
	ids, ok := uvarints(payload, 3)
	if !ok {
		return fail("malformed payload")
	}
	workspaceID, leadID, enrollmentID = int64(ids[0]), int64(ids[1]), int64(ids[2])
	if UnsubscribeToken(key, workspaceID, leadID, enrollmentID) != tok {
		return fail("not canonical")
	}
	return workspaceID, leadID, enrollmentID, nil
}

// uvarints decodes exactly n unsigned varints that fill p.
func uvarints(p []byte, n int) ([]uint64, bool) {
	out := make([]uint64, 0, n)
	for range n {
		v, k := binary.Uvarint(p)
		if k <= 0 {
			return nil, false
		}
		out = append(out, v)
		p = p[k:]
	}
	return out, len(p) == 0
}
