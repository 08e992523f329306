package message

import (
	"bytes"
	"crypto"
	"errors"
	"fmt"
	"net/mail"
	"net/textproto"
	"strings"

	"github.com/emersion/go-msgauth/dkim"
	"golang.org/x/net/publicsuffix"

	"github.com/touchline/touchline/internal/dkimkey"
)

// ErrNotAligned: the signing domain is not the From domain's organizational
// domain, so the signature would not pass DMARC.
var ErrNotAligned = errors.New("message: DKIM domain does not align with the From domain")

// DKIM is what Sign signs with: the key published at
// Selector._domainkey.Domain.
type DKIM struct {
	Domain   string // d=, aligned with the From domain (DMARC, RFC 7489 §3.1.1)
	Selector string // s=
	Signer   crypto.Signer
}

// SignedHeaders are the header fields Sign covers, in this order: those
// RFC 6376 §5.4.1 recommends, the threading fields, and those the mailbox
// providers' bulk-sender rules ask for (RFC 8058 §4: both List-Unsubscribe
// fields).
var SignedHeaders = []string{
	"From", "To", "Subject", "Date", "Message-ID", "In-Reply-To", "References",
	"MIME-Version", "Content-Type", "List-Unsubscribe", "List-Unsubscribe-Post",
	"Feedback-ID",
}

// Sign returns raw with a DKIM-Signature field (RFC 6376) before it, made
// with go-msgauth: relaxed/relaxed canonicalization, rsa-sha256 or
// ed25519-sha256 (RFC 8463) after the key, no expiry.
//
// Each field of SignedHeaders is named in h= once more than it occurs in
// raw ("oversigning", RFC 6376 §5.4.2 and §8.15): a field that is present is
// protected against change, and one more of it, or one that is absent, such
// as a List-Unsubscribe or In-Reply-To that a step does not carry, cannot
// be added in transit without breaking the signature. The List-Unsubscribe
// pair is therefore always in h=, as RFC 8058 §4 requires. The cost is that
// a relay which adds one of these fields breaks the signature; the
// mailboxes Touchline sends through (Gmail, Microsoft 365, a team's own
// submission server) do not add them to a message that has them all.
//
// raw must use CRLF line endings and have exactly one From field, whose
// domain must have the same organizational domain as d.Domain (relaxed DMARC
// alignment): Gmail, Yahoo and Microsoft reject bulk mail without an aligned
// SPF or DKIM pass, so signing with a foreign domain is refused
// ([ErrNotAligned]) rather than sent to fail.
func Sign(raw []byte, d DKIM) ([]byte, error) {
	if d.Signer == nil {
		return nil, fmt.Errorf("%w: no DKIM key", ErrInvalid)
	}
	domain, err := dkimkey.NormalizeDomain(d.Domain)
	if err != nil {
		return nil, fmt.Errorf("message: sign: %w", err)
	}
	if err := dkimkey.ValidSelector(d.Selector); err != nil {
		return nil, fmt.Errorf("message: sign: %w", err)
	}
	if i := bareLineBreak(raw); i >= 0 {
		return nil, fmt.Errorf("%w: bare CR or LF at offset %d (DKIM signs CRLF line endings)", ErrInvalid, i)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	froms := msg.Header[textproto.CanonicalMIMEHeaderKey("From")]
	if len(froms) != 1 {
		// RFC 5322 §3.6 and RFC 7489 §6.6.1: exactly one From.
		return nil, fmt.Errorf("%w: %d From fields, want 1", ErrInvalid, len(froms))
	}
	from, err := mail.ParseAddress(froms[0])
	if err != nil {
		return nil, fmt.Errorf("%w: From: %v", ErrInvalid, err)
	}
	fromDomain, err := dkimkey.NormalizeDomain(from.Address[strings.LastIndexByte(from.Address, '@')+1:])
	if err != nil {
		return nil, fmt.Errorf("%w: From: %v", ErrInvalid, err)
	}
	if !aligned(fromDomain, domain) {
		return nil, fmt.Errorf("%w: d=%s, From %s (sign with a key published under the From domain)", ErrNotAligned, domain, fromDomain)
	}
	if msg.Header.Get("List-Unsubscribe-Post") != "" && msg.Header.Get("List-Unsubscribe") == "" {
		return nil, fmt.Errorf("%w: List-Unsubscribe-Post without List-Unsubscribe (RFC 8058 §3.1)", ErrInvalid)
	}

	var keys []string
	for _, k := range SignedHeaders {
		for range len(msg.Header[textproto.CanonicalMIMEHeaderKey(k)]) + 1 {
			keys = append(keys, k)
		}
	}
	var b bytes.Buffer
	b.Grow(len(raw) + 1024)
	err = dkim.Sign(&b, bytes.NewReader(raw), &dkim.SignOptions{
		Domain:                 domain,
		Selector:               d.Selector,
		Signer:                 d.Signer,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed,
		BodyCanonicalization:   dkim.CanonicalizationRelaxed,
		HeaderKeys:             keys,
	})
	if err != nil {
		return nil, fmt.Errorf("message: sign: %w", err)
	}
	return b.Bytes(), nil
}

// aligned reports relaxed DMARC alignment (RFC 7489 §3.1.1): both names
// have the same organizational domain, found with the public suffix list.
func aligned(a, b string) bool {
	if a == b {
		return true
	}
	oa, err := publicsuffix.EffectiveTLDPlusOne(a)
	if err != nil {
		return false
	}
	ob, err := publicsuffix.EffectiveTLDPlusOne(b)
	return err == nil && oa == ob
}

// bareLineBreak returns the offset of the first CR not followed by LF or LF
// not preceded by CR, or -1.
func bareLineBreak(raw []byte) int {
	for i, c := range raw {
		switch c {
		case '\r':
			if i+1 >= len(raw) || raw[i+1] != '\n' {
				return i
			}
		case '\n':
			if i == 0 || raw[i-1] != '\r' {
				return i
			}
		}
	}
	return -1
}
