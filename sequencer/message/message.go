package message

import (
	"bytes"
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/netip"
	"net/textproto"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/touchline/touchline/internal/dkimkey"
)

// Sentinel errors.
var (
	// ErrHeaderInjection: a header field value or address holds CR or LF.
	ErrHeaderInjection = errors.New("message: header injection (CR or LF in a header field)")
	// ErrInvalid: the message cannot be written as given.
	ErrInvalid = errors.New("message: invalid message")
)

// Message is the email of one touch.
type Message struct {
	From    mail.Address
	To      mail.Address
	Subject string // UTF-8; RFC 2047 encoded when not plain ASCII
	Text    string // the text/plain part; required
	HTML    string // optional: then multipart/alternative, text first
	Date    time.Time

	// MessageID is "<left@right>" (the brackets may be left out). Empty
	// means a new random one at the From domain.
	MessageID string
	// InReplyTo and References thread a step as a reply (RFC 5322 §3.6.4).
	// With InReplyTo set and References empty, References is InReplyTo.
	InReplyTo  string
	References []string

	ListUnsubscribeURL    string // https URL for RFC 8058 one-click POST
	ListUnsubscribeMailto string // "mailto:..." or a bare address
	FeedbackID            string // Gmail Feedback-ID, "campaign:customer:type:sender"

	// Headers are extra header fields, written in name order. Names must
	// not be ones Build or Sign writes (From, Subject, Content-Type,
	// DKIM-Signature, ...); values are printable ASCII.
	Headers map[string]string
}

// Line lengths of RFC 5322 §2.1.1 and RFC 2047 §2.
const (
	softLineLen    = 78
	maxLineLen     = 998
	encodedLineLen = 76
)

// reserved are the header fields Build and Sign write, and the ones a
// transport adds; Headers may not set them. Cc and Bcc are here because a
// touch goes to one prospect: the envelope names only To. Keys are
// canonical.
var reserved = canonicalSet(
	"Date", "From", "To", "Subject", "Message-ID", "In-Reply-To", "References",
	"List-Unsubscribe", "List-Unsubscribe-Post", "Feedback-ID",
	"MIME-Version", "Content-Type", "Content-Transfer-Encoding",
	"DKIM-Signature", "Return-Path", "Received",
	"Cc", "Bcc", "Resent-From", "Resent-To", "Resent-Date",
)

func canonicalSet(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, k := range names {
		m[textproto.CanonicalMIMEHeaderKey(k)] = true
	}
	return m
}

// field is one header field, its value unfolded.
type field struct {
	name, value string
	encoded     bool // holds RFC 2047 encoded-words: lines at most 76
}

