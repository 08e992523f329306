package message

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"regexp"
	"strings"
	"testing"
	"time"
)

// touch is a realistic second step of a cadence, sent as a reply in the
// first email's thread, with text and HTML.
func touch() *Message {
	return &Message{
		From:    mail.Address{Name: "Jürgen Müller-Lüdenscheidt", Address: "juergen@acme.test"},
		To:      mail.Address{Name: "Pat O'Brien, Ph.D.", Address: "pat@prospect.example"},
		Subject: ThreadSubject("Schnelle Frage zu eurem Q3-Onboarding – 15 Minuten am Donnerstag? 🚀"),
		Text: "Hi Pat,\n\nkurze Nachfrage zu meiner Mail von letzter Woche. Größere Teams verlieren beim Onboarding oft eine Woche; " +
			strings.Repeat("das ist eine sehr lange Zeile ohne Umbruch, ", 40) + "Ende.\n" +
			"2 + 2 = 4, 100% sicher.   \n" + // '=' and trailing spaces need quoting
			".\n" + // a lone dot: the SMTP client's business, but it must survive
			"From here on: plain.\n\nJürgen\n",
		HTML:                  "<p>Hi Pat,</p><p>kurze Nachfrage – Größere Teams …</p>" + strings.Repeat("<p>Absatz mit Umlauten äöü.</p>", 60),
		Date:                  time.Date(2025, 10, 14, 9, 30, 0, 0, time.FixedZone("CEST", 2*3600)),
		InReplyTo:             "<k3n5z2qa7f3a9c@acme.test>",
		References:            []string{"<k3n5z2qa7f3a9c@acme.test>"},
		ListUnsubscribeURL:    "https://t.acme.test/u/u1-abcdefgh234567",
		ListUnsubscribeMailto: "mailto:unsubscribe+u1-abcdefgh234567@acme.test?subject=unsubscribe",
		FeedbackID:            "42:7:cadence:touchline",
		Headers:               map[string]string{"X-Touchline-Touch": "42/2", "Reply-To": "sales@acme.test"},
	}
}

// checkWire checks the transport rules every built message keeps: CRLF
// only, lines of at most 998 octets, 7-bit ASCII (no 8bit anywhere).
func checkWire(t *testing.T, raw []byte) {
	t.Helper()
	if i := bareLineBreak(raw); i >= 0 {
		t.Fatalf("bare CR or LF at offset %d", i)
	}
	if !bytes.HasSuffix(raw, []byte("\r\n")) {
		t.Error("message does not end with CRLF")
	}
	for i, l := range bytes.Split(raw, []byte("\r\n")) {
		if len(l) > maxLineLen {
			t.Errorf("line %d is %d octets", i+1, len(l))
		}
		for _, c := range l {
			if c >= 0x80 || c == 0 {
				t.Fatalf("line %d has octet %#x: %q", i+1, c, l)
			}
		}
	}
}

// headerLines returns the header section's physical lines.
func headerLines(raw []byte) []string {
	h, _, _ := bytes.Cut(raw, []byte("\r\n\r\n"))
	return strings.Split(string(h), "\r\n")
}

func build(t *testing.T, m *Message) ([]byte, *mail.Message) {
	t.Helper()
	raw, err := m.Build()
	if err != nil {
		t.Fatal(err)
	}
	checkWire(t, raw)
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("net/mail cannot read the message: %v\n%s", err, raw)
	}
	return raw, msg
}

// crlf returns s as the decoded part must read: CRLF line breaks and a
// final one.
func crlf(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	if !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	return strings.ReplaceAll(s, "\n", "\r\n")
}

func decodeQP(t *testing.T, r io.Reader) string {
	t.Helper()
	b, err := io.ReadAll(quotedprintable.NewReader(r))
	if err != nil {
		t.Fatalf("quoted-printable: %v", err)
	}
	return string(b)
}

