package dkimkey

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/net/idna"
)

// TTL is the time to live ZoneLine gives the key record, in seconds: short
// enough that a replaced key propagates within the hour.
const TTL = 3600

// maxString is the longest DNS character-string (RFC 1035 §3.3.14).
const maxString = 255

// TXTValue returns the key record's text for pub, an *rsa.PublicKey or
// ed25519.PublicKey (a crypto.Signer's Public()):
//
//	v=DKIM1; k=rsa; p=<base64 of the DER SubjectPublicKeyInfo>   (RFC 6376 §3.6.1)
//	v=DKIM1; k=ed25519; p=<base64 of the raw 32-byte key>       (RFC 8463 §4)
func TXTValue(pub crypto.PublicKey) (string, error) {
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		if pub == nil || pub.N == nil {
			return "", fmt.Errorf("%w: nil RSA key", ErrUnsupportedKey)
		}
		if n := pub.N.BitLen(); n < 1024 {
			return "", fmt.Errorf("%w (%d bits)", ErrWeakKey, n)
		}
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return "", fmt.Errorf("dkimkey: marshal public key: %w", err)
		}
		return "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der), nil
	case ed25519.PublicKey:
		if len(pub) != ed25519.PublicKeySize {
			return "", fmt.Errorf("%w: ed25519 public key of %d bytes", ErrMalformed, len(pub))
		}
		return "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub), nil
	}
	return "", fmt.Errorf("%w: %T", ErrUnsupportedKey, pub)
}

// RecordName returns the DNS name the key record lives at (RFC 6376
// §3.6.2.1), without a trailing dot: "selector._domainkey.domain".
func RecordName(selector, domain string) string {
	return selector + "._domainkey." + strings.TrimSuffix(domain, ".")
}

// TXTStrings splits a TXT value into the character-strings of one record,
// each at most 255 octets (RFC 1035 §3.3.14). Receivers concatenate them
// without separators (RFC 6376 §3.6.2.2), so a split can fall anywhere;
// this one keeps the tags before p= in the first string and cuts the key
// data, which is where the length is, into 255-octet pieces.
func TXTStrings(value string) []string {
	if len(value) <= maxString {
		return []string{value}
	}
	var out []string
	if i := strings.Index(value, "p="); i > 0 && i <= maxString {
		out = append(out, value[:i])
		value = value[i:]
	}
	for len(value) > maxString {
		out = append(out, value[:maxString])
		value = value[maxString:]
	}
	return append(out, value)
}

// ZoneLine returns the key record as one zone-file line (RFC 1035 §5.1),
// with the owner name fully qualified, for example
//
//	sel._domainkey.example.com. 3600 IN TXT "v=DKIM1; k=rsa; " "p=MIIB..." "..."
func ZoneLine(selector, domain string, pub crypto.PublicKey) (string, error) {
	v, err := TXTValue(pub)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString(RecordName(selector, domain))
	b.WriteString(". ")
	b.WriteString(strconv.Itoa(TTL))
	b.WriteString(" IN TXT")
	for _, s := range TXTStrings(v) {
		// The value is tag=value text and base64: no quote or backslash to
		// escape.
		b.WriteString(` "`)
		b.WriteString(s)
		b.WriteByte('"')
	}
	return b.String(), nil
}

// ValidSelector reports whether s can be a selector: RFC 6376 §3.1 makes it
// a dot-separated sequence of RFC 5321 sub-domains (letters, digits and
// hyphens, not starting or ending with a hyphen), each a DNS label of at
// most 63 octets. Internationalized selectors must be given as A-labels
// ("xn--...").
func ValidSelector(s string) error {
	if s == "" {
		return fmt.Errorf("%w: empty", ErrInvalidSelector)
	}
	// The selector shares a name of at most 253 octets with "._domainkey."
	// and a domain of at least two labels.
	if len(s) > 253-len("._domainkey.a.b") {
		return fmt.Errorf("%w %q: longer than %d octets", ErrInvalidSelector, s, 253-len("._domainkey.a.b"))
	}
	for _, label := range strings.Split(s, ".") {
		if err := checkLabel(label); err != "" {
			return fmt.Errorf("%w %q: %s", ErrInvalidSelector, s, err)
		}
	}
	return nil
}

// checkLabel checks an RFC 5321 sub-domain (Let-dig [Ldh-str]) and returns
// what is wrong with it, or "".
func checkLabel(label string) string {
	switch {
	case label == "":
		return "empty label"
	case len(label) > 63:
		return fmt.Sprintf("label %q is longer than 63 octets", label)
	case label[0] == '-' || label[len(label)-1] == '-':
		return fmt.Sprintf("label %q starts or ends with a hyphen", label)
	}
	for i := 0; i < len(label); i++ {
		c := label[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
			if c >= 0x80 {
				return fmt.Sprintf("label %q is not ASCII (give an internationalized name as its A-label, xn--...)", label)
			}
			return fmt.Sprintf("label %q has %q (letters, digits and hyphens only)", label, c)
		}
	}
	return ""
}

// NormalizeDomain returns the signing domain (the d= of a signature) in
// the form the key record is published and looked up under: lowercase, no
// trailing dot, and an internationalized name as its A-label (RFC 5890
// §2.3.2.1, with the IDNA Lookup profile resolvers use). The name must have
// at least two labels and must not be an IP address.
func NormalizeDomain(d string) (string, error) {
	in := d
	d = strings.TrimSuffix(strings.TrimSpace(d), ".")
	if d == "" {
		return "", fmt.Errorf("%w: empty", ErrInvalidDomain)
	}
	ace, err := idna.Lookup.ToASCII(d)
	if err != nil {
		return "", fmt.Errorf("%w %q: %v", ErrInvalidDomain, in, err)
	}
	d = strings.ToLower(ace)
	if len(d) > 253 {
		return "", fmt.Errorf("%w %q: longer than 253 octets", ErrInvalidDomain, in)
	}
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		return "", fmt.Errorf("%w %q: want a domain such as example.com", ErrInvalidDomain, in)
	}
	for _, l := range labels {
		if msg := checkLabel(l); msg != "" {
			return "", fmt.Errorf("%w %q: %s", ErrInvalidDomain, in, msg)
		}
	}
	// RFC 3696 §2: a top-level domain is not all-numeric, which also keeps
	// out IPv4 addresses.
	if strings.Trim(labels[len(labels)-1], "0123456789") == "" {
		return "", fmt.Errorf("%w %q: an IP address or numeric top-level domain, not a domain name", ErrInvalidDomain, in)
	}
	return d, nil
}