// Build writes the message: CRLF line endings, header fields folded, text
// parts in quoted-printable UTF-8 ending with a line break.
func (m *Message) Build() ([]byte, error) {
	var fields []field
	add := func(name, value string, encoded bool) {
		fields = append(fields, field{name, value, encoded})
	}

	if m.Date.IsZero() {
		return nil, fmt.Errorf("%w: no Date", ErrInvalid)
	}
	// RFC 5322 §3.3; RFC1123Z has the numeric zone it asks for.
	add("Date", m.Date.Format(time.RFC1123Z), false)

	from, fromDomain, fromEnc, err := formatAddress("From", m.From)
	if err != nil {
		return nil, err
	}
	add("From", from, fromEnc)
	to, _, toEnc, err := formatAddress("To", m.To)
	if err != nil {
		return nil, err
	}
	add("To", to, toEnc)

	// White space around a subject is not significant, and readers drop
	// it from an unencoded one; it goes here, so that every reader sees the
	// same subject.
	subject, subjEnc, err := encodeText("Subject", strings.Trim(m.Subject, " \t"))
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(m.Subject) == "" {
		return nil, fmt.Errorf("%w: empty Subject", ErrInvalid)
	}
	add("Subject", subject, subjEnc)

	id := m.MessageID
	if id == "" {
		id = NewMessageID(fromDomain)
	} else if id, err = msgID("Message-ID", id); err != nil {
		return nil, err
	}
	add("Message-ID", id, false)

	if m.InReplyTo != "" {
		irt, err := msgID("In-Reply-To", m.InReplyTo)
		if err != nil {
			return nil, err
		}
		add("In-Reply-To", irt, false)
	}
	refs := m.References
	if len(refs) == 0 && m.InReplyTo != "" {
		refs = []string{m.InReplyTo}
	}
	if len(refs) > 0 {
		ids := make([]string, len(refs))
		for i, r := range refs {
			if ids[i], err = msgID("References", r); err != nil {
				return nil, err
			}
		}
		add("References", strings.Join(ids, " "), false)
	}

	lu, err := listUnsubscribe(m.ListUnsubscribeURL, m.ListUnsubscribeMailto)
	if err != nil {
		return nil, err
	}
	if lu != "" {
		add("List-Unsubscribe", lu, false)
	}
	if m.ListUnsubscribeURL != "" {
		// RFC 8058 §3.1: the POST body a receiver sends to the URL.
		add("List-Unsubscribe-Post", "List-Unsubscribe=One-Click", false)
	}
	if m.FeedbackID != "" {
		if err := checkFeedbackID(m.FeedbackID); err != nil {
			return nil, err
		}
		add("Feedback-ID", m.FeedbackID, false)
	}

	extra, err := extraHeaders(m.Headers)
	if err != nil {
		return nil, err
	}
	fields = append(fields, extra...)

	add("MIME-Version", "1.0", false)
	body, err := m.body(func(name, value string) { add(name, value, false) })
	if err != nil {
		return nil, err
	}

	var b bytes.Buffer
	for _, f := range fields {
		if err := writeField(&b, f); err != nil {
			return nil, err
		}
	}
	b.WriteString("\r\n")
	b.Write(body)
	return b.Bytes(), nil
}

// body returns the message body and adds the Content-Type (and, for one
// part, Content-Transfer-Encoding) fields of the message.
func (m *Message) body(add func(name, value string)) ([]byte, error) {
	if strings.TrimSpace(m.Text) == "" {
		return nil, fmt.Errorf("%w: no Text (the text/plain part is always sent)", ErrInvalid)
	}
	text, err := qp("Text", m.Text)
	if err != nil {
		return nil, err
	}
	if m.HTML == "" {
		add("Content-Type", "text/plain; charset=utf-8")
		add("Content-Transfer-Encoding", "quoted-printable")
		return text, nil
	}
	html, err := qp("HTML", m.HTML)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for _, p := range []struct {
		typ  string
		body []byte
	}{{"text/plain; charset=utf-8", text}, {"text/html; charset=utf-8", html}} {
		w, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {p.typ},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return nil, err
		}
		// The CRLF that ends the part belongs to the next boundary
		// (RFC 2046 §5.1.1), so the part keeps its own final line break.
		if _, err := w.Write(p.body); err != nil {
			return nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	add("Content-Type", mime.FormatMediaType("multipart/alternative", map[string]string{"boundary": mw.Boundary()}))
	return b.Bytes(), nil
}

// qp encodes s, which must be UTF-8, as quoted-printable with CRLF line
// breaks (any of CRLF, LF or CR in s is one) and a final line break.
func qp(what, s string) ([]byte, error) {
	if !utf8.ValidString(s) {
		return nil, fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalid, what)
	}
	if !strings.HasSuffix(s, "\n") && !strings.HasSuffix(s, "\r") {
		s += "\n"
	}
	var b bytes.Buffer
	w := quotedprintable.NewWriter(&b)
	if _, err := w.Write([]byte(s)); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// NewMessageID returns a new random Message-ID at domain:
// "<26 base32 characters@domain>", 128 random bits.
func NewMessageID(domain string) string {
	var r [16]byte
	rand.Read(r[:])
	return "<" + b32.EncodeToString(r[:]) + "@" + domain + ">"
}

// b32 is lowercase base32 without padding: case-insensitive and made only
// of letters and digits, so it survives local parts, URLs and linkifiers.
var b32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// checkValue refuses CR and LF (injection) and other control characters in
// a header field's text.
func checkValue(name, v string) error {
	if strings.ContainsAny(v, "\r\n") {
		return fmt.Errorf("%w: %s %q", ErrHeaderInjection, name, v)
	}
	if !utf8.ValidString(v) {
		return fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalid, name)
	}
	for _, r := range v {
		if r < ' ' && r != '\t' || r == 0x7f {
			return fmt.Errorf("%w: %s has control character %U", ErrInvalid, name, r)
		}
	}
	return nil
}