func TestBuildParsesBack(t *testing.T) {
	t.Parallel()
	m := touch()
	raw, msg := build(t, m)
	h := msg.Header
	dec := new(mime.WordDecoder)

	from, err := mail.ParseAddress(h.Get("From"))
	if err != nil || *from != m.From {
		t.Errorf("From %q parses as %v, %v; want %v", h.Get("From"), from, err, m.From)
	}
	to, err := mail.ParseAddress(h.Get("To"))
	if err != nil || *to != m.To {
		t.Errorf("To %q parses as %v, %v; want %v", h.Get("To"), to, err, m.To)
	}
	subject, err := dec.DecodeHeader(h.Get("Subject"))
	if err != nil || subject != m.Subject {
		t.Errorf("Subject decodes to %q, %v; want %q", subject, err, m.Subject)
	}
	if !strings.HasPrefix(h.Get("Subject"), "=?utf-8?b?") {
		t.Errorf("non-ASCII Subject not encoded: %q", h.Get("Subject"))
	}
	date, err := h.Date()
	if err != nil || !date.Equal(m.Date) {
		t.Errorf("Date %q parses as %v, %v", h.Get("Date"), date, err)
	}
	if got := h.Get("Date"); got != "Tue, 14 Oct 2025 09:30:00 +0200" {
		t.Errorf("Date %q", got)
	}
	if !regexp.MustCompile(`^<[a-z2-7]{26}@acme\.test>$`).MatchString(h.Get("Message-ID")) {
		t.Errorf("generated Message-ID %q", h.Get("Message-ID"))
	}
	for name, want := range map[string]string{
		"In-Reply-To":           "<k3n5z2qa7f3a9c@acme.test>",
		"References":            "<k3n5z2qa7f3a9c@acme.test>",
		"MIME-Version":          "1.0",
		"List-Unsubscribe":      "<https://t.acme.test/u/u1-abcdefgh234567>, <mailto:unsubscribe+u1-abcdefgh234567@acme.test?subject=unsubscribe>",
		"List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
		"Feedback-ID":           "42:7:cadence:touchline",
		"X-Touchline-Touch":     "42/2",
		"Reply-To":              "sales@acme.test",
	} {
		if got := h.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	for _, l := range headerLines(raw) {
		if len(l) > softLineLen {
			t.Errorf("header line of %d characters: %q", len(l), l)
		}
		if strings.Contains(l, "=?") && len(l) > encodedLineLen {
			t.Errorf("header line with encoded-words of %d characters: %q", len(l), l)
		}
	}

	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" || params["boundary"] == "" {
		t.Fatalf("Content-Type %q: %v", h.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for i, want := range []struct{ typ, body string }{
		{"text/plain", crlf(m.Text)},
		{"text/html", crlf(m.HTML)},
	} {
		// NextRawPart keeps Content-Transfer-Encoding to be checked.
		p, err := mr.NextRawPart()
		if err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
		pt, pp, err := mime.ParseMediaType(p.Header.Get("Content-Type"))
		if err != nil || pt != want.typ || pp["charset"] != "utf-8" {
			t.Errorf("part %d Content-Type %q, want %s; charset=utf-8", i, p.Header.Get("Content-Type"), want.typ)
		}
		if cte := p.Header.Get("Content-Transfer-Encoding"); cte != "quoted-printable" {
			t.Errorf("part %d Content-Transfer-Encoding %q", i, cte)
		}
		if got := decodeQP(t, p); got != want.body {
			t.Errorf("part %d decodes to\n%q\nwant\n%q", i, got, want.body)
		}
	}
	if _, err := mr.NextRawPart(); err != io.EOF {
		t.Errorf("more than two parts: %v", err)
	}
}

func TestBuildTextOnly(t *testing.T) {
	t.Parallel()
	m := touch()
	m.HTML = ""
	m.Text = "no final line break\rold Mac line\r\nWindows line\nUnix line\t \n" + strings.Repeat("ä", 2000)
	_, msg := build(t, m)
	if ct := msg.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if cte := msg.Header.Get("Content-Transfer-Encoding"); cte != "quoted-printable" {
		t.Errorf("Content-Transfer-Encoding %q", cte)
	}
	if got := decodeQP(t, msg.Body); got != crlf(m.Text) {
		t.Errorf("body decodes to\n%q\nwant\n%q", got, crlf(m.Text))
	}
}

func TestBuildHeaders(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		edit   func(*Message)
		header string
		want   string // raw value; "" means absent
	}{
		{"ASCII subject as is", func(m *Message) { m.Subject = "Quick question" }, "Subject", "Quick question"},
		{"encoded-word look-alike is encoded", func(m *Message) { m.Subject = "=?utf-8?q?hi?=" }, "Subject", "=?utf-8?b?PT91dGYtOD9xP2hpPz0=?="},
		{"given Message-ID kept", func(m *Message) { m.MessageID = "<fixed.1@acme.test>" }, "Message-ID", "<fixed.1@acme.test>"},
		{"brackets added", func(m *Message) { m.MessageID = "fixed.1@acme.test" }, "Message-ID", "<fixed.1@acme.test>"},
		{"References default to In-Reply-To", func(m *Message) { m.References = nil }, "References", "<k3n5z2qa7f3a9c@acme.test>"},
		{"References chain", func(m *Message) {
			m.InReplyTo = "<b@acme.test>"
			m.References = []string{"<a@acme.test>", "b@acme.test"}
		}, "References", "<a@acme.test> <b@acme.test>"},
		{"first step not threaded", func(m *Message) { m.InReplyTo, m.References = "", nil }, "In-Reply-To", ""},
		{"first step no References", func(m *Message) { m.InReplyTo, m.References = "", nil }, "References", ""},
		{"mailto only", func(m *Message) { m.ListUnsubscribeURL = "" }, "List-Unsubscribe", "<mailto:unsubscribe+u1-abcdefgh234567@acme.test?subject=unsubscribe>"},
		{"no one-click without URL", func(m *Message) { m.ListUnsubscribeURL = "" }, "List-Unsubscribe-Post", ""},
		{"bare mailto address", func(m *Message) { m.ListUnsubscribeURL, m.ListUnsubscribeMailto = "", "u@acme.test" }, "List-Unsubscribe", "<mailto:u@acme.test>"},
		{"URL only", func(m *Message) { m.ListUnsubscribeMailto = "" }, "List-Unsubscribe", "<https://t.acme.test/u/u1-abcdefgh234567>"},
		{"http URL on loopback (a demo on one machine)", func(m *Message) { m.ListUnsubscribeURL = "http://127.0.0.1:8080/u/u1-x" }, "List-Unsubscribe-Post", "List-Unsubscribe=One-Click"},
		{"no unsubscribe", func(m *Message) { m.ListUnsubscribeURL, m.ListUnsubscribeMailto = "", "" }, "List-Unsubscribe", ""},
		{"IDN From domain as A-label", func(m *Message) { m.From.Address = "info@Bücher.Example" }, "From", "=?utf-8?b?SsO8cmdlbiBNw7xsbGVyLUzDvGRlbnNjaGVpZHQ=?= <info@xn--bcher-kva.example>"},
		{"quoted display name", func(m *Message) { m.From.Name = `Jane "JJ" Seller` }, "From", `"Jane \"JJ\" Seller" <juergen@acme.test>`},
		{"atom display name", func(m *Message) { m.From.Name = "Jane Seller" }, "From", "Jane Seller <juergen@acme.test>"},
		{"no display name", func(m *Message) { m.To.Name = "" }, "To", "<pat@prospect.example>"},
		{"no Feedback-ID", func(m *Message) { m.FeedbackID = "" }, "Feedback-ID", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := touch()
			tc.edit(m)
			raw, msg := build(t, m)
			if got := msg.Header.Get(tc.header); got != tc.want {
				t.Errorf("%s = %q, want %q", tc.header, got, tc.want)
			}
			// Whatever the case, the fields parse back to what was given.
			if subj, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); subj != m.Subject {
				t.Errorf("Subject decodes to %q, want %q", subj, m.Subject)
			}
			if a, err := mail.ParseAddress(msg.Header.Get("From")); err != nil || a.Name != m.From.Name {
				t.Errorf("From parses as %v, %v", a, err)
			}
			if n := bytes.Count(raw, []byte("\r\nMessage-ID: ")); n != 1 {
				t.Errorf("%d Message-ID fields", n)
			}
		})
	}

	// Two builds, two Message-IDs.
	a, _ := touch().Build()
	b, _ := touch().Build()
	_, ma := build(t, touch())
	if bytes.Equal(a, b) || ma.Header.Get("Message-ID") == "" {
		t.Error("Message-ID not random")
	}
}

