package verifier

import (
	"errors"
	"fmt"
	"golang.org/x/net/idna"
	"net/netip"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Address is a parsed, normalized email address.
//
// Local holds the local part's content: case preserved (RFC 5321 §2.4
// leaves its interpretation to the receiving server), with any quoting
// removed, so `"john.smith"@example.com` and `john.smith@example.com` are
// the same Address (RFC 5322 §3.2.4: quotes are not part of the string).
// [Address.String] quotes it again when it must be.
type Address struct {
	Local         string // local part, case preserved, unquoted
	Domain        string // lowercase ASCII (A-label) form, no trailing dot
	DomainUnicode string // U-label form for display
	UTF8Local     bool   // local part has non-ASCII octets: needs SMTPUTF8 (RFC 6531)
}

// String returns the address as it goes in MAIL FROM or RCPT TO: the
// local part as a dot-atom when it is one and as a quoted string
// otherwise (RFC 5321 §4.1.2), "@", the A-label domain.
func (a Address) String() string {
	if a.Local == "" && a.Domain == "" {
		return ""
	}
	return quoteLocal(a.Local) + "@" + a.Domain
}

// ErrSyntax is matched by every [*SyntaxError].
var ErrSyntax = errors.New("verifier: invalid address syntax")

// SyntaxError says why an input is not an address mail can be sent to.
type SyntaxError struct {
	Input  string // as given to ParseAddress
	Reason string // a short sentence, e.g. "missing @"
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("verifier: invalid address %q: %s", e.Input, e.Reason)
}

// Is makes errors.Is(err, ErrSyntax) true.
func (e *SyntaxError) Is(target error) bool { return target == ErrSyntax }

// Limits of RFC 5321 §4.5.3.1.
const (
	maxLocal   = 64  // §4.5.3.1.1, local part as sent, quotes included
	maxDomain  = 253 // §4.5.3.1.2 counts 255 octets of wire format
	maxAddress = 254 // §4.5.3.1.3: a 256-octet path less its < and >
	maxLabel   = 63  // RFC 1035 §2.3.4
)

// ParseAddress parses one address as people paste it into a prospect list
// and normalizes it for RCPT TO.
//
// Accepted around the address: surrounding white space (a byte order mark
// and zero-width space included, which spreadsheets leave behind); a
// display name, `Jane Doe <jane@example.com>` or `"Doe, Jane"
// <jane@example.com>`, whose text is dropped; a `mailto:` URI (RFC 6068),
// %-decoded, its ?query dropped.
//
// The local part is a dot-atom (RFC 5322 §3.2.3 atext, plus non-ASCII
// UTF-8 by RFC 6531 §3.3) or a quoted string (RFC 5321 §4.1.2: printable
// ASCII, space, quoted-pairs, and UTF-8). Rejected: the obsolete mix of
// the two (`a."b"`), comments in parentheses (RFC 5322 §3.2.2 allows them,
// no prospect list needs them, and stripping them guesses at what was
// meant), control characters, and invisible formatting characters such as
// U+200B or bidi overrides, which are copy-paste debris or spoofing. The
// local part is not Unicode-normalized: only its server may interpret it.
//
// The domain is lowercased; one trailing dot is dropped (an absolute name,
// RFC 1034 §3.1, and "write to jane@example.com." is common); each label
// must be letters, digits and hyphens (RFC 1035 §2.3.1, RFC 5321 §4.1.2)
// of at most 63 octets, neither starting nor ending with a hyphen; the
// top-level label must not be all-numeric (RFC 3696 §2); a single label
// and address literals like [192.0.2.1] are rejected: no prospect's
// mailbox lives there.
//
// Internationalized domains (RFC 5890) are converted to A-labels with
// IDNA2008 lookup rules (UTS #46 mapping, non-transitional, with the Bidi
// rule): "Jane@Bücher.DE" becomes jane@xn--bcher-kva.de, and DomainUnicode
// keeps "bücher.de" for display. An A-label given as such must decode.
//
// Lengths are counted in octets of the normalized form: the local part as
// String writes it (at most 64), the whole address (at most 254).
//
// Every other failure is a [*SyntaxError].
func ParseAddress(input string) (Address, error) {
	fail := func(format string, args ...any) (Address, error) {
		return Address{}, &SyntaxError{Input: input, Reason: fmt.Sprintf(format, args...)}
	}

	s := trimSpace(input)
	if !utf8.ValidString(s) {
		return fail("address is not valid UTF-8")
	}
	inner, reason := stripDisplayName(s)
	if reason != "" {
		return fail("%s", reason)
	}
	s = trimSpace(inner)

	if len(s) >= len("mailto:") && strings.EqualFold(s[:len("mailto:")], "mailto:") {
		// RFC 6068 §2: hfields follow "?", and a "?" inside the address
		// must itself be %-encoded, so the first one ends the address.
		s, _, _ = strings.Cut(s[len("mailto:"):], "?")
		dec, err := url.PathUnescape(s)
		if err != nil {
			return fail("mailto: URI has invalid %%-encoding")
		}
		if !utf8.ValidString(dec) {
			return fail("address is not valid UTF-8")
		}
		s = trimSpace(dec)
		if strings.Contains(s, ",") && !strings.Contains(s, `"`) {
			return fail("mailto: URI lists more than one address")
		}
	}
	if s == "" {
		return fail("address is empty")
	}

	local, domain, reason := splitAddrSpec(s)
	if reason != "" {
		return fail("%s", reason)
	}
	if local == "" {
		return fail("local part is empty")
	}
	if len(quoteLocal(local)) > maxLocal {
		return fail("local part is longer than %d octets", maxLocal)
	}

	if !strings.HasPrefix(domain, "[") && (!isASCII(domain) || strings.Contains(strings.ToLower(domain), "xn--")) {
		// RFC 5890 §2.3.2.1: DNS and RCPT TO want the A-label.
		ace, err := idnaProfile.ToASCII(strings.TrimSuffix(domain, "."))
		if err != nil {
			return fail("domain %q is not a valid internationalized domain name: %v", domain, err)
		}
		domain = ace
	}
	domain, reason = normalizeDomain(domain)
	if reason != "" {
		return fail("%s", reason)
	}
	unicode := domain
	if strings.Contains(domain, "xn--") {
		if u, err := idnaProfile.ToUnicode(domain); err == nil {
			unicode = u
		}
	}

	a := Address{
		Local:         local,
		Domain:        domain,
		DomainUnicode: unicode,
		UTF8Local:     !isASCII(local),
	}
	if n := len(a.String()); n > maxAddress {
		return fail("address is longer than %d octets", maxAddress)
	}
	return a, nil
}

// idnaProfile converts domains the way resolvers and MTAs look them up.
var idnaProfile = idna.New(idna.MapForLookup(), idna.BidiRule(), idna.Transitional(false))

// trimSpace trims white space and the invisible characters that CSV
// exports and web pages leave around values.
func trimSpace(s string) string {
	return strings.TrimFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || r == '\uFEFF' || r == '\u200B'
	})
}