func isWSP(c byte) bool { return c == ' ' || c == '\t' }

// isPrintableASCII reports whether s is all visible ASCII or space.
func isPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// encodeText returns s as an unstructured field value (RFC 5322 §3.2.5):
// as is when it is printable ASCII, RFC 2047 encoded-words otherwise. ASCII
// holding "=?" is encoded too, or a reader would decode it.
func encodeText(name, s string) (value string, encoded bool, err error) {
	if err := checkValue(name, s); err != nil {
		return "", false, err
	}
	if isPrintableASCII(s) && !strings.Contains(s, "=?") {
		return s, false, nil
	}
	return encodeWords(s), true, nil
}

// encodeWords writes s as "B" encoded-words (RFC 2047 §4.1) of whole UTF-8
// characters. 39 octets make 52 base64 characters and a 64-character word,
// so "Subject: " and one word stay within the 76 of RFC 2047 §2.
func encodeWords(s string) string {
	const chunk = 39
	var words []string
	for s != "" {
		n := 0
		for n < len(s) {
			_, size := utf8.DecodeRuneInString(s[n:])
			if n > 0 && n+size > chunk {
				break
			}
			n += size
		}
		words = append(words, "=?utf-8?b?"+base64.StdEncoding.EncodeToString([]byte(s[:n]))+"?=")
		s = s[n:]
	}
	return strings.Join(words, " ")
}

// formatAddress returns a as a mailbox (RFC 5322 §3.4), its domain in
// A-label form, and whether the display name is encoded.
func formatAddress(name string, a mail.Address) (value, domain string, encoded bool, err error) {
	if strings.ContainsAny(a.Name, "\r\n") || strings.ContainsAny(a.Address, "\r\n") {
		return "", "", false, fmt.Errorf("%w: %s %q <%q>", ErrHeaderInjection, name, a.Name, a.Address)
	}
	if err := checkValue(name+" name", a.Name); err != nil {
		return "", "", false, err
	}
	at := strings.LastIndexByte(a.Address, '@')
	if at <= 0 {
		return "", "", false, fmt.Errorf("%w: %s address %q: want local@domain", ErrInvalid, name, a.Address)
	}
	local := a.Address[:at]
	if !isPrintableASCII(local) {
		return "", "", false, fmt.Errorf("%w: %s address %q: a non-ASCII local part needs SMTPUTF8, which is not supported", ErrInvalid, name, a.Address)
	}
	// Quoted local parts ("a b"@example.com) are legal but unseen in
	// practice; one here is a sign of a list cell holding two addresses.
	if !isDotAtom(local) {
		return "", "", false, fmt.Errorf("%w: %s address %q: local part must be letters, digits and !#$%%&'*+-/=?^_`{|}~ separated by dots", ErrInvalid, name, a.Address)
	}
	domain, err = dkimkey.NormalizeDomain(a.Address[at+1:])
	if err != nil {
		return "", "", false, fmt.Errorf("%w: %s address %q: %v", ErrInvalid, name, a.Address, err)
	}
	addr := "<" + local + "@" + domain + ">"
	switch {
	case a.Name == "":
		value = addr
	case isPrintableASCII(a.Name) && !strings.Contains(a.Name, "=?"):
		value = quotePhrase(a.Name) + " " + addr
	default:
		value, encoded = encodeWords(a.Name)+" "+addr, true
	}
	// What a reader parses must be what was meant.
	back, err := mail.ParseAddress(value)
	if err != nil || back.Name != a.Name || !strings.EqualFold(back.Address, local+"@"+domain) {
		return "", "", false, fmt.Errorf("%w: %s %q <%s>: not a valid mailbox", ErrInvalid, name, a.Name, a.Address)
	}
	return value, domain, encoded, nil
}