// TestFolding checks long header fields against the line limits and that
// they read back unchanged.
func TestFolding(t *testing.T) {
	t.Parallel()
	for _, subject := range []string{
		strings.Repeat("Quick question about your onboarding ", 12),
		strings.Repeat("Größere Teams verlieren eine Woche beim Onboarding. ", 10),
		strings.Repeat("日本語の件名", 30),
		strings.Repeat("🚀", 100),
		"x" + strings.Repeat("y", 900), // one ASCII word: too long to fold, within 998
	} {
		m := touch()
		m.Subject = strings.TrimSpace(subject)
		m.To.Name = strings.Repeat("Dr. Patricia Prospect-Ramírez ", 8)
		m.References = []string{"<a1@acme.test>", "<a2@acme.test>", "<a3@acme.test>", "<a4@acme.test>", "<a5@acme.test>", "<a6@acme.test>"}
		raw, msg := build(t, m)
		for _, l := range headerLines(raw) {
			if strings.Contains(l, "=?") && len(l) > encodedLineLen {
				t.Errorf("encoded line of %d: %q", len(l), l)
			}
			v := l
			if i := strings.Index(l, ": "); i > 0 && !strings.HasPrefix(l, " ") {
				v = l[i+2:]
			}
			if len(l) > softLineLen && strings.Contains(strings.TrimSpace(v), " ") {
				t.Errorf("foldable line of %d: %q", len(l), l)
			}
			if strings.TrimSpace(l) == "" {
				t.Errorf("header line of white space only")
			}
		}
		if got, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); got != m.Subject {
			t.Errorf("Subject reads back as\n%q\nwant\n%q", got, m.Subject)
		}
		if a, err := mail.ParseAddress(msg.Header.Get("To")); err != nil || a.Name != m.To.Name {
			t.Errorf("To reads back as %v, %v", a, err)
		}
		if got := msg.Header.Get("References"); got != strings.Join(m.References, " ") {
			t.Errorf("References read back as %q", got)
		}
	}
	m := touch()
	m.Subject = strings.Repeat("y", 1000)
	if _, err := m.Build(); !errors.Is(err, ErrInvalid) {
		t.Errorf("1000-octet word: err %v, want ErrInvalid", err)
	}
}