// stripDisplayName returns the address inside `Display Name <addr>` (RFC
// 5322 §3.4 name-addr), or s unchanged when it has no angle brackets. The
// display name is not checked beyond its quotes: it is dropped, and real
// exports put anything there, the address itself included.
func stripDisplayName(s string) (addr, reason string) {
	open, closing := -1, -1
	inQuote := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case inQuote && c == '\\':
			i++
		case c == '"':
			inQuote = !inQuote
		case inQuote:
		case c == '<':
			if open >= 0 {
				return "", "more than one < in the input"
			}
			open = i
		case c == '>':
			if closing >= 0 {
				return "", "more than one > in the input"
			}
			closing = i
		}
	}
	switch {
	case inQuote:
		return "", "unterminated quoted string"
	case open < 0 && closing < 0:
		return s, ""
	case closing < 0:
		return "", "missing closing >"
	case open < 0 || closing < open:
		return "", "> without a matching <"
	case trimSpace(s[closing+1:]) != "":
		return "", "text after the closing >"
	}
	return s[open+1 : closing], ""
}

// splitAddrSpec splits an addr-spec into its unquoted local part and its
// domain, checking the local part's syntax.
func splitAddrSpec(s string) (local, domain, reason string) {
	if s[0] == '"' {
		local, end, reason := parseQuoted(s)
		if reason != "" {
			return "", "", reason
		}
		switch rest := s[end:]; {
		case rest == "":
			return "", "", "missing @"
		case rest[0] == '.':
			return "", "", "local part mixes a quoted string with a dot-atom (obsolete syntax)"
		case rest[0] != '@':
			return "", "", "text between the closing quote and @"
		default:
			return local, rest[1:], ""
		}
	}

	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return "", "", "missing @"
	}
	local, domain = s[:at], s[at+1:]
	if strings.Contains(local, `"`) {
		return "", "", "local part mixes a quoted string with a dot-atom (obsolete syntax)"
	}
	if strings.Contains(local, "@") {
		if strings.ContainsAny(s, ",;") {
			return "", "", "more than one address"
		}
		return "", "", "more than one @ (an @ in the local part must be quoted)"
	}
	if reason := checkDotAtom(local); reason != "" {
		return "", "", reason
	}
	return local, domain, ""
}