// quotePhrase returns an ASCII display name as atoms when it is only atext
// and spaces, as a quoted-string otherwise (RFC 5322 §3.2.3, §3.2.4).
func quotePhrase(s string) string {
	atoms := strings.TrimSpace(s) == s && !strings.Contains(s, "  ")
	for i := 0; atoms && i < len(s); i++ {
		atoms = s[i] == ' ' || isAtext(s[i])
	}
	if atoms {
		return s
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}

// isAtext reports whether c is atext (RFC 5322 §3.2.3).
func isAtext(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// msgID checks a msg-id (RFC 5322 §3.6.4): "<" id-left "@" id-right ">",
// dot-atom-text on the left, dot-atom-text or a no-fold-literal on the
// right. The brackets are added when missing.
func msgID(name, id string) (string, error) {
	if strings.ContainsAny(id, "\r\n") {
		return "", fmt.Errorf("%w: %s %q", ErrHeaderInjection, name, id)
	}
	s := strings.TrimSpace(id)
	if strings.HasPrefix(s, "<") && strings.HasSuffix(s, ">") {
		s = s[1 : len(s)-1]
	}
	at := strings.LastIndexByte(s, '@')
	bad := at <= 0 || at == len(s)-1
	if !bad {
		left, right := s[:at], s[at+1:]
		bad = !isDotAtom(left)
		if lit, ok := strings.CutPrefix(right, "["); ok {
			lit, ok = strings.CutSuffix(lit, "]")
			bad = bad || !ok || !isPrintableASCII(lit) || strings.ContainsAny(lit, " []\\")
		} else {
			bad = bad || !isDotAtom(right)
		}
	}
	if bad {
		return "", fmt.Errorf("%w: %s %q: want <left@right>", ErrInvalid, name, id)
	}
	return "<" + s + ">", nil
}

// isDotAtom reports whether s is dot-atom-text (RFC 5322 §3.2.3).
func isDotAtom(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] != '.' && !isAtext(s[i]) {
			return false
		}
	}
	return true
}

// listUnsubscribe returns the List-Unsubscribe value (RFC 2369 §3.2), the
// https URL first, or "" when neither is set.
func listUnsubscribe(rawURL, mailto string) (string, error) {
	var uris []string
	if rawURL != "" {
		if strings.ContainsAny(rawURL, "\r\n") {
			return "", fmt.Errorf("%w: List-Unsubscribe URL %q", ErrHeaderInjection, rawURL)
		}
		u, err := url.Parse(rawURL)
		switch {
		case err != nil:
			return "", fmt.Errorf("%w: List-Unsubscribe URL: %v", ErrInvalid, err)
		case !(strings.EqualFold(u.Scheme, "https") || strings.EqualFold(u.Scheme, "http") && IsLoopbackHost(u.Hostname())) || u.Host == "" || u.User != nil:
			// RFC 8058 §3.1: one-click needs an HTTPS URI. Plain http
			// only to a loopback host, which no receiver on the Internet
			// can reach: a lab or demo on one machine (serve --sim).
			return "", fmt.Errorf("%w: List-Unsubscribe URL %q: want https://host/...", ErrInvalid, rawURL)
		case !uriChars(rawURL):
			return "", fmt.Errorf("%w: List-Unsubscribe URL %q: percent-encode spaces, commas, angle brackets, quotes and non-ASCII", ErrInvalid, rawURL)
		}
		uris = append(uris, rawURL)
	}
	if mailto != "" {
		if strings.ContainsAny(mailto, "\r\n") {
			return "", fmt.Errorf("%w: List-Unsubscribe mailto %q", ErrHeaderInjection, mailto)
		}
		s := mailto
		if len(s) >= 7 && strings.EqualFold(s[:7], "mailto:") {
			s = s[7:]
		}
		addr, query, _ := strings.Cut(s, "?")
		a, err := mail.ParseAddress(addr)
		if err != nil || a.Name != "" || a.Address != addr || !uriChars(s) {
			return "", fmt.Errorf("%w: List-Unsubscribe mailto %q: want mailto:local@domain", ErrInvalid, mailto)
		}
		if query != "" {
			addr += "?" + query
		}
		uris = append(uris, "mailto:"+addr)
	}
	for i, u := range uris {
		uris[i] = "<" + u + ">"
	}
	return strings.Join(uris, ", "), nil
}