func TestBuildRefuses(t *testing.T) {
	t.Parallel()
	inj := ErrHeaderInjection
	for _, tc := range []struct {
		name string
		edit func(*Message)
		want error
	}{
		{"LF in Subject", func(m *Message) { m.Subject = "Hi\nBcc: victim@example.com" }, inj},
		{"CR in Subject", func(m *Message) { m.Subject = "Hi\rBcc: victim@example.com" }, inj},
		{"CRLF in From name", func(m *Message) { m.From.Name = "Jane\r\nBcc: x@example.com" }, inj},
		{"LF in From address", func(m *Message) { m.From.Address = "jane@acme.test\nBcc: x@example.com" }, inj},
		{"LF in To address", func(m *Message) { m.To.Address = "pat@prospect.example\n" }, inj},
		{"LF in To name", func(m *Message) { m.To.Name = "Pat\n" }, inj},
		{"LF in Message-ID", func(m *Message) { m.MessageID = "<a@b.test>\nBcc: x@y.test" }, inj},
		{"LF in In-Reply-To", func(m *Message) { m.InReplyTo = "<a@b.test>\n" }, inj},
		{"LF in References", func(m *Message) { m.References = []string{"<a@b.test>", "<c@d.test>\r\nX: y"} }, inj},
		{"LF in URL", func(m *Message) { m.ListUnsubscribeURL = "https://t.acme.test/u\r\nBcc: x@y.test" }, inj},
		{"LF in mailto", func(m *Message) { m.ListUnsubscribeMailto = "mailto:u@acme.test\n" }, inj},
		{"LF in Feedback-ID", func(m *Message) { m.FeedbackID = "1:2\n" }, inj},
		{"LF in header value", func(m *Message) { m.Headers = map[string]string{"X-A": "b\r\nBcc: x@y.test"} }, inj},
		{"LF in header name", func(m *Message) { m.Headers = map[string]string{"X-A\nBcc": "x@y.test"} }, inj},

		{"no Date", func(m *Message) { m.Date = time.Time{} }, ErrInvalid},
		{"no Text", func(m *Message) { m.Text = " \n" }, ErrInvalid},
		{"empty Subject", func(m *Message) { m.Subject = "" }, ErrInvalid},
		{"no From", func(m *Message) { m.From = mail.Address{} }, ErrInvalid},
		{"From without domain", func(m *Message) { m.From.Address = "jane" }, ErrInvalid},
		{"From single-label domain", func(m *Message) { m.From.Address = "jane@localhost" }, ErrInvalid},
		{"From with brackets", func(m *Message) { m.From.Address = "<jane@acme.test>" }, ErrInvalid},
		{"two addresses", func(m *Message) { m.To.Address = "a@b.test, c@d.test" }, ErrInvalid},
		{"quoted local part", func(m *Message) { m.To.Address = `"pat o"@prospect.example` }, ErrInvalid},
		{"local part with dot at end", func(m *Message) { m.To.Address = "pat.@prospect.example" }, ErrInvalid},
		{"non-ASCII local part", func(m *Message) { m.To.Address = "jürgen@prospect.example" }, ErrInvalid},
		{"NUL in Subject", func(m *Message) { m.Subject = "a\x00b" }, ErrInvalid},
		{"invalid UTF-8 Subject", func(m *Message) { m.Subject = "a\xffb" }, ErrInvalid},
		{"invalid UTF-8 Text", func(m *Message) { m.Text = "a\xffb" }, ErrInvalid},
		{"invalid UTF-8 HTML", func(m *Message) { m.HTML = "a\xffb" }, ErrInvalid},
		{"bad Message-ID", func(m *Message) { m.MessageID = "<no at sign>" }, ErrInvalid},
		{"Message-ID with space", func(m *Message) { m.MessageID = "<a b@c.test>" }, ErrInvalid},
		{"bad In-Reply-To", func(m *Message) { m.InReplyTo = "<a@>" }, ErrInvalid},
		{"http URL", func(m *Message) { m.ListUnsubscribeURL = "http://t.acme.test/u/1" }, ErrInvalid},
		{"http URL to a public IP", func(m *Message) { m.ListUnsubscribeURL = "http://203.0.113.7/u/1" }, ErrInvalid},
		{"relative URL", func(m *Message) { m.ListUnsubscribeURL = "/u/1" }, ErrInvalid},
		{"URL with comma", func(m *Message) { m.ListUnsubscribeURL = "https://t.acme.test/u/1,2" }, ErrInvalid},
		{"URL with bracket", func(m *Message) { m.ListUnsubscribeURL = "https://t.acme.test/u/1>, <https://evil.test/" }, ErrInvalid},
		{"mailto with name", func(m *Message) { m.ListUnsubscribeMailto = "Unsub <u@acme.test>" }, ErrInvalid},
		{"Feedback-ID with space", func(m *Message) { m.FeedbackID = "42 7" }, ErrInvalid},
		{"Feedback-ID empty field", func(m *Message) { m.FeedbackID = "42::7" }, ErrInvalid},
		{"reserved header", func(m *Message) { m.Headers = map[string]string{"bcc": "x@y.test"} }, ErrInvalid},
		{"reserved header Content-Type", func(m *Message) { m.Headers = map[string]string{"CONTENT-TYPE": "text/html"} }, ErrInvalid},
		{"header name with colon", func(m *Message) { m.Headers = map[string]string{"X-A:": "b"} }, ErrInvalid},
		{"header name with space", func(m *Message) { m.Headers = map[string]string{"X A": "b"} }, ErrInvalid},
		{"non-ASCII header value", func(m *Message) { m.Headers = map[string]string{"X-A": "ä"} }, ErrInvalid},
	} {
		m := touch()
		tc.edit(m)
		raw, err := m.Build()
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: err %v, want %v", tc.name, err, tc.want)
		}
		if raw != nil {
			t.Errorf("%s: returned a message with the error", tc.name)
		}
	}
}