// checkDotAtom checks an unquoted local part: RFC 5322 §3.2.3 dot-atom,
// with atext extended to non-ASCII UTF-8 by RFC 6531 §3.3.
func checkDotAtom(local string) string {
	switch {
	case local == "":
		return "local part is empty"
	case local[0] == '.':
		return "local part starts with a dot"
	case local[len(local)-1] == '.':
		return "local part ends with a dot"
	case strings.Contains(local, ".."):
		return "consecutive dots in local part"
	}
	for _, r := range local {
		if r == '.' || isAtext(r) {
			continue
		}
		switch {
		case r == ' ':
			return "local part contains a space, allowed only inside quotes"
		case r == '(' || r == ')':
			return "comments in parentheses are not supported"
		case r < 0x80 && !unicode.IsControl(r):
			return fmt.Sprintf("local part contains %q, allowed only inside quotes", r)
		}
		return badRune("local part", r)
	}
	return ""
}

// badRune names a character no local part may hold.
func badRune(where string, r rune) string {
	switch {
	case unicode.IsControl(r):
		return fmt.Sprintf("%s contains control character %U", where, r)
	case unicode.Is(unicode.Cf, r):
		return fmt.Sprintf("%s contains invisible formatting character %U", where, r)
	case unicode.IsSpace(r):
		return fmt.Sprintf("%s contains white space %U", where, r)
	}
	return fmt.Sprintf("%s contains %q", where, r)
}

// isAtext reports whether r may appear in a dot-atom's atoms.
func isAtext(r rune) bool {
	switch {
	case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9':
		return true
	case r < 0x80:
		// RFC 5322 §3.2.3.
		return strings.ContainsRune("!#$%&'*+-/=?^_`{|}~", r)
	}
	// RFC 6531 §3.3 admits any UTF8-non-ascii; control, formatting and
	// white-space characters are refused anyway (see ParseAddress).
	return !unicode.IsControl(r) && !unicode.Is(unicode.Cf, r) && !unicode.IsSpace(r)
}