// uriChars reports whether s can stand in angle brackets in a list of URIs:
// visible ASCII without the delimiters of RFC 2369.
func uriChars(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' || strings.IndexByte(`<>",\`, s[i]) >= 0 {
			return false
		}
	}
	return true
}

// checkFeedbackID checks Gmail's Feedback-ID, colon-separated identifiers
// ending with the sender's: "campaign:customer:mailtype:sender".
func checkFeedbackID(v string) error {
	if strings.ContainsAny(v, "\r\n") {
		return fmt.Errorf("%w: Feedback-ID %q", ErrHeaderInjection, v)
	}
	ok := len(v) <= 200
	for part := range strings.SplitSeq(v, ":") {
		ok = ok && part != "" && isDotAtom(part)
	}
	if !ok {
		return fmt.Errorf("%w: Feedback-ID %q: want colon-separated identifiers such as 42:7:cadence:touchline", ErrInvalid, v)
	}
	return nil
}

// extraHeaders checks Message.Headers and returns them in name order.
func extraHeaders(h map[string]string) ([]field, error) {
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	slices.Sort(names)
	var out []field
	for _, k := range names {
		v := h[k]
		if strings.ContainsAny(k, "\r\n") || strings.ContainsAny(v, "\r\n") {
			return nil, fmt.Errorf("%w: header %q: %q", ErrHeaderInjection, k, v)
		}
		for i := 0; i < len(k); i++ {
			// RFC 5322 §3.6.8: printable ASCII except colon.
			if k[i] <= ' ' || k[i] > '~' || k[i] == ':' {
				return nil, fmt.Errorf("%w: header name %q", ErrInvalid, k)
			}
		}
		if k == "" {
			return nil, fmt.Errorf("%w: empty header name", ErrInvalid)
		}
		if reserved[textproto.CanonicalMIMEHeaderKey(k)] {
			return nil, fmt.Errorf("%w: header %q is written by Build or by the transport; set the Message field instead", ErrInvalid, k)
		}
		if err := checkValue(k, v); err != nil {
			return nil, err
		}
		if !isPrintableASCII(v) {
			return nil, fmt.Errorf("%w: header %s: value must be ASCII", ErrInvalid, k)
		}
		out = append(out, field{name: k, value: v})
	}
	return out, nil
}

// writeField writes "name: value" CRLF, folded before white space so that
// lines stay within 78 characters where the value allows (76 when it holds
// encoded-words), and refuses a line that cannot be kept within 998.
func writeField(b *bytes.Buffer, f field) error {
	limit := softLineLen
	if f.encoded {
		limit = encodedLineLen
	}
	line := f.name + ": " + f.value
	start := 0 // of the current line in line
	for len(line)-start > limit {
		// Fold before a single space between two words: a line of only
		// white space is not allowed (RFC 5322 §3.2.2), and readers that
		// trim lines while unfolding (Go's net/textproto) would otherwise
		// lose the spaces of a run.
		best, first := -1, -1
		for i := max(start+1, len(f.name)+2); i < len(line)-1; i++ {
			if line[i] != ' ' || isWSP(line[i-1]) || isWSP(line[i+1]) {
				continue
			}
			if first < 0 {
				first = i
			}
			if i-start > limit {
				break
			}
			best = i
		}
		if best < 0 {
			best = first
		}
		if best < 0 {
			break
		}
		b.WriteString(line[start:best])
		b.WriteString("\r\n")
		if best-start > maxLineLen {
			return fmt.Errorf("%w: %s has a word longer than %d octets", ErrInvalid, f.name, maxLineLen)
		}
		start = best
	}
	if len(line)-start > maxLineLen {
		return fmt.Errorf("%w: %s has a word longer than %d octets", ErrInvalid, f.name, maxLineLen)
	}
	b.WriteString(line[start:])
	b.WriteString("\r\n")
	return nil
}

// IsLoopbackHost reports whether host (a URL's host name, no port) is
// "localhost" or a loopback IP literal.
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}