func TestThreadSubject(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"Quick question":              "Re: Quick question",
		"Re: Quick question":          "Re: Quick question",
		"RE: Quick question":          "Re: Quick question",
		"re:Quick question":           "Re: Quick question",
		"Aw: Quick question":          "Re: Quick question",
		"AW: Re: RE: Quick question":  "Re: Quick question",
		"Re[2]: Quick question":       "Re: Quick question",
		"Re : Quick question":         "Re: Quick question",
		"Sv: Snabb fråga":             "Re: Snabb fråga",
		"  Quick question  ":          "Re: Quick question",
		"Review: Q3 plan":             "Re: Review: Q3 plan",
		"Regarding your Q3":           "Re: Regarding your Q3",
		"Fwd: Quick question":         "Re: Fwd: Quick question",
		"Größere Teams":               "Re: Größere Teams",
		"Re":                          "Re: Re",
		"":                            "Re:",
		"Re:":                         "Re:",
		"Quick question re: Q3 plans": "Re: Quick question re: Q3 plans",
	} {
		if got := ThreadSubject(in); got != want {
			t.Errorf("ThreadSubject(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzBuild feeds outside text (a subject and a display name from a
// prospect list, an extra header) to Build: it either refuses or writes a
// message that keeps the transport rules and reads back as given, with no
// field but the ones it writes.
func FuzzBuild(f *testing.F) {
	f.Add("Quick question", "Pat O'Brien", "v")
	f.Add("Größere Teams 🚀", "Jürgen \"JJ\" Müller", "v")
	f.Add("Hi\r\nBcc: x@y.test", "Pat\nBcc: x", "v\r\nX: y")
	f.Add("=?utf-8?q?hi?=", "=?utf-8?b?SGk=?=", "=?x?=")
	f.Add(strings.Repeat("a ", 600), strings.Repeat("é", 100), strings.Repeat("b", 990))
	f.Fuzz(func(t *testing.T, subject, name, value string) {
		m := touch()
		m.Subject, m.To.Name, m.Headers = subject, name, map[string]string{"X-Fuzz": value}
		raw, err := m.Build()
		if err != nil {
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrHeaderInjection) {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			return
		}
		checkWire(t, raw)
		msg, err := mail.ReadMessage(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		if len(msg.Header) != 13 {
			t.Fatalf("%d fields, want 13: %v", len(msg.Header), msg.Header)
		}
		if got, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); err != nil || got != strings.Trim(subject, " \t") {
			t.Fatalf("Subject reads back as %q, %v; want %q", got, err, subject)
		}
		if a, err := mail.ParseAddress(msg.Header.Get("To")); err != nil || a.Name != name {
			t.Fatalf("To reads back as %v, %v; want name %q", a, err, name)
		}
		if got := msg.Header.Get("X-Fuzz"); got != strings.Trim(value, " \t") {
			t.Fatalf("X-Fuzz reads back as %q, want %q", got, value)
		}
	})
}