// parseQuoted reads the quoted string at the start of s (RFC 5321 §4.1.2
// Quoted-string, with RFC 6531 §3.3's UTF-8) and returns its content and
// the index after the closing quote.
func parseQuoted(s string) (content string, end int, reason string) {
	var b strings.Builder
	for i := 1; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '"':
			return b.String(), i + 1, ""
		case r == '\\':
			// quoted-pairSMTP = %d92 %d32-126
			if i+1 == len(s) {
				return "", 0, "unterminated quoted local part"
			}
			if c := s[i+1]; c < ' ' || c > '~' {
				r, _ := utf8.DecodeRuneInString(s[i+1:])
				return "", 0, fmt.Sprintf("quoted local part escapes %U, which cannot be escaped", r)
			}
			b.WriteByte(s[i+1])
			i += 2
			continue
		case r == ' ' || (r > ' ' && r < 0x7f):
			// qtextSMTP plus space.
		case r < 0x80 || unicode.IsControl(r) || unicode.Is(unicode.Cf, r):
			return "", 0, badRune("quoted local part", r)
		}
		b.WriteRune(r)
		i += size
	}
	return "", 0, "unterminated quoted local part"
}

// quoteLocal writes local as a dot-atom when it is one, otherwise as a
// quoted string escaping only " and \ (RFC 5321 §4.1.2: a quoted-pair for
// any other character is not needed and SHOULD NOT be sent).
func quoteLocal(local string) string {
	if checkDotAtom(local) == "" {
		return local
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(local); i++ {
		if c := local[i]; c == '"' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(local[i])
	}
	b.WriteByte('"')
	return b.String()
}

// normalizeDomain lowercases and checks an ASCII domain, returning it
// without a trailing dot, or a reason it is not one mail can go to.
func normalizeDomain(d string) (string, string) {
	switch {
	case d == "":
		return "", "missing domain after @"
	case d[0] == '[':
		return "", fmt.Sprintf("address literal %s is not accepted; a prospect's address needs a domain name", d)
	case strings.ContainsAny(d, "()"):
		return "", "comments in parentheses are not supported"
	}
	// RFC 1034 §3.1: "example.com." is the same name, written absolute.
	d = strings.ToLower(strings.TrimSuffix(d, "."))
	if len(d) > maxDomain {
		return "", fmt.Sprintf("domain is longer than %d octets", maxDomain)
	}

	labels := strings.Split(d, ".")
	for i, l := range labels {
		if l == "" {
			if i == 0 {
				return "", "domain starts with a dot"
			}
			return "", "consecutive dots in domain"
		}
		if reason := checkLabel(l); reason != "" {
			return "", reason
		}
	}
	if _, err := netip.ParseAddr(d); err == nil {
		return "", fmt.Sprintf("domain %s is a bare IP address; a prospect's address needs a domain name", d)
	}
	if len(labels) == 1 {
		return "", fmt.Sprintf("domain %q has a single label; a mail domain needs at least two", d)
	}
	if tld := labels[len(labels)-1]; strings.Trim(tld, "0123456789") == "" {
		// RFC 3696 §2: a TLD is never all-numeric, and one that is makes
		// the name read as an IPv4 address.
		return "", fmt.Sprintf("top-level domain %q is all-numeric", tld)
	}
	return d, ""
}

// checkLabel checks one lowercase ASCII label: letters, digits, hyphens
// (the LDH rule of RFC 1035 §2.3.1 as RFC 1123 §2.1 relaxed it), at most
// 63 octets, no hyphen at either end. A-labels (xn--) pass as they are.
func checkLabel(l string) string {
	shown := l
	if len(shown) > 24 {
		shown = shown[:20] + "..."
	}
	switch {
	case len(l) > maxLabel:
		return fmt.Sprintf("domain label %q is longer than %d octets", shown, maxLabel)
	case l[0] == '-':
		return fmt.Sprintf("domain label %q starts with a hyphen", shown)
	case l[len(l)-1] == '-':
		return fmt.Sprintf("domain label %q ends with a hyphen", shown)
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' {
			continue
		}
		switch {
		case c == ' ':
			return "domain contains a space"
		case c == '_':
			// Legal in DNS (DKIM selectors use it), never in a host name.
			return fmt.Sprintf("domain label %q contains \"_\", which host names cannot", shown)
		case c < ' ' || c == 0x7f:
			return fmt.Sprintf("domain contains control character %U", rune(c))
		}
		return fmt.Sprintf("domain label %q contains %q; only letters, digits and hyphens are allowed", shown, rune(c))
	}
	return ""
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
